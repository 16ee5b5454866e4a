"""Callbacks: fixed-noise grids, the history CSV, atomic files."""


import keras
import numpy as np
import pytest
from PIL import Image

from dcgan_keras.callbacks import HistoryCSV, SampleGrid
from dcgan_keras.data import make_dataset
from dcgan_keras.files import replace_atomically, write_text_atomically


def test_history_csv_keeps_only_columns_with_values_and_truncates_on_resume(tmp_path, mnist_images, make_gan):
    path = tmp_path / "history.csv"
    scored = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: logs.update(fid=10.0 + epoch) if epoch == 1 else None)
    make_gan().fit(make_dataset(mnist_images[:128], 64), epochs=3, verbose=0, callbacks=[scored, HistoryCSV(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,D_G_z,D_x,d_loss,fid,g_loss"  # no val_* columns of NA
    # Counted from 1, like the grids: epoch 1 is the row after the first pass (samples/epoch_001.png).
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert [line.split(",")[4] for line in lines[1:]] == ["", "11.0", ""]  # a score only where it was made
    # Resumed at epoch 2 (Keras' 0-based 1): the rows from there on are dropped and written again.
    make_gan().fit(make_dataset(mnist_images[:128], 64), initial_epoch=1, epochs=2, verbose=0,
                   callbacks=[HistoryCSV(path)])
    lines_again = path.read_text().splitlines()
    assert lines_again[0] == "epoch,D_G_z,D_x,d_loss,g_loss"  # the only score was in a dropped row
    assert [line.split(",")[0] for line in lines_again[1:]] == ["1", "2"]
    assert lines_again[1].split(",")[:4] == lines[1].split(",")[:4]  # the kept row, unchanged


def test_history_csv_renumbers_a_file_that_counts_from_zero_when_it_resumes(tmp_path, mnist_images, make_gan):
    path = tmp_path / "history.csv"
    # As Keras' CSVLogger (and HistoryCSV before it counted from 1) wrote it: epochs 0, 1 and 2.
    path.write_text("epoch,d_loss\n0,1.5\n1,1.25\n2,1.0\n")
    make_gan().fit(make_dataset(mnist_images[:128], 64), initial_epoch=2, epochs=3, verbose=0,
                   callbacks=[HistoryCSV(path)])
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]  # the two finished epochs kept, one new
    assert [line.split(",")[3] for line in lines[1:3]] == ["1.5", "1.25"]  # epoch,D_G_z,D_x,d_loss,g_loss


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
