"""The chapter's depth claims on the paper's 64x64x3 DCGAN: a resumable grid on the embedded emoji.

Every variant (``VARIANTS``) is the paper's four-stage DCGAN (kernel 5,
BatchNorm, ReLU in G, LeakyReLU in D, a Dense projection of z) with one thing
changed. Each (variant, seed) run trains at width ``WIDTH`` and batch 64 in
chunks of ``CHECK_EVERY`` steps, and after every chunk it is measured: FID,
KID, category coverage and colour distance on the shipped emoji evaluator,
the near-duplicate share, the checkerboard, a copy check against the training
emoji, and the chunk's losses. So every run carries its curve over time, and
a slow start can be told from a failure. Eight fixed samples per checkpoint
go into a small JPEG "film" of the run.

The budget is chosen from the data: the reference is first trained to
``PILOT_STEPS`` with ``PILOT_SEEDS``, and ``budget`` picks the smallest B at
which the mean FID at 2B is within 5% of the mean at B (at B and at every
larger candidate). Every variant then trains for B steps with ``SEEDS``; the
pilot seeds' reference rows are their checkpoints at B (the data order,
noise and weights are functions of the seed and the step, so that is the
same run as one stopped at B).

Finished runs are records in ``RESULTS`` (committed; a later session resumes
where one stopped). A run killed part way resumes from its newest snapshot
in the cache. ``python -m dcgan_keras.chapters.colour_grid --workers 2``
trains what is missing and prints the table.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import pathlib
import sys
import time

import keras
import numpy as np
from PIL import Image

from dcgan_keras.chapters import ablation, measures
from dcgan_keras.chapters.ablation import Variant
from dcgan_keras.chapters.cached_runs import CACHE, TRAINING_NOISE, TRAINING_VERSION
from dcgan_keras.chapters.experiments import _one_thread_per_process, machine
from dcgan_keras.chapters.notebook import ASSETS
from dcgan_keras.console import filtered_stderr
from dcgan_keras.data import EMOJI, emoji_designs, load_embedded_emoji, load_images, make_dataset, to_unit_range
from dcgan_keras.errors import UsageError
from dcgan_keras.evaluate import EVALUATOR_IMAGES, EmojiEvaluator
from dcgan_keras.files import replace_atomically, write_text_atomically
from dcgan_keras.plotting import image_grid, to_uint8
from dcgan_keras.resume import restore_state, save_state
from dcgan_keras.sampling import latent_noise, sample

IMAGE_SHAPE, BATCH_SIZE, LATENT_DIM = (64, 64, 3), 64, 100
WIDTH, CHECK_EVERY = 16, 1000
PILOT_STEPS, PILOT_SEEDS = 12000, (0, 1, 2, 3)
SEEDS = (0, 1, 2, 3, 4)
TOLERANCE = 0.05  # the 2B rule: mean FID at 2B within 5% of the mean at B
MEASURED = 1000  # samples for the duplicate and copy measures (they depend on the number)
FILM_SAMPLES = 8
TWIN_QUANTILE = 0.95  # "near" is closer than this share of skin-tone twins are to each other
RESULTS = ASSETS.parent / "notebooks" / "results" / "colour_grid.json"
FILMS = ASSETS / "colour_grid"  # the films are pictures: binaries live under assets/

WORSE = {"fid": 1}
PAPER = ablation.reference()
VARIANTS = (
    PAPER,
    Variant("G without BatchNorm", "deep generators need BatchNorm in G, or they collapse",
            {"fid": 1, "duplicates": 1}, generator={"batch_norm": False}),
    Variant("G without BatchNorm, He init", "control: is it BatchNorm, or only the initial scale?",
            {"fid": 1, "duplicates": 1}, generator={"batch_norm": False}, variance_preserving=True, control=True),
    # One claim, two rows: claim_verdicts gives it one verdict, or "mixed".
    Variant("G with 3 stages (8x8 start)", "the paper's four upsampling stages: one fewer or one more is worse",
            WORSE, generator={"stages": 3}),
    Variant("G with 5 stages (2x2 start)", "the paper's four upsampling stages: one fewer or one more is worse",
            WORSE, generator={"stages": 5}),
    Variant("G with a learned 4x4 grid plus z", "the Dense projection: position-specific, or fully connected?", WORSE,
            generator={"projection": "grid"}),
    Variant("G with tiled z, no Dense", "the Dense projection of z is where position starts", WORSE,
            generator={"projection": "tile"}),
    Variant("kernel 4 (G and D)", "kernel 4 divides stride 2 evenly: a weaker checkerboard", {"checkerboard": -1},
            generator={"kernel_size": 4}, discriminator={"kernel_size": 4}),
    Variant("D with max pooling", "strided convolutions beat pooling in D", WORSE,
            discriminator={"downsampling": "pooling"}),
    Variant("D with ReLU", "LeakyReLU beats ReLU in D", WORSE, discriminator={"activation": "relu"}),
)


def by_name(name):
    return ablation.by_name(VARIANTS, name)


def build_variant(variant, seed=0, width=WIDTH):
    """The compiled 64x64x3 DCGAN for ``variant``, with weights drawn from ``seed``."""
    return ablation.build_variant(variant, IMAGE_SHAPE, seed, width)


def config(width=WIDTH, pilot_steps=PILOT_STEPS):
    """What makes two runs comparable; a results file holds runs of one config only."""
    return {"image_shape": list(IMAGE_SHAPE), "width": width, "batch_size": BATCH_SIZE, "check_every": CHECK_EVERY,
            "pilot_steps": pilot_steps, "num_images": EVALUATOR_IMAGES["emoji"],
            "training_version": TRAINING_VERSION, "backend": keras.backend.backend()}


# --- measuring a run ------------------------------------------------------------------------


class Measures:
    """What every checkpoint records: the evaluator's scores and the sample measures, from fixed z."""

    def __init__(self, evaluator=None):
        self.evaluator = evaluator or EmojiEvaluator()
        images, _, _, names = load_embedded_emoji(with_labels=True)
        self.training = to_unit_range(images)
        twins = measures.twin_distances(self.training, emoji_designs(names))
        self.threshold = float(np.quantile(twins, TWIN_QUANTILE))
        self.z = latent_noise(self.evaluator.default_num_images, LATENT_DIM, seed=0)

    def __call__(self, generator):
        """(record, film frame): the scores of the generator's samples of ``self.z``, and its first 8 as uint8."""
        samples = sample(generator, z=self.z)
        finite = bool(np.isfinite(samples).all())
        samples = np.clip(np.nan_to_num(samples), -1.0, 1.0)  # a diverged G is scored as what it draws
        scores = self.evaluator.scores(samples)
        first = samples[:MEASURED]
        copies = measures.copy_check(first, self.training)
        record = {"fid": scores["fid"], "kid": scores["kid"], "categories": scores["classes"], "kl": scores["kl"],
                  "colours": scores["colours"], "shares": scores["shares"],
                  "duplicates": measures.near_duplicate_fraction(first, self.threshold),
                  "nearest": float(np.median(measures.nearest_other(first))),
                  "checkerboard": measures.checkerboard_amplitude(first),
                  "copy_median": copies["sample_median"], "copies": copies["below"], "finite": finite}
        return record, to_uint8(samples[:FILM_SAMPLES])


def _folder(variant, seed, width):
    return CACHE / f"colour-grid-{variant.slug}-w{width}-s{seed}-{keras.backend.backend()}"


def films_folder(width=WIDTH):
    """Where a width's films go: runs of another width never overwrite the default width's films."""
    return FILMS if width == WIDTH else FILMS.with_name(f"{FILMS.name}_w{width}")


def film_path(variant, seed, films=FILMS):
    return pathlib.Path(films) / f"{variant.slug}-s{seed}.jpg"


def train_run(variant, seed, steps, width=WIDTH, measure=None, films=None, log=None):
    """Train one (variant, seed) to ``steps``, measured every ``CHECK_EVERY`` steps; returns its record.

    Resumable: a snapshot and the curve so far are kept in the cache after
    every chunk, so a killed run continues from its last checkpoint, exactly.
    """
    if steps % CHECK_EVERY:
        raise ValueError(f"steps ({steps}) must be a multiple of {CHECK_EVERY}.")
    measure = measure or Measures()
    folder = _folder(variant, seed, width)
    backup, curve_path, frames_path = folder / "backup", folder / "curve.json", folder / "frames.npz"
    keras.utils.set_random_seed(seed)
    gan = build_variant(variant, seed, width)
    batches = make_dataset(load_images(EMOJI, 64, 3), BATCH_SIZE, seed=seed)
    position, _ = restore_state(gan, backup)
    step = position["global_step"] if position else 0
    curve = [c for c in json.loads(curve_path.read_text()) if c["step"] <= step] if step and curve_path.exists() else []
    frames = dict(np.load(frames_path)) if step and frames_path.exists() else {}
    frames = {key: value for key, value in frames.items() if int(key) <= step}
    while step < steps:
        started = time.perf_counter()
        with filtered_stderr(TRAINING_NOISE):
            history = gan.fit(batches.starting_at(step), epochs=1, steps_per_epoch=CHECK_EVERY, verbose=0).history
        seconds = time.perf_counter() - started
        step += CHECK_EVERY
        record, frame = measure(gan.generator)
        losses = {key: float(values[-1]) for key, values in history.items()}
        curve.append({"step": step, **record, **losses, "seconds": round(seconds, 1)})
        frames[str(step)] = frame
        folder.mkdir(parents=True, exist_ok=True)
        replace_atomically(lambda partial: np.savez(partial, **frames), frames_path)  # np.savez keeps the name
        write_text_atomically(json.dumps(curve), curve_path)
        save_state(gan, backup, step, batches.steps_per_epoch)  # last: a snapshot never runs ahead of its curve
        if log:
            log(f"{variant.name:32s} seed {seed} step {step:6d}: FID {record['fid']:6.1f}  "
                f"categories {record['categories']}  duplicates {record['duplicates']:.2f}  ({seconds:.0f} s)")
    write_film(frames, film_path(variant, seed, films or films_folder(width)))
    return {"variant": variant.name, "seed": seed, "steps": steps, "width": width,
            "seconds": round(sum(c["seconds"] for c in curve), 1), "curve": curve}


def write_film(frames, path):
    """One row of samples per checkpoint (the same z), as a small JPEG: what the run drew over time."""
    steps = sorted(frames, key=int)
    rows = [image_grid(frames[key].astype("float32") / 127.5 - 1.0, columns=FILM_SAMPLES) for key in steps]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(lambda partial: Image.fromarray(np.concatenate(rows)).save(partial, "JPEG", quality=85), path)
    return path


def read_film(path, checkpoints):
    """The film's frames back as uint8 arrays, one (8, 64, 64, 3) per checkpoint row."""
    picture = np.asarray(Image.open(path).convert("RGB"))
    size, pad = IMAGE_SHAPE[0], 2
    rows = picture.reshape(checkpoints, -1, *picture.shape[1:])
    return [np.stack([row[pad:pad + size, pad + i * (size + pad):pad + i * (size + pad) + size]
                      for i in range(FILM_SAMPLES)]) for row in rows]


# --- the results file and the budget ----------------------------------------------------------


def read_results(path=RESULTS, expected=None):
    """The results file's records, or an empty one; a file of another config is an error, not overwritten."""
    path = pathlib.Path(path)
    expected = expected or config()
    if not path.exists():
        return {"config": expected, "machine": machine(), "runs": []}
    results = json.loads(path.read_text())
    if results["config"] != expected:
        raise UsageError(f"{path} holds runs of {results['config']}, not {expected}; pass --results NEW.json "
                         "to start another file (finished runs are never overwritten).")
    return results


def _pilot_runs(results):
    pilot_steps = results["config"]["pilot_steps"]
    return [run for run in results["runs"] if run["variant"] == PAPER.name and run["steps"] == pilot_steps]


def pilot_curves(results):
    """(steps, fids): the reference's FID at every checkpoint of each pilot seed, seeds as rows."""
    runs = _pilot_runs(results)
    if not runs:
        return np.array([], int), np.zeros((0, 0))
    steps = np.array([c["step"] for c in runs[0]["curve"]])
    return steps, np.array([[c["fid"] for c in run["curve"]] for run in runs])


def _two_b_changes(steps, fids):
    """{candidate B: relative change of the mean FID from B to 2B}."""
    means = dict(zip(steps.tolist(), fids.mean(axis=0)))
    return {b: float((means[2 * b] - means[b]) / means[b]) for b in steps.tolist() if 2 * b in means}


def budget(results, tolerance=TOLERANCE):
    """The 2B rule on the pilot: (B or None, {candidate B: relative change of the mean FID from B to 2B}).

    B is the smallest candidate at which the mean FID at 2B is within
    ``tolerance`` of the mean at B, and so is every larger candidate: an
    early, poor plateau that the curve later leaves does not count.
    """
    steps, fids = pilot_curves(results)
    if len(fids) < len(PILOT_SEEDS):
        return None, {}
    changes = _two_b_changes(steps, fids)
    return _smallest_passing(changes, tolerance), changes


def _smallest_passing(changes, tolerance=TOLERANCE):
    """The smallest B from which every 2B change is within ``tolerance``, or None."""
    passing = [b for b in changes if all(abs(changes[c]) <= tolerance for c in changes if c >= b)]
    return min(passing) if passing else None


def pilot_report(results):
    """The pilot as text: each finished seed's FID at every checkpoint, their mean, and the 2B rule."""
    runs = _pilot_runs(results)
    if not runs:
        return "No pilot seed has finished yet."
    steps, fids = pilot_curves(results)
    means = fids.mean(axis=0)
    lines = [f"pilot: width {results['config']['width']}, seeds {[run['seed'] for run in runs]} "
             f"of {list(PILOT_SEEDS)}, FID on the shipped emoji evaluator",
             "  step " + "".join(f"  seed {run['seed']}" for run in runs) + "     mean"]
    lines += [f"{step:6d} " + "".join(f"{fid:8.1f}" for fid in fids[:, i]) + f"{means[i]:9.1f}"
              for i, step in enumerate(steps)]
    best = int(np.argmin(means))
    lines.append(f"best mean FID {means[best]:.1f} at {steps[best]:,} steps")
    changes = _two_b_changes(steps, fids)
    lines.append("2B rule (mean FID at 2B against B): " + ", ".join(f"B={b:,}: {c:+.0%}" for b, c in changes.items()))
    found = _smallest_passing(changes) if len(runs) >= len(PILOT_SEEDS) else None  # as ``budget`` decides
    if found:
        lines.append(f"budget: {found:,} steps")
    elif len(runs) < len(PILOT_SEEDS):
        lines.append(f"budget: none yet ({len(PILOT_SEEDS) - len(runs)} pilot seeds to go)")
    else:
        lines.append("budget: none, no candidate B passes the 2B rule")
    return "\n".join(lines)


def at_budget(run, steps):
    """A run's checkpoint at ``steps``, as a table row (variant, seed and the measures)."""
    point = next(c for c in run["curve"] if c["step"] == steps)
    return {"variant": run["variant"], "seed": run["seed"], **point}


def rows(results, steps):
    """Every run that reached ``steps``, as its row at ``steps``, in variant then seed order."""
    order = [v.name for v in VARIANTS]
    found = [at_budget(run, steps) for run in results["runs"] if run["steps"] >= steps and run["variant"] in order]
    return sorted(found, key=lambda row: (order.index(row["variant"]), row["seed"]))


def plot_curves(ax, results, variant=PAPER.name, key="fid", budget_steps=None):
    """One variant's ``key`` over training: each seed thin, their mean thick; B and 2B dashed when given.

    The curve is what tells a slow start from a failure, and a plateau from
    a model still improving (or getting worse).
    """
    runs = [run for run in results["runs"] if run["variant"] == variant]
    for run in runs:
        ax.plot([c["step"] for c in run["curve"]], [c[key] for c in run["curve"]], lw=0.8, alpha=0.6,
                label=f"seed {run['seed']}")
    if len(runs) > 1:
        common = min(len(run["curve"]) for run in runs)
        steps = [c["step"] for c in runs[0]["curve"][:common]]
        ax.plot(steps, np.mean([[c[key] for c in run["curve"][:common]] for run in runs], axis=0), color="black",
                lw=2, label=f"mean of {len(runs)}")
    for at, style, name in ((budget_steps, "--", "B"), (budget_steps and 2 * budget_steps, ":", "2B")):
        if at:
            ax.axvline(at, color="grey", ls=style, lw=1, label=f"{name} = {at:,}")
    ax.set(xlabel="training step", ylabel=key, title=variant)
    ax.legend(fontsize=7)


KEYS = ("fid", "kid", "categories", "duplicates", "copies", "checkerboard")


def table(results, steps, key="fid"):
    """mean ± SE per variant at ``steps``, and each variant against the reference (``ablation``, Holm levels)."""
    found = rows(results, steps)
    compared = ablation.comparisons(found, VARIANTS, key)
    return ablation.markdown_table(ablation.summarize(found, KEYS), KEYS, compared, key)


def missing(results, steps=None, variants=VARIANTS, seeds=SEEDS):
    """The (variant, seed, steps) runs still to train, in order: the pilot, then the grid at budget ``steps``.

    The grid trains every variant's first seed, then one variant's remaining
    seeds at a time, so a grid stopped part way already has whole rows.
    """
    done = {(run["variant"], run["seed"]) for run in results["runs"]}
    todo = [(PAPER, seed, results["config"]["pilot_steps"]) for seed in PILOT_SEEDS]
    if steps:
        todo += [(PAPER, seed, steps) for seed in seeds]
        todo += [(v, seeds[0], steps) for v in variants if v is not PAPER]
        todo += [(v, s, steps) for v in variants if v is not PAPER for s in seeds[1:]]
    return [(v, s, n) for v, s, n in todo if (v.name, s) not in done]


def _train_in_worker(slug, seed, steps, width):
    return train_run(by_name(slug), seed, steps, width, log=print)


def run_grid(path=RESULTS, workers=1, width=WIDTH, pilot_steps=PILOT_STEPS, log=print):
    """Train the pilot, choose the budget, then train every missing run; each record is saved as it finishes."""
    results = read_results(path, config(width, pilot_steps))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def record(run):
        results["runs"].append(run)
        results["runs"].sort(key=lambda r: ([v.name for v in VARIANTS].index(r["variant"]), r["seed"]))
        write_text_atomically(json.dumps(results, indent=1), path)
        log(f"recorded {run['variant']} seed {run['seed']} ({run['steps']} steps, {run['seconds']:.0f} s)")

    for stage in ("pilot", "grid"):
        steps, changes = budget(results)
        rule = ", ".join(f"B={b}: {c:+.1%}" for b, c in changes.items())
        if stage == "grid":
            if steps is None:
                log(f"The pilot gives no budget by the 2B rule: {rule}")
                return results
            log(f"budget: {steps} steps (2B rule: {rule})")
        todo = missing(results, steps if stage == "grid" else None)
        log(f"{stage}: {len(todo)} runs to train with {workers} worker(s)")
        if workers == 1:
            for variant, seed, n in todo:
                record(train_run(variant, seed, n, width, log=log))
            continue
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: TensorFlow does not survive fork
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            with _one_thread_per_process():
                futures = [pool.submit(_train_in_worker, v.slug, s, n, width) for v, s, n in todo]
            for future in concurrent.futures.as_completed(futures):
                record(future.result())
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.chapters.colour_grid",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS, help="the results file (default: %(default)s)")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--pilot-steps", type=int, default=PILOT_STEPS,
                        help="how long the pilot seeds train: the longest budget it can certify is half this")
    parser.add_argument("--workers", type=int, default=1, help="training processes side by side, one thread each")
    parser.add_argument("--report", action="store_true", help="print the pilot's curves and the 2B rule; train nothing")
    args = parser.parse_args(argv)
    try:
        if args.report:  # the file's own config: no options need to match it
            if not args.results.is_file():
                raise UsageError(f"{args.results} does not exist; pass --results with a colour grid's results file.")
            print(pilot_report(json.loads(args.results.read_text())))
            return
        if args.width < 1 or args.workers < 1:
            raise UsageError("--width and --workers must be at least 1.")
        if args.pilot_steps < 2 * CHECK_EVERY or args.pilot_steps % (2 * CHECK_EVERY):
            raise UsageError(f"--pilot-steps must be a positive multiple of {2 * CHECK_EVERY}, "
                             f"so that half of it is a checkpoint; got {args.pilot_steps}.")
        run_grid(args.results, args.workers, args.width, args.pilot_steps)
    except UsageError as error:  # bad input: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
