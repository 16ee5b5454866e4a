"""Callbacks: fixed-noise grids, atomic backups that resume exactly, atomic files."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from dcgan_keras.callbacks import AtomicBackupAndRestore, SampleGrid
from dcgan_keras.chapters.training_diagnostics import CrashAfterEpoch, SimulatedCrash
from dcgan_keras.data import make_dataset
from dcgan_keras.files import replace_atomically, write_text_atomically


def test_interrupted_run_resumes_at_the_next_epoch(tmp_path, mnist_images, make_gan, weights_of):
    data = make_dataset(mnist_images[:256], 64)
    backup_dir = str(tmp_path / "backup")
    gan = make_gan()
    with pytest.raises(SimulatedCrash):
        gan.fit(data, epochs=4, verbose=0, callbacks=[AtomicBackupAndRestore(backup_dir), CrashAfterEpoch(2)])
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    assert not list((tmp_path / "backup").glob("partial-*"))  # no half-written files left
    saved_generator = weights_of(gan.generator)
    saved_steps = int(gan.g_optimizer.iterations)

    fresh = make_gan(seed=1)  # different initial weights: the backup must win
    seen = []
    resume = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    check = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: (
            [np.testing.assert_array_equal(a, b) for a, b in zip(weights_of(fresh.generator), saved_generator)],
            seen.append(("steps", int(fresh.g_optimizer.iterations))),
        )
    )
    fresh.fit(data, epochs=4, verbose=0, callbacks=[AtomicBackupAndRestore(backup_dir), check, resume])
    assert seen == [("steps", saved_steps), 2, 3]


def test_sample_grid_draws_the_same_z_every_epoch(tmp_path, mnist_images, make_gan):
    gan = make_gan()
    grid = SampleGrid(tmp_path, num_images=4, seed=3, columns=2)
    gan.fit(make_dataset(mnist_images[:128], 64), epochs=2, verbose=0, callbacks=[grid])
    frames = [np.asarray(Image.open(grid.frame_path(epoch))) for epoch in (0, 1)]
    assert frames[0].shape == frames[1].shape == (2 * (2 * 28 + 3 * 2), 2 * (2 * 28 + 3 * 2))
    # Untrained then trained weights on the same z: the pictures differ, the layout does not.
    assert not np.array_equal(*frames)
    again = SampleGrid(tmp_path / "again", num_images=4, seed=3, columns=2)
    again.set_model(gan)
    again.on_epoch_end(1)
    np.testing.assert_array_equal(np.asarray(Image.open(again.frame_path(1))), frames[1])


def test_replace_atomically_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "scores.json"
    write_text_atomically("old", target)

    def failing(partial):
        with open(partial, "w") as handle:
            handle.write("half")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(failing, target)
    assert target.read_text() == "old"
    assert replace_atomically(lambda partial: open(partial, "w").write("new"), target) == target
    assert target.read_text() == "new" and not list(tmp_path.glob("partial-*"))
