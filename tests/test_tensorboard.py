"""TensorBoard: what TensorBoardLogger and train --tensorboard write, read back with tensorboard's own reader."""

import io
import sys
import types

import keras
import numpy as np
import pytest
from PIL import Image

import dcgan_keras
from dcgan_keras.callbacks import QualityCheckpoint, SampleGrid, TensorBoardLogger
from dcgan_keras.cli import main
from dcgan_keras.plotting import read_history_csv

if keras.backend.backend() != "tensorflow":
    # tensorboard's reader loads TensorFlow where it is installed (seconds) unless this module exists, its
    # switch to the TensorFlow-free stub: read as a JAX or PyTorch machine without TensorFlow does.
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:  # the tests of what happens without it still run
    EventAccumulator = None
needs_tensorboard = pytest.mark.skipif(EventAccumulator is None, reason="the tensorboard package is not installed")

IMAGES = np.random.default_rng(0).uniform(-1.0, 1.0, (32, 28, 28, 1)).astype("float32")


def tiny_gan(seed=0):
    gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=seed)
    gan.compile()
    return gan


def read_events(folder):
    """({tag: [(step, value), ...]} of the scalars, [(step, picture as uint8 array), ...] of the samples)."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0}).Reload()
    scalars = {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    images = []
    for event in events.Images("samples") if "samples" in events.Tags()["images"] else []:
        picture = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))
        assert picture.shape[:2] == (event.height, event.width)
        images.append((event.step, picture))
    return scalars, images


def as_logged(values):
    """A history's numbers as TensorBoard holds them: float32, at 1-based epochs."""
    return [(epoch, float(np.float32(value))) for epoch, value in enumerate(values, start=1)]


@needs_tensorboard
def test_logs_the_history_and_the_same_grid_as_sample_grid_every_epoch(tmp_path):
    grids = SampleGrid(tmp_path / "samples", num_images=4, seed=3, columns=2)
    logger = TensorBoardLogger(tmp_path / "tb", num_images=4, seed=3, columns=2)
    history = tiny_gan().fit(IMAGES, batch_size=16, epochs=2, verbose=0, callbacks=[grids, logger]).history
    scalars, images = read_events(tmp_path / "tb")
    assert set(history) == {"d_loss", "g_loss", "D_x", "D_G_z"}
    assert scalars == {f"training/{key}": as_logged(values) for key, values in history.items()}
    assert [step for step, _ in images] == [1, 2]
    for epoch, (_, picture) in enumerate(images):
        assert picture.shape == (2 * (2 * 28 + 3 * 2), 2 * (2 * 28 + 3 * 2))  # 2x2 grid of 28x28, padded, doubled
        np.testing.assert_array_equal(picture, np.asarray(Image.open(grids.frame_path(epoch))))
    assert not np.array_equal(images[0][1], images[1][1])  # the same z through trained weights: a new picture
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1


class ScriptedEvaluator:
    """Returns the scores it is given, one evaluation at a time."""

    def __init__(self, fids):
        self.fids = list(fids)

    def evaluate_generator(self, generator, num_images, seed, output_range):
        fid = self.fids.pop(0)
        return {"fid": fid, "kid": fid / 100, "classes": 9, "kl": 0.5, "confidence": 0.75}


@needs_tensorboard
def test_scores_reach_tensorboard_wherever_the_quality_checkpoint_is(tmp_path):
    quality = QualityCheckpoint(ScriptedEvaluator([30.5, 20.25]), tmp_path / "quality", every=1,
                                keep_generators=False)
    # One logger before the scoring callback, one after: both log the scores at the epochs scored.
    callbacks = [TensorBoardLogger(tmp_path / "before", num_images=4, columns=2), quality,
                 TensorBoardLogger(tmp_path / "after", num_images=4, columns=2)]
    history = tiny_gan().fit(IMAGES, batch_size=16, epochs=2, verbose=0, callbacks=callbacks).history
    assert history["fid"] == [30.5, 20.25]
    scores = ("fid", "kid", "classes", "kl", "confidence")
    expected = {f"{'quality' if key in scores else 'training'}/{key}": as_logged(values)
                for key, values in history.items()}
    for folder in ("before", "after"):
        scalars, images = read_events(tmp_path / folder)
        assert scalars == expected, folder
        assert scalars["quality/classes"] == [(1, 9.0), (2, 9.0)] and len(images) == 2


@pytest.mark.long  # two trainings: run by pytest -m long
@needs_tensorboard
def test_a_resumed_fit_adds_a_file_and_its_epochs_replace_the_ones_trained_again(tmp_path):
    before = tiny_gan().fit(IMAGES, batch_size=16, epochs=2, verbose=0,
                            callbacks=[TensorBoardLogger(tmp_path, num_images=4, columns=2)]).history
    [first] = tmp_path.iterdir()
    written = first.read_bytes()
    # Resumed from the end of epoch 1 (another state: other weights): epoch 2 is trained and logged again.
    again = tiny_gan(seed=1).fit(IMAGES, batch_size=16, initial_epoch=1, epochs=2, verbose=0,
                                 callbacks=[TensorBoardLogger(tmp_path, num_images=4, columns=2)]).history
    assert len(list(tmp_path.iterdir())) == 2 and first.read_bytes() == written  # nothing rewritten
    scalars, images = read_events(tmp_path)
    assert again["d_loss"][0] != before["d_loss"][1]
    assert scalars["training/d_loss"] == [as_logged(before["d_loss"])[0], (2, float(np.float32(again["d_loss"][0])))]
    assert [step for step, _ in images] == [1, 2]


def _without_tensorboard(monkeypatch):
    """As if tensorboard were not installed: a None entry in sys.modules makes its import fail."""
    for name in {"tensorboard", *(name for name in sys.modules if name.startswith("tensorboard."))}:
        monkeypatch.setitem(sys.modules, name, None)


def test_without_tensorboard_the_callback_says_how_to_install_it(tmp_path, monkeypatch):
    _without_tensorboard(monkeypatch)
    with pytest.raises(dcgan_keras.UsageError, match="pip install tensorboard") as raised:
        TensorBoardLogger(tmp_path)
    assert "\n" not in str(raised.value) and not list(tmp_path.iterdir())


def tiny_train(tmp_path):
    """``train``'s options for a run of two steps an epoch on a folder of 32 digit-sized images, unscored."""
    folder = tmp_path / "images"
    if not folder.exists():
        folder.mkdir()
        for index, image in enumerate(np.round((IMAGES[..., 0] + 1) * 127.5).astype("uint8")):
            Image.fromarray(image).save(folder / f"{index:02d}.png")
    return ["train", "--image-dir", str(folder), "--image-size", "28", "--channels", "1", "--width", "4",
            "--batch-size", "16", "--latent-dim", "8", "--eval-every", "0", "--verbose", "0",
            "--output", str(tmp_path / "run"), "--tensorboard"]


@pytest.mark.long  # two trainings: run by pytest -m long
@needs_tensorboard
def test_train_tensorboard_logs_every_epoch_and_a_longer_run_adds_a_file(tmp_path, capsys):
    main([*tiny_train(tmp_path), "--epochs", "2"])
    output = tmp_path / "run"
    logs = output / "tensorboard"
    assert f"tensorboard --logdir {logs}" in capsys.readouterr().out
    scalars, images = read_events(logs)
    history = read_history_csv(output / "history.csv")
    assert scalars == {f"training/{key}": as_logged(history[key]) for key in ("d_loss", "g_loss", "D_x", "D_G_z")}
    assert [step for step, _ in images] == [1, 2]
    for epoch, picture in images:
        np.testing.assert_array_equal(picture, np.asarray(Image.open(output / "samples" / f"epoch_{epoch:03d}.png")))
    [first] = logs.iterdir()
    written = first.read_bytes()

    main([*tiny_train(tmp_path), "--epochs", "3"])  # the finished run, trained further
    assert len(list(logs.iterdir())) == 2 and first.read_bytes() == written
    scalars, images = read_events(logs)
    assert scalars["training/d_loss"] == as_logged(read_history_csv(output / "history.csv")["d_loss"])
    assert [step for step, _ in images] == [1, 2, 3]


def test_train_tensorboard_without_the_package_is_one_line_and_touches_nothing(tmp_path, capsys, monkeypatch):
    _without_tensorboard(monkeypatch)
    with pytest.raises(SystemExit) as stopped:
        main([*tiny_train(tmp_path), "--epochs", "1"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: TensorBoard logging needs the tensorboard package: pip install tensorboard"]
    assert not (tmp_path / "run").exists()


@needs_tensorboard
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="Keras' TensorBoard writes with TensorFlow")
def test_keras_tensorboard_callback_works_with_dcgan_fit(tmp_path):
    from tensorboard.util.tensor_util import make_ndarray

    history = tiny_gan().fit(IMAGES, batch_size=16, epochs=2, verbose=0,
                             callbacks=[keras.callbacks.TensorBoard(tmp_path)]).history
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0}).Reload()
    logged = [float(make_ndarray(event.tensor_proto)) for event in events.Tensors("epoch_d_loss")]
    assert logged == [float(np.float32(value)) for value in history["d_loss"]]
