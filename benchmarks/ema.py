"""Does the averaged generator (``--ema``) beat G itself on the default run? Paired, seed by seed.

    python benchmarks/ema.py --runs runs/ema-choice --seeds 0 1 2     # 3 runs at once: about 40 min on 2 cores

Trains the default run (`python -m dcgan_keras train`: MNIST, width 64, batch 64, 18 epochs) with
``--ema DECAY`` for each seed, in parallel processes. The average never changes training
(tests/test_ema.py), so each run holds both generators on the same trajectory: G (in dcgan.keras)
and its average (generator.keras). Both are scored the same way, by the shipped MNIST evaluator on
5,000 samples from the same z, and the table gives FID per seed, mean ± SE, and the paired
difference with its t interval. Finished runs in ``--runs`` are read, not retrained (train resumes
exactly); the scores go to ``--runs``/scores.json, written atomically as each run is scored.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

DECAY = 0.999
EPOCHS = 18  # the default run's length on MNIST


def train_all(runs, seeds, decay, precision):
    """Start every unfinished run at once (one compute thread each), then wait for all of them."""
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}
    started = []
    for seed in seeds:
        folder = runs / f"ema{decay:g}-s{seed}"
        record = folder / "run.json"
        if record.exists() and (json.loads(record.read_text())["finished_epochs"] or 0) >= EPOCHS:
            continue
        command = [sys.executable, "-m", "dcgan_keras", "train", "--ema", str(decay), "--seed", str(seed),
                   "--epochs", str(EPOCHS), "--precision", precision, "--verbose", "0", "--output", str(folder)]
        log = open(runs / f"ema{decay:g}-s{seed}.log", "a")
        started.append((seed, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)))
    for seed, process in started:
        if process.wait():
            sys.exit(f"the run of seed {seed} failed: see {runs}/ema{decay:g}-s{seed}.log")


def score_run(folder, seed):
    """FID, KID and classes of G and of its average, on the same 5,000 z."""
    import keras

    import dcgan_keras.gan  # noqa: F401  (registers DCGAN, so that load_model can rebuild it)
    from dcgan_keras import evaluate as scoring

    evaluator = scoring.make_evaluator("mnist", scoring.NUM_IMAGES)
    gan = keras.models.load_model(folder / "dcgan.keras")
    scores = {}
    for name, generator in (("G", gan.generator), ("average", gan.averaged_generator)):
        result = evaluator.evaluate_generator(generator, scoring.NUM_IMAGES, seed, (-1.0, 1.0))
        scores[name] = {key: float(result[key]) for key in ("fid", "kid", "classes")}
    return scores


def t_interval(differences, level=0.95):
    """Mean ± SE of the paired differences and their t interval (chapters.statistics: closed-form t)."""
    from dcgan_keras.chapters.statistics import mean_and_se, t_quantile

    mean, se = mean_and_se(differences)
    half = t_quantile(0.5 + level / 2, len(differences) - 1) * se
    return mean, se, mean - half, mean + half


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=pathlib.Path, default=pathlib.Path("runs/ema-choice"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--decay", type=float, default=DECAY)
    parser.add_argument("--precision", default="auto", help="the default run's (auto: float32 on this CPU)")
    args = parser.parse_args(argv)
    args.runs.mkdir(parents=True, exist_ok=True)
    train_all(args.runs, args.seeds, args.decay, args.precision)

    from dcgan_keras.chapters.statistics import mean_and_se
    from dcgan_keras.files import write_text_atomically

    path = args.runs / "scores.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    for seed in args.seeds:
        key = f"ema{args.decay:g}-s{seed}"
        if key not in stored:
            stored[key] = score_run(args.runs / key, seed)
            write_text_atomically(json.dumps(stored, indent=1), path)
    rows = [stored[f"ema{args.decay:g}-s{seed}"] for seed in args.seeds]
    print(f"Default run, {EPOCHS} epochs, EMA decay {args.decay:g}; FID on 5,000 samples (shipped MNIST evaluator).")
    print(f"| generator | FID, seeds {', '.join(map(str, args.seeds))} | mean ± SE | classes |")
    print("| --- | --- | --- | --- |")
    for name in ("G", "average"):
        values = [row[name]["fid"] for row in rows]
        classes = sorted({int(row[name]["classes"]) for row in rows})
        mean, se = mean_and_se(values)
        print(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {mean:.1f} ± {se:.1f} | "
              f"{'/'.join(map(str, classes))} |")
    mean, se, low, high = t_interval([row["average"]["fid"] - row["G"]["fid"] for row in rows])
    print(f"Average minus G, paired: {mean:+.1f} ± {se:.1f} FID, 95% t interval [{low:+.1f}, {high:+.1f}]"
          + (": better beyond the seed noise." if high < 0 else ": not beyond the seed noise." if low < 0 else
             ": worse beyond the seed noise."))


if __name__ == "__main__":
    main()
