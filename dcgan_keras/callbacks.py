"""Callbacks for DCGAN training: progress pictures and crash-safe checkpoints."""

import json
import os
import pathlib

import keras

from dcgan_keras.errors import UsageError
from dcgan_keras.evaluate import SCORE_KEYS
from dcgan_keras.files import replace_atomically, write_text_atomically
from dcgan_keras.gan import generate_images, latent_noise
from dcgan_keras.plotting import save_grid


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
        return self.directory / f"epoch_{epoch + 1:03d}.png"

    def on_epoch_end(self, epoch, logs=None):
        generator = self.model.generator
        z = latent_noise(self.num_images, int(generator.input_shape[-1]), self.seed)
        save_grid(generate_images(generator, z), self.frame_path(epoch), self.columns)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose files are replaced atomically.

    Keras writes the weights in place and then the epoch counter, so a run
    killed mid-write leaves a corrupt or inconsistent backup. Here each file
    is written beside its target and renamed over it; the epoch counter is
    written last, so it never points past the weights on disk. The weights
    include both optimizers' state, so a resumed run continues the same
    Adam moments.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        replace_atomically(
            lambda partial: self.model.save_weights(partial, overwrite=True),
            self._weights_path,
        )
        metadata = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen})
        write_text_atomically(metadata, self._training_metadata_path)

    def resumes_at(self):
        """The epoch a run with this backup starts at (0 when there is none)."""
        path = pathlib.Path(self._training_metadata_path)
        return json.loads(path.read_text())["epoch"] if path.exists() else 0


class QualityCheckpoint(keras.callbacks.Callback):
    """Score the generator every ``every`` epochs; keep the best and the last one.

    GAN quality is not monotone in training time (StudioGAN's DCGAN on
    CIFAR-10 reached FID 49 at 42k steps and 137 at 200k), so the last
    generator is not necessarily the one to keep. ``evaluator`` is a
    ``dcgan_keras.evaluate`` evaluator; lower ``monitor`` is better.

    The scores join the epoch's logs (NaN on epochs without an evaluation, so
    ``CSVLogger``, placed after this callback, keeps one column per score).
    ``quality.json`` records every evaluation and the best, and is read back
    on resume, so an interrupted run keeps its best checkpoint.
    """

    def __init__(self, evaluator, directory, every=5, num_images=5000, monitor="fid", seed=0, output_range=(-1.0, 1.0)):
        super().__init__()
        if every < 1:
            raise UsageError(f"every must be a positive number of epochs, got {every}.")
        self.evaluator, self.directory, self.every = evaluator, pathlib.Path(directory), every
        self.num_images, self.monitor, self.seed, self.output_range = num_images, monitor, seed, output_range
        self.record_path = self.directory / "quality.json"
        self.best_path, self.last_path = self.directory / "best_generator.keras", self.directory / "last_generator.keras"
        self.record = json.loads(self.record_path.read_text()) if self.record_path.exists() else {"evaluations": [], "best": None}

    def on_train_begin(self, logs=None):
        self.last_epoch = self.params.get("epochs", 0) - 1

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch != self.last_epoch:
            logs.update({key: float("nan") for key in SCORE_KEYS})
            return
        scores = self.evaluator.evaluate_generator(self.model.generator, self.num_images, self.seed, self.output_range)
        logs.update({key: float(scores[key]) for key in SCORE_KEYS if key in scores})
        self.save(epoch, scores)

    def save(self, epoch, scores):
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"epoch": epoch + 1, **scores}
        self.record["evaluations"] = [e for e in self.record["evaluations"] if e["epoch"] != epoch + 1] + [entry]
        best = self.record["best"]
        replace_atomically(self.model.generator.save, self.last_path)
        if best is None or scores[self.monitor] <= best[self.monitor]:
            replace_atomically(self.model.generator.save, self.best_path)
            self.record["best"] = entry
        # Written last: it never names a checkpoint that is not on disk yet.
        write_text_atomically(json.dumps(self.record, indent=1), self.record_path)
