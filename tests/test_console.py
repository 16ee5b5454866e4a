"""TensorFlow's start-up noise is dropped; everything else reaches the user."""

import json
import os

from dcgan_keras import console


def test_tensorflow_start_up_noise_is_filtered(capfd):
    with console.filtered_stderr():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 failed call to cuInit: UNKNOWN ERROR (303)\n")
        os.write(2, b"a real warning\n")
    assert capfd.readouterr().err == "a real warning\n"


def test_the_backend_comes_from_the_environment_then_keras_json(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert console._configured_backend() == "tensorflow"  # Keras' own default
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert console._configured_backend() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert console._configured_backend() == "torch"
