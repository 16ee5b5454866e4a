"""Cached runs train once, then load; the cache does not depend on the fast switch."""

import os

import keras

import dcgan_keras
from dcgan_keras.chapters import cached_runs
from dcgan_keras.console import filtered_stderr


def test_cached_fit_trains_once_then_loads(tmp_path, monkeypatch, mnist_images):
    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    calls = []

    def build():
        calls.append(1)
        gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0)
        gan.compile()
        return gan

    first, history = cached_runs.cached_fit("tiny", build, mnist_images[:256], steps=3)
    second, cached_history = cached_runs.cached_fit("tiny", build, mnist_images[:256], steps=3)
    assert len(calls) == 1 and cached_history == history
    assert int(second.g_optimizer.iterations) == 3
    assert not list(tmp_path.rglob("partial-*"))  # written atomically


def test_the_run_folder_names_the_run_not_the_mode(monkeypatch):
    # DCGAN_FAST changes the notebooks' step counts, never where a run of given steps is kept.
    folder = cached_runs.run_folder("x", 30, 64, 0)
    assert folder.name == f"x-30steps-b64-s0-{keras.backend.backend()}"
    assert "fast" not in folder.name and "full" not in folder.name


def test_training_noise_also_drops_the_remapper_line(capfd):
    with filtered_stderr(cached_runs.TRAINING_NOISE):
        os.write(2, b"E0000 remapper failed: INVALID_ARGUMENT\n")
    assert capfd.readouterr().err == ""
