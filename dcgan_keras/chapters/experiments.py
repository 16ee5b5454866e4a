"""Controlled experiments that test the chapter's claims, one change at a time.

Every variant is the paper's DCGAN on the embedded MNIST with exactly one
thing changed. All variants train for the same number of steps, with the same
batch size, data order, latent noise and initial-weight seeds, and are scored
by ``dcgan_keras.evaluate.MnistEvaluator`` on 5,000 samples.

``python -m dcgan_keras.chapters.experiments`` reproduces notebook 05's table
(the same function, the same cache: ``cached_runs``) and prints it as
Markdown. Finished runs are cached, so an interrupted script resumes with the
next unfinished run.
"""

import argparse
import dataclasses
import json
import pathlib

import keras
import numpy as np

from dcgan_keras.chapters.cached_runs import cached_fit, run_folder
from dcgan_keras.console import TRAINING_NOISE, filtered_stderr
from dcgan_keras.data import load_images
from dcgan_keras.evaluate import SCORE_KEYS, MnistEvaluator
from dcgan_keras.files import write_text_atomically
from dcgan_keras.gan import DCGAN
from dcgan_keras.models import (
    build_discriminator,
    build_generator,
    build_one_step_generator,
)

WIDTH, BATCH_SIZE, IMAGE_SHAPE = 64, 64, (28, 28, 1)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One change from the paper's DCGAN, and the chapter's claim about it."""

    name: str
    claim: str
    generator: dict = dataclasses.field(default_factory=dict)
    discriminator: dict = dataclasses.field(default_factory=dict)
    adam_defaults: bool = False
    one_layer_generator: bool = False

    @property
    def slug(self):
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")

    @property
    def sigmoid(self):
        return self.generator.get("output_activation") == "sigmoid"


PAPER = Variant("paper DCGAN", "the reference: every other row changes one thing")
VARIANTS = (
    PAPER,
    Variant("G without BatchNorm", "BatchNorm is critical for G; without it G collapses to few modes",
            generator={"batch_norm": False}),
    Variant("D with BatchNorm on its input", "BatchNorm on D's input layer makes training unstable",
            discriminator={"input_batch_norm": True}),
    Variant("D with max pooling", "strided convolutions beat pooling in D", discriminator={"downsampling": "pooling"}),
    Variant("G with resize + conv", "fractional-strided convolutions beat fixed upsampling in G",
            generator={"upsampling": "resize"}),
    Variant("D with ReLU", "LeakyReLU beats ReLU in D", discriminator={"activation": "relu"}),
    Variant("G with sigmoid output", "a bounded tanh output learns faster than sigmoid",
            generator={"output_activation": "sigmoid"}),
    Variant("G without Dense projection", "the fully connected projection of z is needed",
            generator={"projection": False}),
    Variant("G with 1 stage (14->28)", "several upsampling stages beat few", generator={"stages": 1}),
    Variant("G with no stage (one layer)", "a generator cannot jump from z to an image in one layer",
            one_layer_generator=True),
    Variant("Adam defaults (lr 1e-3, beta1 0.9)", "the paper's lr 2e-4 and beta1 0.5 stabilise training",
            adam_defaults=True),
)


def by_name(name):
    for variant in VARIANTS:
        if name in (variant.name, variant.slug):
            return variant
    raise ValueError(f"No variant {name!r}. Choose from: {', '.join(v.slug for v in VARIANTS)}.")


def build_variant(variant, seed=0, width=WIDTH):
    """The compiled DCGAN for ``variant``, with weights drawn from ``seed``."""
    if variant.one_layer_generator:
        generator = build_one_step_generator(image_shape=IMAGE_SHAPE, seed=seed)
    else:
        generator = build_generator(image_shape=IMAGE_SHAPE, width=width, seed=seed, **variant.generator)
    discriminator = build_discriminator(IMAGE_SHAPE, width=width, seed=seed, **variant.discriminator)
    gan = DCGAN(generator, discriminator, seed=seed)
    if variant.adam_defaults:
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    else:
        gan.compile()
    return gan


def training_images(variant):
    """The embedded MNIST in the generator's output range: [0, 1] for a sigmoid, else [-1, 1]."""
    images = load_images()
    return (images + 1.0) / 2.0 if variant.sigmoid else images


def _run_name(variant):
    """The variant's name in the cache of trained runs."""
    return f"experiment-{variant.slug}"


def run(variant, seed, steps, evaluator, num_images=5000):
    """Train one variant once (cached) and score it; returns a dict of scores and final D outputs."""
    name = _run_name(variant)
    scores_path = run_folder(name, steps, BATCH_SIZE, seed) / f"scores-{num_images}.json"
    if scores_path.exists():
        return json.loads(scores_path.read_text())
    with filtered_stderr(TRAINING_NOISE):
        gan, history = cached_fit(name, lambda: build_variant(variant, seed), training_images(variant), steps, BATCH_SIZE, seed)
    output_range = (0.0, 1.0) if variant.sigmoid else (-1.0, 1.0)
    scores = evaluator.evaluate_generator(gan.generator, num_images, seed=0, output_range=output_range)
    row = {"variant": variant.name, "seed": seed, "steps": steps, **scores,
           "D_x": history["D_x"][-1], "D_G_z": history["D_G_z"][-1]}
    write_text_atomically(json.dumps(row), scores_path)
    return row


def load_run(variant, seed, steps):
    """The trained DCGAN of a finished run (for sample grids and feature probes)."""
    return keras.models.load_model(run_folder(_run_name(variant), steps, BATCH_SIZE, seed) / "dcgan.keras")


def run_table(variants=VARIANTS, seeds=(0, 1, 2), steps=700, evaluator=None, log=print, num_images=5000):
    """Every (variant, seed) run, each scored on ``num_images`` samples; returns one row per run."""
    evaluator = evaluator or MnistEvaluator()
    rows = []
    for variant in variants:
        for seed in seeds:
            rows.append(run(variant, seed, steps, evaluator, num_images))
            log(f"{variant.name:38s} seed {seed}: FID {rows[-1]['fid']:7.2f}  classes {rows[-1]['classes']:2d}")
    return rows


def summarize(rows):
    """Mean and standard deviation over seeds, per variant, in the order the rows came."""
    summary = {}
    for row in rows:
        summary.setdefault(row["variant"], []).append(row)
    return {
        name: {key: (float(np.mean([r[key] for r in runs])), float(np.std([r[key] for r in runs])))
               for key in (*SCORE_KEYS, "D_x", "D_G_z") if key in runs[0]} | {"seeds": len(runs)}
        for name, runs in summary.items()
    }


def verdict(summary, name, reference=PAPER.name, key="fid"):
    """Is ``name`` worse than ``reference`` on ``key`` (lower is better) beyond the seeds' noise?

    "Beyond noise" means a difference of the means over 2 standard errors.
    The chapter claims every change is worse, so "worse" agrees with it.
    """
    if name == reference:
        return "reference"
    changed, paper = summary[name], summary[reference]
    if min(changed["seeds"], paper["seeds"]) < 2:
        return "one seed: no verdict"
    # The stored std has ddof=0, so the variance of a mean over n seeds is std**2 / (n - 1).
    error = np.sqrt(changed[key][1] ** 2 / (changed["seeds"] - 1) + paper[key][1] ** 2 / (paper["seeds"] - 1))
    difference = changed[key][0] - paper[key][0]
    if difference > 2 * error:
        return "worse (agrees)"
    if difference < -2 * error:
        return "better (disagrees)"
    return "within noise (not confirmed)"


def markdown_table(summary, verdicts=None):
    """The summary as a Markdown table (mean ± std over seeds); ``verdicts`` adds a column."""
    verdicts = verdicts or {}
    header = "| variant | FID ↓ | KID ↓ | classes | KL ↓ | confidence | D(G(z)) |" + (" verdict |" if verdicts else "")
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    for name, stats in summary.items():
        cells = [f"{stats['fid'][0]:.1f} ± {stats['fid'][1]:.1f}", f"{stats['kid'][0]:.1f} ± {stats['kid'][1]:.1f}",
                 f"{stats['classes'][0]:.1f}", f"{stats['kl'][0]:.3f}", f"{stats['confidence'][0]:.3f}",
                 f"{stats['D_G_z'][0]:.2f}"]
        if verdicts:
            cells.append(verdicts.get(name, ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.chapters.experiments", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--variants", nargs="*", help="slugs (default: all)")
    parser.add_argument("--json", type=pathlib.Path, help="also write every run's scores here")
    args = parser.parse_args(argv)
    variants = [by_name(name) for name in args.variants] if args.variants else VARIANTS
    rows = run_table(variants, range(args.seeds), args.steps)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    summary = summarize(rows)
    print(markdown_table(summary, {name: verdict(summary, name) for name in summary}))


if __name__ == "__main__":
    main()
