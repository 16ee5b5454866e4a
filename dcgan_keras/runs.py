"""One training run in one folder: its options, its files, and what ``train`` may do with what is there.

``TrainConfig`` is every choice of a run, with the data-dependent defaults
taken from the dataset registry (``data.dataset_info``). ``train(config)`` is
the ``train`` command: claim the folder (``claim_run_folder``: a finished run
is never lost without ``overwrite``; an interrupted one resumes only with the
options that started it), load, build, fit resuming exactly, write the
artefacts. The file names are ``files.RunPaths``. Scripts can call it too::

    from dcgan_keras.runs import TrainConfig, train
    train(TrainConfig.create(dataset="emoji-embedded", output="runs/emoji", epochs=90, width=16))
"""

import contextlib
import dataclasses
import json
import pathlib
import shutil
import time

import keras

from dcgan_keras import data, devices, formulation, precision
from dcgan_keras import evaluate as scoring
from dcgan_keras.callbacks import HistoryCSV, QualityCheckpoint, SampleGrid, TensorBoardLogger, require_tensorboard
from dcgan_keras.distribute import check_global_batch, data_parallel
from dcgan_keras.errors import UsageError
from dcgan_keras.files import RunPaths, check_writable_folder, folder_lock, write_text_atomically
from dcgan_keras.gan import DCGAN
from dcgan_keras.image_cache import ImageCache
from dcgan_keras.models import num_stages
from dcgan_keras.plotting import plot_history, read_history_csv, save_gif
from dcgan_keras.resume import fit_resumably, latest_position

# The options that shape the trajectory: a run can only be resumed with the same ones.
RUN_DEFINING_OPTIONS = ("dataset", "image_dir", "image_size", "channels", "batch_size", "width", "kernel_size",
                        "latent_dim", "seed", "precision")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every choice of a training run, with the data-dependent defaults resolved."""

    dataset: str = data.MNIST
    image_dir: pathlib.Path | None = None
    image_size: int = None
    channels: int = None
    epochs: int = None
    batch_size: int = 64
    width: int = None
    kernel_size: int = 5
    latent_dim: int = 100
    output: pathlib.Path = pathlib.Path("runs/dcgan")
    seed: int = 0
    precision: str = "auto"
    formulation: str = "auto"
    distribute: bool = False
    resume: bool = True
    overwrite: bool = False
    backup_every: int = 0
    verbose: int = 1
    eval_every: int = None
    eval_images: int = None
    features: str = "auto"
    tensorboard: bool = False

    @classmethod
    def create(cls, **options):
        """A config from ``train``'s options (None or missing: the default for the data), checked."""
        names = {field.name for field in dataclasses.fields(cls)}
        options = {name: value for name, value in options.items() if name in names and value is not None}
        config = cls(**options)
        info = data.dataset_info("folder" if config.image_dir is not None else config.dataset)
        size, channels = config.image_size or info.image_size, config.channels or info.channels
        shape = (size, size, channels)
        features = _features_for(info, shape) if config.features == "auto" else config.features
        eval_every = config.eval_every
        if eval_every is None:
            eval_every = 0 if features == "inception" else info.eval_every  # InceptionV3 needs a download
        config = dataclasses.replace(
            config, image_size=size, channels=channels, width=config.width or info.width,
            epochs=config.epochs or info.epochs, precision=precision.resolve(config.precision), features=features,
            eval_every=eval_every,
            eval_images=config.eval_images or scoring.EVALUATOR_IMAGES.get(features, scoring.NUM_IMAGES),
            output=pathlib.Path(config.output),
            image_dir=None if config.image_dir is None else pathlib.Path(config.image_dir))
        num_stages(config.image_size)  # reject a bad size before loading any data
        if config.tensorboard:
            require_tensorboard()  # before anything is written
        check_writable_folder(config.output)
        return config

    def run_defining_options(self):
        return {name: str(value) if isinstance(value, pathlib.Path) else value
                for name, value in dataclasses.asdict(self).items() if name in RUN_DEFINING_OPTIONS}

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)


def _features_for(info, image_shape):
    """The evaluator: the shipped network whose reference set is this data, at its shape; else InceptionV3."""
    return info.features if info.features and scoring.for_shape(image_shape) == info.features else "inception"


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
    position = claim_run_folder(config, paths)
    # First, before any other TensorFlow work: a multi-worker strategy cannot start after it.
    parallel = _data_parallel(config)
    images = _load_training_images(config)
    # Before seeding the run: making an evaluator may train the classifier, which seeds its own RNG.
    evaluator = (scoring.make_evaluator(config.features, config.eval_images, images=images) if config.eval_every
                 else None)
    gan = _build_gan(config, parallel)
    batches = data.make_dataset(images, config.batch_size, seed=config.seed)
    if position:
        print(f"Resuming the run in {paths.output} at epoch {position['epoch'] + 1}, step {position['step']} "
              f"of {batches.steps_per_epoch}, exactly where its last backup left it.")
    print(f"Training on {len(images)} images, {batches.steps_per_epoch} batches "
          f"of {config.batch_size} per epoch, for {config.epochs} epochs.")
    if config.tensorboard:
        print(f"Logging every epoch to TensorBoard; watch it with: tensorboard --logdir {paths.tensorboard}")
    started = time.perf_counter()
    fit_resumably(gan, batches, config.epochs, paths.backup, config.backup_every,
                  _training_callbacks(config, paths, evaluator), config.verbose)
    seconds = time.perf_counter() - started
    written = _write_artefacts(config, paths, gan)
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


def claim_run_folder(config, paths):
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
                             f"with N > {finished} to train it further, --overwrite to start again, "
                             "or another --output.")
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


def _load_training_images(config):
    print(f"Loading {config.image_dir or config.dataset} at "
          f"{config.image_size}x{config.image_size}x{config.channels} ...")
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
    chosen = formulation.resolve(config.formulation, config.kernel_size)
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


def _training_callbacks(config, paths, evaluator):
    """The epoch's outputs in order; ``fit_resumably`` adds the state backup after them."""
    callbacks = [SampleGrid(paths.samples, seed=config.seed)]
    if evaluator is not None:
        callbacks.append(QualityCheckpoint(evaluator, paths.output, config.eval_every, config.eval_images,
                                           seed=config.seed))
    # After QualityCheckpoint, so the CSV gets the scores it adds to the logs.
    callbacks.append(HistoryCSV(paths.history))
    if config.tensorboard:
        callbacks.append(TensorBoardLogger(paths.tensorboard, seed=config.seed))
    return callbacks


def _write_artefacts(config, paths, gan):
    """The pictures and models of a finished run; returns {label: path} in the order printed."""
    frames = [paths.frame(epoch) for epoch in range(config.epochs)]
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
    if config.tensorboard:
        print(f"See the curves with:  tensorboard --logdir {RunPaths(config.output).tensorboard}")
