"""Images for training: the embedded MNIST or emoji, tensorflow-datasets, or a folder.

Every source ends the same way: square images (center-cropped, never
squashed), resized, in grayscale or RGB, as float32 scaled to [-1, 1], the
range of the generator's tanh. ``make_dataset`` turns them into a stream of
shuffled batches for ``DCGAN.fit()`` whose order depends on nothing but the
seed and the step, on every backend.

Folders and tensorflow-datasets splits can be far larger than memory (CelebA,
LSUN). ``open_images`` decodes them once, in parallel, into an on-disk uint8
cache (``dcgan_keras.image_cache``) and returns it; the stream then reads one
batch at a time from it. The embedded datasets are small and stay in memory.
"""

import concurrent.futures
import copy
import dataclasses
import gzip
import hashlib
import io
import json
import numbers
import os
import pathlib
import re
import struct

import keras
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dcgan_keras.errors import UsageError, check_whole_number
from dcgan_keras.files import check_cache_setting, write_text_atomically
from dcgan_keras.image_cache import ImageCache, cache_path, open_cache, write_cache

MNIST = "mnist-embedded"
MNIST_DIR = pathlib.Path(__file__).parent / "mnist"
MNIST_FILES = {
    "images": (
        "t10k-images-idx3-ubyte.gz",
        "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    ),
    "labels": (
        "t10k-labels-idx1-ubyte.gz",
        "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    ),
}
# Google's Noto Emoji at the paper's 64x64x3 (images Apache-2.0, packaging MIT: see emoji/README.md).
EMOJI = "emoji-embedded"
EMOJI_DIR = pathlib.Path(__file__).parent / "emoji"
EMOJI_FILE = ("images.npz", "8166e7accf54828f6fb05bdd621a1e984cb5b1b009951f3daf2f8481043a1de2")
# The files of a folder that are read as images (in any case: ".JPG" too), and those that are images Pillow
# cannot decode: a folder holding one is refused, rather than trained without it.
IMAGE_SUFFIXES = {".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                  ".pbm", ".pgm", ".ppm", ".pnm", ".tga", ".jp2", ".qoi"}
UNREADABLE_IMAGE_SUFFIXES = {".heic": "HEIC", ".heif": "HEIF", ".jxl": "JPEG XL", ".svg": "SVG (a drawing, not pixels)",
                             **{raw: "camera raw" for raw in (".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf",
                                                              ".rw2")}}
# Images decoded per round of the thread pool: bounds what a cache build holds in memory.
DECODE_CHUNK = 512


class DatasetUnavailableError(UsageError):
    """A dataset could not be loaded here; the message says what to use instead."""


class UnreadableImage(DatasetUnavailableError):
    """One file of a folder that cannot be read as an image: ``path``, and ``why`` in a few words."""

    def __init__(self, message, path, why):
        super().__init__(message)
        self.path, self.why = path, why


# --- the dataset registry ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dataset:
    """What ``train`` knows of a dataset before loading it: its shape and the defaults of a run on it.

    ``width``, ``epochs`` and ``eval_every`` are ``train``'s defaults (chosen so
    that the embedded sets train in minutes on a 2-core CPU). ``features`` names
    the shipped evaluator whose reference set this data is, so that ``train``
    scores it offline; None means InceptionV3 (its weights are downloaded).
    """

    name: str
    about: str
    image_size: int
    channels: int
    width: int = 64
    epochs: int = 18
    eval_every: int = 6
    features: str | None = None


DATASETS = {entry.name: entry for entry in (
    Dataset(MNIST, "28x28 digits: the 10,000 MNIST test images, shipped (offline)", 28, 1, features="mnist"),
    Dataset(EMOJI, "64x64 colour Noto Emoji at the paper's size, 3,786 shipped (offline)", 64, 3, width=32, epochs=36,
            eval_every=9, features="emoji"),
)}
GRAYSCALE_TFDS = ("mnist", "fashion_mnist", "emnist", "kmnist")


def dataset_info(name):
    """The registry's entry for ``name``; a tensorflow-datasets name or "folder" gets MNIST's run defaults.

    Grayscale tensorflow-datasets sets default to 28x28x1, everything else to
    64x64x3. tfds' own "mnist" is scored on the shipped MNIST classifier.
    """
    if name in DATASETS:
        return DATASETS[name]
    grayscale = name in GRAYSCALE_TFDS
    about = "a folder of your own images" if name == "folder" else "a tensorflow-datasets set (downloaded once)"
    return Dataset(name, about, 28 if grayscale else 64, 1 if grayscale else 3,
                   features="mnist" if name == "mnist" else None)


def to_unit_range(images):
    """uint8 pixels in [0, 255] -> float32 in [-1, 1]."""
    return np.asarray(images, dtype="float32") / 127.5 - 1.0


def check_unit_range(images, hint="Use dcgan_keras.data.to_unit_range(images)."):
    """Raise a ``UsageError`` (a ValueError) unless ``images`` are floats in [-1, 1], the tanh range.

    Integer pixels always get the advice to scale them with ``to_unit_range``;
    ``hint`` is the advice for floats outside [-1, 1], which depends on the caller.
    """
    if not np.issubdtype(images.dtype, np.floating):
        raise UsageError(
            f"Expected float images scaled to [-1, 1], got dtype {images.dtype}. "
            f"Use dcgan_keras.data.to_unit_range(images)."
        )
    if not np.isfinite(images).all():
        count = int(np.size(images) - np.isfinite(images).sum())
        raise UsageError(f"The images hold {count} NaN or infinite pixels. "
                         "Find them with np.isfinite(images) and fix the data.")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise UsageError("Expected pixels in [-1, 1] (the range of the generator's tanh), "
                         f"got [{low:.3g}, {high:.3g}]. {hint}")


def to_uint8(images):
    """float pixels in [-1, 1] -> uint8 in [0, 255] (the inverse of to_unit_range)."""
    return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype("uint8")


def _read_verified(path, sha256, dataset=MNIST):
    """The bytes of one shipped file, or an error if they are not the ones the package was built with."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise DatasetUnavailableError(
            f"{path} is missing. Reinstall dcgan_keras (pip install --force-reinstall -e .) to restore {dataset}."
        )
    payload = path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise DatasetUnavailableError(
            f"{path} is corrupt: its sha256 is {digest}, expected {sha256}. "
            f"Reinstall dcgan_keras (pip install --force-reinstall -e .) to restore {dataset}."
        )
    return payload


def _parse_idx(raw, magic, item_shape):
    if int.from_bytes(raw[:4], "big") != magic:
        raise DatasetUnavailableError(f"not an IDX file with magic number {magic}")
    count = int.from_bytes(raw[4:8], "big")
    header = 8 + 4 * len(item_shape)
    return np.frombuffer(raw, dtype="uint8", offset=header).reshape(count, *item_shape)


def load_embedded_mnist(with_labels=False, directory=MNIST_DIR):
    """The MNIST test split shipped in the package: 10,000 uint8 digits, shape ``(10000, 28, 28, 1)``.

    The images have a channel axis, like every image array of the package
    (``load_images``, the models' inputs); ``labels`` are uint8 digits 0-9.

    The files are checked against their sha256 on every load. MNIST is by
    Yann LeCun, Corinna Cortes and Christopher J.C. Burges, under CC BY-SA 3.0.
    """
    directory = pathlib.Path(directory)
    name, sha256 = MNIST_FILES["images"]
    digits = _parse_idx(gzip.decompress(_read_verified(directory / name, sha256)), 2051, (28, 28))
    images = digits[..., None]  # the one channel
    if not with_labels:
        return images
    name, sha256 = MNIST_FILES["labels"]
    labels = _parse_idx(gzip.decompress(_read_verified(directory / name, sha256)), 2049, ())
    return images, labels


def load_embedded_emoji(with_labels=False, directory=EMOJI_DIR):
    """Google's Noto Emoji shipped in the package: 3,786 uint8 RGB images, 64x64, on white.

    With ``with_labels``, returns ``(images, labels, categories, names)``:
    each image's Unicode category (an index into the 10 ``categories``) and
    its short name. About half the images are skin-tone variants of another
    (names with a ``_1F3FB``...``_1F3FF`` suffix, see ``emoji_designs``), and
    the categories are very unequal (People & Body 2,261, Component 5).
    The file is checked against its sha256 on every load. The images are
    Google's, under the Apache License 2.0; see ``emoji/README.md``.
    """
    name, sha256 = EMOJI_FILE
    with np.load(io.BytesIO(_read_verified(pathlib.Path(directory) / name, sha256, EMOJI))) as arrays:
        if not with_labels:
            return arrays["images"]
        categories, names = [str(c) for c in arrays["categories"]], [str(n) for n in arrays["names"]]
        return arrays["images"], arrays["labels"].astype("int32"), categories, names


def emoji_designs(names):
    """One integer per emoji *design*: skin-tone variants of one emoji share it.

    ``"santa_1F3FB"`` and ``"santa"`` are one design drawn in two skin tones.
    Splits by design keep every variant on one side, so a held-out half holds
    emoji the other half has never seen in any tone.
    """
    bases = [str(name).split("_1F3F")[0] for name in names]
    _, design = np.unique(bases, return_inverse=True)
    return design


def center_crop_square(image):
    """Crop the largest centered square: faces stay faces, never squashed."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def fit_image(image, image_size, channels):
    """Center-crop one uint8 image to a square, resize it, set its channels."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    picture = Image.fromarray(center_crop_square(image)).convert("L" if channels == 1 else "RGB")
    if picture.size != (image_size, image_size):
        picture = picture.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(picture).reshape(image_size, image_size, channels)


def _fit_all(images, image_size, channels):
    if isinstance(images, np.ndarray) and images.shape[1:] == (image_size, image_size, channels):
        return images  # already the size and channels asked for: nothing to crop or resize
    return np.stack([fit_image(image, image_size, channels) for image in images])


def folder_cache(directory, image_size=64, channels=3, verbose=True, listing=None, skip_bad=False):
    """The ``ImageCache`` of a folder's images, decoded (in parallel, once) if it is not on disk yet.

    Which files count, and how each is read, is ``list_folder``'s and
    ``read_image``'s: see there (and docs/big-datasets.md). Its key is every
    file's relative path, size and modification time: add, remove or edit an
    image and the next call decodes the folder again. ``listing`` is the
    folder's ``list_folder``, when the caller already has it.

    Files that cannot be read as images are all found in one pass: without
    ``skip_bad`` they are one ``UsageError`` naming them (the count, the first
    few with their reasons, and the file listing them all); with it the cache
    holds the other images, and its ``skipped`` lists the files left out. The
    list is kept beside the cache, so a later call reports the same files
    without decoding them again.
    """
    image_size, channels = _check_size_and_channels(image_size, channels)
    listing = listing or list_folder(directory)
    shape = (image_size, image_size, channels)
    notes = unreadable_list_path(cache_path(listing.label, shape, listing.key))
    unreadable = []

    def fit(path):
        try:
            return fit_image(read_image(path), image_size, channels)
        except UnreadableImage as error:
            return error

    def chunks():
        yield from _decoded(listing.paths, fit, unreadable)
        # Written before the cache is renamed into place: a complete cache always has its list.
        write_text_atomically(json.dumps(
            [{"path": os.fsdecode(os.path.relpath(error.path, listing.directory)), "reason": error.why}
             for error in unreadable], indent=1), notes)

    cache = _cached(listing.label, shape, listing.key, chunks(), len(listing.paths), listing.directory, verbose)
    cache.skipped = _read_unreadable(notes, listing.directory)
    if cache.skipped and (not skip_bad or len(cache) == 0):
        raise UnreadableImage(_unreadable_message(cache.skipped, len(listing.paths), listing.directory, notes),
                              *cache.skipped[0])
    if cache.skipped and verbose:
        print(f"Skipping {len(cache.skipped)} file(s) that cannot be read as images: "
              f"{_first_few(cache.skipped, notes)}.")
    return cache


def unreadable_list_path(cache):
    """Where the files a folder's cache left out (as unreadable) are listed: beside the cache."""
    return pathlib.Path(cache).with_suffix(".unreadable.json")


def _read_unreadable(notes, directory):
    """The ``(path, why)`` of each file the cache left out; none for a cache older than these lists."""
    try:
        entries = json.loads(notes.read_text())
    except FileNotFoundError:
        return ()
    return tuple((pathlib.Path(directory, entry["path"]), entry["reason"]) for entry in entries)


def _first_few(skipped, notes, shown=3):
    named = "; ".join(f"{path} ({why})" for path, why in skipped[:shown])
    rest = len(skipped) - shown
    return named + (f"; and {rest} more, all listed in {notes}" if rest > 0 else "")


def _unreadable_message(skipped, count, directory, notes):
    """One line for a folder with unreadable files: all of them counted, the first few named, and the way out."""
    left = count - len(skipped)
    fix = f"Remove or replace {'it' if len(skipped) == 1 else 'them'}"
    if left:
        fix += f", or pass --skip-bad-images (skip_bad=True in Python) to train on the other {left}"
    if len(skipped) == 1:
        ((path, why),) = skipped
        return f"Cannot read {path} as an image ({why}). {fix}."
    return (f"{len(skipped)} of the {count} image files under {directory} cannot be read as images: "
            f"{_first_few(skipped, notes)}. {fix}.")


def _suffixes():
    """The suffixes read as images here, and those of images that cannot be decoded here (-> their format)."""
    try:  # Pillow 11.2 and later, where built with libavif
        from PIL.AvifImagePlugin import SUPPORTED as avif
    except ImportError:
        avif = False
    if avif:
        return IMAGE_SUFFIXES | {".avif"}, UNREADABLE_IMAGE_SUFFIXES
    return IMAGE_SUFFIXES, {**UNREADABLE_IMAGE_SUFFIXES, ".avif": "AVIF (this Pillow cannot read it)"}


@dataclasses.dataclass(frozen=True)
class FolderListing:
    """The image files of a folder, as ``folder_cache`` reads them, and the key of their cache."""

    directory: pathlib.Path
    paths: tuple
    key: dict  # {"folder": the resolved path, "files": a digest of every file's relative path, size and mtime}

    @property
    def label(self):
        return f"folder-{hashlib.sha256(os.fsencode(self.key['folder'])).hexdigest()[:8]}"

    @property
    def fingerprint(self):
        """The images, wherever the folder is: their count and the digest of their paths, sizes and times."""
        return {"images": len(self.paths), "files": self.key["files"]}


def list_folder(directory):
    """The image files under ``directory``, sorted, each once, as a ``FolderListing``; or one line saying why not.

    - Image files are those ending in ``IMAGE_SUFFIXES``, in any case
      (``.JPG``), directly or in sub-folders; other files are ignored,
      except images Pillow cannot decode (HEIC, camera raw, ...: an error
      that says to convert them), and AVIF where this Pillow lacks it.
    - Hidden files and folders (names starting with ".": ``.DS_Store``, the
      ``._photo.jpg`` copies macOS leaves on other disks, ``.git``) are skipped.
    - Linked folders and files are followed. A folder or file reached twice
      (two links to one folder, a link back up the tree) counts once, at the
      first path in sorted order, so a cycle neither hangs nor duplicates.
    - A link to nothing, or a sub-folder that cannot be listed, is an error
      naming it: its images would otherwise be left out without a word.
    """
    if isinstance(directory, str) and not directory.strip():
        raise UsageError("The image folder is an empty string; give its path (. for the working folder).")
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise DatasetUnavailableError(f"{directory} is not a folder of images.")

    def unlistable(error):
        raise DatasetUnavailableError(
            f"Cannot list {error.filename} ({error.strerror}), so its images would be left out. "
            f"Make it readable, or move it out of {directory}."
        )

    readable, undecodable = _suffixes()
    found, folders, files = [], set(), set()
    for root, subfolders, names in os.walk(directory, onerror=unlistable, followlinks=True):
        folder = os.stat(root)
        if (folder.st_dev, folder.st_ino) in folders:  # reached again through a link: listed once already
            subfolders.clear()
            continue
        folders.add((folder.st_dev, folder.st_ino))
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            suffix = os.path.splitext(name)[1].lower()
            if not name.startswith(".") and suffix in undecodable:
                raise DatasetUnavailableError(
                    f"{pathlib.Path(root, name)} is an image in a format that cannot be decoded here "
                    f"({undecodable[suffix]}), and leaving it out would train on part of {directory}. Convert such "
                    f"files to PNG or JPEG, or move them out of the folder."
                )
            if name.startswith(".") or suffix not in readable:
                continue
            path = pathlib.Path(root, name)
            try:
                stat = path.stat()  # follows links
            except FileNotFoundError:
                raise DatasetUnavailableError(
                    f"{path} is a link to {os.readlink(path)}, which does not exist. Restore the file, or "
                    f"remove the link."
                ) from None
            if (stat.st_dev, stat.st_ino) not in files and os.path.isfile(path):
                files.add((stat.st_dev, stat.st_ino))
                found.append((path, stat))
    if not found:
        raise DatasetUnavailableError(
            f"No images found under {directory}. Expected files ending in "
            f"{', '.join(sorted(readable))} (any case), directly or in sub-folders."
        )
    found.sort(key=lambda item: item[0])
    digest = hashlib.sha256()
    for path, stat in found:  # the stat of the walk: the part of a warm start that grows with the folder
        # os.fsencode: a file name that is not UTF-8 (its bytes kept as surrogates) is hashed as its bytes.
        digest.update(os.fsencode(f"{path.relative_to(directory)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"))
    key = {"folder": str(directory.resolve()), "files": digest.hexdigest()}
    return FolderListing(directory, tuple(path for path, _ in found), key)


def _check_size_and_channels(image_size, channels):
    """``(image_size, channels)`` as ints, or one line saying which is wrong."""
    image_size = check_whole_number("image_size", image_size, 1, "the side of the square images, in pixels")
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels not in (1, 3):
        raise UsageError(f"channels must be 1 or 3 (grayscale or RGB), got {channels!r}.")
    return image_size, int(channels)


def _cached(label, image_shape, key, chunks, count, source, verbose):
    """The cache of ``key``: opened if complete, else written from ``chunks`` (a generator, not started)."""
    check_cache_setting()
    path = cache_path(label, image_shape, key)
    cache = open_cache(path)
    if cache is None:
        if verbose:
            print(f"Decoding {count if count is not None else 'the'} images of {source} once, into {path}")
        try:
            cache = write_cache(path, image_shape, chunks, count, verbose)
        except OSError as error:  # a read-only or full disk: say where, and how to choose another
            raise UsageError(f"Cannot write the image cache {path} ({error.strerror or error}). Free some space "
                             f"there, or set DCGAN_KERAS_CACHE to a folder with room for it.") from error
    return cache


def _decoded(items, fit, unreadable=None):
    """uint8 arrays of up to DECODE_CHUNK images ``fit(item)``, fitted by a pool of threads.

    Pillow releases the GIL while it decodes and resizes, so the threads run in
    parallel; each round holds one chunk, so memory does not grow with the source.
    ``fit`` may return an ``UnreadableImage`` instead: it is added to the list
    ``unreadable``, and the item left out.
    """
    items = iter(items)  # one pass: tfds.as_numpy gives an iterable that would restart
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        while chunk := [item for _, item in zip(range(DECODE_CHUNK), items)]:
            fitted = list(pool.map(fit, chunk))
            if unreadable is not None:
                unreadable.extend(image for image in fitted if isinstance(image, UnreadableImage))
                fitted = [image for image in fitted if not isinstance(image, UnreadableImage)]
            if fitted:
                yield np.stack(fitted)


def read_image(path):
    """One image file as a uint8 RGB array, read so that it looks as it does in an image viewer.

    - Upright: the EXIF orientation of a phone photo is applied.
    - 16-bit images (PNG, TIFF) are scaled to 8 bits (65535 -> 255), not
      clipped; 32-bit integer pixels must lie in 0..65535 and are scaled the
      same way; floating-point pixels must lie in [0, 1] (or [0, 255]).
    - Transparent pixels (RGBA, grayscale with alpha, a palette or a colour
      marked transparent) are laid on white, like the embedded emoji.
    - Palette, 1-bit, CMYK, YCbCr, HSV and LAB images are converted to RGB
      (LAB with littlecms; embedded colour profiles are not applied).
    - An animated GIF, PNG or WebP, or a multi-page TIFF, gives its first frame.

    A file that cannot be read so (empty, truncated, not an image, pixels out
    of those ranges) is an ``UnreadableImage`` (a ``UsageError``) naming it.
    """
    try:
        with Image.open(path) as picture:
            picture.load()
            ImageOps.exif_transpose(picture, in_place=True)  # a no-op without an EXIF orientation
            return np.asarray(_as_rgb(picture, path))
    except UsageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, ImportError,
            Image.DecompressionBombError) as error:
        why = "it is empty (0 bytes)" if _is_empty(path) else f"{type(error).__name__}: {error}"
        raise UnreadableImage(f"Cannot read {path} as an image ({why}). Remove or replace it.", path, why) from error


def _is_empty(path):
    try:
        return os.path.getsize(path) == 0
    except OSError:  # gone since it was listed: the error says so
        return False


def _as_rgb(picture, path):
    """An upright Pillow image as 8-bit RGB, by the rules of ``read_image``."""
    if picture.mode.startswith("I") or picture.mode == "F":
        picture = _eight_bit(picture, path)
    if picture.mode == "LAB":
        from PIL import ImageCms

        to_srgb = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
        picture = ImageCms.applyTransform(picture, to_srgb)
    if picture.mode == "P":
        picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
    if picture.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in picture.info:
        picture = Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture.convert("RGBA"))
    return picture.convert("RGB")


def _eight_bit(picture, path):
    """A 16-bit, 32-bit integer or floating-point grayscale image as 8-bit (mode L), scaled, never clipped."""
    pixels = np.asarray(picture, dtype="float64")
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if picture.mode == "F":
        if not np.isfinite(pixels).all() or low < 0 or high > 255:
            why = f"its floating-point pixels run from {low:g} to {high:g}, and only [0, 1] (or [0, 255]) can be read"
            raise UnreadableImage(f"Cannot read {path}: {why} as brightness. Save it as an 8-bit or 16-bit image.",
                                  path, why)
        scale = 255.0 if high <= 1.0 else 1.0
    else:
        if low < 0 or high > 65535:
            why = f"its integer pixels run from {low:g} to {high:g}, outside the 16-bit range 0..65535"
            raise UnreadableImage(f"Cannot read {path}: {why} that is scaled to 8 bits. Save it as an 8-bit or 16-bit "
                                  "image.", path, why)
        scale = 1.0 / 257.0  # 65535 -> 255
    return Image.fromarray(np.round(pixels * scale).astype("uint8"))


def tfds_cache(name, image_size, channels, split="train", data_dir=None, verbose=True):
    """The ``ImageCache`` of a tensorflow-datasets split, streamed through ``tf.data`` and decoded once.

    Fails within seconds, with a message naming the offline alternatives, when
    the dataset is not on disk and cannot be downloaded. The cache is keyed by
    the name, split, data_dir and the dataset's version.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        with _few_download_retries():
            dataset, info = tfds.load(name, split=split, data_dir=data_dir, shuffle_files=False, with_info=True)
    except Exception as error:  # tfds raises many types: not found, offline, ...
        raise DatasetUnavailableError(
            f"tensorflow-datasets could not load {name!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}). If this machine is offline, "
            f"train on the embedded MNIST (--dataset {MNIST}), the embedded "
            f"emoji (--dataset {EMOJI}) or a folder of your own images (--image-dir PATH)."
        ) from error
    count = int(dataset.cardinality())
    # tf.data decodes in parallel and a step ahead; the threads of _decoded crop and resize.
    images = dataset.map(lambda example: example["image"], num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
    key = {"tfds": name, "split": split, "data_dir": str(data_dir), "version": str(info.version)}
    chunks = _decoded(tfds.as_numpy(images), lambda image: fit_image(image, image_size, channels))
    label = "-".join(["tfds"] + [re.sub(r"[^A-Za-z0-9_.]+", "_", part) for part in (name, split)])  # "lsun/bedroom"
    return _cached(label, (image_size, image_size, channels), key, chunks,
                   count if count >= 0 else None, f"{name} ({split})", verbose)


class _few_download_retries:
    """tfds retries a failed download 40 times (minutes offline); try once."""

    def __enter__(self):
        from tensorflow_datasets.core.download import downloader

        self._module, self._saved = downloader, downloader.MAX_RETRIES
        downloader.MAX_RETRIES = 1

    def __exit__(self, *exc):
        self._module.MAX_RETRIES = self._saved


def open_images(dataset=MNIST, image_size=28, channels=1, image_dir=None, data_dir=None, skip_bad=False):
    """Images from any source, for ``make_dataset``: in memory if small, else streamed from disk.

    The embedded datasets come back as float32 arrays in [-1, 1]. A folder
    (``image_dir``) or a tensorflow-datasets split comes back as its uint8
    ``ImageCache``, decoded on first use (see ``folder_cache``); ``make_dataset``
    reads it one batch at a time. Arguments as for ``load_images``; ``skip_bad``
    leaves out a folder's unreadable files instead of refusing it (see ``folder_cache``).
    """
    image_size, channels = _check_size_and_channels(image_size, channels)
    if image_dir is not None:
        return folder_cache(image_dir, image_size, channels, skip_bad=skip_bad)
    if not isinstance(dataset, str) or not dataset.strip():
        raise UsageError(f"dataset must be a name ({MNIST!r}, {EMOJI!r} or a tensorflow-datasets name), "
                         f"got {dataset!r}; for a folder of images pass image_dir.")
    if dataset == MNIST:
        return to_unit_range(_fit_all(load_embedded_mnist(), image_size, channels))
    if dataset == EMOJI:
        return to_unit_range(_fit_all(load_embedded_emoji(), image_size, channels))
    return tfds_cache(dataset, image_size, channels, data_dir=data_dir)


def load_images(dataset=MNIST, image_size=28, channels=1, image_dir=None, data_dir=None):
    """Images from any source, float32 in [-1, 1], shape ``(N, size, size, channels)``, in memory.

    Args:
        dataset: ``"mnist-embedded"`` (offline, the default), ``"emoji-embedded"``
            (offline, 64x64x3 colour) or the name of a tensorflow-datasets image
            dataset ("mnist", "cifar10", "celeb_a", ...).
        image_size: square output size (see ``dcgan_keras.models.valid_image_sizes``).
        channels: 1 for grayscale, 3 for RGB.
        image_dir: a folder of your own images; overrides ``dataset``.
        data_dir: where tensorflow-datasets keeps its downloads.

    Four bytes per pixel for every image: for CelebA or LSUN use ``open_images``.
    """
    return as_unit_range(open_images(dataset, image_size, channels, image_dir, data_dir)[:])


def as_unit_range(images):
    """uint8 images scaled to [-1, 1]; float images (already scaled) as they are."""
    return to_unit_range(images) if images.dtype == np.uint8 else images


def epoch_order(num_images, seed, epoch):
    """The shuffle of one epoch: a pure function of ``(seed, epoch)``.

    Nothing about it lives in an iterator, so a run resumed at epoch 7 sees
    epoch 7's order, not epoch 0's again.
    """
    return np.random.default_rng([seed, epoch]).permutation(num_images)


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled full batches of images (in memory, or read from an ``ImageCache``), as an endless stream of steps.

    Make one with ``make_dataset``, the package's one name for the stream.

    Batch ``i`` is global step ``first_step + i``: epoch ``step // steps_per_epoch``
    of ``epoch_order``, position ``step % steps_per_epoch``. Every batch is a
    function of its step alone, so a run can restart at any step and see the
    same data as an uninterrupted one (``dcgan_keras.resume``). The last
    ``len(images) % batch_size`` images of each shuffle are left out: BatchNorm
    statistics over a tiny last batch are noise, and a fixed shape is traced once.

    The shuffle is a permutation of the whole dataset, not a buffer: a folder
    sorted by class is mixed from the first batch, and no order lives in an
    iterator. ``images`` may be floats in [-1, 1], or uint8 pixels (an array or
    an ``ImageCache``) that each batch scales as it is read: a cache is read
    one batch at a time, so memory does not grow with the dataset.

    It is a ``keras.utils.PyDataset``, so it feeds ``fit()`` on every backend.
    ``DCGAN.fit`` sets ``steps_per_epoch`` to one pass over the images unless
    you pass your own.
    """

    def __init__(self, images, batch_size=128, seed=0, first_step=0):
        super().__init__()
        batch_size = check_whole_number("batch_size", batch_size, 1, "images per step")
        seed = check_whole_number("seed", seed, 0, "it picks each epoch's shuffle")
        if not isinstance(images, ImageCache):
            images = np.asarray(images)
        if images.ndim != 4:
            hint = " Add the channel axis: images[..., None]." if images.ndim == 3 else ""
            raise UsageError(f"Expected images of shape (N, height, width, channels), got {images.shape}.{hint}")
        if images.dtype != np.uint8:
            check_unit_range(images)  # once, here: every later copy of the stream shares these images
        if len(images) < batch_size:
            raise UsageError(
                f"batch_size={batch_size} is larger than the {len(images)} images; use a smaller batch."
            )
        self.images, self.batch_size, self.seed, self.first_step = images, batch_size, seed, first_step
        self.steps_per_epoch = len(images) // batch_size
        self._order = (None, None)  # (epoch, permutation): one epoch's order at a time

    @property
    def num_batches(self):
        return None  # endless: fit() stops after epochs * steps_per_epoch steps

    def starting_at(self, step):
        """The same stream, starting at global step ``step`` (the images are not checked again)."""
        stream = copy.copy(self)
        stream.first_step, stream._order = step, (None, None)
        return stream

    def as_tf_dataset(self):
        """The same stream as a ``tf.data`` pipeline whose batches have a static shape.

        ``DCGAN.fit`` uses it on TensorFlow: fed as a ``PyDataset``, Keras would
        declare the batch size unknown, and Grappler then cannot fuse some
        convolutions with their activations. Each batch is still ``self[step]``.
        """
        import tensorflow as tf

        shape, dtype = (self.batch_size, *self.images.shape[1:]), tf.as_dtype(self.images.dtype)
        dtype = tf.float32 if dtype == tf.uint8 else dtype  # scaled as each batch is read

        def batch(step):
            images = tf.numpy_function(lambda index: self[int(index)], [step], dtype, stateful=False)
            return tf.ensure_shape(images, shape)

        dataset = tf.data.Dataset.counter().map(batch).prefetch(1)
        # No autotuning thread: its shutdown kept fit() idle for seconds at the end
        # (benchmarks/throughput.py), and an in-memory stream has nothing to tune.
        options = tf.data.Options()
        options.autotune.enabled = False
        return dataset.with_options(options)

    def __getitem__(self, index):
        epoch, position = divmod(self.first_step + index, self.steps_per_epoch)
        if self._order[0] != epoch:
            self._order = (epoch, epoch_order(len(self.images), self.seed, epoch))
        chosen = self._order[1][position * self.batch_size : (position + 1) * self.batch_size]
        return as_unit_range(self.images[np.sort(chosen)])  # sorted reads are faster; the batch is a set


def make_dataset(images, batch_size=128, seed=0):
    """Images (floats in [-1, 1], uint8, or ``open_images``' cache) as ``TrainingBatches`` for ``DCGAN.fit``."""
    return TrainingBatches(images, batch_size, seed)
