"""Exact resume: a run killed at any moment ends bit for bit like one that never stopped."""

import functools
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from PIL import Image

from dcgan_keras.chapters.training_diagnostics import (
    CrashAtStep,
    SimulatedCrash,
    state_difference,
)
from dcgan_keras.data import make_dataset
from dcgan_keras.resume import (
    TrainingDiverged,
    fit_resumably,
    latest_position,
    restore_state,
    save_state,
    snapshots,
)


def _run(gan, images, directory, epochs=3, every=4, callbacks=()):
    return fit_resumably(gan, make_dataset(images, 64, seed=0), epochs, directory, every, callbacks, verbose=0)


# Mid-epoch, an epoch's last step, mid-epoch after a save; the README's command runs the last (pytest -m long all).
@pytest.mark.parametrize("crash_step", [pytest.param(step, marks=pytest.mark.long) for step in (6, 10)] + [17])
def test_a_crashed_run_resumes_bit_for_bit(tmp_path, mnist_images, make_gan, crash_step):
    images = mnist_images[:640]  # 10 steps per epoch
    reference = make_gan()
    _run(reference, images, tmp_path / "reference")

    crashed = make_gan()
    with pytest.raises(SimulatedCrash):
        _run(crashed, images, tmp_path / "crashed", callbacks=[CrashAtStep(crash_step)])
    resumed = make_gan(seed=1)  # other initial weights: the snapshot must win
    start = _run(resumed, images, tmp_path / "crashed")
    assert 0 < start["global_step"] < crash_step
    assert state_difference(reference, resumed) == {"model": 0.0, "d_optimizer": 0.0, "g_optimizer": 0.0,
                                                    "metrics": 0.0}


def test_the_snapshot_holds_the_noise_stream_and_the_running_means(tmp_path, mnist_images, make_gan):
    gan = make_gan()
    gan.fit(make_dataset(mnist_images[:128], 64), epochs=1, verbose=0)
    save_state(gan, tmp_path, global_step=2, steps_per_epoch=2)
    other = make_gan(seed=1)
    position, metrics = restore_state(other, tmp_path)
    assert position == {"epoch": 1, "step": 0, "global_step": 2, "steps_per_epoch": 2}
    # Keras' save_weights keeps neither of these: the seed generator restarts and the means are lost.
    np.testing.assert_array_equal(np.asarray(other.seed_generator.state), np.asarray(gan.seed_generator.state))
    np.testing.assert_array_equal(metrics, [np.asarray(v) for v in gan.metrics_variables])


def test_a_half_written_snapshot_is_ignored_and_replaced(tmp_path, make_gan):
    gan = make_gan()
    save_state(gan, tmp_path, global_step=5, steps_per_epoch=10)
    (tmp_path / "partial-step-0000000010").mkdir()  # a save killed before its rename
    (tmp_path / "step-0000000012").mkdir()  # a folder without its position file
    assert latest_position(tmp_path)["global_step"] == 5
    save_state(gan, tmp_path, global_step=15, steps_per_epoch=10)
    assert [path.name for path in tmp_path.iterdir()] == ["step-0000000015"]


def test_a_snapshot_of_another_model_is_refused(tmp_path, make_gan):
    save_state(make_gan(width=8), tmp_path, global_step=1, steps_per_epoch=1)
    with pytest.raises(ValueError, match="different model"):
        restore_state(make_gan(width=16), tmp_path)


def test_divergence_stops_and_keeps_the_last_good_snapshot(tmp_path, mnist_images, make_gan):
    gan = make_gan()
    kernel = gan.discriminator.trainable_variables[0]

    def poison(batch, logs):  # after step 6, D's first kernel turns NaN
        if batch == 5:
            if hasattr(gan, "jax_state_sync"):
                gan.jax_state_sync()  # so that JAX's fit() reads the variables again
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    poison = keras.callbacks.LambdaCallback(on_train_batch_end=poison)
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1, step 7: d_loss became nan.*\(epoch 1, step 4\)"):
        _run(gan, mnist_images[:640], tmp_path, epochs=2, callbacks=[poison])
    assert latest_position(tmp_path)["global_step"] == 4  # nothing was saved from the NaN state


# --- the command line, killed for real -------------------------------------------------------


def _digit_folder(folder, mnist_images, count=640):
    folder.mkdir()
    pixels = np.round((mnist_images[:count, ..., 0] + 1) * 127.5).astype("uint8")
    for index, digit in enumerate(pixels):
        Image.fromarray(digit).save(folder / f"{index:04d}.png")
    return folder


def _train_command(digits, output, epochs=3):
    return [sys.executable, "-m", "dcgan_keras", "train", "--image-dir", str(digits), "--image-size", "28",
            "--channels", "1", "--epochs", str(epochs), "--width", "8", "--eval-every", "2", "--eval-images", "256",
            "--features", "mnist",  # a folder of digits: scored on the MNIST classifier, offline
            "--backup-every", "3", "--verbose", "0", "--output", str(output)]


# The signal test trains 6 epochs of 10 steps: from a mid-epoch snapshot in epoch 2 (step 12) to the end, 48 steps
# are left to send the signal in, even on a machine busy enough to slow the test's polling.
EPOCHS_TO_STOP = 6


def _kill_when(command, ready, timeout=240):
    """Start ``command`` and SIGKILL it as soon as ``ready()`` holds; True if it was killed."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.wait()
    return False


def _position(output):
    try:
        return latest_position(output / "backup")
    except (OSError, ValueError):  # read while being replaced
        return None


def _outputs(output):
    """Everything of a finished run that must not depend on an interruption, as bytes or arrays."""
    (snapshot,) = snapshots(output / "backup")
    with np.load(snapshot / "state.npz") as state:
        arrays = dict(state)
    generator = keras.models.load_model(output / "generator.keras")
    arrays.update({f"generator.keras/{index}": weight for index, weight in enumerate(generator.get_weights())})
    files = {path.name: path.read_bytes() for path in sorted((output / "samples").iterdir())}
    files["history.csv"] = (output / "history.csv").read_bytes()
    files["quality.json"] = json.dumps(json.loads((output / "quality.json").read_text())["evaluations"]).encode()
    return arrays, files


@pytest.mark.slow
@pytest.mark.long  # seven train processes; the in-process crash tests above run in every suite
def test_a_killed_train_command_resumes_bit_for_bit(tmp_path, mnist_images):
    digits = _digit_folder(tmp_path / "digits", mnist_images)
    subprocess.run(_train_command(digits, tmp_path / "reference"), check=True, capture_output=True)
    reference_arrays, reference_files = _outputs(tmp_path / "reference")

    moments = {  # kill ... (10 steps per epoch, a backup every 3 steps)
        "mid-epoch": lambda out: (_position(out) or {}).get("global_step", 0) > 10 and _position(out)["step"] > 0,
        "after an epoch's grid, in its scoring or backup": lambda out: (out / "samples" / "epoch_002.png").exists(),
        "while writing the final artefacts": lambda out: (out / "progress.gif").exists(),
    }
    for name, moment in moments.items():
        output = tmp_path / name.replace(" ", "-").replace("'", "").replace(",", "")
        assert _kill_when(_train_command(digits, output), functools.partial(moment, output)), (
            f"{name}: finished before the kill")
        subprocess.run(_train_command(digits, output), check=True, capture_output=True)
        arrays, files = _outputs(output)
        assert files == reference_files, name
        assert arrays.keys() == reference_arrays.keys()
        worst = max(float(np.max(np.abs(arrays[key] - reference_arrays[key]))) for key in arrays)
        assert worst == 0.0, f"{name}: max |difference| {worst}"


@pytest.mark.slow
@pytest.mark.long  # three train processes each
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_ctrl_c_or_sigterm_is_one_line_and_the_same_command_resumes_bit_for_bit(tmp_path, mnist_images, stop):
    digits = _digit_folder(tmp_path / "digits", mnist_images)
    subprocess.run(_train_command(digits, tmp_path / "reference", EPOCHS_TO_STOP), check=True, capture_output=True)
    reference_arrays, reference_files = _outputs(tmp_path / "reference")

    output = tmp_path / "interrupted"
    process = subprocess.Popen(_train_command(digits, output, EPOCHS_TO_STOP), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline, sent = time.monotonic() + 240, False
    while process.poll() is None and time.monotonic() < deadline:  # Ctrl-C mid-epoch, from epoch 2 on
        position = _position(output) or {}
        if position.get("global_step", 0) > 10 and position["step"] > 0:
            process.send_signal(stop)
            sent = True
            break
        time.sleep(0.005)
    _, stderr = process.communicate(timeout=120)
    # The run must still be training when a mid-epoch snapshot is seen; a busy machine once let it finish first.
    assert sent, f"the run ended (status {process.returncode}) before a mid-epoch snapshot appeared: nothing to stop"
    lines = stderr.strip().splitlines()
    assert process.returncode == 128 + stop, stderr  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
    assert len(lines) == 1 and lines[0].startswith("Interrupted. The newest snapshot (epoch "), lines
    assert lines[0].endswith(f"is in {output / 'backup'}; run the same command again to resume from it exactly.")
    assert not [path for path in output.rglob("*") if "partial-" in path.name]
    subprocess.run(_train_command(digits, output, EPOCHS_TO_STOP), check=True, capture_output=True)
    arrays, files = _outputs(output)
    assert files == reference_files
    assert all(np.array_equal(arrays[key], reference_arrays[key]) for key in reference_arrays)
