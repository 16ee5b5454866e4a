"""Figures: image grids, GIFs, the training history CSV and its plot."""

import csv

import numpy as np
import pytest
from PIL import Image

from dcgan_keras.plotting import image_grid, plot_history, read_history_csv, save_gif, save_grid


def test_image_grid_places_each_image_in_its_cell():
    images = np.stack([np.full((3, 3, 1), value) for value in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, columns=2, padding=1)
    assert grid.shape == (2 * 4 + 1, 2 * 4 + 1)  # 2 rows x 2 columns of 3 pixels, 1 pixel of padding
    assert grid[1, 1] == 0 and grid[1, 5] == 128 and grid[5, 1] == 255
    assert grid[5, 5] == 255 and grid[0, 0] == 255  # the empty fourth cell and the padding are white
    colour = image_grid(np.zeros((2, 4, 4, 3)), padding=0)
    assert colour.shape == (4, 8, 3)


def test_save_grid_scales_with_crisp_pixels(tmp_path):
    path = save_grid(np.array([[[[-1.0], [1.0]], [[1.0], [-1.0]]]]), tmp_path / "g.png", scale=3)
    picture = np.asarray(Image.open(path))
    assert picture.shape == (3 * 6, 3 * 6)
    assert set(np.unique(picture)) == {0, 255}


def test_save_gif_has_one_frame_per_png_and_lingers_on_the_last(tmp_path):
    paths = [save_grid(np.full((1, 8, 8, 1), value), tmp_path / f"{index}.png")
             for index, value in enumerate((-1.0, 0.0, 1.0))]
    gif = save_gif(paths, tmp_path / "progress.gif", seconds_per_frame=0.1, hold_last=5)
    with Image.open(gif) as animation:
        assert animation.n_frames == 3
        animation.seek(2)
        assert animation.info["duration"] == 500
    with pytest.raises(ValueError, match="at least one frame"):
        save_gif([], tmp_path / "none.gif")


def _write_history(path, first_epoch):
    rows = [{"epoch": first_epoch, "d_loss": 1.0, "val_d_loss": "NA"},
            {"epoch": first_epoch + 1, "d_loss": 0.9, "val_d_loss": "NA"},
            {"epoch": first_epoch + 1, "d_loss": 0.8, "val_d_loss": "NA"}]  # the second epoch again, as after a resume
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["epoch", "d_loss", "val_d_loss"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_read_history_csv_drops_empty_columns_and_keeps_the_last_row_of_an_epoch(tmp_path):
    path = _write_history(tmp_path / "history.csv", first_epoch=1)
    assert read_history_csv(path) == {"epoch": [1, 2], "d_loss": [1.0, 0.8]}


def test_read_history_csv_counts_from_one_also_for_files_that_count_from_zero(tmp_path):
    # Keras' CSVLogger (the shipped assets/*history.csv) and HistoryCSV before it counted from 1.
    path = _write_history(tmp_path / "history.csv", first_epoch=0)
    assert read_history_csv(path) == {"epoch": [1, 2], "d_loss": [1.0, 0.8]}


def test_plot_history_counts_epochs_from_one_like_the_grids(tmp_path):
    losses = {"d_loss": [1.0, 1.2], "g_loss": [0.8, 0.7], "D_x": [0.6, 0.5], "D_G_z": [0.4, 0.5]}
    path = tmp_path / "history.csv"
    path.write_text("epoch," + ",".join(losses) + "\n" +
                    "".join(f"{epoch + 1}," + ",".join(str(v[epoch]) for v in losses.values()) + "\n"
                            for epoch in range(2)))
    for history in (losses, read_history_csv(path)):  # fit()'s History has no epoch column; the CSV has
        for axis in plot_history(history).axes:
            curves = [line for line in axis.get_lines() if not line.get_label().startswith("_")]  # not the 0.5 line
            assert [list(line.get_xdata()) for line in curves] == [[1, 2]] * 2


def test_plot_history_adds_the_fid_panel_only_when_scored(tmp_path):
    history = {"d_loss": [1.0, 1.2, 1.1], "g_loss": [0.8, 0.7, 0.9], "D_x": [0.6, 0.5, 0.55], "D_G_z": [0.4, 0.5, 0.45]}
    assert len(plot_history(history).axes) == 2
    scored = {**history, "fid": [float("nan"), 80.0, 60.0]}
    figure = plot_history(scored, tmp_path / "h.png")
    assert len(figure.axes) == 3 and (tmp_path / "h.png").is_file()
    assert "best 60.0" in [text.get_text() for text in figure.axes[2].texts]
