"""Callbacks for DCGAN training: progress pictures, the history, and the best generator.

Each writes its files atomically and, on a resumed run, picks up where the
training state it resumes from left off (``dcgan_keras.resume`` has that state).
"""

import json
import pathlib

import keras

from dcgan_keras.errors import UsageError
from dcgan_keras.evaluate import SCORE_KEYS
from dcgan_keras.files import RunPaths, frame_name, replace_atomically, write_text_atomically
from dcgan_keras.formulation import as_paper_layers
from dcgan_keras.plotting import read_history_rows, save_grid
from dcgan_keras.sampling import sample


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, draw the same fixed z through the generator.

    A fixed noise batch is what makes the pictures comparable: each grid shows
    how the *same* latent points changed, not new random samples.
    """

    def __init__(self, directory, num_images=64, seed=0, columns=8):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.num_images, self.seed, self.columns = num_images, seed, columns

    def frame_path(self, epoch):
        return self.directory / frame_name(epoch)

    def on_epoch_end(self, epoch, logs=None):
        save_grid(sample(self.model.generator, self.num_images, self.seed), self.frame_path(epoch), self.columns)


class HistoryCSV(keras.callbacks.Callback):
    """One CSV row per epoch: the epoch's logs, only the columns that have values.

    The whole file is rewritten atomically after every epoch. A resumed run
    keeps the rows before the epoch it starts at and drops any later ones (an
    epoch that was logged but not yet backed up is trained and logged again),
    so the file always matches the training state it resumes from.
    """

    def __init__(self, path):
        super().__init__()
        self.path, self.rows = pathlib.Path(path), None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:  # the first epoch of this run, perhaps a resumed one
            earlier = read_history_rows(self.path) if self.path.exists() else []
            self.rows = [{**row, "epoch": int(row["epoch"])} for row in earlier if row["epoch"] < epoch]

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **{key: float(value) for key, value in (logs or {}).items()}})
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
        if every < 1:
            raise UsageError(f"every must be a positive number of epochs, got {every}.")
        self.evaluator, self.directory, self.every = evaluator, pathlib.Path(directory), every
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
        scores = self.evaluator.evaluate_generator(self.model.generator, self.num_images, self.seed, self.output_range)
        logs.update({key: float(scores[key]) for key in SCORE_KEYS if key in scores})
        self.save(epoch, scores)

    def save(self, epoch, scores):
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"epoch": epoch + 1, **scores}
        self.record["evaluations"] = [e for e in self.record["evaluations"] if e["epoch"] != epoch + 1] + [entry]
        best = self.record["best"]
        is_best = best is None or scores[self.monitor] <= best[self.monitor]
        if self.keep_generators:
            generator = as_paper_layers(self.model.generator)  # loads anywhere, whatever trained it
            replace_atomically(generator.save, self.last_path)
            if is_best:
                replace_atomically(generator.save, self.best_path)
        if is_best:
            self.record["best"] = entry
        # Written last: it never names a checkpoint that is not on disk yet.
        write_text_atomically(json.dumps(self.record, indent=1), self.record_path)
