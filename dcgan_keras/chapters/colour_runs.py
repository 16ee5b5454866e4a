"""Notebook 06's runs: the paper's 64x64x3 layout on the embedded emoji, and its claims at depth four.

- ``default_run`` is the command-line run, ``train --dataset emoji-embedded``
  (width 32, 36 epochs), trained once into the cache; in fast mode, the copy
  committed under ``assets/`` (``ASSET_FILES``), whose generator ships as the pretrained "emoji".
- ``VARIANTS`` (``ablation.Variant``) change one thing each from the paper's DCGAN at width 16:
  BatchNorm out of the generator, the same with a variance-preserving (He)
  initialisation as the control for "BatchNorm or just initial scale?",
  kernel 4 instead of 5, and a projection of z with no Dense layer.
- ``run_table`` trains every (variant, seed) once (``cached_runs``) and scores
  it with ``EmojiEvaluator`` and the duplicate and checkerboard measures.
  ``python -m dcgan_keras.chapters.colour_runs --json assets/emoji_experiments.json``
  runs them all and writes the seed-level rows the notebook's tables are made from.
"""

import argparse
import json
import pathlib
import shutil
import time

import keras
import numpy as np
from PIL import Image, ImageSequence

from dcgan_keras import pretrained_generators
from dcgan_keras.chapters import ablation, measures
from dcgan_keras.chapters.ablation import Variant
from dcgan_keras.chapters.cached_runs import CACHE, TRAINING_NOISE, cached_fit, run_folder
from dcgan_keras.chapters.notebook import ASSETS
from dcgan_keras.console import filtered_stderr
from dcgan_keras.data import (
    EMOJI,
    emoji_designs,
    load_embedded_emoji,
    load_images,
    to_unit_range,
)
from dcgan_keras.evaluate import EmojiEvaluator
from dcgan_keras.files import RunPaths, write_text_atomically
from dcgan_keras.plotting import read_history_csv
from dcgan_keras.runs import TrainConfig, train
from dcgan_keras.sampling import latent_noise, sample

IMAGE_SHAPE, BATCH_SIZE = (64, 64, 3), 64
WIDTH, EPOCHS, SEEDS = 16, 15, (0, 1, 2)
STEPS_PER_EPOCH = 3786 // BATCH_SIZE
MEASURED = 1000  # samples per duplicate measure: it depends on the number, so always this many
TWIN_QUANTILE = 0.95  # "near" is closer than this share of skin-tone twins are to each other
DEFAULT_RUN = CACHE / "emoji-default"
# The committed copy of the default run (README: how assets/ was made). Its generator is package data
# instead, so that pip installs it: dcgan_keras.pretrained("emoji").
ASSET_FILES = {"history": "emoji_history.csv", "gif": "emoji_progress.gif", "quality": "emoji_quality.json",
               "samples": "emoji_samples.png", "curves": "emoji_history.png", "record": "emoji_run.json"}
SHIPPED_GENERATOR = pretrained_generators.FOLDER / "emoji.keras"


# --- the default run -----------------------------------------------------------------


def default_run(fast=False, folder=DEFAULT_RUN):
    """The files of ``train --dataset emoji-embedded``: trained now (once, ~14 min), or the committed copy.

    Returns {"history", "gif", "quality", "generator", "samples", "curves", "record"} -> path; the
    record is the run's ``run.json``: its options, epochs and training seconds.
    """
    if fast:
        return _committed(ASSETS)
    paths = RunPaths(folder)
    if not (paths.record.exists() and json.loads(paths.record.read_text())["finished_epochs"]):
        train(TrainConfig.create(dataset=EMOJI, output=folder, verbose=0))
    epochs = json.loads(paths.record.read_text())["finished_epochs"]
    return {"history": paths.history, "gif": paths.gif, "quality": paths.quality, "generator": paths.generator,
            "curves": paths.curves, "record": paths.record, "samples": paths.frame(epochs - 1)}


def _committed(assets):
    """Where the committed copy of the default run is: ``assets/``, and the package's data for the generator."""
    return {**{key: assets / name for key, name in ASSET_FILES.items()}, "generator": SHIPPED_GENERATOR}


def copy_to_assets(folder=DEFAULT_RUN, assets=ASSETS):
    """Copy a finished default run to where ``default_run(fast=True)`` reads it (then update the generator's
    card, ``dcgan_keras/pretrained/emoji.json``, from its run.json and quality.json)."""
    committed = _committed(assets)
    for key, path in default_run(folder=folder).items():
        shutil.copyfile(path, committed[key])


def gif_frames(path):
    """Every frame of a progress GIF as an RGB array: one per epoch, then the last one held."""
    with Image.open(path) as gif:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]


def history_and_scores(files):
    """The default run's per-epoch history and its evaluations (epoch, FID, KID, classes, colours)."""
    return read_history_csv(files["history"]), json.loads(files["quality"].read_text())["evaluations"]


# --- the variants ------------------------------------------------------------------


WORSE = {"fid": 1, "duplicates": 1}
PAPER = ablation.reference()
VARIANTS = (
    PAPER,
    Variant("G without BatchNorm", "deep generators need BatchNorm, or they collapse", WORSE,
            generator={"batch_norm": False}),
    Variant("G without BatchNorm, He init", "control: is it BatchNorm, or only the initial scale?", WORSE,
            generator={"batch_norm": False}, variance_preserving=True),
    Variant("kernel 4 (G and D)", "kernel 4 divides stride 2 evenly: a weaker checkerboard", {"checkerboard": -1},
            generator={"kernel_size": 4}, discriminator={"kernel_size": 4}),
    Variant("G with tiled z, no Dense", "the Dense projection is where position starts", {"fid": 1},
            generator={"projection": "tile"}),
)


def build_variant(variant, seed=0, width=WIDTH):
    """The compiled 64x64x3 DCGAN for ``variant``, with weights drawn from ``seed``."""
    return ablation.build_variant(variant, IMAGE_SHAPE, seed, width)


# --- measuring a run -------------------------------------------------------------------


def duplicate_threshold(twin_distances):
    """The RMS distance under which 95% of skin-tone twins (one design, another tone) fall: "near"."""
    return float(np.quantile(twin_distances, TWIN_QUANTILE))


def real_measures(evaluator):
    """What the real emoji give on the run measures, and the near-duplicate threshold."""
    images, _, _, names = load_embedded_emoji(with_labels=True)
    threshold = duplicate_threshold(measures.twin_distances(to_unit_range(images), emoji_designs(names)))
    return {"threshold": threshold, **_sample_measures(evaluator.real_half, threshold)}


def _sample_measures(images, threshold):
    sample = images[:MEASURED]
    return {"duplicates": measures.near_duplicate_fraction(sample, threshold, MEASURED),
            "nearest": float(np.median(measures.nearest_other(sample, MEASURED))),
            "checkerboard": measures.checkerboard_amplitude(sample)}


def _run_name(variant, width):
    return f"colour-{variant.slug}-w{width}"


def run(variant, seed, evaluator, threshold, epochs=EPOCHS, width=WIDTH):
    """Train one (variant, seed) once (cached) and score it; returns its row."""
    steps = epochs * STEPS_PER_EPOCH
    name = _run_name(variant, width)
    scores_path = run_folder(name, steps, BATCH_SIZE, seed) / "scores.json"
    if scores_path.exists():
        return json.loads(scores_path.read_text())
    with filtered_stderr(TRAINING_NOISE):
        gan, history = cached_fit(name, lambda: build_variant(variant, seed, width), load_images(EMOJI, 64, 3), steps,
                                  BATCH_SIZE, seed)
    samples = sample(gan.generator, z=latent_noise(evaluator.default_num_images, 100, seed=0))
    scores = evaluator.scores(samples)
    row = {"variant": variant.name, "seed": seed, "steps": steps, "width": width,
           **{key: value for key, value in scores.items() if key != "shares"},
           **_sample_measures(samples, threshold), "D_x": history["D_x"][-1], "D_G_z": history["D_G_z"][-1]}
    write_text_atomically(json.dumps(row), scores_path)
    return row


def load_generator(variant, seed, epochs=EPOCHS, width=WIDTH):
    """The trained generator of a finished run."""
    folder = run_folder(_run_name(variant, width), epochs * STEPS_PER_EPOCH, BATCH_SIZE, seed)
    return keras.models.load_model(folder / "dcgan.keras").generator


def run_table(variants=VARIANTS, seeds=SEEDS, epochs=EPOCHS, width=WIDTH, evaluator=None, log=print):
    """Every (variant, seed), trained once and scored; returns (rows, real measures)."""
    evaluator = evaluator or EmojiEvaluator()
    real = real_measures(evaluator)
    rows = []
    for variant in variants:
        for seed in seeds:
            rows.append(run(variant, seed, evaluator, real["threshold"], epochs, width))
            log(f"{variant.name:32s} seed {seed}: FID {rows[-1]['fid']:7.1f}  categories {rows[-1]['classes']}  "
                f"duplicates {rows[-1]['duplicates']:.2f}")
    return rows, real


# --- the tables ------------------------------------------------------------------------

KEYS = ("fid", "kid", "classes", "colours", "duplicates", "checkerboard")


def summarize(rows, keys=KEYS):
    """{variant: {key: (mean, standard error)}, "seeds": n} over seeds, in the order the rows came."""
    return ablation.summarize(rows, keys)


def comparisons(rows, key="fid"):
    """Each variant against the paper's DCGAN on ``key``: Welch's interval, Holm over the family (``ablation``)."""
    return ablation.comparisons(rows, VARIANTS, key)


def markdown_table(summary, keys=KEYS):
    """mean ± standard error per variant and measure."""
    return ablation.markdown_table(summary, keys)


def draw_variant_sheet(path, rows, seed=0, num_images=8, epochs=EPOCHS, width=WIDTH):
    """``num_images`` samples (the same z) of every variant's run with ``seed``, one row each
    (``ablation.draw_sheet``)."""
    return ablation.draw_sheet(path, VARIANTS, rows, lambda variant: load_generator(variant, seed, epochs, width),
                               seed, num_images, width=9, row_height=1.45, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.chapters.colour_runs",
                                     description="Train and score notebook 06's variants (cached).")
    parser.add_argument("--json", type=pathlib.Path, help="write the seed-level rows and real measures here")
    parser.add_argument("--sheet", type=pathlib.Path, help="write the samples of every variant (seed 0) here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, real = run_table()
    seconds = time.perf_counter() - started  # what this call trained: runs already cached cost ~nothing
    print(markdown_table(summarize(rows)))
    for name, test in comparisons(rows).items():
        print(f"{name:32s} FID {test['difference']:+7.1f}  [{test['low']:+.1f}, {test['high']:+.1f}]  "
              f"Holm p {test['holm_p']:.2g}  {test['verdict']}")
    if args.json:
        record = {"rows": rows, "real": real, "wall_seconds": round(seconds, 1)}
        write_text_atomically(json.dumps(record, indent=1), args.json)
    if args.sheet:
        draw_variant_sheet(args.sheet, rows)


if __name__ == "__main__":
    main()
