"""The measurement behind the default run's precision and length (README, "Measured").

    python benchmarks/default_run.py --runs runs/default-choice      # about 25 min on 2 CPU cores

Trains the default run (`python -m dcgan_keras train`: MNIST, width 64, batch
64) in float32 for 18 epochs and in mixed_bfloat16 for 24, seeds 0-2, scored
by the shipped MNIST evaluator every 6 epochs; the bf16 runs' epoch-18 scores
are the same runs' checkpoints, so "bf16, 18 epochs" costs nothing extra.
Runs that are already finished in ``--runs`` are read, not retrained (train
resumes exactly). Prints FID per seed, mean ± standard error, and the paired
differences, seed by seed.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys

SEEDS = (0, 1, 2)
TRAINED = {"float32": 18, "mixed_bfloat16": 24}  # precision -> epochs trained
ROWS = (("float32", 18), ("mixed_bfloat16", 18), ("mixed_bfloat16", 24))


def train(folder, precision, seed, epochs):
    subprocess.run([sys.executable, "-m", "dcgan_keras", "train", "--precision", precision, "--seed", str(seed),
                    "--epochs", str(epochs), "--eval-every", "6", "--verbose", "0", "--output", str(folder)],
                   check=True)


def score(folder, epoch):
    evaluations = json.loads((folder / "quality.json").read_text())["evaluations"]
    return next(entry for entry in evaluations if entry["epoch"] == epoch)


def mean_se(values):
    return statistics.mean(values), statistics.stdev(values) / len(values) ** 0.5


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=pathlib.Path, default=pathlib.Path("runs/default-choice"))
    args = parser.parse_args(argv)
    folders = {}
    for precision, epochs in TRAINED.items():
        for seed in SEEDS:
            folder = folders[precision, seed] = args.runs / f"{precision}-s{seed}"
            record = folder / "run.json"
            if not record.exists() or (json.loads(record.read_text())["finished_epochs"] or 0) < epochs:
                train(folder, precision, seed, epochs)
    fids = {(p, e): [score(folders[p, s], e)["fid"] for s in SEEDS] for p, e in ROWS}
    print(f"| precision | epochs | FID, seeds {', '.join(map(str, SEEDS))} | mean ± SE | classes "
          "| vs float32, 18 epochs (paired) |")
    print("| --- | ---: | --- | --- | --- | --- |")
    for precision, epochs in ROWS:
        values = fids[precision, epochs]
        classes = sorted({score(folders[precision, s], epochs)["classes"] for s in SEEDS})
        paired = [ours - base for ours, base in zip(values, fids["float32", 18])]
        versus = "" if (precision, epochs) == ("float32", 18) else "{:+.1f} ± {:.1f}".format(*mean_se(paired))
        print(f"| {precision} | {epochs} | {', '.join(f'{v:.1f}' for v in values)} | "
              "{:.1f} ± {:.1f} | ".format(*mean_se(values)) + f"{'/'.join(map(str, classes))} | {versus} |")


if __name__ == "__main__":
    main()
