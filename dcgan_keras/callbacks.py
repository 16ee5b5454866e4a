"""Callbacks for DCGAN training: progress pictures and crash-safe checkpoints."""

import json
import os
import pathlib

import keras

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


def replace_atomically(write, path):
    """Write to a temporary sibling, then rename: a kill never leaves half a file."""
    directory, name = os.path.split(str(path))
    # The prefix keeps the suffix intact: Keras insists on ".weights.h5".
    partial = os.path.join(directory, f"partial-{name}")
    write(partial)
    os.replace(partial, path)


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
        replace_atomically(lambda partial: pathlib.Path(partial).write_text(metadata), self._training_metadata_path)

    def resumes_at(self):
        """The epoch a run with this backup starts at (0 when there is none)."""
        path = pathlib.Path(self._training_metadata_path)
        return json.loads(path.read_text())["epoch"] if path.exists() else 0

