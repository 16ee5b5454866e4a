"""Notebook 02's diagrams: numbered cells that mirror conv_arithmetic's zero insertion."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dcgan_keras.chapters import conv_diagrams as diagrams
from dcgan_keras.chapters import figures
from dcgan_keras.chapters.conv_arithmetic import zero_insert

# --- diagrams ------------------------------------------------------------------


def test_zero_insert_roles_mirror_zero_insert():
    image = np.arange(1.0, 5.0).reshape(2, 2, 1)
    spread = zero_insert(image, 2, border=2)[..., 0]
    roles = diagrams.zero_insert_roles(2, 2, 2)
    assert roles.shape == spread.shape == (7, 7)
    assert ((roles == diagrams.PIXEL) == (spread != 0)).all()
    assert (roles == diagrams.INSERTED).sum() == 9 - 4  # the 3x3 spread minus its 4 pixels
    assert (roles == diagrams.BORDER).sum() == 49 - 9


def test_draw_grid_writes_one_number_per_cell():
    fig, ax = plt.subplots()
    array = np.arange(12.0).reshape(3, 4)
    diagrams.draw_grid(ax, array, "t", colors=diagrams.role_colors(np.zeros((3, 4), int)))
    assert len(ax.texts) == 12 and len(ax.patches) == 12
    assert [t.get_text() for t in ax.texts][:3] == ["0", "1", "2"]
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb(diagrams.ROLE_COLORS[0]))
    plt.close(fig)


def test_draw_grid_rejects_3d():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2-D"):
        diagrams.draw_grid(ax, np.zeros((2, 2, 1)))
    plt.close(fig)


def test_plot_grids_and_heatmaps():
    fig = diagrams.plot_grids([(np.ones((5, 5)), "a"), (np.ones((2, 2)), "b", None)])
    assert [len(ax.texts) for ax in fig.axes] == [25, 4]
    plt.close(fig)
    fig = figures.plot_heatmaps([np.ones((3, 3)), np.zeros((2, 2))], ["x", "y"], vmin=0, vmax=2)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert [len(ax.texts) for ax in image_axes] == [9, 4]
    assert image_axes[1].images[0].get_clim() == (0, 2)
    plt.close(fig)
