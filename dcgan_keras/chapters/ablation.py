"""One change at a time: the variants behind notebooks 05 and 06, and the verdicts drawn from their runs.

A ``Variant`` is the paper's DCGAN with one thing changed, and the sign of
the change the chapter predicts. ``build_variant`` builds it for any image
shape and width. The table functions turn seed-level rows (one dict per
trained run) into mean ± standard error, a Welch interval per comparison
with the reference, and a verdict corrected by Holm's method over the whole
family (``statistics``).

``experiments`` (MNIST, notebook 05) and ``colour_runs`` (emoji, notebook 06)
hold each notebook's variants, budget and runs.
"""

import collections
import dataclasses
import math
import pathlib

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from dcgan_keras.chapters import statistics
from dcgan_keras.chapters.generator_anatomy import build_one_step_generator
from dcgan_keras.errors import UsageError
from dcgan_keras.gan import DCGAN
from dcgan_keras.models import build_discriminator, build_generator
from dcgan_keras.plotting import image_grid
from dcgan_keras.sampling import latent_noise, sample

WORSE_FID = {"fid": 1}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One change from the paper's DCGAN, and what the chapter predicts it does.

    ``predicts`` maps a measure to the sign of the predicted change: +1 for
    higher (a worse FID), -1 for lower; measures it does not name get no verdict.
    """

    name: str
    claim: str
    predicts: dict = dataclasses.field(default_factory=lambda: dict(WORSE_FID))
    generator: dict = dataclasses.field(default_factory=dict)
    discriminator: dict = dataclasses.field(default_factory=dict)
    variance_preserving: bool = False  # He-initialised generator: the control for BatchNorm
    control: bool = False  # tests a confound, not a claim of the chapter: left out of ``claim_verdicts``
    adam_defaults: bool = False
    one_layer_generator: bool = False

    @property
    def slug(self):
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")

    @property
    def sigmoid(self):
        return self.generator.get("output_activation") == "sigmoid"


def reference(name="paper DCGAN"):
    """The row every other variant is compared with."""
    return Variant(name, "the reference: every other row changes one thing", predicts={})


def by_name(variants, name):
    """The variant called ``name`` (or with that slug)."""
    for variant in variants:
        if name in (variant.name, variant.slug):
            return variant
    raise UsageError(f"No variant {name!r}. Choose from: {', '.join(v.slug for v in variants)}.")


def variance_preserving(generator, seed=0):
    """Re-draw the generator's kernels so each layer keeps its input's variance (He et al., 2015).

    std = sqrt(gain / fan_in), gain 2 before a ReLU and 1 before the tanh. A
    stride-s transposed convolution sums about k*k/s**2 taps per input channel
    at each output pixel, so that is its fan-in per channel. Biases stay 0.
    """
    rng = np.random.default_rng(seed)
    for layer in generator.layers:
        if not hasattr(layer, "kernel"):
            continue
        shape = tuple(layer.kernel.shape)
        if isinstance(layer, layers.Dense):
            fan_in = shape[0]
        elif isinstance(layer, layers.Conv2DTranspose):  # kernel (k, k, out, in)
            fan_in = shape[0] * shape[1] * shape[3] / (layer.strides[0] * layer.strides[1])
        else:  # Conv2D: (k, k, in, out)
            fan_in = shape[0] * shape[1] * shape[2]
        gain = 1.0 if layer.name == "to_image" else 2.0
        layer.kernel.assign(rng.normal(0.0, np.sqrt(gain / fan_in), shape).astype("float32"))
    return generator


def build_variant(variant, image_shape, seed=0, width=16):
    """The compiled DCGAN for ``variant``, with weights drawn from ``seed``."""
    if variant.one_layer_generator:
        generator = build_one_step_generator(image_shape=image_shape, seed=seed)
    else:
        generator = build_generator(image_shape=image_shape, width=width, seed=seed, **variant.generator)
    if variant.variance_preserving:
        variance_preserving(generator, seed)
    discriminator = build_discriminator(image_shape, width=width, seed=seed, **variant.discriminator)
    gan = DCGAN(generator, discriminator, seed=seed)
    if variant.adam_defaults:
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    else:
        gan.compile()
    return gan


# --- from rows to verdicts ---------------------------------------------------------------


def _values(rows, name, key):
    return [row[key] for row in rows if row["variant"] == name]


def summarize(rows, keys):
    """{variant: {key: (mean, standard error)}, "seeds": n} in the order the rows came; one seed has SE nan."""
    names = list(dict.fromkeys(row["variant"] for row in rows))
    summary = {}
    for name in names:
        stats = {}
        for key in keys:
            values = _values(rows, name, key)
            stats[key] = statistics.mean_and_se(values) if len(values) > 1 else (float(values[0]), math.nan)
        summary[name] = stats | {"seeds": len(_values(rows, name, "seed"))}
    return summary


MIN_SEEDS = 5  # the project's standard for a verdict


def comparisons(rows, variants, key="fid", min_seeds=MIN_SEEDS):
    """Each variant against ``variants[0]`` on ``key``: Welch's test, Holm over the family, intervals at Holm's levels.

    Returns {variant name: {"difference", "low", "high", "level", "p", "holm_p", "verdict"}}
    for every variant with at least 2 seeds. ``low`` and ``high`` bound the
    difference at ``level``, the confidence of the comparison's Holm step
    (``statistics.holm_levels``), so the interval and the verdict never
    disagree; a row still short of seeds gets 95%. The family is fixed in advance:
    every variant in ``variants[1:]``. A variant still short of ``min_seeds``
    seeds counts in it with p = 1, so its holm_p is nan and its verdict reads
    "too few seeds (n)". Holm never raises one p-value when another falls, so
    a verdict reached with part of the grid stands when the rest comes in. A
    variant that predicts nothing about ``key`` gets "no prediction".
    """
    reference_values = _values(rows, variants[0].name, key)
    if len(reference_values) < 2:
        return {}
    values = {v.name: _values(rows, v.name, key) for v in variants[1:]}
    seeds = {name: min(len(found), len(reference_values)) for name, found in values.items()}
    ready = [v.name for v in variants[1:] if seeds[v.name] >= min_seeds and len(values[v.name]) > 1]
    family = statistics.holm_welch([(values[name], reference_values) for name in ready],
                                   pending=len(variants) - 1 - len(ready))
    tests = dict(zip(ready, family))
    result = {}
    for variant in variants[1:]:
        if len(values[variant.name]) < 2:
            continue
        if variant.name not in tests:  # short of seeds: its own 95% interval, outside the family
            difference, low, high, p = statistics.welch(values[variant.name], reference_values)
            tests[variant.name] = {"difference": difference, "low": low, "high": high, "level": 0.95, "p": p,
                                   "holm_p": math.nan}
        test = tests[variant.name]
        difference, holm_p = test["difference"], test["holm_p"]
        sign = variant.predicts.get(key, 0)
        if not sign:
            word = "no prediction"
        elif math.isnan(holm_p):
            word = f"too few seeds ({seeds[variant.name]})"
        else:
            word = statistics.verdict(difference, holm_p, sign)
        result[variant.name] = {**test, "verdict": word}
    return result


def describe(test, key="FID"):
    """One comparison from ``comparisons`` in words: the difference, its interval at the level of its Holm step,
    Holm's p and the verdict."""
    return (f"{key} minus the paper's {test['difference']:+.1f}, interval at its Holm level ({test['level']:.2%}) "
            f"[{test['low']:+.1f}, {test['high']:+.1f}], Holm p {test['holm_p']:.2g}: {test['verdict']}")


def claim_verdicts(variants, compared):
    """One verdict per distinct claim of the chapter, from ``comparisons``' rows.

    Rows with the same ``claim`` test one claim (fewer stages and no stage test
    "several stages"): the claim takes their verdict when they agree, and
    "mixed" when they do not. Controls are left out, and so are claims with a
    row not yet compared. Returns {claim: (verdict, [variant names])} in the variants' order.
    """
    rows = collections.defaultdict(list)
    for variant in variants[1:]:
        if not variant.control:
            rows[variant.claim].append(variant.name)
    result = {}
    for claim, names in rows.items():
        words = {compared[name]["verdict"] for name in names if name in compared}
        if len(words) == 1 and all(name in compared for name in names):
            result[claim] = (words.pop(), names)
        elif all(name in compared for name in names):
            result[claim] = ("mixed", names)
    return result


# Column titles for the evaluators' keys (lower is better for the arrowed ones).
COLUMNS = {"fid": "FID ↓", "kid": "KID ↓", "classes": "classes", "categories": "categories", "kl": "class KL ↓",
           "D_G_z": "D(G(z))", "colours": "colours"}


def _number(value):
    """Three significant figures, without exponents for the sizes FIDs reach."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _cell(mean, error):
    """``mean ± error`` with the error to 2 significant figures and the mean to the same decimal place."""
    if math.isnan(error):
        return _number(mean)
    if error == 0:
        return f"{_number(mean)} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(error)))
    return f"{mean:.{decimals}f} ± {error:.{decimals}f}"


def _p_value(p):
    return "" if math.isnan(p) else f"{p:.2g}"


def markdown_table(summary, keys, compared=None, key="fid"):
    """mean ± standard error per variant and measure; ``compared`` (from ``comparisons``) adds the test on ``key``."""
    compared = compared or {}
    header = "| variant | seeds | " + " | ".join(COLUMNS.get(k, k) for k in keys) + " |"
    if compared:
        header += f" Δ {COLUMNS.get(key, key)} [interval] | level | Holm p | verdict |"
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    for index, (name, stats) in enumerate(summary.items()):
        cells = [str(stats["seeds"]), *(_cell(*stats[k]) for k in keys)]
        test = compared.get(name)
        if test:
            cells += [f"{test['difference']:+.3g} [{_number(test['low'])}, {_number(test['high'])}]",
                      f"{test['level']:.4g}", _p_value(test["holm_p"]), test["verdict"]]
        elif compared:
            cells += ["", "", "", "reference" if index == 0 else "too few seeds"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def draw_sheet(path, variants, rows, generator_of, seed=0, num_images=8, width=6.0, row_height=0.95, dpi=80):
    """``num_images`` samples (the same z) of every variant's run with ``seed``, one row each, saved as a PNG.

    Each row's title gives *that run's* FID. ``generator_of(variant)`` loads the
    run's generator. A variant with no row at ``seed`` is left out, so a grid
    part way through shows what it has.
    """
    z = latent_noise(num_images, 100, seed=1)
    fids = {row["variant"]: row["fid"] for row in rows if row["seed"] == seed}
    shown = [variant for variant in variants if variant.name in fids]
    figure, axes = plt.subplots(len(shown), 1, figsize=(width, row_height * len(shown)), squeeze=False)
    for axis, variant in zip(axes[:, 0], shown):
        images = sample(generator_of(variant), z=z)
        images = images * 2 - 1 if variant.sigmoid else images  # image_grid takes [-1, 1]
        axis.imshow(image_grid(images, columns=num_images), cmap="gray")  # the colour map only touches grey images
        axis.set_title(f"{variant.name}: seed {seed}, FID {fids[variant.name]:.0f} (this run)", fontsize=8, loc="left")
        axis.axis("off")
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path
