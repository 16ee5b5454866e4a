"""``python -m dcgan_keras train|evaluate|sample|train-classifier``: the package's command line.

Each command is a short pipeline: the parsed options become a frozen config,
then each step (load the data, build, fit, write the artefacts) is one
function of it. Input the user can fix raises ``UsageError``, which ``main``
prints as one line with exit status 2; any other error is a bug and keeps
its traceback.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import sys
import time
import zipfile

import keras
import numpy as np

from dcgan_keras import data, devices, feature_nets, formulation, precision
from dcgan_keras import evaluate as scoring
from dcgan_keras.callbacks import HistoryCSV, QualityCheckpoint, SampleGrid
from dcgan_keras.distribute import check_global_batch, data_parallel
from dcgan_keras.errors import UsageError
from dcgan_keras.files import folder_lock, write_text_atomically
from dcgan_keras.gan import DCGAN, generate_images, interpolate, latent_noise
from dcgan_keras.image_cache import ImageCache
from dcgan_keras.models import num_stages
from dcgan_keras.plotting import (
    image_grid,
    plot_history,
    read_history_csv,
    save_gif,
    save_grid,
    save_image,
)
from dcgan_keras.resume import fit_resumably, latest_position

GRAYSCALE_DATASETS = {data.EMBEDDED, "mnist", "fashion_mnist", "emnist", "kmnist"}
# Defaults that depend on the data: (width, epochs, eval_every). The embedded sets' are chosen so that
# the default run takes minutes on a 2-core CPU (README: "What the main job makes"); others get MNIST's.
DATASET_DEFAULTS = {data.EMBEDDED: (64, 18, 6), data.EMOJI: (32, 36, 9)}
# The data each offline evaluator's reference set comes from.
OFFLINE_FEATURES = {"mnist": {data.EMBEDDED, "mnist"}, "emoji": {data.EMOJI}}
# The options that shape the trajectory: a run can only be resumed with the same ones.
RUN_DEFINING_OPTIONS = ("dataset", "image_dir", "image_size", "channels", "batch_size", "width", "kernel_size",
                        "latent_dim", "seed", "precision")


def _whole_number(text, low, wanted):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
    return value


def _positive(text):
    return _whole_number(text, 1, "a whole number of 1 or more")


def _non_negative(text):
    return _whole_number(text, 0, "a whole number of 0 or more")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (and where to read more), not a usage block."""

    def error(self, message):
        print(f"error: {message}. See: {self.prog} --help", file=sys.stderr)
        raise SystemExit(2)


# --- the options -----------------------------------------------------------------


def _train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a DCGAN (default: the embedded MNIST, offline, a few minutes on a CPU)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default=data.EMBEDDED,
                        help=f"'{data.EMBEDDED}' (28x28 digits), '{data.EMOJI}' (64x64 colour emoji, the paper's "
                             f"size), both offline, or a tensorflow-datasets name (mnist, cifar10, celeb_a, ...)")
    parser.add_argument("--image-dir", type=pathlib.Path,
                        help="train on a folder of your own images instead (nested folders are fine)")
    parser.add_argument("--image-size", type=_positive,
                        help="square size; default 28 for MNIST-like data, 64 otherwise")
    parser.add_argument("--channels", type=int, choices=(1, 3),
                        help="default 1 for MNIST-like data, 3 otherwise")
    parser.add_argument("--epochs", type=_positive, help=f"default 18 for MNIST, 36 for {data.EMOJI}")
    parser.add_argument("--batch-size", type=_positive, default=64,
                        help="the paper uses 128; 64 gives twice the updates per CPU minute on MNIST")
    parser.add_argument("--width", type=_positive,
                        help="channels of the widest-resolution hidden layer; the paper uses 128 (1024 channels at "
                             f"4x4 for 64x64 images). Default 64 for MNIST, 32 for {data.EMOJI} (CPU-sized)")
    parser.add_argument("--kernel-size", type=int, default=5, choices=(4, 5))
    parser.add_argument("--latent-dim", type=_positive, default=100)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("runs/dcgan"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=precision.CHOICES,
                        help="auto: mixed_bfloat16 on a CPU with native bf16 under TensorFlow, else float32 "
                             "(see dcgan_keras/precision.py)")
    parser.add_argument("--formulation", default="auto", choices=formulation.CHOICES,
                        help="how the strided layers are computed, never what: auto picks from the measurements "
                             "for this backend and device (see dcgan_keras/formulation.py)")
    parser.add_argument("--distribute", action="store_true",
                        help="data-parallel over every local GPU (TensorFlow: MirroredStrategy; "
                             "JAX: DataParallel); --batch-size is then the global batch")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="continue the run found in --output exactly where it stopped (--no-resume: discard "
                             "an interrupted run and start again)")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow deleting a finished run in --output and starting again")
    parser.add_argument("--backup-every", type=_non_negative, default=0,
                        help="also back up the training state every N steps (0: at the end of each epoch only)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--eval-every", type=_non_negative,
                        help="score the generator (FID, KID, class coverage) every N epochs and keep the best "
                             f"one as best_generator.keras; default 6 for 28x28 MNIST and 9 for {data.EMOJI} "
                             "(offline, the shipped feature networks), 0 (off) otherwise, where it needs "
                             "InceptionV3's weights (online)")
    parser.add_argument("--features", choices=("auto", "mnist", "emoji", "inception"), default="auto",
                        help="the evaluator's features; auto: the shipped MNIST or emoji network when training on "
                             "that dataset, InceptionV3 otherwise (a folder of digits: pass --features mnist)")
    parser.add_argument("--eval-images", type=_positive,
                        help="samples per evaluation; default 5000, or as many as the offline evaluator's real "
                             "half holds (1,893 emoji), so that the FID is comparable with its floor")
    parser.set_defaults(command=lambda args: train(TrainConfig.from_args(args)))


def _generator_options(parser, num_images, help):
    """The options shared by the commands that read a saved generator."""
    parser.add_argument("--generator", type=pathlib.Path, default=pathlib.Path("runs/dcgan/generator.keras"))
    parser.add_argument("--num-images", type=_positive, default=num_images, help=help)
    parser.add_argument("--seed", type=int, default=0, help="draws z; the same seed gives the same images")


def _evaluate_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="score a saved generator: FID, KID and class coverage",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="By default the generator's output shape picks the evaluator: 28x28x1 generators are scored "
                    "offline against MNIST on the package's MNIST classifier, 64x64x3 ones against the emoji on "
                    "its emoji network. --features inception scores any generator on InceptionV3 (downloads its "
                    "weights) against --dataset or --image-dir.",
    )
    _generator_options(parser, num_images=None, help="generated images (and real ones per side); default 5000, "
                                                      "or the offline evaluator's real half (1,893 emoji)")
    parser.add_argument("--features", choices=("auto", "mnist", "emoji", "inception"), default="auto")
    parser.add_argument("--dataset", default=data.EMBEDDED, help="--features inception: the reference data")
    parser.add_argument("--image-dir", type=pathlib.Path, help="--features inception: reference images from a folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(command=lambda args: evaluate(EvaluateConfig.from_args(args)))


def _sample_parser(subparsers):
    parser = subparsers.add_parser(
        "sample",
        help="draw images from a saved generator",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _generator_options(parser, num_images=64, help="images in the grid")
    parser.add_argument("--output", type=pathlib.Path,
                        help="folder for grid.png and interpolation.png (default: beside the generator)")
    parser.add_argument("--images", action="store_true",
                        help="also write each image as its own PNG under OUTPUT/images/")
    parser.add_argument("--steps", type=_positive, default=10, help="points on each interpolation row")
    parser.add_argument("--interpolation", choices=("spherical", "linear"), default="spherical",
                        help="spherical stays where z ~ N(0, I) lives; a straight line dips inside it, "
                             "where samples score worse (notebook 05, section 4)")
    parser.set_defaults(command=lambda args: sample(SampleConfig.from_args(args)))


def _classifier_parser(subparsers):
    parser = subparsers.add_parser(
        "train-classifier",
        help="(re)make a feature network the offline evaluation uses (MNIST or emoji)",
        description="Trains it with its fixed seed on its part of the embedded data (MNIST: 8,000 digits; emoji: "
                    "80% of the designs), reports the held-out accuracy on the rest, and writes PATH and its "
                    "card PATH.json.",
    )
    parser.add_argument("path", type=pathlib.Path, metavar="PATH", help="where to write the .keras file")
    parser.add_argument("--features", choices=tuple(feature_nets.NETWORKS), default="mnist")
    parser.set_defaults(command=lambda args: train_classifier(args.path, args.features))


def build_parser():
    parser = _Parser(prog="python -m dcgan_keras", description="DCGAN (Radford et al., 2015) in Keras 3.")
    subparsers = parser.add_subparsers(required=True, metavar="{train,evaluate,sample,train-classifier}")
    _train_parser(subparsers)
    _evaluate_parser(subparsers)
    _sample_parser(subparsers)
    _classifier_parser(subparsers)
    return parser


# --- train ---------------------------------------------------------------------------


def _fields_from(args, config_class):
    """The parsed options that ``config_class`` has fields for."""
    return {field.name: getattr(args, field.name) for field in dataclasses.fields(config_class) if hasattr(args, field.name)}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every choice of a training run, with the data-dependent defaults resolved."""

    dataset: str
    image_dir: pathlib.Path | None
    image_size: int
    channels: int
    epochs: int
    batch_size: int
    width: int
    kernel_size: int
    latent_dim: int
    output: pathlib.Path
    seed: int
    precision: str
    formulation: str
    distribute: bool
    resume: bool
    overwrite: bool
    backup_every: int
    verbose: int
    eval_every: int
    eval_images: int
    features: str

    @classmethod
    def from_args(cls, args):
        options = _fields_from(args, cls)
        dataset = "folder" if args.image_dir is not None else args.dataset
        grayscale = dataset in GRAYSCALE_DATASETS
        size, channels = data.EMBEDDED_SHAPES.get(dataset, (28, 1) if grayscale else (64, 3))
        options["image_size"] = args.image_size or size
        options["channels"] = args.channels or channels
        width, epochs, eval_every = DATASET_DEFAULTS.get(dataset, DATASET_DEFAULTS[data.EMBEDDED])
        options["width"] = args.width or width
        options["epochs"] = args.epochs or epochs
        options["precision"] = precision.resolve(args.precision)
        shape = (options["image_size"], options["image_size"], options["channels"])
        features = options["features"] = _features_for(dataset, shape) if args.features == "auto" else args.features
        if args.eval_every is None:
            options["eval_every"] = 0 if features == "inception" else eval_every  # InceptionV3 needs a download
        options["eval_images"] = args.eval_images or scoring.EVALUATOR_IMAGES.get(features, scoring.NUM_IMAGES)
        config = cls(**options)
        num_stages(config.image_size)  # reject a bad size before loading any data
        _check_writable_folder(config.output)
        return config

    def run_defining_options(self):
        return {name: str(value) if isinstance(value, pathlib.Path) else value
                for name, value in dataclasses.asdict(self).items() if name in RUN_DEFINING_OPTIONS}

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)



def _features_for(dataset, image_shape):
    """The evaluator: a shipped feature network where its reference data is the training data, else InceptionV3."""
    name = scoring.for_shape(image_shape)
    return name if dataset in OFFLINE_FEATURES.get(name, ()) else "inception"


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Where a training run writes, all under one folder."""

    output: pathlib.Path

    samples = property(lambda self: self.output / "samples")
    backup = property(lambda self: self.output / "backup")
    history = property(lambda self: self.output / "history.csv")
    curves = property(lambda self: self.output / "history.png")
    gif = property(lambda self: self.output / "progress.gif")
    generator = property(lambda self: self.output / "generator.keras")
    dcgan = property(lambda self: self.output / "dcgan.keras")
    best_generator = property(lambda self: self.output / "best_generator.keras")
    quality = property(lambda self: self.output / "quality.json")
    last_generator = property(lambda self: self.output / "last_generator.keras")
    record = property(lambda self: self.output / "run.json")

    def artefacts(self):
        """Everything a run writes here, folders first."""
        return [self.samples, self.backup, self.history, self.curves, self.gif, self.generator, self.dcgan,
                self.best_generator, self.last_generator, self.quality, self.record]


def train(config):
    """Claim the folder, load, build, fit (resuming exactly), write: the whole ``train`` command."""
    paths = RunPaths(config.output)
    new_folder = not paths.output.exists()
    try:
        with folder_lock(paths.output, holder="another train command"):
            _train_in(config, paths)
    except UsageError:
        if new_folder and latest_position(paths.backup) is None:
            shutil.rmtree(paths.output, ignore_errors=True)  # made by this command, holding nothing yet
        raise


def _train_in(config, paths):
    """The ``train`` command inside its locked folder."""
    earlier_seconds = 0.0 if config.overwrite else _recorded_seconds(paths)  # trained further: add to its time
    position = _claim_run_folder(config, paths)
    # First, before any other TensorFlow work: a multi-worker strategy cannot start after it.
    parallel = _data_parallel(config)
    images = _load_training_images(config)
    # Before seeding the run: making an evaluator may train the classifier, which seeds its own RNG.
    evaluator = _evaluator(config.features, config.eval_images, images=images) if config.eval_every else None
    gan = _build_gan(config, parallel)
    batches = data.make_dataset(images, config.batch_size, seed=config.seed)
    if position:
        print(f"Resuming the run in {paths.output} at epoch {position['epoch'] + 1}, step {position['step']} "
              f"of {batches.steps_per_epoch}, exactly where its last backup left it.")
    sample_grid = SampleGrid(paths.samples, seed=config.seed)
    print(f"Training on {len(images)} images, {batches.steps_per_epoch} batches "
          f"of {config.batch_size} per epoch, for {config.epochs} epochs.")
    started = time.perf_counter()
    fit_resumably(gan, batches, config.epochs, paths.backup, config.backup_every,
                  _training_callbacks(config, paths, sample_grid, evaluator), config.verbose)
    seconds = time.perf_counter() - started
    written = _write_artefacts(config, paths, gan, sample_grid)
    _write_record(paths, config, finished_epochs=config.epochs, train_seconds=earlier_seconds + seconds)
    done = (position or {}).get("global_step", 0) / batches.steps_per_epoch
    _report(config, written, config.epochs - done, seconds)


def _write_record(paths, config, finished_epochs=None, train_seconds=None):
    """run.json: the options that define the run, how many epochs are finished (None: in progress), and
    the seconds that the finished sessions spent training (scoring included, loading excluded)."""
    record = {"options": config.run_defining_options(), "finished_epochs": finished_epochs,
              "train_seconds": None if train_seconds is None else round(train_seconds, 1)}
    write_text_atomically(json.dumps(record, indent=1), paths.record)


def _recorded_seconds(paths):
    record = json.loads(paths.record.read_text()) if paths.record.exists() else {}
    return (record.get("train_seconds") or 0.0) if record.get("finished_epochs") else 0.0


def _claim_run_folder(config, paths):
    """Decide what ``train`` may do with what ``--output`` holds; never lose a run without --overwrite.

    A finished run is kept unless ``--overwrite``; it is trained further when
    ``--epochs`` asks for more. An interrupted run is resumed with the same
    options, or discarded by ``--no-resume``. Files of an unknown run are kept.
    Returns the position training resumes from (None for a fresh start).
    """
    record = json.loads(paths.record.read_text()) if paths.record.exists() else None
    position = latest_position(paths.backup)
    where = f"--output {paths.output}"
    if config.overwrite:
        _forget_previous_run(paths)
        position = None
    elif record is not None and record["finished_epochs"] is not None:
        finished = record["finished_epochs"]
        if not config.resume:
            raise UsageError(f"{where} holds a finished {finished}-epoch run, which --no-resume would delete. "
                             f"Add --overwrite to delete it, or choose another --output.")
        if config.epochs <= finished:
            raise UsageError(f"{where} holds a finished {finished}-epoch run; nothing was changed. Pass --epochs N "
                             f"with N > {finished} to train it further, --overwrite to start again, or another --output.")
        _check_same_run(config, record, where)
    elif position is not None:
        if not config.resume:
            _forget_previous_run(paths)
            position = None
        else:
            _check_same_run(config, record, where)
            trained = position["epoch"] + (position["step"] > 0)
            if trained > config.epochs:
                raise UsageError(f"{where} holds an interrupted run already into epoch {trained}, past --epochs "
                                 f"{config.epochs}. Pass --epochs {trained} or more to finish it, --overwrite "
                                 f"to start again, or another --output.")
    elif record is None and any(path.exists() for path in paths.artefacts()):
        raise UsageError(f"{where} holds files of a run this command did not start (no run.json). "
                         f"Pass --overwrite to replace them, or choose another --output.")
    _write_record(paths, config)
    return position


def _check_same_run(config, record, where):
    stored = (record or {}).get("options", {})
    changed = [name for name, value in config.run_defining_options().items() if stored.get(name, value) != value]
    if changed:
        was = " ".join(f"--{name.replace('_', '-')} {stored[name]}" for name in changed)
        now = " ".join(f"--{name.replace('_', '-')} {getattr(config, name)}" for name in changed)
        raise UsageError(f"{where} holds a run made with {was}; this command asks for {now}. Resume it with "
                         f"the same options, pass --overwrite to start again, or choose another --output.")


def _forget_previous_run(paths):
    """Remove every file a previous run left in the folder (its lock stays: this process holds it)."""
    for stale in paths.artefacts():
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)


def _check_writable_folder(folder, option="--output"):
    """Raise ``UsageError`` unless ``folder`` is, or can be made as, a folder this process can write in."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} is a file; give a folder.")
    existing = next(parent for parent in [folder, *folder.absolute().parents] if parent.exists())
    if not existing.is_dir():
        raise UsageError(f"{option} {folder}: {existing} is a file, so no folder can be made under it.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {folder}: this user cannot write in {existing}. Choose another folder.")


def _load_training_images(config):
    print(f"Loading {config.image_dir or config.dataset} at {config.image_size}x{config.image_size}x{config.channels} ...")
    images = data.open_images(config.dataset, config.image_size, config.channels, config.image_dir)
    if isinstance(images, ImageCache):  # read a batch at a time: memory does not grow with the dataset
        print(f"Streaming {len(images)} images from the cache {images.path} "
              f"({images.path.stat().st_size / 2**20:.0f} MB; delete it to decode the source again).")
    return images


def _data_parallel(config):
    """The scope to build the DCGAN in: data-parallel with --distribute (then the batch is the global one)."""
    if not config.distribute:
        return contextlib.nullcontext()
    scope, replicas = data_parallel()
    check_global_batch(config.batch_size, replicas)
    print(f"Data-parallel over {replicas} replicas: {config.batch_size // replicas} images each per step.")
    return scope


def _build_gan(config, scope):
    """The seeded, compiled DCGAN, under the precision asked for, built in ``scope``."""
    keras.utils.set_random_seed(config.seed)
    chosen, _, _ = formulation.resolve(config.formulation, config.kernel_size)
    how = "auto: the measured choice for" if config.formulation == "auto" else "as asked, on"
    print(f"Training in {config.precision}; strided layers computed the {chosen!r} way "
          f"({how} {keras.backend.backend()} on {devices.device_kind()}).")
    # The layers keep the policy they were built with; the caller's global policy is left as it was.
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        with scope:
            gan = DCGAN.from_shape(config.image_shape, config.latent_dim, config.width, config.kernel_size,
                                   config.seed, formulation=chosen)
            gan.compile()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return gan


def _training_callbacks(config, paths, sample_grid, evaluator):
    """The epoch's outputs in order; ``fit_resumably`` adds the state backup after them."""
    callbacks = [sample_grid]
    if evaluator is not None:
        callbacks.append(QualityCheckpoint(evaluator, paths.output, config.eval_every, config.eval_images,
                                           seed=config.seed))
    # After QualityCheckpoint, so the CSV gets the scores it adds to the logs.
    callbacks.append(HistoryCSV(paths.history))
    return callbacks


def _write_artefacts(config, paths, gan, sample_grid):
    """The pictures and models of a finished run; returns {label: path} in the order printed."""
    frames = [sample_grid.frame_path(epoch) for epoch in range(config.epochs)]
    save_gif([frame for frame in frames if frame.exists()], paths.gif)
    plot_history(read_history_csv(paths.history), paths.curves)
    formulation.as_paper_layers(gan.generator).save(paths.generator)  # the literal layers: loads anywhere
    gan.save(paths.dcgan)
    written = {
        "final samples": frames[-1],
        "progress GIF": paths.gif,
        "training curves": paths.curves,
        "history (CSV)": paths.history,
        "generator": paths.generator,
        "full DCGAN (both networks, both optimizers)": paths.dcgan,
    }
    if config.eval_every:
        written["best generator (lowest FID)"] = paths.best_generator
        written["scores of every evaluation"] = paths.quality
    return written


def _report(config, written, epochs_run, seconds):
    print(f"\nTrained {epochs_run:g} epochs in {seconds:.0f} s. Wrote:")
    for label, path in written.items():
        print(f"  {label:45s} {path}")
    print(f"Draw new images with: python -m dcgan_keras sample --generator {written['generator']}")
    if config.eval_every:
        print(f"Score it with:        python -m dcgan_keras evaluate --generator {written['generator']}")


def _evaluator(features, num_images, image_shape=None, dataset=data.EMBEDDED, image_dir=None, images=None):
    """An offline evaluator ("mnist", "emoji"), or InceptionV3 against ``num_images`` reference images.

    The InceptionV3 reference is ``images`` when given, else loaded from
    ``dataset`` or ``image_dir`` at ``image_shape`` (the generator's).
    """
    if features in scoring.EVALUATORS:
        return scoring.offline_evaluator(features)
    if images is None:
        size, _, channels = image_shape
        images = data.open_images(dataset, size, channels, image_dir)
    reference = data.as_unit_range(images[np.random.default_rng(0).permutation(len(images))[:num_images]])
    return scoring.InceptionEvaluator(reference)


# --- evaluate --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    generator: pathlib.Path
    num_images: int | None
    seed: int
    features: str
    dataset: str
    image_dir: pathlib.Path | None
    json: bool

    @classmethod
    def from_args(cls, args):
        return cls(**_fields_from(args, cls))


def _evaluate_features(config, image_shape):
    """The evaluator asked for, or the one the output shape picks; a one-line error if it cannot score it."""
    if config.features == "auto":
        return scoring.for_shape(image_shape) or "inception"
    wanted = scoring.OFFLINE_SHAPES.get(config.features)
    if wanted is not None and image_shape[-1] != wanted[-1]:
        kind = "colour" if image_shape[-1] == 3 else "grayscale"
        raise UsageError(
            f"{config.generator} makes {kind} images of shape {image_shape}; --features {config.features} scores "
            f"{wanted[-1]}-channel images. Leave out --features to pick the evaluator from the shape, or use "
            f"--features inception (with --dataset/--image-dir for the reference images)."
        )
    return config.features


def evaluate(config):
    generator = _load_generator(config.generator)
    image_shape = tuple(generator.output_shape[1:])
    features = _evaluate_features(config, image_shape)
    num_images = config.num_images or scoring.EVALUATOR_IMAGES.get(features, scoring.NUM_IMAGES)
    evaluator = _evaluator(features, num_images, image_shape, config.dataset, config.image_dir)
    scores = evaluator.evaluate_generator(generator, num_images, config.seed)
    report = {"generator": str(config.generator), "features": evaluator.name, "seed": config.seed, "scores": scores}
    if features in scoring.EVALUATORS:
        report["real_floor"] = evaluator.real_floor(num_images, config.seed)
        report["classifier_held_out_accuracy"] = evaluator.card.get("held_out_accuracy")
        report["reference"] = features
    print(json.dumps(report) if config.json else _score_table(report))


def _score_table(report):
    floor = report.get("real_floor", {})
    real = {"mnist": "real digits", "emoji": "real emoji"}.get(report.get("reference"), "real")
    lines = [
        f"{report['generator']}: {report['scores']['num_images']} samples (seed {report['seed']}), "
        f"{report['features']} features",
        f"{'score':28s} {'generator':>10s} {real:>12s}",
    ]
    rows = [("FID (lower is better)", "fid", "{:.2f}"), ("KID (lower is better)", "kid", "{:.3f}"),
            ("classes present (of 10)", "classes", "{:d}"), ("KL(classes || data)", "kl", "{:.4f}"),
            ("mean confidence", "confidence", "{:.3f}"), ("colour histogram distance", "colours", "{:.3f}")]
    for label, key, form in rows:
        if key in report["scores"]:
            floor_value = form.format(floor[key]) if key in floor else ""
            lines.append(f"{label:28s} {form.format(report['scores'][key]):>10s} {floor_value:>12s}")
    if floor:
        lines.append(f"'{real}': {floor['num_images']} {real} outside the reference set, scored the same way "
                     f"(the floor). Classifier held-out accuracy {report['classifier_held_out_accuracy']:.1%}.")
    if report.get("reference") == "emoji":
        lines.append("These FIDs are in the package's emoji features: not comparable with InceptionV3 FIDs.")
    return "\n".join(lines)


# --- sample ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    generator: pathlib.Path
    output: pathlib.Path
    num_images: int
    seed: int
    images: bool
    steps: int
    interpolation: str

    @classmethod
    def from_args(cls, args):
        return cls(**{**_fields_from(args, cls), "output": args.output or args.generator.parent})


def sample(config):
    _check_writable_folder(config.output)
    generator = _load_generator(config.generator)
    latent_dim = int(generator.input_shape[-1])
    config.output.mkdir(parents=True, exist_ok=True)
    images = generate_images(generator, latent_noise(config.num_images, latent_dim, config.seed))
    written = [save_grid(images, config.output / "grid.png")]
    if config.images:
        folder = config.output / "images"
        for index, image in enumerate(images):
            save_image(image_grid(image[None], padding=0), folder / f"{index:05d}.png")
        written.append(folder)
    ends = latent_noise(2 * 8, latent_dim, config.seed + 1).reshape(8, 2, latent_dim)
    rows = np.concatenate([interpolate(start, end, config.steps, method=config.interpolation) for start, end in ends])
    written.append(save_grid(generate_images(generator, rows), config.output / "interpolation.png", columns=config.steps))
    print("Wrote:\n  " + "\n  ".join(map(str, written)))


def _load_generator(path):
    """The generator saved at ``path``, or a ``UsageError`` that says what the file is instead."""
    if not path.exists():
        raise UsageError(f"No generator at {path}. Train one first (python -m dcgan_keras train) or pass --generator PATH.")
    if path.is_dir():
        raise UsageError(f"--generator {path} is a folder; pass the generator.keras file in it.")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"--generator {path} is not a Keras model archive (a .keras file is a zip file; this one "
                         f"is not). Pass a generator saved by train, such as runs/dcgan/generator.keras.")
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # Keras raises many types for a damaged or foreign archive
        raise UsageError(f"--generator {path} could not be loaded as a Keras model "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:160]}).") from None
    if isinstance(model, DCGAN):
        raise UsageError(f"--generator {path} is a full DCGAN (both networks); pass its generator, "
                         f"{path.parent / 'generator.keras'}, which train writes beside it.")
    ins, outs = model.inputs[0].shape, model.outputs[0].shape
    if len(ins) != 2 or len(outs) != 4:
        raise UsageError(f"--generator {path} is a model from {tuple(ins[1:])} to {tuple(outs[1:])} (a discriminator "
                         f"or a classifier?); expected a generator, from a latent vector z to images.")
    return model


# --- train-classifier ------------------------------------------------------------------


def train_classifier(path, features="mnist"):
    net = feature_nets.by_name(features)
    train_set, held_out = feature_nets.split(net)
    model, scores = feature_nets.train(net, train_set, held_out)
    feature_nets.save(net, model, scores, path, len(train_set[0]))
    print(f"Held-out accuracy {scores['held_out_accuracy']:.4f} (balanced {scores['held_out_balanced_accuracy']:.4f}) "
          f"on {scores['held_out_images']} images. Wrote {path}.")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.command(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
