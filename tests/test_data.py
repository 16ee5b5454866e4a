"""Data sources: the embedded MNIST, tensorflow-datasets (offline, mocked), folders."""

import shutil
import time

import numpy as np
import pytest
from PIL import Image

from dcgan_keras import data


def test_embedded_mnist_is_the_published_test_split():
    images, labels = data.load_embedded_mnist(with_labels=True)
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert images.mean() == pytest.approx(33.79, abs=0.01)


def test_load_images_scales_to_unit_range():
    images = data.load_images()
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    np.testing.assert_array_equal(data.to_uint8(images), data.load_embedded_mnist())


def test_embedded_mnist_resized_and_rgb():
    images = data.load_images(image_size=32, channels=3)
    assert images.shape == (10_000, 32, 32, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # grey stays grey


def test_corrupt_file_fails_its_checksum(tmp_path):
    for name, _ in data.MNIST_FILES.values():
        shutil.copy(data.MNIST_DIR / name, tmp_path / name)
    target = tmp_path / data.MNIST_FILES["images"][0]
    payload = bytearray(target.read_bytes())
    payload[1000] ^= 0xFF
    target.write_bytes(bytes(payload))
    with pytest.raises(data.DatasetUnavailableError, match="sha256"):
        data.load_embedded_mnist(directory=tmp_path)


def test_embedded_emoji_shape_range_and_categories():
    images, labels, categories, names = data.load_embedded_emoji(with_labels=True)
    assert images.shape == (3786, 64, 64, 3) and images.dtype == np.uint8 and len(names) == 3786
    assert categories[6] == "People & Body" and len(categories) == 10
    assert np.bincount(labels).tolist() == [85, 159, 5, 270, 131, 264, 2261, 169, 224, 218]
    assert images[:, 0, 0].min() == 255  # every emoji sits on white: its corner pixel
    scaled = data.load_images(data.EMOJI, 64, 3)
    assert scaled.shape == (3786, 64, 64, 3) and scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_array_equal(data.to_uint8(scaled), images)
    assert data.load_images(data.EMOJI, 32, 1).shape == (3786, 32, 32, 1)


def test_emoji_designs_group_skin_tones():
    names = ["santa", "santa_1F3FB", "santa_1F3FF", "snowman", "couple_1F3FB-1F3FC"]
    designs = data.emoji_designs(names)
    assert designs[0] == designs[1] == designs[2] != designs[3] and designs[4] not in designs[:4]
    _, _, _, all_names = data.load_embedded_emoji(with_labels=True)
    assert data.emoji_designs(all_names).max() + 1 == 1911


def test_corrupt_or_missing_emoji_fails_with_one_clear_line(tmp_path):
    name = data.EMOJI_FILE[0]
    payload = bytearray((data.EMOJI_DIR / name).read_bytes())
    payload[5000] ^= 0xFF
    (tmp_path / name).write_bytes(bytes(payload))
    with pytest.raises(data.DatasetUnavailableError, match=r"is corrupt: its sha256 is .* restore emoji-embedded"):
        data.load_embedded_emoji(directory=tmp_path)
    with pytest.raises(data.DatasetUnavailableError, match="is missing. Reinstall"):
        data.load_embedded_emoji(directory=tmp_path / "nowhere")


def test_tfds_path_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        mnist = data.load_images("mnist", image_size=28, channels=1)
        faces = data.load_images("celeb_a", image_size=64, channels=3)  # 218x178, cropped
    assert mnist.shape == (6, 28, 28, 1) and faces.shape == (6, 64, 64, 3)
    for images in (mnist, faces):
        assert images.dtype == np.float32 and -1 <= images.min() and images.max() <= 1


def test_tfds_offline_fails_fast_with_alternatives(tmp_path, monkeypatch):
    import requests

    def no_network(*args, **kwargs):
        raise requests.exceptions.ConnectionError("no network in this test")

    monkeypatch.setattr(requests.Session, "get", no_network)
    started = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError, match="mnist-embedded") as error:
        data.tfds_cache("mnist", 28, 1, data_dir=str(tmp_path))
    assert "--image-dir" in str(error.value)
    assert time.perf_counter() - started < 30


def test_unknown_tfds_name_is_explained(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="no_such_dataset"):
        data.tfds_cache("no_such_dataset", 28, 1, data_dir=str(tmp_path))


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_of_images_nested_any_format(tmp_path):
    rng = np.random.default_rng(0)
    _write(tmp_path / "a.png", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    _write(tmp_path / "sub" / "b.jpg", rng.integers(0, 255, (30, 50, 3), dtype=np.uint8))
    _write(tmp_path / "sub" / "deeper" / "c.bmp", rng.integers(0, 255, (64, 64), dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image, ignored")
    images = data.load_images(image_dir=tmp_path, image_size=32, channels=3)
    assert images.shape == (3, 32, 32, 3)
    assert data.load_images(image_dir=tmp_path, image_size=16, channels=1).shape == (3, 16, 16, 1)


def test_wide_image_is_center_cropped_not_squashed(tmp_path):
    wide = np.zeros((20, 60, 3), dtype=np.uint8)
    wide[:, 20:40] = 255  # a white middle square between black side panels
    _write(tmp_path / "wide.png", wide)
    (image,) = data.folder_cache(tmp_path, image_size=20, channels=1)[:]
    assert image.min() == 255  # only the middle square survives


def test_empty_folder_and_unreadable_file(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="No images found"):
        data.folder_cache(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(data.DatasetUnavailableError, match="broken.png"):
        data.folder_cache(tmp_path)
    with pytest.raises(data.DatasetUnavailableError, match="not a folder"):
        data.folder_cache(tmp_path / "missing")


def test_make_dataset_streams_full_shuffled_batches_by_step():
    images = np.linspace(-1, 1, 100 * 4, dtype="float32").reshape(100, 2, 2, 1)
    stream = data.make_dataset(images, batch_size=32, seed=0)
    assert stream.steps_per_epoch == 3 and stream.num_batches is None  # remainder dropped; endless
    epochs = [np.concatenate([stream[epoch * 3 + i] for i in range(3)])[:, 0, 0, 0] for epoch in (0, 1)]
    assert all(len(np.unique(pixels)) == 96 for pixels in epochs)  # no image twice within an epoch
    assert not np.array_equal(np.sort(epochs[0]), np.sort(epochs[1]))  # a new shuffle each epoch
    # A batch depends on its step alone: a stream started later agrees, and so does a second stream.
    np.testing.assert_array_equal(stream.starting_at(4)[0], stream[4])
    np.testing.assert_array_equal(data.make_dataset(images, 32, seed=0)[7], stream[7])
    assert not np.array_equal(data.make_dataset(images, 32, seed=1)[0], stream[0])
    with pytest.raises(ValueError, match="smaller batch"):
        data.make_dataset(images, batch_size=101)


