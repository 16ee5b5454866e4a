"""``python -m dcgan_keras train|sample``: the package's command line."""

import argparse
import contextlib
import pathlib
import shutil
import time

import numpy as np

GRAYSCALE_DATASETS = {"mnist-embedded", "mnist", "fashion_mnist", "emnist", "kmnist"}
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _train_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a DCGAN (default: the embedded MNIST, offline, a few minutes on a CPU)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default="mnist-embedded",
                        help="'mnist-embedded' or a tensorflow-datasets name (mnist, cifar10, celeb_a, ...)")
    parser.add_argument("--image-dir", type=pathlib.Path,
                        help="train on a folder of your own images instead (nested folders are fine)")
    parser.add_argument("--image-size", type=int,
                        help="square size; default 28 for MNIST-like data, 64 otherwise")
    parser.add_argument("--channels", type=int, choices=(1, 3),
                        help="default 1 for MNIST-like data, 3 otherwise")
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--batch-size", type=int, default=64,
                        help="the paper uses 128; 64 gives twice the updates per CPU minute on MNIST")
    parser.add_argument("--width", type=int, default=64,
                        help="channels of the widest-resolution hidden layer (the paper uses 128)")
    parser.add_argument("--kernel-size", type=int, default=5, choices=(4, 5))
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("runs/dcgan"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="float32", choices=PRECISIONS)
    parser.add_argument("--distribute", action="store_true",
                        help="data-parallel over every local GPU (TensorFlow: MirroredStrategy; "
                             "JAX: DataParallel); --batch-size is then the global batch")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="continue an interrupted run found in --output")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")
    parser.add_argument("--eval-every", type=int,
                        help="score the generator (FID, KID, class coverage) every N epochs and keep the best "
                             "one as best_generator.keras; default 6 for 28x28 MNIST (offline classifier "
                             "features), 0 (off) otherwise, where it needs InceptionV3's weights (online)")
    parser.add_argument("--eval-images", type=int, default=5000, help="samples per evaluation")
    parser.set_defaults(command=train)


def _evaluate_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="score a saved generator: FID, KID and class coverage",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="MNIST-like generators are scored offline on the package's MNIST classifier; "
                    "--features inception scores any generator on InceptionV3 (downloads its weights).",
    )
    parser.add_argument("--generator", type=pathlib.Path, default=pathlib.Path("runs/dcgan/generator.keras"))
    parser.add_argument("--num-images", type=int, default=5000, help="generated images (and real ones per side)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", choices=("mnist", "inception"), default="mnist")
    parser.add_argument("--dataset", default="mnist-embedded", help="--features inception: the reference data")
    parser.add_argument("--image-dir", type=pathlib.Path, help="--features inception: reference images from a folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(command=evaluate)


def _sample_parser(subparsers):
    parser = subparsers.add_parser(
        "sample",
        help="draw images from a saved generator",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--generator", type=pathlib.Path, default=pathlib.Path("runs/dcgan/generator.keras"))
    parser.add_argument("--output", type=pathlib.Path,
                        help="folder for grid.png and interpolation.png (default: beside the generator)")
    parser.add_argument("--num-images", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", action="store_true",
                        help="also write each image as its own PNG under OUTPUT/images/")
    parser.add_argument("--steps", type=int, default=10, help="points on each interpolation row")
    parser.add_argument("--interpolation", choices=("spherical", "linear"), default="spherical",
                        help="spherical stays where z ~ N(0, I) lives; a straight line dips inside it, "
                             "where samples score worse (notebook 05, section 4)")
    parser.set_defaults(command=sample)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m dcgan_keras",
        description="DCGAN (Radford et al., 2015) in Keras 3.",
    )
    subparsers = parser.add_subparsers(required=True, metavar="{train,evaluate,sample}")
    _train_parser(subparsers)
    _evaluate_parser(subparsers)
    _sample_parser(subparsers)
    return parser


def _data_defaults(args):
    grayscale = args.image_dir is None and args.dataset in GRAYSCALE_DATASETS
    args.image_size = args.image_size or (28 if grayscale else 64)
    args.channels = args.channels or (1 if grayscale else 3)
    if args.eval_every is None:
        args.eval_every = 6 if _mnist_like(args) else 0


def _mnist_like(args):
    return args.image_size == 28 and args.channels == 1


def _evaluator(features, num_images, args, images=None):
    """The MNIST-classifier evaluator, or InceptionV3 against ``num_images`` of the data."""
    from dcgan_keras.evaluate import InceptionEvaluator, MnistEvaluator

    if features == "mnist":
        return MnistEvaluator()
    from dcgan_keras import data

    if images is None:
        images = data.load_images(args.dataset, args.image_size, args.channels, args.image_dir)
    reference = images[np.random.default_rng(0).permutation(len(images))[:num_images]]
    return InceptionEvaluator(reference)


def train(args):
    import keras

    from dcgan_keras import data
    from dcgan_keras.callbacks import AtomicBackupAndRestore, QualityCheckpoint, SampleGrid
    from dcgan_keras.distribute import check_global_batch, data_parallel
    from dcgan_keras.gan import DCGAN
    from dcgan_keras.models import num_stages
    from dcgan_keras.plotting import plot_history, read_history_csv, save_gif

    _data_defaults(args)
    num_stages(args.image_size)  # reject a bad size before loading any data
    output = args.output
    paths = {
        "samples": output / "samples",
        "backup": output / "backup",
        "history": output / "history.csv",
    }
    if not args.resume:
        for stale in (paths["samples"], paths["backup"]):
            shutil.rmtree(stale, ignore_errors=True)
        for stale in (paths["history"], output / "quality.json", output / "best_generator.keras"):
            stale.unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)

    source = args.image_dir or args.dataset
    print(f"Loading {source} at {args.image_size}x{args.image_size}x{args.channels} ...")
    images = data.load_images(args.dataset, args.image_size, args.channels, args.image_dir)
    # Before seeding the run: making an evaluator may train the classifier, which seeds its own RNG.
    if args.eval_every:
        evaluator = _evaluator("mnist" if _mnist_like(args) else "inception", args.eval_images, args, images)

    keras.utils.set_random_seed(args.seed)
    if args.precision != "float32":
        keras.mixed_precision.set_global_policy(args.precision)

    dataset, fit_options = data.fit_input(images, args.batch_size, seed=args.seed)

    image_shape = (args.image_size, args.image_size, args.channels)
    scope = contextlib.nullcontext()
    if args.distribute:
        scope, replicas = data_parallel()
        check_global_batch(args.batch_size, replicas)
        print(f"Data-parallel over {replicas} replicas: {args.batch_size // replicas} images each per step.")
    with scope:
        gan = DCGAN.from_shape(image_shape, args.latent_dim, args.width, args.kernel_size, args.seed)
        gan.compile()

    backup = AtomicBackupAndRestore(str(paths["backup"]))
    start_epoch = backup.resumes_at()
    if start_epoch:
        print(f"Resuming the interrupted run in {output} at epoch {start_epoch + 1}.")
    sample_grid = SampleGrid(paths["samples"], seed=args.seed)
    callbacks = [backup, sample_grid]
    if args.eval_every:
        callbacks.append(QualityCheckpoint(evaluator, output, args.eval_every, args.eval_images, seed=args.seed))
    # After QualityCheckpoint, so the CSV gets the scores it adds to the logs.
    callbacks.append(keras.callbacks.CSVLogger(str(paths["history"]), append=start_epoch > 0))
    print(f"Training on {len(images)} images, {len(images) // args.batch_size} batches "
          f"of {args.batch_size} per epoch, for {args.epochs} epochs.")
    started = time.perf_counter()
    gan.fit(dataset, epochs=args.epochs, callbacks=callbacks, verbose=args.verbose, **fit_options)
    seconds = time.perf_counter() - started

    frames = [sample_grid.frame_path(epoch) for epoch in range(args.epochs)]
    written = {
        "final samples": frames[-1],
        "progress GIF": save_gif([frame for frame in frames if frame.exists()], output / "progress.gif"),
        "training curves": output / "history.png",
        "history (CSV)": paths["history"],
        "generator": output / "generator.keras",
        "full DCGAN (both networks, both optimizers)": output / "dcgan.keras",
    }
    plot_history(read_history_csv(paths["history"]), written["training curves"])
    gan.generator.save(written["generator"])
    gan.save(written["full DCGAN (both networks, both optimizers)"])
    if args.eval_every:
        written["best generator (lowest FID)"] = output / "best_generator.keras"
        written["scores of every evaluation"] = output / "quality.json"
    print(f"\nTrained {args.epochs - start_epoch} epochs in {seconds:.0f} s. Wrote:")
    for label, path in written.items():
        print(f"  {label:45s} {path}")
    print(f"Draw new digits with: python -m dcgan_keras sample --generator {written['generator']}")
    if args.eval_every:
        print(f"Score it with:        python -m dcgan_keras evaluate --generator {written['generator']}")


def evaluate(args):
    import json

    import keras

    if not args.generator.exists():
        raise SystemExit(f"No generator at {args.generator}. Train one first (python -m dcgan_keras train).")
    generator = keras.models.load_model(args.generator)
    image_shape = tuple(generator.output_shape[1:])
    if args.features == "mnist" and image_shape[-1] != 1:
        raise ValueError(
            f"{args.generator} makes {image_shape} colour images; the MNIST classifier scores digits. "
            f"Use --features inception (with --dataset/--image-dir for the reference images)."
        )
    args.image_size, args.channels = image_shape[0], image_shape[-1]
    evaluator = _evaluator(args.features, args.num_images, args)
    scores = evaluator.evaluate_generator(generator, args.num_images, args.seed)
    report = {"generator": str(args.generator), "features": evaluator.name, "seed": args.seed, "scores": scores}
    if args.features == "mnist":
        report["real_floor"] = evaluator.real_floor(args.num_images, args.seed)
        report["classifier_held_out_accuracy"] = evaluator.card.get("held_out_accuracy")
    print(json.dumps(report) if args.json else _score_table(report))


def _score_table(report):
    floor = report.get("real_floor", {})
    lines = [
        f"{report['generator']}: {report['scores']['num_images']} samples (seed {report['seed']}), "
        f"{report['features']} features",
        f"{'score':28s} {'generator':>10s} {'real digits':>12s}",
    ]
    rows = [("FID (lower is better)", "fid", "{:.2f}"), ("KID (lower is better)", "kid", "{:.3f}"),
            ("classes present (of 10)", "classes", "{:d}"), ("KL(classes || data)", "kl", "{:.4f}"),
            ("mean confidence", "confidence", "{:.3f}")]
    for label, key, form in rows:
        if key in report["scores"]:
            real = form.format(floor[key]) if key in floor else ""
            lines.append(f"{label:28s} {form.format(report['scores'][key]):>10s} {real:>12s}")
    if floor:
        lines.append(f"'real digits': {floor['num_images']} real digits outside the reference set, scored the "
                     f"same way (the floor). Classifier held-out accuracy "
                     f"{report['classifier_held_out_accuracy']:.1%}.")
    return "\n".join(lines)


def sample(args):
    import keras
    import numpy as np

    from dcgan_keras.gan import generate_images, interpolate, latent_noise
    from dcgan_keras.plotting import image_grid, save_grid, save_image

    if not args.generator.exists():
        raise SystemExit(
            f"No generator at {args.generator}. Train one first "
            f"(python -m dcgan_keras train) or pass --generator PATH."
        )
    generator = keras.models.load_model(args.generator)
    latent_dim = int(generator.input_shape[-1])
    output = args.output or args.generator.parent
    output.mkdir(parents=True, exist_ok=True)

    images = generate_images(generator, latent_noise(args.num_images, latent_dim, args.seed))
    written = [save_grid(images, output / "grid.png")]
    if args.images:
        folder = output / "images"
        for index, picture in enumerate(image_grid(image[None], padding=0) for image in images):
            save_image(picture, folder / f"{index:05d}.png")
        written.append(folder)

    ends = latent_noise(2 * 8, latent_dim, args.seed + 1).reshape(8, 2, latent_dim)
    rows = np.concatenate([interpolate(start, end, args.steps, method=args.interpolation) for start, end in ends])
    strip = generate_images(generator, rows)
    written.append(save_grid(strip, output / "interpolation.png", columns=args.steps))
    print("Wrote:\n  " + "\n  ".join(map(str, written)))


def main(argv=None):
    from dcgan_keras.data import DatasetUnavailableError

    args = build_parser().parse_args(argv)
    try:
        args.command(args)
    except (DatasetUnavailableError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
