"""Figures shared by the notebooks, the command line and the README.

Image helpers work on numpy arrays in [-1, 1] (what the generator makes) and
return or write uint8 pictures; curve helpers return matplotlib figures and, given a path,
save them. They use ``matplotlib.figure.Figure``, not pyplot: no window
opens, no GUI backend is chosen, and importing this module does not import pyplot.
"""

import csv
import io
import pathlib

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from dcgan_keras.data import to_uint8
from dcgan_keras.errors import UsageError, check_whole_number
from dcgan_keras.files import replace_atomically

# The training metrics in the order a reader compares them.
HISTORY_PANELS = (("d_loss", "g_loss"), ("D_x", "D_G_z"))


def image_grid(images, columns=None, padding=2):
    """Tile images in [-1, 1] of shape (N, H, W, C) into one uint8 picture (C is 1 or 3, N at least 1).

    ``columns`` defaults to a square grid's; the last row may be short.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise UsageError(f"Expected at least one image, in an array of shape (N, height, width, 1 or 3), "
                         f"got {images.shape}.")
    if columns is not None:
        columns = check_whole_number("columns", columns, 1, "images per row of the grid")
    padding = check_whole_number("padding", padding, 0, "pixels between the images")
    images = to_uint8(images)
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        255,
        dtype="uint8",
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid[..., 0] if channels == 1 else grid


def show_images(axis, images, columns, title=""):
    """Draw images in [-1, 1] as one grid on a matplotlib axis."""
    axis.imshow(image_grid(images, columns), cmap="gray", vmin=0, vmax=255)
    axis.set_title(title, fontsize=9)
    axis.axis("off")


def png_bytes(picture, scale=1):
    """A uint8 picture as PNG bytes, enlarged ``scale`` times with crisp pixels."""
    image = Image.fromarray(picture)
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    return encoded.getvalue()


def save_image(picture, path, scale=1):
    """Write a uint8 picture as PNG, enlarged ``scale`` times with crisp pixels."""
    encoded = png_bytes(picture, scale)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomically: a run killed mid-write must not leave a truncated frame for the GIF.
    return replace_atomically(lambda partial: pathlib.Path(partial).write_bytes(encoded), path)


# The widest and tallest a saved grid should be, in pixels: any image viewer opens it (and Pillow,
# whose decompression-bomb guard refuses about 179 million pixels).
GRID_SIDE = 4096


def grid_columns(image_shape, scale=2, padding=2):
    """How many images of ``image_shape`` fit side by side in a ``save_grid`` of at most GRID_SIDE pixels."""
    return max(1, (GRID_SIDE // scale - padding) // (image_shape[1] + padding))


def save_grid(images, path, columns=None, scale=2):
    """Write float images in [-1, 1] of shape (N, H, W, 1 or 3) as one PNG grid at ``path`` (a .png file).

    ``columns`` as in ``image_grid``; each pixel becomes ``scale`` x ``scale``. Returns the path.
    """
    picture = image_grid(_check_range(images), columns)
    return save_image(picture, _png_path(path), check_whole_number("scale", scale, 1, "pixels per image pixel"))


def _check_range(images):
    """Float images in [-1, 1], or one line saying what they are (NaN is drawn black: a diverged run's grid)."""
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise UsageError(f"save_grid draws float images in [-1, 1], got dtype {images.dtype}. "
                         "Use dcgan_keras.data.to_unit_range(images) for uint8 pixels.")
    finite = images[np.isfinite(images)]
    if finite.size and (finite.min() < -1.001 or finite.max() > 1.001):
        raise UsageError(f"save_grid draws images in [-1, 1] (what the generator makes), got "
                         f"[{finite.min():.3g}, {finite.max():.3g}]; scale them to [-1, 1] first.")
    return images


def _png_path(path):
    if isinstance(path, str) and not path.strip():
        raise UsageError("The grid's path is an empty string; give a file name such as grid.png.")
    path = pathlib.Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give the grid a file name in it, such as {path / 'grid.png'}.")
    if path.suffix.lower() != ".png":
        raise UsageError(f"save_grid writes PNG files; give a path ending in .png, not {path.name!r}.")
    return path


def save_gif(frame_paths, path, seconds_per_frame=0.4, hold_last=4, max_side=320):
    """Assemble PNG frames (e.g. one grid per epoch) into a looping GIF.

    Frames larger than ``max_side`` are shrunk by an integer factor, which keeps
    the GIF a few hundred KB instead of megabytes.
    """
    frames = []
    for frame_path in frame_paths:
        with Image.open(frame_path) as frame:
            factor = -(-max(frame.size) // max_side)  # ceiling division
            frames.append(frame.reduce(factor).convert("P", palette=Image.Palette.ADAPTIVE))
    if not frames:
        raise ValueError("save_gif needs at least one frame.")
    durations = [int(seconds_per_frame * 1000)] * len(frames)
    durations[-1] *= hold_last  # linger on the final result before looping
    replace_atomically(lambda partial: frames[0].save(partial, format="GIF", save_all=True, append_images=frames[1:],
                                                      duration=durations, loop=0), path)
    return pathlib.Path(path)


def read_history_rows(path):
    """The rows of a history CSV as dicts of floats; empty cells are left out.

    ``epoch`` counts from 1, as ``HistoryCSV`` writes it and as the sample
    grids are numbered. A file that counts from 0 (Keras' ``CSVLogger``, and
    ``HistoryCSV`` before it counted from 1) is renumbered: its first row is
    epoch 1.
    """
    with open(path, newline="") as handle:
        # "NA": the val_* cells of files written by Keras' CSVLogger.
        rows = [{key: float(value) for key, value in row.items() if value not in ("", "NA")}
                for row in csv.DictReader(handle)]
    if any(row.get("epoch") == 0 for row in rows):  # counted from 0
        rows = [{**row, "epoch": row["epoch"] + 1} if "epoch" in row else row for row in rows]
    return rows


def read_history_csv(path):
    """A history CSV as {column: [value per epoch]}, NaN where an epoch has no value (a score).

    ``history["epoch"]`` holds the epochs, counted from 1 (see ``read_history_rows``).
    """
    rows = {int(row["epoch"]): row for row in read_history_rows(path)}  # the last row of an epoch wins
    columns = sorted({key for row in rows.values() for key in row} - {"epoch"})
    epochs = sorted(rows)
    history = {"epoch": epochs} if epochs else {}
    history.update({key: [rows[epoch].get(key, float("nan")) for epoch in epochs] for key in columns})
    return history


def plot_history(history, path=None, title="DCGAN training"):
    """Plot d_loss/g_loss and D(x)/D(G(z)) per epoch; returns the figure.

    ``history`` is a ``keras.callbacks.History``, its ``.history`` dict, or the
    dict from ``read_history_csv``. The x axis counts epochs from 1, like the
    sample grids: the ``epoch`` column where there is one, else 1, 2, ...
    """
    history = getattr(history, "history", history)
    epochs = history.get("epoch") or list(range(1, len(history["d_loss"]) + 1))
    scored = "fid" in history and np.isfinite(history["fid"]).any()
    figure = Figure(figsize=(15 if scored else 10, 3.6))
    axes = figure.subplots(1, 3 if scored else 2)
    labels = {"d_loss": "D loss", "g_loss": "G loss", "D_x": "D(x), real", "D_G_z": "D(G(z)), fake"}
    for axis, keys in zip(axes, HISTORY_PANELS):
        for key in keys:
            axis.plot(epochs, history[key], marker="o", markersize=3, label=labels[key])
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    axes[0].set_title("losses")
    axes[1].set_title("discriminator's mean output")
    axes[1].axhline(0.5, color="grey", linestyle=":", linewidth=1)
    axes[1].set_ylim(0, 1)
    if scored:
        _plot_scores(axes[2], epochs, history)
    figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        replace_atomically(lambda partial: figure.savefig(partial, dpi=100), path)
    return figure


def _plot_scores(axis, epochs, history):
    """FID at the epochs that were evaluated (QualityCheckpoint logs NaN in between)."""
    fid = np.asarray(history["fid"], dtype=float)
    evaluated = np.isfinite(fid)
    axis.plot(np.asarray(epochs)[evaluated], fid[evaluated], marker="o", color="C3", label="FID (lower is better)")
    best = int(np.nanargmin(fid))
    axis.annotate(f"best {fid[best]:.1f}", (epochs[best], fid[best]), textcoords="offset points", xytext=(0, 8),
                  ha="center")
    axis.set_xlabel("epoch")
    axis.set_title("sample quality (FID of the run's evaluator)")
    axis.grid(alpha=0.3)
    axis.legend()
