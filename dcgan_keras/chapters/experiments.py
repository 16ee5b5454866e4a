"""Notebook 05's controlled experiments: the chapter's claims on MNIST, one change at a time, at a fixed budget.

Every variant (``VARIANTS``) is the paper's DCGAN on the embedded MNIST with
one thing changed. All train for ``STEPS`` updates at width ``WIDTH``, with
batch 64, the same data order, training noise and initial-weight seeds
(``SEEDS``), and are scored by ``MnistEvaluator`` on 5,000 samples.

The budget is the first length at which the reference's gain slowed to under 10%
over the last quarter of its run (its FID still falls beyond it): the paper rows record
their FID every ``CURVE_EVERY`` steps, and ``plateaued`` checks that the
last quarter of the mean curve gained less than 10%.

Every finished run is one record in ``RESULTS`` (committed, so a later
session resumes where one stopped). ``python -m dcgan_keras.chapters.experiments``
trains what the file lacks, in ``--workers`` processes, adds each run as it
finishes, and prints the table; ``--readme`` trains nothing and only rewrites
the table in notebooks/README.md from the file. Notebook 05 reads the same file in fast mode.
"""

import argparse
import collections
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import pathlib
import platform
import re
import sys
import time

import keras
import numpy as np

from dcgan_keras.callbacks import QualityCheckpoint
from dcgan_keras.chapters import ablation, statistics
from dcgan_keras.chapters.ablation import Variant
from dcgan_keras.chapters.cached_runs import TRAINING_NOISE, TRAINING_VERSION, cached_fit, run_folder
from dcgan_keras.chapters.notebook import ASSETS
from dcgan_keras.console import filtered_stderr
from dcgan_keras.data import load_images
from dcgan_keras.errors import UsageError
from dcgan_keras.evaluate import MnistEvaluator
from dcgan_keras.files import write_text_atomically

IMAGE_SHAPE, BATCH_SIZE, NUM_IMAGES = (28, 28, 1), 64, 5000
WIDTH, STEPS, SEEDS, CURVE_EVERY = 16, 12000, (0, 1, 2, 3, 4), 500
PILOT_STEPS, PILOT_EVERY, PILOT_SEEDS = 24000, 1000, (0, 1)  # how the budget was chosen: ``pilot``
RESULTS = ASSETS.parent / "notebooks" / "results" / "experiments.json"
SAMPLE_SHEET = ASSETS / "experiments_samples.png"  # one seed-0 grid per variant (``draw_sheet``)
README = ASSETS.parent / "notebooks" / "README.md"  # the notebook index holds the verdicts
KEYS = ("fid", "kid", "classes", "kl", "D_G_z")

PAPER = ablation.reference()
STAGES_CLAIM = "G draws better growing the image over several stages than over one or none"
VARIANTS = (
    PAPER,
    Variant("G without BatchNorm", "BatchNorm is critical for G: without it, G's samples score a worse FID",
            generator={"batch_norm": False}),
    Variant("G without BatchNorm, He init", "control: is it BatchNorm, or only the initial scale of the weights?",
            generator={"batch_norm": False}, variance_preserving=True, control=True),
    Variant("D with BatchNorm on its input", "BatchNorm on D's input layer ends at a worse FID (the chapter: it makes "
            "training unstable)",
            discriminator={"input_batch_norm": True}),
    Variant("D with max pooling", "strided convolutions beat pooling in D", discriminator={"downsampling": "pooling"}),
    Variant("G with resize + conv", "fractional-strided convolutions beat fixed upsampling in G",
            generator={"upsampling": "resize"}),
    Variant("D with ReLU", "LeakyReLU beats ReLU in D", discriminator={"activation": "relu"}),
    Variant("G with tanh inside", "ReLU in G's hidden layers beats tanh there", generator={"activation": "tanh"}),
    Variant("G with clipped linear output", "tanh at G's output beats a linear output clipped to the same [-1, 1]",
            generator={"output_activation": "hard_tanh"}),
    Variant("G with tiled z, no Dense", "the fully connected projection of z, where position starts, is needed",
            generator={"projection": "tile"}),
    # Fewer stages and none test one claim: they count once in ``claim_verdicts``.
    Variant("G with 1 stage (14->28)", STAGES_CLAIM, generator={"stages": 1}),
    Variant("G with no stage (one layer)", STAGES_CLAIM, one_layer_generator=True),
    Variant("Adam defaults (lr 1e-3, beta1 0.9)", "the paper's lr 2e-4 and beta1 0.5 end at a better FID",
            adam_defaults=True),
)


def by_name(name):
    return ablation.by_name(VARIANTS, name)


def build_variant(variant, seed=0, width=WIDTH):
    """The compiled 28x28 DCGAN for ``variant``, with weights drawn from ``seed``."""
    return ablation.build_variant(variant, IMAGE_SHAPE, seed, width)


def training_images(variant):
    """The embedded MNIST in the generator's output range: [0, 1] for a sigmoid, else [-1, 1]."""
    images = load_images()
    return (images + 1.0) / 2.0 if variant.sigmoid else images


def config(steps=STEPS, width=WIDTH, num_images=NUM_IMAGES):
    """What makes two runs comparable; a results file holds runs of one config only."""
    return {"steps": steps, "width": width, "batch_size": BATCH_SIZE, "num_images": num_images,
            "curve_every": CURVE_EVERY, "training_version": TRAINING_VERSION}


def _run_name(variant, width):
    return f"experiment-{variant.slug}-w{width}"


def _output_range(variant):
    return (0.0, 1.0) if variant.sigmoid else (-1.0, 1.0)


def run(variant, seed, steps=STEPS, width=WIDTH, evaluator=None, num_images=NUM_IMAGES, curve_every=None):
    """Train one (variant, seed) once (cached) and score it; returns its record.

    The reference also scores itself every ``curve_every`` steps (default
    ``CURVE_EVERY``): its record's ``curve`` is [[step, fid, kid], ...], from
    which the budget is judged. A process not limited to one compute thread
    trains in a one-thread worker, which scores with the default evaluator.
    """
    model_path = _model_path(variant, seed, steps, width)
    folder = model_path.parent
    scores_path = folder / f"scores-{num_images}.json"
    if scores_path.exists() and model_path.is_file():  # scores without weights: trained again
        return json.loads(scores_path.read_text())
    if os.environ.get("TF_NUM_INTRAOP_THREADS") != "1":
        # The thread count changes a run's numbers (the reference's seed 0 scored 65.2 on two threads, 74.8
        # on one), so every run trains where the grid trains them: in a one-thread worker process.
        return _in_a_worker(variant, seed, {"steps": steps, "width": width, "num_images": num_images,
                                            "curve_every": curve_every})
    evaluator = evaluator or MnistEvaluator()
    # Every run trains in chunks of curve_every steps, so its final D(x) and D(G(z)) are means over the
    # last chunk; only the reference is scored after each chunk.
    every = curve_every or CURVE_EVERY
    chunk = every if steps % every == 0 else steps
    curve = variant is PAPER and chunk < steps
    callbacks = [QualityCheckpoint(evaluator, folder / "curve", every=1, num_images=num_images,
                                   keep_generators=False)] if curve else []
    started = time.perf_counter()
    with filtered_stderr(TRAINING_NOISE):
        gan, history = cached_fit(_run_name(variant, width), lambda: build_variant(variant, seed, width),
                                  training_images(variant), steps, BATCH_SIZE, seed, chunk, callbacks)
    scores = evaluator.evaluate_generator(gan.generator, num_images, seed=0, output_range=_output_range(variant))
    row = {"variant": variant.name, "seed": seed, "steps": steps, "width": width,
           **{key: value for key, value in scores.items() if key != "shares"},
           "D_x": history["D_x"][-1], "D_G_z": history["D_G_z"][-1], "seconds": round(time.perf_counter() - started, 1)}
    if curve:
        row["curve"] = [[(i + 1) * chunk, fid, kid] for i, (fid, kid) in enumerate(zip(history["fid"], history["kid"]))]
    write_text_atomically(json.dumps(row), scores_path)
    return row


def _model_path(variant, seed, steps, width):
    return run_folder(_run_name(variant, width), steps, BATCH_SIZE, seed) / "dcgan.keras"


def load_run(variant, seed, steps=STEPS, width=WIDTH):
    """The trained DCGAN of a finished run (for sample grids and feature probes)."""
    path = _model_path(variant, seed, steps, width)
    if not path.is_file():  # the results file keeps scores; the weights live in this machine's cache
        raise UsageError(f"No trained '{variant.name}' seed {seed} ({steps:,} steps, width {width}) in the run "
                         f"cache. Train the runs notebook 05 loads with `python -m dcgan_keras.chapters.experiments "
                         f"--weights --workers 2`.")
    return keras.models.load_model(path)


def notebook_runs():
    """The (variant, seed) runs whose weights notebook 05 loads: seed 0 of every row (its sample sheet) and
    every reference seed (its feature probe)."""
    return [(variant, 0) for variant in VARIANTS] + [(PAPER, seed) for seed in SEEDS[1:]]


# --- the results file --------------------------------------------------------------------


def machine():
    """The machine and backend the runs were trained on, in words."""
    return f"{os.cpu_count()}-core {platform.machine()} CPU, Keras {keras.backend.backend()} backend"


def read_results(path=RESULTS, expected=None):
    """The results file's records, or an empty one; a file of another config is an error, not overwritten."""
    path = pathlib.Path(path)
    if not path.exists():
        return {"config": expected or config(), "rows": [], "machine": machine()}
    results = json.loads(path.read_text())
    if expected and results["config"] != expected:
        raise UsageError(f"{path} holds runs of {results['config']}, not {expected}; pass --results NEW.json "
                         "to start another file (finished runs are never overwritten).")
    return results


def missing(results, variants=VARIANTS, seeds=SEEDS):
    """The (variant, seed) pairs the file has no record of, in training order.

    The reference's seeds come first (its curve judges the budget). Then
    every variant's first seed, for a quick look at the whole table, and then
    one variant's remaining seeds at a time, so a grid stopped part way
    already has final verdicts for its first rows. (The Holm family is fixed
    in advance, so a verdict reached early stands when later rows finish.)
    """
    done = {(row["variant"], row["seed"]) for row in results["rows"]}
    order = [(v, s) for v in variants if v is PAPER for s in seeds]
    order += [(v, seeds[0]) for v in variants if v is not PAPER]
    order += [(v, s) for v in variants if v is not PAPER for s in seeds[1:]]
    return [(v, s) for v, s in order if (v.name, s) not in done]


def _train_in_worker(slug, seed, conf):
    # One TensorFlow thread per worker process: two small runs side by side beat one run on two threads.
    return run(by_name(slug), seed, conf["steps"], conf["width"], num_images=conf["num_images"],
               curve_every=conf.get("curve_every"))


@contextlib.contextmanager
def _one_thread_per_process():
    """Environment that spawned workers inherit before they import a backend: one compute thread each."""
    saved = dict(os.environ)
    os.environ.update({"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
                       "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_grid(path=RESULTS, variants=VARIANTS, seeds=SEEDS, conf=None, workers=1, log=print):
    """Train every missing (variant, seed) and add each record to ``path`` as it finishes; returns the results."""
    conf = conf or config()
    results = read_results(path, conf)
    todo = missing(results, variants, seeds)
    log(f"{len(results['rows'])} runs in {path.name}, {len(todo)} to train with {workers} worker(s)")
    since = time.perf_counter()

    def record(row):
        nonlocal since
        results["rows"].append(row)
        results["rows"].sort(key=lambda r: ([v.name for v in VARIANTS].index(r["variant"]), r["seed"]))
        results["wall_seconds"] = round(results.get("wall_seconds", 0.0) + time.perf_counter() - since, 1)
        since = time.perf_counter()
        write_text_atomically(json.dumps(results, indent=1), path)
        log(f"{row['variant']:36s} seed {row['seed']}: FID {row['fid']:7.2f}  classes {row['classes']:2d}  "
            f"({row['seconds']:.0f} s)")

    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    for row in train_all(todo, conf, workers):
        record(row)
    return results


def _in_a_worker(variant, seed, conf):
    """``run`` in one spawned one-thread worker process."""
    (row,) = _in_workers([(variant, seed)], conf, 1)
    return row


def _in_workers(todo, conf, workers):
    """Train ``todo`` in ``workers`` spawned one-thread processes; yields each record as it finishes."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: TensorFlow does not survive fork
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        with _one_thread_per_process():
            futures = [pool.submit(_train_in_worker, v.slug, s, conf) for v, s in todo]
        for future in concurrent.futures.as_completed(futures):
            yield future.result()


def train_all(todo, conf, workers=1):
    """Train the (variant, seed) runs in ``todo``; yields each run's record as it finishes."""
    if workers == 1:
        for variant, seed in todo:
            yield run(variant, seed, conf["steps"], conf["width"], num_images=conf["num_images"])
        return
    yield from _in_workers(todo, conf, workers)


# --- budget and verdicts -----------------------------------------------------------------


def reference_curve(results):
    """The reference's FID curve, mean ± standard error over its seeds: (steps, means, errors)."""
    curves = np.array([row["curve"] for row in results["rows"] if row["variant"] == PAPER.name and "curve" in row])
    if not len(curves):
        raise ValueError("The results hold no reference run with a curve yet.")
    fids = curves[:, :, 1]
    if len(fids) < 2:
        return curves[0, :, 0].astype(int), fids[0], np.full(fids.shape[1], np.nan)
    means, errors = np.array([statistics.mean_and_se(column) for column in fids.T]).T
    return curves[0, :, 0].astype(int), means, errors


def plateaued(steps, fids, quarter=0.25, tolerance=0.10):
    """Did FID improve by less than ``tolerance`` over the last ``quarter`` of the run? (gain, yes/no)"""
    steps, fids = np.asarray(steps), np.asarray(fids)
    start = np.flatnonzero(steps <= steps[-1] * (1 - quarter))[-1]
    gain = float((fids[start] - fids[-1]) / fids[start])
    return gain, gain < tolerance


def pilot(results, steps=PILOT_STEPS, seeds=PILOT_SEEDS, log=print):
    """Train the reference to twice the budget, scored every ``PILOT_EVERY`` steps, and keep its curves in ``results``.

    This is the evidence the budget was chosen from: where the curve of
    these seeds flattens. The grid's own reference rows then confirm it with 5 seeds.
    """
    width = results["config"]["width"]
    rows = [run(PAPER, seed, steps, width, curve_every=PILOT_EVERY) for seed in seeds]
    results["pilot"] = [{"seed": row["seed"], "steps": row["steps"], "curve": row["curve"]} for row in rows]
    log(f"pilot: reference to {steps:,} steps, seeds {list(seeds)}, final FID "
        + ", ".join(f"{r['fid']:.1f}" for r in rows))
    return results


def seeds_per_variant(results):
    """{variant name: its runs in the results file} for every variant of the grid, 0 for one not begun."""
    counts = collections.Counter(row["variant"] for row in results["rows"])
    return {variant.name: counts[variant.name] for variant in VARIANTS}


def verdicts(results, key="fid"):
    """Every variant against the paper's DCGAN on ``key``: ``ablation.comparisons`` over the results' rows."""
    return ablation.comparisons(results["rows"], VARIANTS, key)


def table(results, key="fid"):
    """The Markdown table of the results: mean ± SE per variant, and the test against the paper's DCGAN."""
    return ablation.markdown_table(ablation.summarize(results["rows"], KEYS), KEYS, verdicts(results, key), key)


README_START, README_END = "<!-- experiments table: start -->", "<!-- experiments table: end -->"


def readme_section(results):
    """What the README shows between its markers: the budget, the table, the machine."""
    conf, rows = results["config"], results["rows"]
    steps, fids, _ = reference_curve(results)
    gain, _ = plateaued(steps, fids)
    hours = sum(row["seconds"] for row in rows) / 3600
    seeds = list(seeds_per_variant(results).values())
    total = len(VARIANTS) * len(SEEDS)
    done = (f"All {total} runs are done ({len(SEEDS)} seeds per variant)." if len(rows) == total else
            f"{len(rows)} of {total} runs are done ({min(seeds)} to {max(seeds)} seeds per variant; "
            f"a verdict needs {len(SEEDS)}).")
    return "\n".join([
        README_START,
        f"Width {conf['width']}, batch {conf['batch_size']}, {conf['steps']:,} steps, {conf['num_images']:,} samples "
        f"per score. {done} The reference's mean FID improved {gain:.1%} over the last "
        f"quarter of its run. Mean ± standard error; Welch's interval of the difference from the paper's "
        f"DCGAN at the confidence level of its Holm step (so it excludes 0 exactly when the verdict rejects); "
        f"Holm-corrected p over the family of all {len(VARIANTS) - 1} comparisons (a row still short of seeds "
        f"counts as p = 1). {hours:.1f} process-hours on {results['machine']} "
        f"(`notebooks/results/experiments.json`).",
        "",
        table(results),
        "",
        claims_summary(results),
        README_END,
    ])


def claims_summary(results, key="fid"):
    """The verdicts counted by distinct claim of the chapter (``ablation.claim_verdicts``), one line each."""
    claims = ablation.claim_verdicts(VARIANTS, verdicts(results, key))
    counts = collections.Counter(word for word, _ in claims.values())
    words = ("supported", "not visible at this scale", "contradicted", "mixed")
    lines = [f"By distinct claim ({len(claims)} claims; the control is left out, and rows that test one claim count "
             f"once): " + ", ".join(f"{counts[word]} {word}" for word in words if counts[word]) + "."]
    lines += [f"- {word}: {claim} ({', '.join(names)})" for claim, (word, names) in claims.items()]
    return "\n".join(lines)


def update_readme(results, readme=README):
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise UsageError(f"{readme} has no {README_START} ... {README_END} markers to put the table between.")
    write_text_atomically(pattern.sub(lambda _: readme_section(results), text), readme)


def draw_sheet(path, results, seed=0, num_images=8):
    """``num_images`` samples (the same z) of every variant's run with ``seed``, one row each
    (``ablation.draw_sheet``)."""
    conf = results["config"]
    return ablation.draw_sheet(path, VARIANTS, results["rows"],
                               lambda variant: load_run(variant, seed, conf["steps"], conf["width"]).generator, seed,
                               num_images)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.chapters.experiments",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS, help="the results file (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0..N-1 per variant")
    parser.add_argument("--variants", nargs="*", help="slugs (default: all)")
    parser.add_argument("--workers", type=int, default=1, help="training processes side by side, one thread each")
    parser.add_argument("--readme", action="store_true",
                        help="only rewrite the table in notebooks/README.md from the results file; train nothing")
    parser.add_argument("--weights", action="store_true",
                        help="train into the run cache the runs whose weights notebook 05 loads (seed 0 of every row, "
                             "every reference seed); the results file is left as it is")
    parser.add_argument("--pilot", action="store_true",
                        help=f"first train the reference to {PILOT_STEPS:,} steps (seeds {list(PILOT_SEEDS)}) "
                             "and keep its curves")
    args = parser.parse_args(argv)
    try:
        _main(args)
    except UsageError as error:  # bad input: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _main(args):
    for name in ("steps", "width", "seeds", "workers"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be at least 1, got {getattr(args, name)}.")
    variants = [by_name(name) for name in args.variants] if args.variants else VARIANTS
    conf = config(args.steps, args.width)
    if args.readme:  # a report of what is there: it must not start hours of training
        update_readme(read_results(args.results, conf))
        print(f"README table rewritten from {args.results}")
        return
    if args.weights:  # a new machine's cache is empty: notebook 05 needs these weights, not new rows
        todo = [(v, s) for v, s in notebook_runs() if not _model_path(v, s, args.steps, args.width).is_file()]
        print(f"{len(todo)} of notebook 05's {len(notebook_runs())} runs to train with {args.workers} worker(s)")
        for row in train_all(todo, conf, args.workers):
            print(f"{row['variant']:36s} seed {row['seed']}: FID {row['fid']:7.2f} ({row['seconds']:.0f} s)")
        return
    if args.pilot:
        results = pilot(read_results(args.results, conf))
        args.results.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(json.dumps(results, indent=1), args.results)
    results = run_grid(args.results, variants, range(args.seeds), conf, args.workers)
    print(table(results))


if __name__ == "__main__":
    main()
