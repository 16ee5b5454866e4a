"""Images for training: the embedded MNIST or emoji, tensorflow-datasets, or a folder.

Every source ends the same way: square images (center-cropped, never
squashed), resized, in grayscale or RGB, as float32 scaled to [-1, 1], the
range of the generator's tanh. ``make_dataset`` turns them into a stream of
shuffled batches for ``DCGAN.fit()`` whose order depends on nothing but the
seed and the step, on every backend.
"""

import copy
import gzip
import hashlib
import io
import pathlib

import keras
import numpy as np
from PIL import Image, UnidentifiedImageError

from dcgan_keras.errors import UsageError

EMBEDDED = "mnist-embedded"
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
# The embedded datasets and their native (size, channels): the CLI's defaults for them.
EMBEDDED_SHAPES = {EMBEDDED: (28, 1), EMOJI: (64, 3)}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class DatasetUnavailableError(UsageError):
    """A dataset could not be loaded here; the message says what to use instead."""


def to_unit_range(images):
    """uint8 pixels in [0, 255] -> float32 in [-1, 1]."""
    return np.asarray(images, dtype="float32") / 127.5 - 1.0


def check_unit_range(images, hint="Use dcgan_keras.data.to_unit_range(images)."):
    """Raise a ``UsageError`` (a ValueError) unless ``images`` are floats in [-1, 1], the tanh range."""
    if not np.issubdtype(images.dtype, np.floating):
        raise UsageError(
            f"Expected float images scaled to [-1, 1], got dtype {images.dtype}. "
            f"Use dcgan_keras.data.to_unit_range(images)."
        )
    if not np.isfinite(images).all():
        count = int(np.size(images) - np.isfinite(images).sum())
        raise UsageError(f"The images hold {count} NaN or infinite pixels. Find them with np.isfinite(images) and fix the data.")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise UsageError(f"Expected pixels in [-1, 1] (the range of the generator's tanh), got [{low:.3g}, {high:.3g}]. {hint}")


def to_uint8(images):
    """float pixels in [-1, 1] -> uint8 in [0, 255] (the inverse of to_unit_range)."""
    return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype("uint8")


def _read_verified(path, sha256, dataset=EMBEDDED):
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
    """The MNIST test split shipped in the package: 10,000 uint8 digits, 28x28.

    The files are checked against their sha256 on every load. MNIST is by
    Yann LeCun, Corinna Cortes and Christopher J.C. Burges, under CC BY-SA 3.0.
    """
    directory = pathlib.Path(directory)
    name, sha256 = MNIST_FILES["images"]
    images = _parse_idx(gzip.decompress(_read_verified(directory / name, sha256)), 2051, (28, 28))
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


def load_folder(directory, image_size=64, channels=3):
    """Every image file under ``directory`` (nested folders too) as uint8.

    Unreadable files raise an error naming the file; so does a folder with no
    images in it.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise DatasetUnavailableError(f"{directory} is not a folder of images.")
    paths = sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )
    if not paths:
        raise DatasetUnavailableError(
            f"No images found under {directory}. Expected files ending in "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}, directly or in sub-folders."
        )
    return np.stack([fit_image(_read_image(path), image_size, channels) for path in paths])


def _read_image(path):
    try:
        with Image.open(path) as picture:
            return np.asarray(picture.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetUnavailableError(
            f"Cannot read {path} as an image ({error}). Remove or replace it."
        ) from error


def load_tfds(name, image_size, channels, split="train", data_dir=None):
    """A tensorflow-datasets image dataset as uint8 ``(N, size, size, channels)``.

    Fails within seconds, with a message naming the offline alternatives, when
    the dataset is not on disk and cannot be downloaded.
    """
    import tensorflow_datasets as tfds

    try:
        with _few_download_retries():
            dataset = tfds.load(name, split=split, data_dir=data_dir)
    except Exception as error:  # tfds raises many types: not found, offline, ...
        raise DatasetUnavailableError(
            f"tensorflow-datasets could not load {name!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}). If this machine is offline, "
            f"train on the embedded MNIST (--dataset {EMBEDDED}), the embedded "
            f"emoji (--dataset {EMOJI}) or a folder of your own images (--image-dir PATH)."
        ) from error
    return _fit_all(
        (example["image"] for example in tfds.as_numpy(dataset)), image_size, channels
    )


class _few_download_retries:
    """tfds retries a failed download 40 times (minutes offline); try once."""

    def __enter__(self):
        from tensorflow_datasets.core.download import downloader

        self._module, self._saved = downloader, downloader.MAX_RETRIES
        downloader.MAX_RETRIES = 1

    def __exit__(self, *exc):
        self._module.MAX_RETRIES = self._saved


def load_images(dataset=EMBEDDED, image_size=28, channels=1, image_dir=None, data_dir=None):
    """Images from any source, float32 in [-1, 1], shape ``(N, size, size, channels)``.

    Args:
        dataset: ``"mnist-embedded"`` (offline, the default), ``"emoji-embedded"``
            (offline, 64x64x3 colour) or the name of a tensorflow-datasets image
            dataset ("mnist", "cifar10", "celeb_a", ...).
        image_size: square output size (see ``dcgan_keras.models.valid_image_sizes``).
        channels: 1 for grayscale, 3 for RGB.
        image_dir: a folder of your own images; overrides ``dataset``.
        data_dir: where tensorflow-datasets keeps its downloads.
    """
    if channels not in (1, 3):
        raise UsageError(f"channels must be 1 or 3, got {channels}.")
    if image_dir is not None:
        pixels = load_folder(image_dir, image_size, channels)
    elif dataset == EMBEDDED:
        pixels = _fit_all(load_embedded_mnist(), image_size, channels)
    elif dataset == EMOJI:
        pixels = _fit_all(load_embedded_emoji(), image_size, channels)
    else:
        pixels = load_tfds(dataset, image_size, channels, data_dir=data_dir)
    return to_unit_range(pixels)


def epoch_order(num_images, seed, epoch):
    """The shuffle of one epoch: a pure function of ``(seed, epoch)``.

    Nothing about it lives in an iterator, so a run resumed at epoch 7 sees
    epoch 7's order, not epoch 0's again.
    """
    return np.random.default_rng([seed, epoch]).permutation(num_images)


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled full batches of in-memory images, as an endless stream of steps.

    Batch ``i`` is global step ``first_step + i``: epoch ``step // steps_per_epoch``
    of ``epoch_order``, position ``step % steps_per_epoch``. Every batch is a
    function of its step alone, so a run can restart at any step and see the
    same data as an uninterrupted one (``dcgan_keras.resume``). The last
    ``len(images) % batch_size`` images of each shuffle are left out: BatchNorm
    statistics over a tiny last batch are noise, and a fixed shape is traced once.

    It is a ``keras.utils.PyDataset``, so it feeds ``fit()`` on every backend.
    ``DCGAN.fit`` sets ``steps_per_epoch`` to one pass over the images unless
    you pass your own.
    """

    def __init__(self, images, batch_size=128, seed=0, first_step=0):
        super().__init__()
        images = np.asarray(images)
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
        return self.images[np.sort(chosen)]  # sorted reads are faster; the batch is a set


def make_dataset(images, batch_size=128, seed=0):
    """Float images in [-1, 1] as ``TrainingBatches`` for ``DCGAN.fit``."""
    return TrainingBatches(images, batch_size, seed)
