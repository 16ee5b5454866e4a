"""Where one DCGAN training step spends its time, on the JAX backend: a profile, summarised.

    KERAS_BACKEND=jax python benchmarks/profile_step.py --layout paper --batch 512 \
        --precision mixed_bfloat16 --impl keras-auto --out profile/

Runs the step as benchmarks/throughput.py does (jax.jit of `DCGAN.train_step`),
records a few steps with `jax.profiler.trace`, and reads the trace it writes
(Chrome trace JSON): device events on a GPU, XLA's op events on a CPU. It
prints the ops that take the most time and the share of each kind:

- convolutions, split by how XLA writes them: "base-dilated" convolutions are
  transposed convolutions and gradients with respect to a strided
  convolution's input, "window-dilated" ones are gradients with respect to
  its weights; on a GPU, the cuDNN/cuBLAS kernels;
- fusions (BatchNorm, activations, Adam's update, casts, all fused by XLA);
- copies and transposes (layout changes);
- everything else.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras
import throughput

RUNTIME = ("ThunkExecutor", "PjitFunction", "while", "call", "tuple", "parameter")


def kind(name):
    lowered = name.lower()
    if "base-dilated" in lowered:
        return "convolution, base-dilated (transposed / input gradient)"
    if "window-dilated" in lowered:
        return "convolution, window-dilated (weight gradient)"
    if any(word in lowered for word in ("conv", "xmma", "cudnn", "gemm", "dot", "wgrad", "dgrad", "fprop")):
        return "convolution or matmul"
    if "fusion" in lowered or "reduce" in lowered:
        return "fusion (elementwise, BatchNorm, Adam)"
    if "copy" in lowered or "transpose" in lowered:
        return "copy / transpose"
    return "other"


def op_times(trace):
    """{op name: total microseconds} of the device's events (a GPU), or of XLA's ops on the host."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    processes = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
    devices = {pid for pid, name in processes.items() if "/device:" in name and "CPU" not in name}
    totals = collections.Counter()
    for event in events:
        if event.get("ph") != "X":
            continue
        name = event["name"]
        on_device = event["pid"] in devices
        host_op = not devices and not name.startswith("$") and not name.startswith(RUNTIME)
        if on_device or host_op:
            totals[name] += event["dur"]
    return totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", default="paper", choices=tuple(throughput.LAYOUTS))
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--impl", default="keras-auto", choices=tuple(throughput.FORMULATIONS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", default="profile")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit("profile_step.py reads JAX's profiler: run it with KERAS_BACKEND=jax.")
    import jax

    keras.mixed_precision.set_global_policy(args.precision)
    gan = throughput.build_gan(throughput.LAYOUTS[args.layout], args.impl)
    real = np.random.default_rng(0).uniform(-1, 1, (args.batch, *gan.image_shape)).astype("float32")
    step, sync = throughput._compiled_step(gan, real)
    for _ in range(3):  # compile and warm up outside the trace
        step()
    sync()
    with jax.profiler.trace(args.out, create_perfetto_trace=True):
        for _ in range(args.steps):
            step()
        sync()
    path = sorted(glob.glob(os.path.join(args.out, "**", "perfetto_trace.json.gz"), recursive=True))[-1]
    with gzip.open(path) as file:
        totals = op_times(json.load(file))
    report(totals, args)


def report(totals, args):
    whole = sum(totals.values()) or 1.0
    print(f"{args.layout} layout, batch {args.batch}, {args.precision}, {args.impl}, on "
          f"{throughput.device_name()}: {whole / args.steps / 1e3:.2f} ms of ops per step")
    print(f"\n{'share':>6}  {'ms/step':>8}  op")
    for name, micros in totals.most_common(args.top):
        print(f"{micros / whole:6.1%}  {micros / args.steps / 1e3:8.3f}  {name}  [{kind(name)}]")
    kinds = collections.Counter()
    for name, micros in totals.items():
        kinds[kind(name)] += micros
    print(f"\n{'share':>6}  kind")
    for name, micros in kinds.most_common():
        print(f"{micros / whole:6.1%}  {name}")


if __name__ == "__main__":
    main()
