"""Images per second of one full DCGAN iteration, side by side in one run.

    python benchmarks/throughput.py                      # CPU defaults: the MNIST layout
    KERAS_BACKEND=jax python benchmarks/throughput.py --layouts paper,torchref --batches 128,512

An iteration is what `DCGAN.train_step` does: G(z), D on the real and on the
fake batch, D's update, then G's update through the new D. Implementations:

- ``keras``: the package's own `train_step` on the current Keras backend,
  compiled the way `fit()` compiles it (jax.jit; tf.function; eager torch);
- ``keras-subpixel``: the same model with `upsampling="subpixel"` (identical
  weights and outputs, transposed convolutions computed as conv + depth-to-space);
- ``keras-fast``: also `downsampling="space_to_depth"` in the discriminator (its
  strided convolutions computed as space-to-depth + conv; still the same model);
- ``keras-auto``: the default path, the formulation `DCGAN.from_shape` and
  `train` pick for this backend and device (one of the three above);
- ``torch``, ``torch-channels-last``, ``torch-compile``, ``torch-max-autotune``,
  ``torch-cudagraphs``: the same layout in PyTorch (benchmarks/torch_reference.py),
  eager and then as a PyTorch user would speed it up; ``torch-all`` runs them all.
  A variant the device cannot run (CUDA graphs on a CPU) or that fails is a row
  that says why;
- ``fit-synthetic`` / ``fit-pipeline``: the whole `fit()` wall time on one
  in-memory batch repeated vs the real stream of shuffled batches
  (`dcgan_keras.data.make_dataset`, embedded MNIST), to see what input costs;
  the default path in the default precision, median of three alternated runs.

Prints one JSON object per measurement, then a table with ratios to eager
torch and to the best PyTorch variant of the same (layout, batch, precision) cell.
"""

import argparse
import functools
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dcgan_keras.console import import_tensorflow_quietly

import_tensorflow_quietly()  # before Keras: no C++ start-up lines in the tables

import keras  # noqa: E402

import dcgan_keras  # noqa: E402
from dcgan_keras.devices import device_name  # noqa: E402
from dcgan_keras.models import multiply_adds  # noqa: E402
from dcgan_keras.precision import default_precision  # noqa: E402

LAYOUTS = {
    "mnist": dict(size=28, channels=1, width=64, kernel=5, start=7),
    "paper": dict(size=64, channels=3, width=128, kernel=5, start=4),
    "torchref": dict(size=64, channels=3, width=64, kernel=4, start=4),
}


# impl -> the formulation of the strided layers (dcgan_keras/formulation.py): all compute the same function.
FORMULATIONS = {"keras": "paper", "keras-subpixel": "subpixel", "keras-fast": "fast", "keras-auto": "auto"}


def build_gan(layout, impl="keras"):
    shape = (layout["size"], layout["size"], layout["channels"])
    gan = dcgan_keras.DCGAN.from_shape(shape, 100, layout["width"], layout["kernel"], seed=0,
                                       formulation=FORMULATIONS[impl])
    gan.compile()
    return gan


def gflop_per_image(gan):
    """FLOPs of one iteration: 3 G-forwards (forward + backward) and 9 D-forwards
    (real, fake and G's pass, each forward + backward), the usual accounting."""
    g, d = multiply_adds(gan.generator), multiply_adds(gan.discriminator)
    return 2 * (3 * g + 9 * d) / 1e9


def _compiled_step(gan, real):
    """The package's train_step, compiled as fit() compiles it; returns (step, sync)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        state = [
            [v.value for v in gan.trainable_variables],
            [v.value for v in gan.non_trainable_variables],
            [v.value for v in gan.optimizer.variables],
            [v.value for v in gan.metrics_variables],
        ]
        jitted = jax.jit(gan.train_step, donate_argnums=0)
        real = jax.numpy.asarray(real)
        holder = {"state": state, "logs": None}

        def step():
            holder["logs"], holder["state"] = jitted(holder["state"], real)

        return step, lambda: jax.block_until_ready(holder["logs"])
    if backend == "tensorflow":
        import tensorflow as tf

        real = tf.constant(real)
        compiled = tf.function(gan.train_step, jit_compile=gan.jit_compile is True)
        holder = {}

        def step():
            holder["logs"] = compiled(real)

        return step, lambda: float(holder["logs"]["d_loss"])
    import torch

    real = keras.ops.convert_to_tensor(real)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    return (lambda: gan.train_step(real)), sync


def time_steps(step, sync, seconds, warmup=3):
    for _ in range(warmup):
        step()
    sync()
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or steps < 3:
        step()
        steps += 1
        if steps % 5 == 0:
            sync()
    sync()
    return steps, time.perf_counter() - started


def measure_keras(layout_name, batch, precision, seconds, impl):
    keras.mixed_precision.set_global_policy(precision)
    gan = build_gan(LAYOUTS[layout_name], impl)
    real = np.random.default_rng(0).uniform(-1, 1, (batch, *gan.image_shape)).astype("float32")
    step, sync = _compiled_step(gan, real)
    steps, elapsed = time_steps(step, sync, seconds)
    return steps * batch / elapsed, gflop_per_image(gan)


def measure_torch(layout_name, batch, precision, seconds, variant="torch"):
    """``(img/s, None)``, or ``(None, why)`` for a variant this device cannot run or that failed."""
    import torch
    import torch_reference

    device = "cuda" if torch.cuda.is_available() else "cpu"
    why = torch_reference.unavailable(variant, device)
    if why:
        return None, why
    try:
        step = torch_reference.make_step(LAYOUTS[layout_name], batch, precision != "float32", device, variant)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        steps, elapsed = time_steps(step, sync, seconds)
    except Exception as error:  # a row that says why, not a lost benchmark
        return None, f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"
    finally:
        torch._dynamo.reset()  # each variant compiles its own models from scratch
    return steps * batch / elapsed, None


@functools.cache
def layout_gflop(layout_name):
    """The FLOPs the PyTorch rows are credited with: the same layout's, counted on the Keras model."""
    return gflop_per_image(build_gan(LAYOUTS[layout_name]))


def torch_variants():
    import torch_reference

    return list(torch_reference.VARIANTS)


def measure_fit(layout_name, batch, epochs_steps, pipeline, precision):
    """Whole fit() wall time (start-up excluded by a first short fit) on MNIST-shaped data."""
    from dcgan_keras.data import load_images, make_dataset

    keras.mixed_precision.set_global_policy(precision)
    gan = build_gan(LAYOUTS[layout_name], "keras-auto")  # the default path, as train runs it
    images = load_images()
    # The real stream, or the same stream over one batch: the same code minus the gather.
    dataset = make_dataset(images if pipeline else images[:batch], batch)
    steps = len(images) // batch if pipeline else epochs_steps
    gan.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)  # trace and compile outside the timing
    started = time.perf_counter()
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layouts", default="mnist")
    parser.add_argument("--batches", default="128")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--impls", default="keras,keras-subpixel,keras-fast,keras-auto,torch-all,fit")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--large-batch-precisions", default=None,
                        help="precisions to run at batches after the first (default: all)")
    args = parser.parse_args(argv)
    impls = args.impls.split(",")
    if "torch-all" in impls:
        at = impls.index("torch-all")
        impls[at : at + 1] = torch_variants()
    backend, device = keras.backend.backend(), device_name()
    rows = []

    def emit(**row):
        row.update(backend=backend, device=device)
        rows.append(row)
        print(json.dumps(row), flush=True)

    batches = [int(b) for b in args.batches.split(",")]
    for layout in args.layouts.split(","):
        for batch in batches:
            precisions = args.precisions.split(",")
            if batch != batches[0] and args.large_batch_precisions:
                precisions = args.large_batch_precisions.split(",")
            for precision in precisions:
                for impl in impls:
                    if impl in FORMULATIONS:
                        rate, gflop = measure_keras(layout, batch, precision, args.seconds, impl)
                    elif impl.startswith("torch"):
                        rate, why = measure_torch(layout, batch, precision, args.seconds, impl)
                        gflop = layout_gflop(layout)
                    else:
                        continue
                    emit(layout=layout, batch=batch, precision=precision, impl=impl,
                         img_per_s=None if rate is None else round(rate, 1),
                         tflops=None if rate is None else round(rate * gflop / 1e3, 3),
                         **({} if rate is not None else {"skipped": why}))
        if "fit" in impls:
            batch = batches[0]
            default = default_precision()  # the default run's, as train would pick it here
            # Alternated, three of each, medians: one pair alone swung by 20% on the 2-core machine.
            rates = {False: [], True: []}
            for _ in range(3):
                for pipeline in rates:
                    rates[pipeline].append(measure_fit(layout, batch, 10_000 // batch, pipeline, default))
            for impl, pipeline in (("fit-synthetic", False), ("fit-pipeline", True)):
                rate = float(np.median(rates[pipeline]))
                emit(layout=layout, batch=batch, precision=default, impl=impl, img_per_s=round(rate, 1), tflops=None)
    print_table(rows)


def cell(row):
    return row["layout"], row["batch"], row["precision"]


def print_table(rows):
    """Each row against eager torch and against the best PyTorch variant of its own cell."""
    eager = {cell(r): r["img_per_s"] for r in rows if r["impl"] == "torch" and r["img_per_s"]}
    best_torch = {}
    for r in rows:
        if r["impl"].startswith("torch") and r["img_per_s"] and r["img_per_s"] > best_torch.get(cell(r), (0, ""))[0]:
            best_torch[cell(r)] = (r["img_per_s"], r["impl"])
    print(f"\n{'layout':9} {'batch':>5} {'precision':15} {'impl':19} {'img/s':>10} {'TFLOP/s':>8} "
          f"{'vs torch':>9} {'vs best torch':>13}")
    for r in rows:
        if r["img_per_s"] is None:
            print(f"{r['layout']:9} {r['batch']:5d} {r['precision']:15} {r['impl']:19} "
                  f"{'-':>10}  ({r.get('skipped', '')})")
            continue
        same, (best, _) = eager.get(cell(r)), best_torch.get(cell(r), (None, None))
        ratio = f"{r['img_per_s'] / same:.2f}x" if same else "-"
        best_ratio = f"{r['img_per_s'] / best:.2f}x" if best else "-"
        tflops = f"{r['tflops']:.2f}" if r["tflops"] is not None else "-"
        print(f"{r['layout']:9} {r['batch']:5d} {r['precision']:15} {r['impl']:19} {r['img_per_s']:10.1f} "
              f"{tflops:>8} {ratio:>9} {best_ratio:>13}")
    for key, (rate, impl) in best_torch.items():
        print(f"Best PyTorch at {' '.join(map(str, key))}: {impl} ({rate:,.0f} img/s).")
    fits = {r["impl"]: r["img_per_s"] for r in rows if r["impl"].startswith("fit-")}
    if len(fits) == 2:
        print(f"\nfit() on the real stream of shuffled batches reaches "
              f"{fits['fit-pipeline'] / fits['fit-synthetic']:.0%} of fit() on synthetic in-memory data.")
    print(f"Backend {rows[0]['backend'] if rows else '?'} on {rows[0]['device'] if rows else '?'}.")


if __name__ == "__main__":
    main()
