"""The on-disk image cache and the streaming input: keyed, atomic, flat in memory, honestly shuffled."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dcgan_keras import data, image_cache

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _write_jpegs(folder, count, value=None, seed=0, size=(178, 218)):
    """``count`` CelebA-sized JPEGs (noise, or a flat grey ``value``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = (rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8) if value is None
                  else np.full((*size[::-1], 3), value, np.uint8))
        Image.fromarray(pixels).save(folder / f"{index:05d}.jpg", quality=90)


def test_cache_is_the_folder_decoded_once_and_a_plain_npy(tmp_path):
    _write_jpegs(tmp_path / "faces", 20)
    cache = data.folder_cache(tmp_path / "faces", 16, 3, verbose=False)
    expected = np.stack([data.fit_image(data.read_image(path), 16, 3)
                         for path in sorted((tmp_path / "faces").iterdir())])
    np.testing.assert_array_equal(cache[:], expected)
    np.testing.assert_array_equal(np.load(cache.path, mmap_mode="r"), expected)  # numpy reads it too
    np.testing.assert_array_equal(cache[[7, 2, 7]], expected[[7, 2, 7]])  # any order, repeats
    np.testing.assert_array_equal(cache[3], expected[3])
    np.testing.assert_array_equal(cache[-1], expected[-1])
    with pytest.raises(IndexError):
        cache[[20]]
    written = cache.path.stat().st_mtime_ns
    assert data.folder_cache(tmp_path / "faces", 16, 3, verbose=False).path.stat().st_mtime_ns == written  # reused


def test_cache_is_rebuilt_when_the_folder_size_or_channels_change(tmp_path):
    folder = tmp_path / "faces"
    _write_jpegs(folder, 6)
    first = data.folder_cache(folder, 16, 3, verbose=False)
    assert data.folder_cache(folder, 16, 1, verbose=False).path != first.path
    assert data.folder_cache(folder, 8, 3, verbose=False).path != first.path
    _write_jpegs(folder / "more", 2, value=200)  # a new file: a new key
    grown = data.folder_cache(folder, 16, 3, verbose=False)
    assert len(grown) == 8 and grown.path != first.path
    assert not first.path.exists()  # the stale cache of the same folder and shape is deleted
    os.utime(folder / "00000.jpg", ns=(1, 1))  # an edited file (new modification time) too
    assert data.folder_cache(folder, 16, 3, verbose=False).path != grown.path


def test_a_half_written_cache_is_never_used(tmp_path, monkeypatch):
    folder = tmp_path / "faces"
    _write_jpegs(folder, 6)
    path = data.folder_cache(folder, 16, 3, verbose=False).path  # where its cache goes
    path.unlink()

    def killed(items, fit, unreadable=None):  # decoding dies after the first chunk
        yield np.stack([fit(item) for item in items[:2]])
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_decoded", killed)
    with pytest.raises(KeyboardInterrupt):
        data.folder_cache(folder, 16, 3, verbose=False)
    assert not path.exists()  # no cache, and Ctrl-C took back its partial file (a SIGKILL leaves it, never read)
    monkeypatch.undo()
    assert len(data.folder_cache(folder, 16, 3, verbose=False)) == 6
    # A file cut short under the final name (a disk filled up, a copy interrupted) is rebuilt too.
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 100)
    assert image_cache.open_cache(path) is None
    cache = data.folder_cache(folder, 16, 3, verbose=False)
    assert len(cache) == 6 and cache.path.stat().st_size == image_cache.HEADER_BYTES + 6 * 16 * 16 * 3


def test_an_unwritable_cache_folder_is_one_clear_error(tmp_path, monkeypatch):
    _write_jpegs(tmp_path / "faces", 2)
    (tmp_path / "a_file").write_text("")
    monkeypatch.setattr(image_cache, "CACHE_FOLDER", tmp_path / "a_file" / "images")
    with pytest.raises(data.UsageError, match="Cannot write the image cache .*DCGAN_KERAS_CACHE"):
        data.folder_cache(tmp_path / "faces", 16, 3, verbose=False)


def test_a_class_sorted_folder_is_mixed_from_the_first_batch(tmp_path):
    """Dark images first, then bright ones (a folder sorted by class): every early batch holds both."""
    _write_jpegs(tmp_path / "a_dark", 256, value=20)
    _write_jpegs(tmp_path / "b_bright", 256, value=230)
    cache = data.open_images(image_dir=tmp_path, image_size=8, channels=1)
    assert cache[:256].mean() < 50 < 200 < cache[256:].mean()  # the cache keeps the sorted order
    stream = data.make_dataset(cache, batch_size=32, seed=0)
    for step in range(4):
        bright = (stream[step].mean(axis=(1, 2, 3)) > 0).mean()
        assert 0.2 < bright < 0.8, f"batch {step} is {bright:.0%} bright"


def test_streamed_batches_are_scaled_and_restorable_by_step(tmp_path):
    _write_jpegs(tmp_path / "faces", 40)
    cache = data.open_images(image_dir=tmp_path / "faces", image_size=16, channels=3)
    stream = data.make_dataset(cache, batch_size=8, seed=3)
    batch = stream[6]
    assert batch.dtype == np.float32 and batch.shape == (8, 16, 16, 3) and -1 <= batch.min() < batch.max() <= 1
    in_memory = data.make_dataset(data.load_images(image_dir=tmp_path / "faces", image_size=16, channels=3), 8, seed=3)
    np.testing.assert_array_equal(batch, in_memory[6])  # the same data order as the in-memory stream
    np.testing.assert_array_equal(stream.starting_at(6)[0], batch)  # and a resumed stream agrees


def test_tfds_is_streamed_into_a_cache_under_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        cache = data.open_images("celeb_a", image_size=32, channels=3)
        again = data.open_images("celeb_a", image_size=32, channels=3)
    assert isinstance(cache, image_cache.ImageCache) and cache.shape == (40, 32, 32, 3)
    assert again.path == cache.path
    with tfds.testing.mock_data(num_examples=8):  # LSUN's name holds a "/", a sliced split brackets
        bedrooms = data.tfds_cache("lsun/bedroom", 16, 3, split="train[:50%]", verbose=False)
    assert bedrooms.path.parent == cache.path.parent and bedrooms.path.name.startswith("tfds-lsun_bedroom-train_")
    assert data.make_dataset(cache, batch_size=16)[0].shape == (16, 32, 32, 3)


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child would report pytest's.
PEAK_MEMORY = """
import re, sys
import dcgan_keras
from dcgan_keras import cli
cli.main(sys.argv[1:])
print("PEAK_KB", re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
"""


@pytest.mark.slow
@pytest.mark.long  # two training processes on 400 and 1,600 JPEGs
def test_training_on_4x_the_images_takes_less_than_15_percent_more_memory(tmp_path):
    """One epoch of `train --image-dir` on 400 and on 1,600 CelebA-sized JPEGs, each in its own process.

    Held in memory, the 1,200 extra images cost about 180 MB (as in-memory
    float32 plus decoding copies), some 20% of the process; streamed from the
    cache they cost nothing.
    """
    peaks = {}
    for count in (400, 1600):
        _write_jpegs(tmp_path / f"set{count}", count, seed=count)
        command = [sys.executable, "-c", PEAK_MEMORY, "train", "--image-dir", str(tmp_path / f"set{count}"),
                   "--image-size", "128", "--channels", "3", "--epochs", "1", "--width", "8", "--batch-size", "64",
                   "--eval-every", "0", "--output", str(tmp_path / f"run{count}")]
        env = {**os.environ, "DCGAN_KERAS_CACHE": str(tmp_path / "cache")}
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        peaks[count] = int(result.stdout.rsplit("PEAK_KB", 1)[1].split()[0])
    growth = peaks[1600] / peaks[400] - 1
    print('PEAKS', json.dumps(peaks))
    assert growth < 0.15, json.dumps(peaks)
