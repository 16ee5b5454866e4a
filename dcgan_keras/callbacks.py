"""Callbacks for DCGAN training: progress pictures, the history, and the best generator.

Each writes its files atomically and, on a resumed run, picks up where the
training state it resumes from left off (``dcgan_keras.resume`` has that state).
"""

import itertools
import json
import os
import pathlib
import socket
import time

import keras

from dcgan_keras.errors import UsageError, check_path, check_whole_number
from dcgan_keras.evaluate import SCORE_KEYS, check_num_images
from dcgan_keras.files import RunPaths, frame_name, replace_atomically, write_text_atomically
from dcgan_keras.plotting import image_grid, png_bytes, read_history_rows, save_grid
from dcgan_keras.sampling import sample


def _check_grid(num_images, seed, columns):
    """A grid callback's numbers, checked when it is made, not after the first epoch has trained."""
    num_images = check_whole_number("num_images", num_images, 1, "images in the grid")
    if seed is not None:
        check_whole_number("seed", seed, 0, "it draws the grid's fixed z")
    return num_images, check_whole_number("columns", columns, 1, "images per row of the grid")


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, draw the same fixed z through the generator.

    A fixed noise batch is what makes the pictures comparable: each grid shows
    how the *same* latent points changed, not new random samples.
    """

    def __init__(self, directory, num_images=64, seed=0, columns=8):
        super().__init__()
        num_images, columns = _check_grid(num_images, seed, columns)
        self.directory = pathlib.Path(check_path("directory", directory))
        self.num_images, self.seed, self.columns = num_images, seed, columns

    def frame_path(self, epoch):
        return self.directory / frame_name(epoch)

    def on_epoch_end(self, epoch, logs=None):
        images = sample(self.model.inference_generator, self.num_images, self.seed)
        save_grid(images, self.frame_path(epoch), self.columns)


class HistoryCSV(keras.callbacks.Callback):
    """One CSV row per epoch: the epoch's logs, only the columns that have values.

    The ``epoch`` column counts from 1, like the sample grids: the row of
    epoch 1 is written after the first pass over the data, when
    ``samples/epoch_001.png`` is drawn (Keras' own ``epoch`` argument counts
    from 0). ``plotting.read_history_csv`` reads the file back.

    The whole file is rewritten atomically after every epoch. A resumed run
    keeps the rows of the epochs finished before the one it starts at and
    drops any later ones (an epoch that was logged but not yet backed up is
    trained and logged again), so the file always matches the training state
    it resumes from. A file that counts from 0 (written by Keras' CSVLogger,
    or by this package before it counted from 1) is renumbered from 1.
    """

    def __init__(self, path):
        super().__init__()
        self.path, self.rows = pathlib.Path(check_path("path", path)), None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:  # the first epoch of this run, perhaps a resumed one
            earlier = read_history_rows(self.path) if self.path.exists() else []
            # ``epoch`` (0-based) epochs are finished: rows 1 to ``epoch`` stay.
            self.rows = [{**row, "epoch": int(row["epoch"])} for row in earlier if row["epoch"] <= epoch]

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch + 1, **{key: float(value) for key, value in (logs or {}).items()}})
        columns = ["epoch"] + sorted({key for row in self.rows for key in row} - {"epoch"})
        lines = [",".join(columns)]
        lines += [",".join(_cell(row.get(column)) for column in columns) for row in self.rows]
        write_text_atomically("\n".join(lines) + "\n", self.path)


def _cell(value):
    """A CSV cell: integers as such, floats in full (repr), nothing for no value."""
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


class QualityCheckpoint(keras.callbacks.Callback):
    """Score the generator every ``every`` epochs; keep the best and the last one.

    GAN quality is not monotone in training time (StudioGAN's DCGAN on
    CIFAR-10 reached FID 49 at 42k steps and 137 at 200k), so the last
    generator is not necessarily the one to keep. ``evaluator`` is a
    ``dcgan_keras.evaluate`` evaluator; lower ``monitor`` is better.
    ``num_images=None`` scores as many samples as the evaluator's real floor holds.

    The scores join the logs of the epochs that are scored (``HistoryCSV``,
    placed after this callback, writes them). ``quality.json`` records every
    evaluation and the best; a resumed run reads it back and forgets the
    evaluations from the epoch it starts at onwards, which it makes again.
    ``keep_generators=False`` records the scores only (a learning curve).
    """

    def __init__(self, evaluator, directory, every=5, num_images=None, monitor="fid", seed=0, output_range=(-1.0, 1.0),
                 keep_generators=True):
        super().__init__()
        every = check_whole_number("every", every, 1, "epochs between two scorings")
        if num_images is not None:
            num_images = check_num_images(num_images)
        if seed is not None:
            check_whole_number("seed", seed, 0, "it draws the scored samples' z")
        if monitor not in SCORE_KEYS:
            raise UsageError(f"monitor must be one of the scores, {', '.join(SCORE_KEYS)}, got {monitor!r}.")
        self.evaluator, self.directory, self.every = evaluator, pathlib.Path(check_path("directory", directory)), every
        self.num_images, self.monitor, self.seed, self.output_range = num_images, monitor, seed, output_range
        self.keep_generators = keep_generators
        paths = RunPaths(self.directory)
        self.record_path, self.best_path, self.last_path = paths.quality, paths.best_generator, paths.last_generator
        self.record = (json.loads(self.record_path.read_text()) if self.record_path.exists()
                       else {"evaluations": [], "best": None})
        self._started = False

    def on_train_begin(self, logs=None):
        self.last_epoch = self.params.get("epochs", 0) - 1

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:  # the first epoch of this run: forget evaluations from here on
            self._started = True
            kept = [entry for entry in self.record["evaluations"] if entry["epoch"] <= epoch]
            # The latest of equal scores wins, as in save().
            best = min(reversed(kept), key=lambda entry: entry[self.monitor], default=None)
            self.record = {"evaluations": kept, "best": best}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch != self.last_epoch:
            return
        scores = self.evaluator.evaluate_generator(self.model.inference_generator, self.num_images, self.seed,
                                                   self.output_range)
        logs.update({key: float(scores[key]) for key in SCORE_KEYS if key in scores})
        self.save(epoch, scores)

    def save(self, epoch, scores):
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"epoch": epoch + 1, **scores}
        self.record["evaluations"] = [e for e in self.record["evaluations"] if e["epoch"] != epoch + 1] + [entry]
        best = self.record["best"]
        is_best = best is None or scores[self.monitor] <= best[self.monitor]
        if self.keep_generators:
            generator = self.model.shippable_generator()  # plain layers: loads anywhere, whatever trained it
            replace_atomically(generator.save, self.last_path)
            if is_best:
                replace_atomically(generator.save, self.best_path)
        if is_best:
            self.record["best"] = entry
        ema = getattr(self.model, "ema", None)  # which generator the scores (and checkpoints) are of
        self.record["generator"] = "G" if ema is None else f"the average of G (EMA decay {ema:g})"
        # Written last: it never names a checkpoint that is not on disk yet.
        write_text_atomically(json.dumps(self.record, indent=1), self.record_path)


def require_tensorboard():
    """The tensorboard modules ``TensorBoardLogger`` writes with, or a ``UsageError`` that says how to get them."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError:
        raise UsageError("TensorBoard logging needs the tensorboard package: pip install tensorboard") from None
    return event_pb2, summary_pb2, RecordWriter


_event_files = itertools.count()  # tells apart the files one process opens within a second


class TensorBoardLogger(keras.callbacks.Callback):
    """Log every epoch to TensorBoard: the epoch's logs as scalars and the fixed-z sample grid as an image.

    The step is the 1-based epoch, as in ``samples/epoch_001.png``. The scalars
    are the numbers in the epoch's logs: ``training/d_loss``, ``g_loss``,
    ``D_x`` and ``D_G_z``, and ``quality/fid``, ``kid``, ``classes``, ... at
    the epochs a ``QualityCheckpoint`` scores, wherever it is in the callback
    list. The image ``samples`` is the grid ``SampleGrid`` writes for the same
    ``num_images``, ``seed``, ``columns`` and ``scale``: the same z every epoch.

    It writes tensorboard's event records with tensorboard's protos, not with
    TensorFlow, so it works on every backend; on JAX and PyTorch it does not
    load TensorFlow (tensorboard's ``EventFileWriter`` would, where installed).
    Each ``fit()`` opens a new event file in ``log_dir`` and deletes nothing.
    The file starts with a restart marker at its first epoch, so for the
    epochs a resumed run trains again TensorBoard shows the new points, not
    those the interrupted run logged past the snapshot it resumed from.
    """

    def __init__(self, log_dir, num_images=64, seed=0, columns=8, scale=2):
        super().__init__()
        num_images, columns = _check_grid(num_images, seed, columns)
        scale = check_whole_number("scale", scale, 1, "pixels per image pixel")
        self._event_pb2, self._summary_pb2, self._record_writer = require_tensorboard()
        self.log_dir = pathlib.Path(check_path("log_dir", log_dir))
        self.num_images, self.seed, self.columns, self.scale = num_images, seed, columns, scale
        self._file = self._writer = None
        self._logged = None  # (epoch, that epoch's logs dict, the keys already written)

    def on_train_begin(self, logs=None):
        self.on_train_end()  # a fit() ended by an exception left its file open: this one gets its own

    def on_epoch_begin(self, epoch, logs=None):
        self._log_late_values()
        self._open(epoch)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._open(epoch)
        self._write_scalars(epoch, logs)
        picture = image_grid(sample(self.model.inference_generator, self.num_images, self.seed), self.columns)
        image = self._summary_pb2.Summary.Image(
            height=picture.shape[0] * self.scale, width=picture.shape[1] * self.scale,
            colorspace=1 if picture.ndim == 2 else 3, encoded_image_string=png_bytes(picture, self.scale))
        self._write(epoch, self._summary_pb2.Summary.Value(tag="samples", image=image))
        self._file.flush()  # TensorBoard shows this epoch while the next one trains
        self._logged = (epoch, logs, set(logs))

    def on_train_end(self, logs=None):
        self._log_late_values()
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None

    def _open(self, epoch):
        """Start this fit()'s event file, unless it is open: a new file, so earlier runs' files stay as they are."""
        if self._file is not None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_event_files)}"
        self._file = open(self.log_dir / name, "xb")
        self._writer = self._record_writer(self._file)
        self._event(file_version="brain.Event:2")
        # TensorBoard forgets the points at this step and later that earlier files hold (a resumed run's).
        self._event(step=epoch + 1, session_log=self._event_pb2.SessionLog(status=self._event_pb2.SessionLog.START))

    def _log_late_values(self):
        # Keras hands every callback the same logs dict, so the values that callbacks after this one
        # added to the last epoch's logs (QualityCheckpoint's scores) are there now: log them too.
        if self._logged is not None:
            epoch, logs, written = self._logged
            self._logged = None
            if self._write_scalars(epoch, {key: value for key, value in logs.items() if key not in written}):
                self._file.flush()

    def _write_scalars(self, epoch, logs):
        """Write the numbers among ``logs``; returns whether there were any."""
        values = []
        for key, value in sorted(logs.items()):
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue  # not a number: nothing to plot
            tag = f"quality/{key}" if key in SCORE_KEYS else f"training/{key}"
            values.append(self._summary_pb2.Summary.Value(tag=tag, simple_value=value))
        self._write(epoch, *values)
        return bool(values)

    def _write(self, epoch, *values):
        if values:
            self._event(step=epoch + 1, summary=self._summary_pb2.Summary(value=values))

    def _event(self, **fields):
        self._writer.write(self._event_pb2.Event(wall_time=time.time(), **fields).SerializeToString())
