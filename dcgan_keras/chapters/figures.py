"""Figures more than one chapter draws: annotated heatmaps and side-by-side sample panels.

Notebook 01 shows pooling's outputs and notebook 02 overlap counts and
sub-pixel kernels with ``plot_heatmaps``; notebooks 04 and 05 compare
generators with ``compare_samples``.
"""

import matplotlib.pyplot as plt
import numpy as np

from dcgan_keras.plotting import show_images


def plot_heatmaps(arrays, titles, annotate=True, figsize=(10, 3.2), cmap="viridis", fmt="{:.0f}", vmin=None, vmax=None):
    """Side-by-side heatmaps, numbers written in when ``annotate`` (small arrays).

    Give ``vmin``/``vmax`` to put all panels on one colour scale.
    """
    fig, axes = plt.subplots(1, len(arrays), figsize=figsize, squeeze=False)
    for ax, array, title in zip(axes[0], arrays, titles):
        array = np.asarray(array)
        image = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax)
        if annotate:
            middle = (array.max() + array.min()) / 2
            for (row, column), value in np.ndenumerate(array):
                color = "white" if value < middle else "black"  # readable on both ends of viridis
                ax.text(column, row, fmt.format(value), ha="center", va="center", fontsize=7, color=color)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def compare_samples(named_images, columns=8, figsize=(10, 3.2)):
    """One panel of samples per entry of ``{title: images in [-1, 1]}``."""
    figure, axes = plt.subplots(1, len(named_images), figsize=figsize, squeeze=False)
    for axis, (title, images) in zip(axes[0], named_images.items()):
        show_images(axis, images, columns, title)
    figure.tight_layout()
    return figure
