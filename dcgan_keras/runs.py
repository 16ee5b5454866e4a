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
import errno
import json
import numbers
import os
import pathlib
import shutil
import time

import keras

from dcgan_keras import data, devices, formulation, precision
from dcgan_keras import evaluate as scoring
from dcgan_keras.callbacks import HistoryCSV, QualityCheckpoint, SampleGrid, TensorBoardLogger, require_tensorboard
from dcgan_keras.damaged import DamagedFile, check_folders, check_history, check_picture, check_quality, read_record
from dcgan_keras.distribute import check_global_batch, data_parallel
from dcgan_keras.errors import UsageError
from dcgan_keras.files import (
    RunPaths,
    check_writable_folder,
    folder_lock,
    replace_atomically,
    write_text_atomically,
)
from dcgan_keras.gan import DCGAN
from dcgan_keras.image_cache import ImageCache
from dcgan_keras.models import LARGEST_SEED, num_stages
from dcgan_keras.plotting import plot_history, read_history_csv, save_gif
from dcgan_keras.resume import (
    Snapshot,
    check_steps_per_epoch,
    describe_position,
    fit_resumably,
    latest_position,
    passed_over_note,
    restore_state,
    snapshots,
    usable_snapshot,
)

# The options that shape the trajectory: a run can only be resumed with the same ones.
RUN_DEFINING_OPTIONS = ("dataset", "image_dir", "image_size", "channels", "batch_size", "width", "kernel_size",
                        "latent_dim", "seed", "precision", "ema")


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
    ema: float = None  # the averaged generator's decay; None: no average
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
    skip_bad_images: bool = False  # train on a folder's readable images, leaving out (and naming) the others

    @classmethod
    def create(cls, **options):
        """A config from ``train``'s options (None or missing: the default for the data), checked."""
        names = {field.name for field in dataclasses.fields(cls)}
        options = {name: value for name, value in options.items() if name in names and value is not None}
        for name in ("output", "image_dir"):  # pathlib.Path("") is the working folder: never meant
            if isinstance(options.get(name), str) and not options[name].strip():
                raise UsageError(f"--{name.replace('_', '-')} is an empty string; give a folder (. for the working "
                                 "folder).")
        config = cls(**options)
        if config.skip_bad_images and config.image_dir is None:  # a flag that would do nothing is refused, not ignored
            raise UsageError(f"--skip-bad-images applies to --image-dir folders only; the {config.dataset!r} dataset "
                             "has no unreadable files to skip. Drop the flag, or pass --image-dir DIR.")
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
        if isinstance(config.seed, bool) or not isinstance(config.seed, numbers.Integral) or not (
                0 <= config.seed <= LARGEST_SEED):
            raise UsageError(f"seed must be a whole number from 0 to {LARGEST_SEED} (each layer draws from seed * "
                             f"1000 + its index, and JAX takes 32-bit seeds), got {config.seed!r}.")
        if config.tensorboard:
            require_tensorboard()  # before anything is written
        check_writable_folder(config.output)
        return config

    def run_defining_options(self):
        """The options run.json keeps; ``image_dir`` as its resolved path, so that ``photos``, ``./photos`` and
        its absolute path are one folder (``_same_option`` compares them so)."""
        return {name: str(value.resolve() if name == "image_dir" else value) if isinstance(value, pathlib.Path)
                else value for name, value in dataclasses.asdict(self).items() if name in RUN_DEFINING_OPTIONS}

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)


def _features_for(info, image_shape):
    """The evaluator: the shipped network whose reference set is this data, at its shape; else InceptionV3."""
    return info.features if info.features and scoring.for_shape(image_shape) == info.features else "inception"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``train``; the message says where the newest snapshot is and how to resume from it."""


def train(config):
    """Claim the folder, load, build, fit (resuming exactly), write: the whole ``train`` command.

    Nothing in the folder changes until everything it holds that the run will
    rely on has been read back and checked, the data loaded and the model
    built: a refused command (a ``UsageError``) leaves the folder as it was,
    and takes back the folder or lock file it made. Ctrl-C raises
    ``TrainingInterrupted``, and a full disk a ``UsageError``, each saying
    where the newest snapshot is; rerunning the same command resumes from it.
    A finished run asked for no more epochs is left as it is: ``train`` says so
    (and how to train it further or start again) and returns.
    """
    paths = RunPaths(config.output)
    with folder_lock(paths.output, holder="another train command") as locked:
        try:
            if _train_in(config, paths) is FINISHED_ALREADY:
                locked.take_back(keep_folder=True)  # not even the lock file changes
        except BaseException as error:
            if isinstance(error, (UsageError, KeyboardInterrupt)) or _machine_limit(error):
                # A new folder holding no snapshot yet is removed; else only a lock file this command made.
                locked.take_back(keep_folder=bool(snapshots(paths.backup)))
            if isinstance(error, KeyboardInterrupt):
                raise TrainingInterrupted(_interrupted(paths)) from None
            limit = None if isinstance(error, UsageError) else _machine_limit(error)
            if limit is not None:
                raise UsageError(_stopped_by(limit, paths)) from None
            raise


# The errors a machine's limits give, not a bug's: each ends ``train`` in one line.
MACHINE_LIMITS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                  errno.EFBIG: "a file grew past the size this process may write", errno.EROFS:
                  "the file system is read-only", errno.EACCES: "permission denied", errno.EPERM:
                  "operation not permitted", errno.EIO: "an input/output error"}


def _machine_limit(error):
    """The ``OSError`` of a machine limit behind ``error`` (Keras may wrap it), or None."""
    for _ in range(8):
        if isinstance(error, OSError) and error.errno in MACHINE_LIMITS:
            return error
        error = error.__cause__ or error.__context__
        if error is None:
            return None
    return None


def _newest_snapshot_words(paths):
    position = latest_position(paths.backup)
    return None if position is None else describe_position(position)


def _stopped_by(error, paths):
    """One line for a run stopped by a full disk (or another limit of the machine)."""
    where = error.filename or paths.output
    newest = _newest_snapshot_words(paths)
    kept = (f"The newest snapshot ({newest}) is kept in {paths.backup}; free some space (or fix the folder) and "
            f"run the same command again to resume from it." if newest else
            "No snapshot was saved yet; free some space (or fix the folder) and run the same command again.")
    return f"Training stopped writing {where}: {MACHINE_LIMITS[error.errno]} ({error.strerror}). {kept}"


def _interrupted(paths):
    """One line for Ctrl-C: where the newest snapshot is, and that the same command resumes from it."""
    newest = _newest_snapshot_words(paths)
    if newest is None:
        return "Interrupted before the first snapshot; run the same command again to start the run."
    return (f"Interrupted. The newest snapshot ({newest}) is in {paths.backup}; run the same command again to "
            f"resume from it exactly.")


FINISHED_ALREADY = "finished already"  # what _train_in returns for a finished run asked for no more epochs


def _train_in(config, paths):
    """The ``train`` command inside its locked folder."""
    # The folder's images are listed before the run folder is claimed: claiming compares them with the run's.
    listing = None if config.image_dir is None else data.list_folder(config.image_dir)
    claim = claim_run_folder(config, paths, listing)
    if claim.finished_message:
        print(claim.finished_message)
        return FINISHED_ALREADY
    # First, before any other TensorFlow work: a multi-worker strategy cannot start after it.
    parallel = _data_parallel(config)
    images = _load_training_images(config, listing)
    fingerprint = _data_fingerprint(listing, images)
    _check_same_skipped(config, claim, fingerprint, f"--output {paths.output}")
    # Before seeding the run: making an evaluator may train the classifier, which seeds its own RNG.
    evaluator = (scoring.make_evaluator(config.features, config.eval_images, images=images) if config.eval_every
                 else None)
    gan = _build_gan(config, parallel)
    batches = data.make_dataset(images, config.batch_size, seed=config.seed)
    position = claim.position
    if position is not None:  # a snapshot of another model or data is refused before the folder changes
        restore_state(gan, paths.backup, claim.snapshot)
        check_steps_per_epoch(position, batches.steps_per_epoch, paths.backup)
    _commit(config, paths, claim, fingerprint)  # the first change to the folder
    earlier_seconds = claim.earlier_seconds  # trained further: add to its time
    if position:
        if claim.snapshot.passed_over:
            print(passed_over_note(claim.snapshot))
        print(f"Resuming the run in {paths.output} at epoch {position['epoch'] + 1}, step {position['step']} "
              f"of {batches.steps_per_epoch}, exactly where its last backup left it.")
    print(f"Training on {len(images)} images, {batches.steps_per_epoch} batches "
          f"of {config.batch_size} per epoch, for {config.epochs} epochs.")
    if config.tensorboard:
        print(f"Logging every epoch to TensorBoard; watch it with: tensorboard --logdir {paths.tensorboard}")
    started = time.perf_counter()
    fit_resumably(gan, batches, config.epochs, paths.backup, config.backup_every,
                  _training_callbacks(config, paths, evaluator), config.verbose, snapshot=claim.snapshot)
    seconds = time.perf_counter() - started
    written = _write_artefacts(config, paths, gan)
    _write_record(paths, config, finished_epochs=config.epochs, train_seconds=earlier_seconds + seconds,
                  fingerprint=fingerprint)
    done = (position or {}).get("global_step", 0) / batches.steps_per_epoch
    _report(config, written, config.epochs - done, seconds)


def _write_record(paths, config, finished_epochs=None, train_seconds=None, fingerprint=None):
    """run.json: the options that define the run, how many epochs are finished (None: in progress), the
    seconds that the finished sessions spent training (scoring included, loading excluded), and for a
    folder its images' ``_data_fingerprint`` (a resumed run must train on the same images)."""
    record = {"options": config.run_defining_options(), "finished_epochs": finished_epochs,
              "train_seconds": None if train_seconds is None else round(train_seconds, 1)}
    if fingerprint is not None:
        record["data"] = fingerprint
    write_text_atomically(json.dumps(record, indent=1), paths.record)


def _data_fingerprint(listing, images):
    """A folder's ``FolderListing.fingerprint``, and the files it left out as unreadable (--skip-bad-images),
    relative to the folder; None for other data."""
    if listing is None:
        return None
    skipped = [os.fsdecode(os.path.relpath(path, listing.directory)) for path, _ in images.skipped]
    return {**listing.fingerprint, "skipped": skipped} if skipped else listing.fingerprint


def _check_same_skipped(config, claim, fingerprint, where):
    """A run resumed on a folder leaves out the same unreadable files it left out when it started."""
    if claim.data is None or fingerprint is None:
        return
    then, now = claim.data.get("skipped", []), fingerprint.get("skipped", [])
    if then != now:
        differ = sorted(set(then) ^ set(now))
        raise UsageError(f"--image-dir {config.image_dir}: the run in {where} left out {len(then)} unreadable "
                         f"file(s) when it started, and {len(now)} cannot be read now ({', '.join(differ[:3])} "
                         "changed). Training further would mix two datasets: fix the files, pass --overwrite to "
                         "start again, or choose another --output.")


@dataclasses.dataclass(frozen=True)
class Claim:
    """What ``train`` will do with ``--output``, decided before anything in it changes (``_commit`` does it)."""

    forget: bool = False  # delete the previous run's files first (--overwrite; --no-resume on an interrupted run)
    snapshot: Snapshot | None = None  # where training resumes, read back whole; None: from the start
    earlier_seconds: float = 0.0  # what the finished sessions spent training: this one adds to it
    data: dict | None = None  # the resumed run's fingerprint of --image-dir (``_data_fingerprint``)
    finished_message: str | None = None  # a finished run, asked for no more epochs: nothing to do but say so

    @property
    def position(self):
        return None if self.snapshot is None else self.snapshot.position


def claim_run_folder(config, paths, listing=None):
    """Decide what ``train`` may do with what ``--output`` holds; never lose a run without --overwrite.

    A finished run is kept unless ``--overwrite``; it is trained further when
    ``--epochs`` asks for more, and else left as it is (the claim's
    ``finished_message`` says so). An interrupted run is resumed with the same
    options, or discarded by ``--no-resume``. Files of an unknown run are kept.
    ``listing`` is ``--image-dir``'s ``data.list_folder``: a run is only
    continued on the images it started with. Every file a resumed run relies
    on is read back and checked (``dcgan_keras.damaged``): a damaged one is a
    one-line ``UsageError`` naming it and saying what to do. Changes nothing;
    returns the ``Claim``.
    """
    where = f"--output {paths.output}"
    if config.overwrite:
        return Claim(forget=True)
    try:
        record = read_record(paths.record)
    except DamagedFile as error:
        raise error.advise(f"This command cannot tell what run {paths.output} holds, or whether it finished: pass "
                           "--overwrite to start a new run there (deleting the old one), or choose another "
                           "--output.") from None
    finished = record and record["finished_epochs"]
    if finished:
        if not config.resume:
            raise UsageError(f"{where} holds a finished {finished}-epoch run, which --no-resume would delete. "
                             f"Add --overwrite to delete it, or choose another --output.")
        if config.epochs <= finished:
            return Claim(finished_message=f"{where} holds a finished {finished}-epoch run; nothing to do. Pass "
                                          f"--epochs N with N > {finished} to train it further, --overwrite to "
                                          "start again, or another --output.")
        _check_same_run(config, record, where, listing)
        snapshot = _resumable_snapshot(paths, finished)
        if snapshot is None:
            raise UsageError(f"{where} holds a finished {finished}-epoch run but not its training state "
                             f"({paths.backup} is missing or empty), so it cannot be trained further. Pass "
                             "--overwrite to start again, or choose another --output.")
    elif snapshots(paths.backup):
        if not config.resume:
            return Claim(forget=True)
        _check_same_run(config, record, where, listing)
        snapshot = _resumable_snapshot(paths, None)
        trained = snapshot.position["epoch"] + (snapshot.position["step"] > 0)
        if trained > config.epochs:
            raise UsageError(f"{where} holds an interrupted run already into epoch {trained}, past --epochs "
                             f"{config.epochs}. Pass --epochs {trained} or more to finish it, --overwrite "
                             f"to start again, or another --output.")
    elif record is None and any(path.exists() for path in paths.artefacts()):
        raise UsageError(f"{where} holds files of a run this command did not start (no run.json). "
                         f"Pass --overwrite to replace them, or choose another --output.")
    else:  # nothing to resume; what a run stopped before its first snapshot left is not read, but replaced
        return Claim(forget=record is not None)
    _check_resumed_files(paths, snapshot.position["epoch"], scored=bool(config.eval_every))
    earlier_seconds = (record.get("train_seconds") or 0.0) if finished else 0.0
    return Claim(snapshot=snapshot, earlier_seconds=earlier_seconds, data=(record or {}).get("data"))


def _resumable_snapshot(paths, finished):
    """The newest snapshot that reads whole (``resume.usable_snapshot``), or one line on what to do."""
    try:
        return usable_snapshot(paths.backup)
    except DamagedFile as error:
        if finished:
            advice = (f"No older snapshot is intact, so the finished {finished}-epoch run cannot be trained "
                      "further (its generator.keras is still there): pass --overwrite to start again, or choose "
                      "another --output.")
        else:
            advice = ("No older snapshot is intact, so the interrupted run cannot be resumed: pass --no-resume to "
                      "start it again, or choose another --output.")
        raise error.advise(advice) from None


def _check_resumed_files(paths, epochs, scored):
    """The files a run resumed after ``epochs`` whole epochs reads back (quality.json if it is ``scored``):
    each whole, or one line naming it."""
    check_folders(paths.samples, paths.backup, paths.tensorboard)
    after = f"epoch {epochs + 1}"
    checks = [(lambda: check_history(paths.history, epochs), paths.history,
               f"the history and its curves then start at {after}")]
    if scored:
        checks.append((lambda: check_quality(paths.quality), paths.quality,
                       f"the best generator is then chosen among the evaluations from {after} on"))
    checks += [(lambda frame=frame: check_picture(frame), frame, "the progress GIF then leaves that epoch out")
               for frame in map(paths.frame, range(epochs)) if frame.exists()]
    for check, path, without in checks:
        try:
            check()
        except DamagedFile as error:
            raise error.advise(f"Delete it to resume without it ({without}), or put back a good copy; then run "
                               "the same command again.") from None


def _commit(config, paths, claim, fingerprint):
    """The claim carried out: the previous run's files deleted if it says so, and run.json (in progress) written."""
    if claim.forget:
        _forget_previous_run(paths)
    _write_record(paths, config, fingerprint=fingerprint)


def _same_option(name, stored, value):
    """Whether run.json's ``stored`` value of an option is ``value``: folders compared as resolved paths (an
    older run.json holds --image-dir as typed, resolved from the working folder, as when it was written)."""
    if name == "image_dir" and stored is not None and value is not None:
        return pathlib.Path(stored).resolve() == pathlib.Path(value).resolve()
    return stored == value


def _check_same_run(config, record, where, listing=None):
    stored = (record or {}).get("options", {})
    stored = {"ema": None, **stored}  # a run.json from before --ema existed: made without it
    changed = [name for name, value in config.run_defining_options().items()
               if name in stored and not _same_option(name, stored[name], value)]
    if changed:
        was = " ".join(f"--{name.replace('_', '-')} {stored[name]}" for name in changed)
        now = " ".join(f"--{name.replace('_', '-')} {getattr(config, name)}" for name in changed)
        raise UsageError(f"{where} holds a run made with {was}; this command asks for {now}. Resume it with "
                         f"the same options, pass --overwrite to start again, or choose another --output.")
    then = (record or {}).get("data")
    if listing is not None and then is not None and {key: then.get(key) for key in listing.fingerprint} != (
            listing.fingerprint):
        raise UsageError(f"--image-dir {config.image_dir} has changed since the run in {where} started on it "
                         f"({then['images']} images then, {len(listing.paths)} now; files were added, removed, "
                         f"replaced or edited). Training further would mix two datasets: pass --overwrite to start "
                         f"again on the folder as it is, or choose another --output.")


def _forget_previous_run(paths):
    """Remove every file a previous run left in the folder (its lock stays: this process holds it)."""
    for stale in paths.artefacts():
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)


def _load_training_images(config, listing=None):
    print(f"Loading {config.image_dir or config.dataset} at "
          f"{config.image_size}x{config.image_size}x{config.channels} ...")
    if listing is not None:  # listed already
        images = data.folder_cache(config.image_dir, config.image_size, config.channels, listing=listing,
                                   skip_bad=config.skip_bad_images)
    else:
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
                                   config.seed, formulation=chosen, ema=config.ema)
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
    """The pictures and models of a finished run, each atomically; returns {label: path} in the order printed."""
    frames = [paths.frame(epoch) for epoch in range(config.epochs)]
    save_gif([frame for frame in frames if frame.exists()], paths.gif)
    plot_history(read_history_csv(paths.history), paths.curves)
    # The literal layers: loads anywhere.
    replace_atomically(gan.shippable_generator().save, paths.generator)
    replace_atomically(gan.save, paths.dcgan)
    written = {
        "final samples": frames[-1],
        "progress GIF": paths.gif,
        "training curves": paths.curves,
        "history (CSV)": paths.history,
        "generator" if config.ema is None else f"generator (G's average, EMA decay {config.ema:g})": paths.generator,
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
    print(f"Draw new images with: python -m dcgan_keras sample --generator {RunPaths(config.output).generator}")
    if config.eval_every:
        print(f"Score it with:        python -m dcgan_keras evaluate --generator {RunPaths(config.output).generator}")
    if config.tensorboard:
        print(f"See the curves with:  tensorboard --logdir {RunPaths(config.output).tensorboard}")
