"""Grids of numbered cells for notebook 02 (fractional-strided convolution).

They draw the chapter's 5x5 -> 2x2 -> 7x7 -> 5x5 example cell by cell and
colour the zeros that zero insertion adds (between the pixels vs. around the
border). Overlap counts and sub-pixel kernels are drawn as annotated heatmaps
by ``figures.plot_heatmaps``.
"""

import matplotlib.pyplot as plt
import numpy as np

# Cell colours by role: a real pixel, a zero inserted between pixels, a border zero.
PIXEL, INSERTED, BORDER = 0, 1, 2
ROLE_COLORS = {PIXEL: "#9ecae1", INSERTED: "#fdae6b", BORDER: "#e0e0e0"}


def zero_insert_roles(input_size, stride, border):
    """Role of each cell after ``zero_insert``: PIXEL, INSERTED or BORDER.

    Mirrors ``conv_arithmetic.zero_insert`` for a square input, so a figure can
    colour the two kinds of zeros differently.
    """
    spread = (input_size - 1) * stride + 1
    roles = np.full((spread, spread), INSERTED)
    roles[::stride, ::stride] = PIXEL
    return np.pad(roles, border, constant_values=BORDER)


def role_colors(roles):
    """Map a role array to an array of colour strings for ``draw_grid``."""
    return np.vectorize(ROLE_COLORS.get, otypes=[object])(roles)


def _format(value, fmt):
    # Print integers without ".0" so the example reads like the chapter's figure.
    if float(value).is_integer():
        return f"{int(value)}"
    return fmt.format(value)


def draw_grid(ax, array, title=None, colors=None, fmt="{:.2f}", fontsize=None):
    """Draw a 2-D array as a grid of cells with each number written in its cell.

    ``colors`` is an array of matplotlib colours of the same shape (white when
    None). Returns the axes; each cell adds exactly one text artist.
    """
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"draw_grid needs a 2-D array, got shape {array.shape}")
    rows, columns = array.shape
    if fontsize is None:
        fontsize = 11 if max(rows, columns) <= 7 else 8
    for row in range(rows):
        for column in range(columns):
            face = "white" if colors is None else colors[row, column]
            ax.add_patch(plt.Rectangle((column, row), 1, 1, facecolor=face, edgecolor="#555555", linewidth=0.8))
            ax.text(column + 0.5, row + 0.5, _format(array[row, column], fmt), ha="center", va="center",
                    fontsize=fontsize)
    ax.set_xlim(0, columns)
    ax.set_ylim(rows, 0)  # row 0 on top, like a printed matrix
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_grids(panels, figsize=(10, 3), width_ratios=None):
    """One row of ``draw_grid`` panels; each panel is ``(array, title[, colors])``.

    Panels are scaled to their number of columns so cells have the same size.
    """
    if width_ratios is None:
        width_ratios = [np.asarray(panel[0]).shape[1] for panel in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, width_ratios=width_ratios, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        array, title = panel[0], panel[1]
        draw_grid(ax, array, title, colors=panel[2] if len(panel) > 2 else None)
    fig.tight_layout()
    return fig
