"""Decoded images on disk: one uint8 ``.npy`` file per source, size and channels.

A folder of JPEGs or a tensorflow-datasets split is decoded, center-cropped
and resized once, into ``CACHE_FOLDER``. Later runs read it back a batch at a
time with ``pread``, so a process holds one batch, not the dataset: memory stays
flat in the number of images (the kernel's page cache may keep the file, but
that memory is reclaimable and not the process's). The file is a plain
``.npy``: ``np.load(path, mmap_mode="r")`` opens it too.

A cache is keyed by its source (for a folder: every file's path, size and
modification time), the image size and the channels, so changing any of
them builds a new one. It is written through ``files.replace_atomically``: a
killed build leaves a ``partial-`` file that is never read, and a file whose
length does not match its header is rebuilt. Clear it by deleting the folder.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import struct

import keras
import numpy as np

from dcgan_keras import files

CACHE_FOLDER = files.CACHE_DIR / "images"
FORMAT = 1  # bump to rebuild every cache when the decoding changes
HEADER_BYTES = 128  # fixed, so the count can be written after the images


class ImageCache:
    """uint8 images ``(N, size, size, channels)`` in a cache file, read by index.

    ``cache[indices]`` reads those images (in that order) and nothing else;
    ``cache[:]`` reads them all. ``skipped``: for a folder's cache, the
    ``(path, reason)`` of each file left out as unreadable (``data.folder_cache``).
    """

    skipped = ()

    def __init__(self, path):
        self.path = pathlib.Path(path)
        with open(self.path, "rb") as handle:
            np.lib.format.read_magic(handle)
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            self._offset = handle.tell()
        if dtype != np.uint8 or len(shape) != 4:
            raise ValueError(f"{self.path} holds {dtype} {shape}, not uint8 images")
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype("uint8"), 4
        self._item_bytes = int(np.prod(shape[1:]))
        if self.path.stat().st_size != self._offset + len(self) * self._item_bytes:
            raise ValueError(f"{self.path} is shorter or longer than its header says")
        self._descriptor = None

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:  # one contiguous read
                return self._read(start, max(stop - start, 0))
            index = np.arange(start, stop, step)
        index = np.asarray(index)
        if index.ndim == 0:
            return self[index[None]][0]
        if len(index) and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(f"index out of range for {len(self)} cached images")
        out = np.empty((len(index), *self.shape[1:]), dtype="uint8")
        for row, position in enumerate(index % max(len(self), 1)):  # % len: negative indices count from the end
            out[row] = self._read(int(position), 1)[0]
        return out

    def _read(self, start, count):
        if self._descriptor is None:  # opened lazily: a copy sent to another process opens its own
            self._descriptor = os.open(self.path, os.O_RDONLY)
        raw = os.pread(self._descriptor, count * self._item_bytes, self._offset + start * self._item_bytes)
        return np.frombuffer(raw, dtype="uint8").reshape(count, *self.shape[1:])

    def __getstate__(self):
        return {**self.__dict__, "_descriptor": None}

    def __del__(self, close=os.close):  # bound now: at interpreter exit the os module may be gone
        if getattr(self, "_descriptor", None) is not None:
            close(self._descriptor)

    def __repr__(self):
        return f"ImageCache({len(self)} images of {self.shape[1:]} in {self.path})"


def cache_path(label, image_shape, source_key):
    """Where the cache of ``source_key`` at ``image_shape`` lives: the label, the shape and a digest."""
    digest = hashlib.sha256(json.dumps([FORMAT, source_key, list(image_shape)], sort_keys=True).encode()).hexdigest()
    size, _, channels = image_shape
    return pathlib.Path(CACHE_FOLDER) / f"{label}-{size}x{size}x{channels}-{digest[:16]}.npy"


def open_cache(path):
    """The complete cache at ``path``, or None when there is none (or only a damaged one)."""
    try:
        return ImageCache(path)
    except (OSError, ValueError, EOFError):
        return None


def write_cache(path, image_shape, chunks, count=None, verbose=True):
    """Write the uint8 arrays ``chunks`` yields as one cache, atomically; returns its ``ImageCache``.

    ``count`` (when known) sizes the progress bar. Older caches of the same
    label and shape (the same source before it changed) are deleted once the
    new one is in place.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _one_builder(path):
        cache = open_cache(path)  # built by another process while this one waited
        return cache if cache is not None else _write_cache(path, image_shape, chunks, count, verbose)


@contextlib.contextmanager
def _one_builder(path):
    """Hold ``path.lock`` (an ``flock``, dropped by the kernel when a holder dies): two processes that need
    the same cache at once build it once, the second waiting for the first, not both into one temporary file."""
    if files.fcntl is None:  # Windows
        yield
        return
    with open(f"{path}.lock", "a+b") as handle:
        files.fcntl.flock(handle, files.fcntl.LOCK_EX)
        try:
            yield
        finally:
            files.fcntl.flock(handle, files.fcntl.LOCK_UN)


def _write_cache(path, image_shape, chunks, count, verbose):
    progress = keras.utils.Progbar(count, unit_name="image", verbose=1 if verbose else 0)

    def write(partial):
        written = 0
        with open(partial, "wb") as handle:
            handle.write(_header((0, *image_shape)))
            for chunk in chunks:
                chunk = np.ascontiguousarray(chunk, dtype="uint8")
                if chunk.shape[1:] != tuple(image_shape):
                    raise ValueError(f"a chunk of shape {chunk.shape} does not hold {image_shape} images")
                handle.write(chunk.tobytes())
                written += len(chunk)
                progress.update(written)
            handle.seek(0)
            handle.write(_header((written, *image_shape)))
            handle.flush()
            os.fsync(handle.fileno())

    files.replace_atomically(write, path)
    label_and_shape = path.name.rsplit("-", 1)[0]
    for stale in path.parent.glob(f"{label_and_shape}-*.npy"):
        if stale != path:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".unreadable.json").unlink(missing_ok=True)  # data.unreadable_list_path
    return ImageCache(path)


def _header(shape):
    """A version-1.0 ``.npy`` header of exactly HEADER_BYTES for uint8 ``shape``."""
    text = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    text = text.ljust(HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")
