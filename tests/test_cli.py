"""The command line end to end on tiny runs."""

import os
import subprocess
import sys

import pytest
from PIL import Image

from dcgan_keras.cli import main
from dcgan_keras.console import filtered_stderr

TINY = ["--width", "4", "--batch-size", "500", "--latent-dim", "8", "--verbose", "0", "--eval-images", "300"]


def test_train_writes_everything_it_promises(tmp_path, capsys):
    output = tmp_path / "run"
    main(["train", "--epochs", "2", "--output", str(output), *TINY])
    for name in ["samples/epoch_001.png", "samples/epoch_002.png", "progress.gif", "history.png",
                 "history.csv", "generator.keras", "dcgan.keras", "best_generator.keras",
                 "last_generator.keras", "quality.json"]:  # fmt: skip
        assert (output / name).is_file(), name
    assert not (output / "backup").exists()  # removed once the run completed
    with Image.open(output / "progress.gif") as gif:
        assert gif.n_frames == 2
    lines = (output / "history.csv").read_text().splitlines()
    assert len(lines) == 3 and "fid" in lines[0]  # header + 2 epochs; scored at the last epoch
    printed = capsys.readouterr().out
    assert str(output / "generator.keras") in printed and "Trained 2 epochs" in printed and "Score it with" in printed

    main(["sample", "--generator", str(output / "generator.keras"), "--num-images", "5", "--images",
          "--steps", "4"])  # fmt: skip
    assert (output / "grid.png").is_file() and (output / "interpolation.png").is_file()
    assert len(list((output / "images").glob("*.png"))) == 5
    with Image.open(output / "images" / "00000.png") as first:
        assert first.size == (28, 28)


def test_bad_options_exit_with_a_message(tmp_path):
    with pytest.raises(SystemExit, match="Unsupported image size 30"):
        main(["train", "--image-size", "30", "--output", str(tmp_path)])
    with pytest.raises(SystemExit, match="No images found"):
        main(["train", "--image-dir", str(tmp_path), "--output", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="No generator"):
        main(["sample", "--generator", str(tmp_path / "missing.keras")])


def test_tensorflow_start_up_noise_is_filtered(capfd):
    with filtered_stderr():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 failed call to cuInit: UNKNOWN ERROR (303)\n")
        os.write(2, b"a real warning\n")
    assert capfd.readouterr().err == "a real warning\n"


def test_command_line_console_is_clean(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dcgan_keras", "sample", "--generator", str(tmp_path / "none.keras")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "oneDNN" not in result.stderr and "cuInit" not in result.stderr
    assert "No generator" in result.stderr


def tiny_generator(tmp_path):
    from dcgan_keras.models import build_generator

    path = tmp_path / "generator.keras"
    build_generator(latent_dim=8, image_shape=(28, 28, 1), width=4, seed=0).save(path)
    return path


def test_evaluate_prints_a_table_and_json(tmp_path, capsys):
    import json

    path = tiny_generator(tmp_path)
    main(["evaluate", "--generator", str(path), "--num-images", "300"])
    table = capsys.readouterr().out
    assert "FID (lower is better)" in table and "classes present" in table and "real digits" in table
    main(["evaluate", "--generator", str(path), "--num-images", "300", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["scores"]["num_images"] == 300 and report["real_floor"]["num_images"] == 300
    assert report["scores"]["fid"] > 10 * report["real_floor"]["fid"]
    with pytest.raises(SystemExit, match="No generator"):
        main(["evaluate", "--generator", str(tmp_path / "missing.keras")])


def test_evaluate_with_inception_features(tmp_path, capsys, monkeypatch):
    # Offline: random InceptionV3 weights, so only the command's plumbing is tested.
    from dcgan_keras import evaluate

    original = evaluate.InceptionEvaluator.__init__
    monkeypatch.setattr(evaluate.InceptionEvaluator, "__init__",
                        lambda self, reference, **kw: original(self, reference, weights=None, num_subsets=2))
    main(["evaluate", "--generator", str(tiny_generator(tmp_path)), "--features", "inception",
          "--num-images", "4", "--json"])  # fmt: skip
    report = capsys.readouterr().out
    assert '"features": "inceptionv3"' in report and '"classes"' not in report
