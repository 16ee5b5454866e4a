"""``python -m dcgan_keras train|evaluate|sample|train-classifier`` (or ``dcgan-keras ...``): the command line.

The parsed options become a frozen config, and each command is a short
pipeline of it: ``train`` is ``runs.train``, the others are below. Input the
user can fix raises ``UsageError``, which ``main`` prints as one line with exit
status 2; any other error is a bug and keeps its traceback.
"""

import argparse
import dataclasses
import json
import pathlib
import signal
import sys
import threading

import numpy as np

from dcgan_keras import data, feature_nets, formulation, plotting, precision, pretrained_generators, sampling
from dcgan_keras import evaluate as scoring
from dcgan_keras.errors import UsageError
from dcgan_keras.files import SAMPLES, check_cache_setting, check_sample_output, check_writable_folder, new_folder_name
from dcgan_keras.models import LARGEST_SEED
from dcgan_keras.plotting import grid_columns, image_grid, save_grid, save_image
from dcgan_keras.runs import MACHINE_LIMITS, TrainConfig, train
from dcgan_keras.saved_generator import load_generator

FEATURES = ("auto", *scoring.EVALUATORS, "inception")


def _whole_number(text, low, wanted, high=None):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
    return value


def _positive(text):
    return _whole_number(text, 1, "a whole number of 1 or more")


def _non_negative(text):
    return _whole_number(text, 0, "a whole number of 0 or more")


def _at_least_two(text):
    return _whole_number(text, 2, "a whole number of 2 or more (FID fits a covariance to the samples)")


def _kernel_size(text):
    return _whole_number(text, 3, "a whole number of 3 or more")


def _train_seed(text):
    # Each layer's initializer draws from seed * 1000 + its index, and JAX takes 32-bit seeds.
    return _whole_number(text, 0, f"a whole number from 0 to {LARGEST_SEED}", high=LARGEST_SEED)


def _decay(text):
    try:
        if 0.0 <= float(text) < 1.0:  # NaN fails too
            return float(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"must be a decay in [0, 1), such as 0.999, got {text!r}")


def _path(text):
    """A path option: never empty, which pathlib would read as the working folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a path, got {text!r} (write . for the working folder)")
    return pathlib.Path(text)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (and where to read more), not a usage block."""

    def error(self, message):
        print(f"error: {message}. See: {self.prog} --help", file=sys.stderr)
        raise SystemExit(2)


# --- the options -----------------------------------------------------------------


def _per_dataset(field):
    """``train``'s default for one registry field, per embedded dataset and for the rest, in words."""
    named = [f"{getattr(info, field)} for {name}" for name, info in data.DATASETS.items()]
    return ", ".join(named) + f", {getattr(data.dataset_info('folder'), field)} otherwise"


def _train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a DCGAN (default: the embedded MNIST, offline, a few minutes on a CPU)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    embedded = "; ".join(f"'{name}': {info.about}" for name, info in data.DATASETS.items())
    parser.add_argument("--dataset", default=data.MNIST,
                        help=f"{embedded}; or a tensorflow-datasets name (mnist, cifar10, celeb_a, ...)")
    parser.add_argument("--image-dir", type=_path,
                        help="train on a folder of your own images instead (nested folders are fine)")
    parser.add_argument("--skip-bad-images", action="store_true", help="train on the readable images of "
                        "--image-dir, naming the files left out; without it, unreadable files stop the command")
    parser.add_argument("--image-size", type=_positive,
                        help=f"square size; default {_per_dataset('image_size')} (28 for grayscale tfds sets)")
    parser.add_argument("--channels", type=int, choices=(1, 3),
                        help=f"default {_per_dataset('channels')} (1 for grayscale tfds sets)")
    parser.add_argument("--epochs", type=_positive, help=f"default {_per_dataset('epochs')}")
    parser.add_argument("--batch-size", type=_positive, default=64,
                        help="the paper uses 128; 64 gives twice the updates per CPU minute on MNIST")
    parser.add_argument("--width", type=_positive,
                        help="channels of the widest-resolution hidden layer; the paper uses 128 (1024 channels at "
                             f"4x4 for 64x64 images). Default {_per_dataset('width')} (CPU-sized)")
    parser.add_argument("--kernel-size", type=_kernel_size, default=5,
                        help="3 or more; 5 in the paper, 4 in the PyTorch examples (default: %(default)s)")
    parser.add_argument("--latent-dim", type=_positive, default=100)
    parser.add_argument("--output", type=_path, default=pathlib.Path("runs/dcgan"))
    parser.add_argument("--seed", type=_train_seed, default=0, help=f"0 to {LARGEST_SEED}")
    parser.add_argument("--ema", type=_decay, metavar="DECAY", help="also keep a moving average of G's weights "
                        "(e.g. 0.999), which samples, scores and generator.keras then use (docs/training-runs.md)")
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
                             f"one as best_generator.keras; default {_per_dataset('eval_every')} where a shipped "
                             "feature network scores the data offline, 0 (off) where it needs InceptionV3's "
                             "weights (online)")
    parser.add_argument("--features", choices=FEATURES, default="auto",
                        help="the evaluator's features; auto: the shipped MNIST or emoji network when training on "
                             "that dataset, InceptionV3 otherwise (a folder of digits: pass --features mnist)")
    parser.add_argument("--eval-images", type=_at_least_two,
                        help="samples per evaluation; default 5000, or as many as the offline evaluator's real "
                             "half holds (1,893 emoji), so that the FID is comparable with its floor")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also log every epoch (losses, D(x), D(G(z)), scores, the sample grid) to "
                             "OUTPUT/tensorboard/ for TensorBoard; needs the tensorboard package")
    parser.set_defaults(command=lambda args: train(TrainConfig.create(**vars(args))))


def _generator_options(parser, num_images, help, fewest=_positive):
    """The options shared by the commands that read a saved generator."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--generator", type=_path, default=pathlib.Path("runs/dcgan/generator.keras"))
    source.add_argument("--pretrained", metavar="NAME", dest="generator", type=pretrained_generators.path,
                        help=f"instead, one the package ships: {', '.join(pretrained_generators.names())}")
    parser.add_argument("--num-images", type=fewest, default=num_images, help=help)
    parser.add_argument("--seed", type=_non_negative, default=0, help="draws z; the same seed gives the same images")


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
                                                      "or the offline evaluator's real half (1,893 emoji)",
                       fewest=_at_least_two)
    parser.add_argument("--features", choices=FEATURES, default="auto")
    parser.add_argument("--dataset", default=data.MNIST, help="--features inception: the reference data")
    parser.add_argument("--image-dir", type=_path, help="--features inception: reference images from a folder")
    parser.add_argument("--reference", help="instead: SWD and MS-SSIM against a folder of images or an embedded "
                                            "dataset, no feature network (docs/evaluation.md)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(command=lambda args: evaluate(EvaluateConfig.from_args(args)))


def _sample_parser(subparsers):
    parser = subparsers.add_parser(
        "sample",
        help="draw images from a saved generator",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _generator_options(parser, num_images=64, help="images drawn: all in the grid up to what fits in "
                       f"{plotting.GRID_SIDE}x{plotting.GRID_SIDE} pixels, the first ones beyond that")
    parser.add_argument("--output", type=_path, help="folder for grid.png and interpolation.png, which must not "
                        f"hold them yet; None: a new folder {SAMPLES}/, {SAMPLES}-2/, ... in the working folder")
    parser.add_argument("--images", action="store_true",
                        help="also write each image as its own PNG under OUTPUT/images/")
    parser.add_argument("--steps", type=_positive, default=10, help="points on each interpolation row")
    parser.add_argument("--interpolation", choices=sampling.INTERPOLATIONS, default=sampling.DEFAULT_INTERPOLATION,
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
    parser.add_argument("path", type=_path, metavar="PATH", help="where to write the .keras file")
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


def _fields_from(args, config_class):
    """The parsed options that ``config_class`` has fields for."""
    return {field.name: getattr(args, field.name) for field in dataclasses.fields(config_class)
            if hasattr(args, field.name)}


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
    reference: str | None = None

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
    generator = load_generator(config.generator)
    if config.reference is not None:  # SWD and MS-SSIM: any output shape, no feature network
        report = scoring.reference_scores(generator, config.reference, config.num_images, config.seed, config.generator)
        return print(json.dumps(report) if config.json else scoring.reference_table(report))
    image_shape = tuple(generator.output_shape[1:])
    features = _evaluate_features(config, image_shape)
    num_images = config.num_images or scoring.EVALUATOR_IMAGES.get(features, scoring.NUM_IMAGES)
    evaluator = scoring.make_evaluator(features, num_images, image_shape, config.dataset, config.image_dir)
    scores = evaluator.evaluate_generator(generator, num_images, config.seed)
    report = {"generator": str(config.generator), "features": evaluator.name, "seed": config.seed, "scores": scores}
    if features in scoring.EVALUATORS:
        report["real_floor"] = evaluator.real_floor(num_images, config.seed)
        report["classifier_held_out_accuracy"] = evaluator.card.get("held_out_accuracy")
        report["reference"] = features
    print(json.dumps(report) if config.json else scoring.score_table(report))


# --- sample ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    generator: pathlib.Path
    output: pathlib.Path | None
    num_images: int
    seed: int
    images: bool
    steps: int
    interpolation: str

    @classmethod
    def from_args(cls, args):
        return cls(**_fields_from(args, cls))  # output None: a new samples/ (samples-2/, ...) in the working folder


def sample(config):
    """The sample command: a batch of samples at a time, so memory stays flat in --num-images."""
    output = config.output if config.output is not None else new_folder_name(SAMPLES)
    check_writable_folder(output)
    check_sample_output(output, config.images)
    generator = load_generator(config.generator)
    latent_dim, image_shape = int(generator.input_shape[-1]), tuple(generator.output_shape[1:])
    columns = grid_columns(image_shape)
    if config.steps > columns:
        side = plotting.GRID_SIDE
        raise UsageError(f"--steps {config.steps} would make interpolation.png wider than {side} pixels; at "
                         f"most {columns} steps of {image_shape[0]}x{image_shape[1]} images fit.")
    shown = min(config.num_images, columns**2)
    if config.output is None:  # made as it is picked: a second sample started at once takes the next name
        output = new_folder_name(SAMPLES, create=True)
    else:
        output.mkdir(parents=True, exist_ok=True)
    grid, folder = [], output / "images"
    for start, z in sampling.latent_batches(config.num_images if config.images else shown, latent_dim, config.seed):
        images = sampling.sample(generator, z=z)
        if start < shown:
            grid.append(images[: shown - start].copy())  # a copy: not the whole batch kept for a few images
        if config.images:
            for index, image in enumerate(images, start):
                save_image(image_grid(image[None], padding=0), folder / f"{index:05d}.png")
    written = [save_grid(np.concatenate(grid), output / "grid.png")]
    if config.images:
        written.append(folder)
    ends = sampling.latent_noise(2 * 8, latent_dim, config.seed + 1).reshape(8, 2, latent_dim)
    rows = sampling.interpolate(ends[:, 0], ends[:, 1], config.steps, method=config.interpolation)
    rows = rows.reshape(-1, latent_dim)  # (8, steps, latent_dim): one path per row of the grid
    written.append(save_grid(sampling.sample(generator, z=rows), output / "interpolation.png",
                             columns=config.steps))
    if shown < config.num_images:
        rest = f"all {config.num_images} are in {folder}" if config.images else "add --images to write each one"
        print(f"grid.png shows the first {shown} of the {config.num_images} images (the most that fit in "
              f"{plotting.GRID_SIDE}x{plotting.GRID_SIDE} pixels, which any viewer opens); {rest}.")
    print("Wrote:\n  " + "\n  ".join(map(str, written)))


# --- train-classifier ------------------------------------------------------------------


def train_classifier(path, features="mnist"):
    # Checked before the minutes of training: Keras writes only .keras files, and not over a folder.
    if path.suffix != ".keras" or path.is_dir():
        raise UsageError(f"PATH {path} must be a .keras file to write (not a folder), such as {features}.keras.")
    check_writable_folder(path.parent, option="PATH's folder")
    net = feature_nets.by_name(features)
    train_set, held_out = feature_nets.split(net)
    model, scores = feature_nets.train(net, train_set, held_out)
    feature_nets.save(net, model, scores, path, len(train_set[0]))
    print(f"Held-out accuracy {scores['held_out_accuracy']:.4f} (balanced {scores['held_out_balanced_accuracy']:.4f}) "
          f"on {scores['held_out_images']} images. Wrote {path}.")


class _Terminated(list):
    """SIGTERM (kill, a job scheduler, a closed terminal) stops a command as Ctrl-C does: train keeps its
    snapshot and says in one line where it is. Python's default would end the process without a word."""

    def __call__(self, signum, frame):
        self.append(signum)
        raise KeyboardInterrupt


def main(argv=None):
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed escaped, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live only there
    received = _Terminated()
    previous = signal.signal(signal.SIGTERM, received) if in_main_thread else None
    try:
        check_cache_setting()  # DCGAN_KERAS_CACHE="" would put caches in the working folder
        args.command(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as interrupted:  # Ctrl-C or SIGTERM: train says where its newest snapshot is
        print(str(interrupted) or "Interrupted.", file=sys.stderr)
        raise SystemExit(128 + (received[0] if received else signal.SIGINT)) from None  # the shell's convention
    except OSError as error:  # a full disk under sample or train-classifier (train says more itself)
        if error.errno not in MACHINE_LIMITS:
            raise
        print(f"error: stopped at {error.filename or 'a file'}: {MACHINE_LIMITS[error.errno]} ({error.strerror}).",
              file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
