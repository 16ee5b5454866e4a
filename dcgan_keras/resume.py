"""Exact resume: a run killed at any moment continues as if it had never stopped.

What decides a DCGAN's trajectory from one step to the next is its training
state: both networks' weights and BatchNorm statistics, both optimizers'
moments and step counters, the seed generator that draws z, the running
means of the epoch's losses, and which batch comes next. ``save_state``
writes all of it (Keras' ``save_weights`` keeps neither the seed generator
nor the metrics) into one snapshot folder, renamed into place in one atomic
step, so a kill leaves the previous snapshot or the new one, never a mix.
The data order is a function of the step (``data.TrainingBatches``), so the
snapshot's step is all the data pipeline needs.

``fit_resumably`` is ``fit()`` with that: it restores the newest snapshot,
finishes a half-done epoch, trains the rest, and stops with one line of
advice when a loss turns NaN, keeping the last good snapshot.
"""

import dataclasses
import json
import math
import os
import pathlib
import shutil

import keras
import numpy as np

from dcgan_keras.damaged import DamagedFile, read_json, reason, show, whole
from dcgan_keras.errors import UsageError, check_path, check_whole_number

SNAPSHOT_PREFIX = "step-"


class TrainingDiverged(UsageError):
    """A loss became NaN or infinite; the last good snapshot is kept."""


def state_variables(gan):
    """Every variable that decides the trajectory, by group, in a fixed order."""
    return {
        "model": gan.variables,  # weights, BatchNorm statistics and the seed generator's state
        "d_optimizer": gan.d_optimizer.variables,
        "g_optimizer": gan.g_optimizer.variables,
        "metrics": gan.metrics_variables,  # the running means of the current epoch
    }


def snapshots(directory):
    """The complete snapshots under ``directory``, oldest first."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.glob(f"{SNAPSHOT_PREFIX}*") if (path / "position.json").exists())


def latest_position(directory):
    """``{"epoch", "step", "global_step"}`` of the newest snapshot whose position reads, or None."""
    for snapshot in reversed(snapshots(directory)):
        try:
            return read_position(snapshot)
        except DamagedFile:
            continue
    return None


def read_position(snapshot):
    """A snapshot's position.json, checked against itself and the folder's name; ``DamagedFile`` if it is not."""
    path = pathlib.Path(snapshot) / "position.json"
    position = read_json(path)
    fields = ("epoch", "step", "global_step")
    if not (isinstance(position, dict) and all(whole(position.get(field)) for field in fields)
            and whole(position.get("steps_per_epoch", 1), 1)):
        raise DamagedFile(path, f"it reads {show(position)}, not a training position")
    per_epoch = position.get("steps_per_epoch")
    consistent = path.parent.name == f"{SNAPSHOT_PREFIX}{position['global_step']:010d}" and (
        per_epoch is None or (position["step"] < per_epoch
                              and position["epoch"] * per_epoch + position["step"] == position["global_step"]))
    if not consistent:
        raise DamagedFile(path, f"its numbers do not add up: {show(position)}")
    return position


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A snapshot read back whole: its folder, position and arrays, and the newer damaged ones passed over."""

    path: pathlib.Path
    position: dict
    arrays: dict
    passed_over: tuple = ()  # the DamagedFile of each newer snapshot, newest first

    def describe(self):
        return describe_position(self.position)


def describe_position(position):
    """Where a snapshot stands, in words: "epoch 3, step 7", or "the end of epoch 2" (epoch 3, step 0)."""
    if position["step"] == 0 and position["epoch"] > 0:
        return f"the end of epoch {position['epoch']}"
    return f"epoch {position['epoch'] + 1}, step {position['step']}"


def read_snapshot(snapshot):
    """The whole snapshot in folder ``snapshot``, every array read and checksummed; ``DamagedFile`` if not."""
    snapshot = pathlib.Path(snapshot)
    position = read_position(snapshot)
    path = snapshot / "state.npz"
    try:
        with np.load(path) as stored:  # np.savez writes a zip: each array's checksum is checked as it is read
            arrays = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        raise DamagedFile(path, "missing") from None
    except Exception as error:  # numpy and zipfile raise many types for a damaged file
        why = "empty" if path.stat().st_size == 0 else f"cut short or overwritten: {reason(error)}"
        raise DamagedFile(path, why) from None
    if not arrays or any(not np.issubdtype(array.dtype, np.number) and array.dtype != bool
                         for array in arrays.values()):
        raise DamagedFile(path, "it does not hold the training state's arrays")
    return Snapshot(snapshot, position, arrays)


def usable_snapshot(directory):
    """The newest snapshot under ``directory`` that reads whole, or None when there is none.

    A damaged newer one is passed over (and named in ``passed_over``) when an
    older one is intact; when every one is damaged, the newest one's
    ``DamagedFile`` is raised.
    """
    damaged = []
    for snapshot in reversed(snapshots(directory)):
        try:
            found = read_snapshot(snapshot)
        except DamagedFile as error:
            damaged.append(error)
            continue
        return dataclasses.replace(found, passed_over=tuple(damaged))
    if damaged:
        raise damaged[0]
    return None


def check_steps_per_epoch(position, per_epoch, directory):
    """``UsageError`` unless ``position`` is a snapshot of a run with ``per_epoch`` steps per epoch."""
    if position["global_step"] and position.get("steps_per_epoch", per_epoch) != per_epoch:
        raise UsageError(
            f"The snapshot in {directory} has {position['steps_per_epoch']} steps per epoch, this data "
            f"{per_epoch}. Resume with the same data and batch size, or start again elsewhere."
        )


def save_state(gan, directory, global_step, steps_per_epoch):
    """Write a snapshot of ``gan`` at ``global_step`` and drop the older ones.

    Everything is written into a ``partial-`` folder first and renamed into
    place, position last; a half-written folder is never read, is removed
    when the save fails (a full disk, Ctrl-C) and else by the next save.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{SNAPSHOT_PREFIX}{global_step:010d}"
    partial = directory / f"partial-{name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    arrays = {
        # .numpy(), not .value: under MirroredStrategy the metrics are sync-on-read, and only
        # .numpy() sums their replicas into one array.
        f"{group}/{index}": variable.numpy()
        for group, variables in state_variables(gan).items()
        for index, variable in enumerate(variables)
    }
    epoch, step = divmod(global_step, steps_per_epoch)
    position = {"epoch": epoch, "step": step, "global_step": global_step, "steps_per_epoch": steps_per_epoch}
    try:
        np.savez(partial / "state.npz", **arrays)
        (partial / "position.json").write_text(json.dumps(position))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # the older snapshot stays the newest
        raise
    shutil.rmtree(directory / name, ignore_errors=True)
    os.replace(partial, directory / name)
    for stale in directory.iterdir():
        if stale.name != name:
            shutil.rmtree(stale, ignore_errors=True)
    return position


def restore_state(gan, directory, snapshot=None):
    """Load the newest intact snapshot into ``gan``; returns its position and metric values, or (None, None).

    ``snapshot`` is one ``usable_snapshot`` has read already. The metrics are
    returned, not assigned: ``fit()`` resets them at the start of every
    epoch, so ``StateBackup`` puts them back after that reset.
    """
    snapshot = snapshot or usable_snapshot(directory)
    if snapshot is None:
        return None, None
    arrays = snapshot.arrays
    metrics = None
    for group, variables in state_variables(gan).items():
        values = [arrays.get(f"{group}/{index}") for index in range(len(variables))]
        expected = [tuple(variable.shape) for variable in variables]
        if ([None if value is None else value.shape for value in values] != expected
                or f"{group}/{len(variables)}" in arrays):
            raise UsageError(
                f"The snapshot in {snapshot.path} was written by a different model ({group} does not match). "
                f"Resume with the options that started the run, or start again elsewhere."
            )
        if group == "metrics":
            metrics = values
        else:
            for variable, value in zip(variables, values):
                variable.assign(value)
    return dict(snapshot.position), metrics


class StateBackup(keras.callbacks.Callback):
    """Save the training state at every epoch end and every ``every_steps`` steps.

    Put it *last* among the callbacks: an epoch's snapshot is written after
    that epoch's grids, scores and history row, so a run resumed from it never
    skips them. It also stops training at the first NaN or infinite loss
    (``TerminateOnNaN``) and then saves nothing, so the last snapshot is good.

    ``first_step`` is the global step ``fit()`` starts at and ``metrics`` the
    running means to put back when that is in the middle of an epoch.
    """

    def __init__(self, directory, steps_per_epoch, every_steps=0, first_step=0, metrics=None):
        super().__init__()
        self.directory, self.steps_per_epoch, self.every_steps = pathlib.Path(directory), steps_per_epoch, every_steps
        self.global_step, self._metrics = first_step, metrics
        self.diverged = None  # (epoch, step, loss name, value) once a loss is not finite

    def on_epoch_begin(self, epoch, logs=None):
        if self._metrics is not None:
            for variable, value in zip(self.model.metrics_variables, self._metrics):
                variable.assign(value)
            self._metrics = None

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        for name in ("d_loss", "g_loss"):
            value = float((logs or {}).get(name, 0.0))
            if not math.isfinite(value):
                epoch, step = divmod(self.global_step - 1, self.steps_per_epoch)
                self.diverged = (epoch + 1, step + 1, name, value)
                self.model.stop_training = True
                return
        # The epoch's last step is saved by on_epoch_end, after the epoch's other callbacks.
        if self.every_steps and self.global_step % self.every_steps == 0 and self.global_step % self.steps_per_epoch:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged is None:
            self._save()

    def _save(self):
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()  # JAX keeps the newest values outside the variables during fit()
        save_state(self.model, self.directory, self.global_step, self.steps_per_epoch)


def passed_over_note(snapshot):
    """One line: which damaged snapshot was passed over, and the older one a run resumes from instead."""
    newest = snapshot.passed_over[0]
    return (f"Resuming from the older snapshot {snapshot.path.name} ({snapshot.describe()}): the newest one is "
            f"damaged ({newest.path}: {newest.why}) and is replaced at its step.")


class _StopAtEpochEnd(keras.callbacks.Callback):
    """End a ``fit()`` after its first epoch (the rest of a half-done one)."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def fit_resumably(gan, batches, epochs, directory, every_steps=0, callbacks=(), verbose=1, snapshot=None):
    """``gan.fit(batches, epochs=epochs)`` that resumes exactly from ``directory``.

    ``batches`` is a ``data.TrainingBatches`` starting at step 0. Returns the
    position trained from (``{"epoch": 0, "step": 0, ...}`` for a new run).
    It resumes from the newest snapshot that reads whole (``usable_snapshot``;
    a damaged newer one is passed over, and said so), or from ``snapshot``,
    one read already. Raises ``TrainingDiverged`` when a loss stops being finite.
    """
    epochs = check_whole_number("epochs", epochs, 1, "the epoch to train up to, counting those already trained")
    every_steps = check_whole_number("every_steps", every_steps, 0, "steps between extra backups; 0 for none")
    check_path("directory", directory)
    if not (hasattr(batches, "starting_at") and hasattr(batches, "steps_per_epoch")):
        raise UsageError(f"fit_resumably needs the stream of dcgan_keras.make_dataset(images, batch_size, seed), "
                         f"which it can restart at any step; got {type(batches).__name__}.")
    if snapshot is None:
        snapshot = usable_snapshot(directory)
        if snapshot is not None and snapshot.passed_over and verbose:
            print(passed_over_note(snapshot))
    position, metrics = restore_state(gan, directory, snapshot)
    position = position or {"epoch": 0, "step": 0, "global_step": 0}
    per_epoch = batches.steps_per_epoch
    check_steps_per_epoch(position, per_epoch, directory)
    backup = StateBackup(directory, per_epoch, every_steps, position["global_step"],
                         metrics if position["step"] else None)
    epoch, step = position["epoch"], position["step"]
    segments = []
    if step and epoch < epochs:  # first the rest of the interrupted epoch, then whole ones
        segments.append((epoch, per_epoch - step, [_StopAtEpochEnd()]))
        epoch += 1
    if epoch < epochs:
        segments.append((epoch, per_epoch, []))
    for first_epoch, steps, extra in segments:
        if backup.diverged is None:
            gan.fit(batches.starting_at(backup.global_step), initial_epoch=first_epoch, epochs=epochs,
                    steps_per_epoch=steps, callbacks=[*callbacks, backup, *extra], verbose=verbose)
    if backup.diverged is not None:
        epoch, step, name, value = backup.diverged
        last = latest_position(directory)
        kept = f"epoch {last['epoch'] + 1}, step {last['step']}" if last else "none yet"
        raise TrainingDiverged(
            f"Training diverged at epoch {epoch}, step {step}: {name} became {value}. The last good "
            f"snapshot ({kept}) is kept in {directory}. Check the data for NaN pixels, use float32 "
            f"rather than float16, or lower the learning rate, then run again to resume from it."
        )
    return position
