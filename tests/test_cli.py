"""The command line end to end on tiny runs."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dcgan_keras.cli import main
from dcgan_keras.files import new_folder_name

TINY = ["--width", "4", "--batch-size", "500", "--latent-dim", "8", "--verbose", "0", "--eval-images", "300"]


def test_train_writes_everything_it_promises(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where sample writes by default
    output = tmp_path / "run"
    main(["train", "--epochs", "2", "--output", str(output), *TINY])
    for name in ["samples/epoch_001.png", "samples/epoch_002.png", "progress.gif", "history.png",
                 "history.csv", "generator.keras", "dcgan.keras", "best_generator.keras",
                 "last_generator.keras", "quality.json"]:
        assert (output / name).is_file(), name
    # The final training state stays, so that --epochs N can train the run further.
    assert [path.name for path in (output / "backup").iterdir()] == ["step-0000000040"]
    assert json.loads((output / "run.json").read_text())["finished_epochs"] == 2
    with Image.open(output / "progress.gif") as gif:
        assert gif.n_frames == 2
    lines = (output / "history.csv").read_text().splitlines()
    assert len(lines) == 3 and "fid" in lines[0] and "val_" not in lines[0]  # header + 2 epochs; scored last
    printed = capsys.readouterr().out
    assert str(output / "generator.keras") in printed and "Trained 2 epochs" in printed and "Score it with" in printed

    main(["sample", "--generator", str(output / "generator.keras"), "--num-images", "5", "--images",
          "--steps", "4"])
    drawn = tmp_path / "samples"
    assert (drawn / "grid.png").is_file() and (drawn / "interpolation.png").is_file()
    assert len(list((drawn / "images").glob("*.png"))) == 5
    with Image.open(drawn / "images" / "00000.png") as first:
        assert first.size == (28, 28)


def _usage_error(argv, capsys):
    """Run the command line; return the one line it printed for a user's mistake (exit status 2)."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(lines)
    return lines[-1]


@pytest.mark.long
def test_a_finished_run_trains_further_exactly_and_is_only_replaced_on_request(tmp_path, capsys):
    quick = [*TINY, "--eval-every", "0"]
    main(["train", "--epochs", "1", "--output", str(tmp_path / "longer"), *quick])
    record_path = tmp_path / "longer" / "run.json"
    record = json.loads(record_path.read_text())
    assert record["train_seconds"] > 0
    record_path.write_text(json.dumps({**record, "train_seconds": 1000.0}))  # a marker: the next session adds to it
    main(["train", "--epochs", "2", "--output", str(tmp_path / "longer"), *quick])  # continues at epoch 2
    assert json.loads(record_path.read_text())["train_seconds"] > 1000.0
    main(["train", "--epochs", "2", "--output", str(tmp_path / "straight"), *quick])
    for name in ["history.csv", "samples/epoch_002.png", "backup/step-0000000040/state.npz"]:
        assert (tmp_path / "longer" / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name
    assert "Resuming the run" in capsys.readouterr().out

    main(["train", "--epochs", "1", "--output", str(tmp_path / "longer"), "--overwrite", *quick])
    record = json.loads(record_path.read_text())
    assert record["finished_epochs"] == 1 and 0 < record["train_seconds"] < 1000.0  # a new run's own time
    assert len((tmp_path / "longer" / "history.csv").read_text().splitlines()) == 2
    assert not (tmp_path / "longer" / "samples" / "epoch_002.png").exists()


@pytest.mark.long  # two or more train commands: run by pytest -m long
def test_formulation_is_free_but_precision_defines_the_run(tmp_path, capsys):
    import keras

    output = tmp_path / "run"
    quick = [*TINY, "--eval-every", "0", "--output", str(output)]
    main(["train", "--epochs", "1", "--formulation", "fast", "--precision", "float32", *quick])
    assert "strided layers computed the 'fast' way (as asked" in capsys.readouterr().out
    saved = keras.models.load_model(output / "generator.keras")
    assert {type(layer).__name__ for layer in saved.layers} >= {"Conv2DTranspose"}  # the plain layers, loads anywhere
    assert not any(type(layer).__module__.startswith("dcgan_keras") for layer in saved.layers)
    assert keras.mixed_precision.global_policy().name == "float32"  # the caller's policy is left alone
    # Same weights, same function: another formulation may train the run further ...
    main(["train", "--epochs", "2", "--formulation", "paper", "--precision", "float32", *quick])
    # ... but another precision would change its trajectory, so it is refused in one line.
    line = _usage_error(["train", "--epochs", "3", "--precision", "mixed_bfloat16", *quick], capsys)
    assert "--precision float32; this command asks for --precision mixed_bfloat16" in line


@pytest.mark.long  # two or more train commands: run by pytest -m long
def test_no_resume_discards_an_interrupted_run(tmp_path, capsys):
    output = tmp_path / "run"
    main(["train", "--epochs", "1", "--output", str(output), *TINY, "--eval-every", "0"])
    record = json.loads((output / "run.json").read_text())
    (output / "run.json").write_text(json.dumps({**record, "finished_epochs": None}))  # as if killed
    main(["train", "--epochs", "1", "--no-resume", "--output", str(output), *TINY, "--eval-every", "0"])
    assert "Resuming" not in capsys.readouterr().out


def test_a_bug_keeps_its_traceback(monkeypatch):
    # Only UsageError is the user's fault; a ValueError from inside is a bug and must not be hidden.
    from dcgan_keras import cli

    def broken(config):
        raise ValueError("internal invariant broken")

    monkeypatch.setattr(cli, "train", broken)
    with pytest.raises(ValueError, match="internal invariant"):
        main(["train", "--epochs", "1"])


def test_train_config_resolves_the_data_defaults(tmp_path):
    from dcgan_keras.cli import build_parser
    from dcgan_keras.runs import TrainConfig

    def from_args(args):
        return TrainConfig.create(**vars(args))

    config = from_args(build_parser().parse_args(["train", "--output", str(tmp_path)]))
    assert (config.image_shape, config.eval_every, config.features) == ((28, 28, 1), 6, "mnist")
    assert (config.width, config.epochs, config.eval_images) == (64, 18, 5000)
    colour = from_args(build_parser().parse_args(["train", "--dataset", "cifar10", "--output", str(tmp_path)]))
    assert (colour.image_shape, colour.eval_every, colour.features) == ((64, 64, 3), 0, "inception")
    emoji = from_args(build_parser().parse_args(["train", "--dataset", "emoji-embedded",
                                                             "--output", str(tmp_path)]))
    assert (emoji.image_shape, emoji.eval_every, emoji.features) == ((64, 64, 3), 9, "emoji")
    assert (emoji.width, emoji.epochs, emoji.eval_images) == (32, 36, 1893)
    # A folder of 64x64 colour images is not the emoji: it is not scored against them.
    folder = from_args(build_parser().parse_args(["train", "--image-dir", str(tmp_path),
                                                              "--output", str(tmp_path)]))
    assert (folder.features, folder.eval_every) == ("inception", 0)
    digits = from_args(build_parser().parse_args(["train", "--image-dir", str(tmp_path), "--image-size",
                                                              "28", "--channels", "1", "--features", "mnist",
                                                              "--output", str(tmp_path)]))
    assert (digits.features, digits.eval_every, digits.eval_images) == ("mnist", 6, 5000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3


@pytest.mark.long  # two or more train commands: run by pytest -m long
def test_command_line_console_is_clean(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dcgan_keras", "sample", "--generator", str(tmp_path / "none.keras")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "oneDNN" not in result.stderr and "cuInit" not in result.stderr
    assert "No generator" in result.stderr


def tiny_generator(tmp_path):
    from dcgan_keras.models import build_generator

    path = tmp_path / "generator.keras"
    build_generator(latent_dim=8, image_shape=(28, 28, 1), width=4, seed=0).save(path)
    return path


@pytest.mark.long  # trains and scores twice: run by pytest -m long
def test_evaluate_prints_a_table_and_json(tmp_path, capsys):

    path = tiny_generator(tmp_path)
    main(["evaluate", "--generator", str(path), "--num-images", "300"])
    table = capsys.readouterr().out
    assert "FID (lower is better)" in table and "classes present" in table and "real digits" in table
    main(["evaluate", "--generator", str(path), "--num-images", "300", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["scores"]["num_images"] == 300 and report["real_floor"]["num_images"] == 300
    assert report["scores"]["fid"] > 10 * report["real_floor"]["fid"]
    assert "No generator" in _usage_error(["evaluate", "--generator", str(tmp_path / "missing.keras")], capsys)


@pytest.mark.long
def test_evaluate_with_inception_features(tmp_path, capsys, monkeypatch):
    # Offline: random InceptionV3 weights, so only the command's plumbing is tested.
    from dcgan_keras import evaluate

    original = evaluate.InceptionEvaluator.__init__
    monkeypatch.setattr(evaluate.InceptionEvaluator, "__init__",
                        lambda self, reference, **kw: original(self, reference, weights=None, num_subsets=2))
    main(["evaluate", "--generator", str(tiny_generator(tmp_path)), "--features", "inception",
          "--num-images", "4", "--json"])
    report = capsys.readouterr().out
    assert '"features": "inceptionv3"' in report and '"classes"' not in report


@pytest.mark.slow
@pytest.mark.long  # trains a feature network: run by pytest -m long
@pytest.mark.parametrize("features", ["mnist", "emoji"])
def test_train_classifier_writes_the_model_and_its_card(tmp_path, monkeypatch, capsys, features):
    from dcgan_keras import feature_nets

    net = feature_nets.by_name(features)
    split = feature_nets.split
    (images, labels), held_out = split(net)
    monkeypatch.setattr(feature_nets, "split", lambda net: ((images[:300], labels[:300]), held_out))
    # One epoch: the plumbing is under test, not the accuracy.
    monkeypatch.setitem(feature_nets.NETWORKS, features, dataclasses.replace(net, epochs=1))
    main(["train-classifier", "--features", features, str(tmp_path / "net.keras")])
    card = json.loads((tmp_path / "net.json").read_text())
    assert card["command"] == net.command and 0.0 < card["held_out_accuracy"] <= 1.0
    assert card["held_out_images"] == len(held_out[1]) and card["train_images"] == 300
    assert f"{card['held_out_accuracy']:.4f}" in capsys.readouterr().out


@pytest.mark.long
def test_emoji_training_writes_everything_and_scores_with_the_emoji_network(tmp_path, capsys):
    output = tmp_path / "emoji"
    main(["train", "--dataset", "emoji-embedded", "--epochs", "1", "--output", str(output), "--width", "4",
          "--batch-size", "256", "--verbose", "0", "--eval-every", "1", "--eval-images", "200"])
    for name in ["samples/epoch_001.png", "progress.gif", "history.png", "history.csv", "generator.keras",
                 "dcgan.keras", "best_generator.keras", "last_generator.keras", "quality.json", "run.json"]:
        assert (output / name).is_file(), name
    header = (output / "history.csv").read_text().splitlines()[0]
    assert "fid" in header and "colours" in header
    with Image.open(output / "samples" / "epoch_001.png") as grid:
        assert grid.mode == "RGB" and grid.size[0] > 8 * 64
    capsys.readouterr()
    main(["evaluate", "--generator", str(output / "generator.keras"), "--num-images", "200", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["features"] == "emoji-features" and report["real_floor"]["num_images"] == 200
    assert report["scores"]["fid"] > report["real_floor"]["fid"] and "colours" in report["scores"]
    error = _usage_error(["evaluate", "--generator", str(output / "generator.keras"), "--features", "mnist"], capsys)
    assert "makes colour images of shape (64, 64, 3); --features mnist scores 1-channel images" in error


@pytest.mark.long  # two or more train commands: run by pytest -m long
def test_rerunning_a_finished_run_says_so_and_exits_0(tmp_path, capsys):
    """Nothing is wrong: the message says how to train further or start again, and nothing in the folder changes."""
    output = tmp_path / "run"
    quick = ["--epochs", "1", "--output", str(output), *TINY, "--eval-every", "0"]
    main(["train", *quick])
    before = {path: path.read_bytes() for path in sorted(output.rglob("*")) if path.is_file()}
    capsys.readouterr()
    main(["train", *quick])  # returns: exit status 0, not SystemExit(2)
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines() == [
        f"--output {output} holds a finished 1-epoch run; nothing to do. Pass --epochs N with N > 1 to train it "
        "further, --overwrite to start again, or another --output."]
    assert captured.err == ""
    assert {path: path.read_bytes() for path in sorted(output.rglob("*")) if path.is_file()} == before


def test_sample_writes_a_new_folder_here_and_never_overwrites(tmp_path, capsys, monkeypatch):
    generator = tiny_generator(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    draw = ["sample", "--generator", str(generator), "--num-images", "4", "--steps", "3"]
    main(draw)
    assert sorted(path.name for path in (work / "samples").iterdir()) == ["grid.png", "interpolation.png"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["generator.keras", "work"]  # nothing beside it
    first = (work / "samples" / "grid.png").read_bytes()
    main([*draw, "--seed", "1"])  # a second draw: a new folder, the first one kept
    assert (work / "samples-2" / "grid.png").read_bytes() != first
    assert (work / "samples" / "grid.png").read_bytes() == first
    assert f"Wrote:\n  samples-2{'/'}grid.png" in capsys.readouterr().out
    # An --output that holds an earlier draw: refused in one line, nothing written.
    for output, extra, taken in [("samples", [], "grid.png and interpolation.png"),
                                 ("mine", ["--images"], "images/")]:
        if output == "mine":
            (work / "mine" / "images").mkdir(parents=True)
            (work / "mine" / "images" / "00000.png").write_bytes(b"an earlier image")
        before = {path: path.read_bytes() for path in sorted(work.rglob("*")) if path.is_file()}
        line = _usage_error([*draw, "--output", output, *extra], capsys)
        assert line == (f"error: --output {output} already holds {taken} from an earlier sample, which sample never "
                        "overwrites. Pass another --output, or leave it out to write to a new folder (samples-3/ "
                        "here).")
        assert {path: path.read_bytes() for path in sorted(work.rglob("*")) if path.is_file()} == before
    main([*draw, "--output", "mine"])  # without --images, images/ is not in the way
    assert (work / "mine" / "grid.png").is_file()


def test_a_new_samples_folder_is_made_as_it_is_picked_so_two_draws_at_once_never_share_it(tmp_path, monkeypatch):
    (tmp_path / "samples").mkdir()
    assert new_folder_name("samples", tmp_path) == tmp_path / "samples-2" and not (tmp_path / "samples-2").exists()
    # Another process makes samples-2 between this one's check and its mkdir: this one moves on to samples-3.
    real_mkdir, raced = pathlib.Path.mkdir, []

    def mkdir_after_a_rival(self, *args, **kwargs):
        if not raced:
            raced.append(self)
            real_mkdir(self)  # the rival's folder
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir_after_a_rival)
    assert new_folder_name("samples", tmp_path, create=True) == tmp_path / "samples-3"
    assert raced == [tmp_path / "samples-2"] and (tmp_path / "samples-3").is_dir()


def test_skip_bad_images_without_a_folder_is_refused_not_ignored(tmp_path, capsys):
    line = _usage_error(["train", "--skip-bad-images", "--output", str(tmp_path / "run")], capsys)
    assert line == ("error: --skip-bad-images applies to --image-dir folders only; the 'mnist-embedded' dataset has "
                    "no unreadable files to skip. Drop the flag, or pass --image-dir DIR.")
    assert not (tmp_path / "run").exists()


def test_evaluate_scores_swd_and_ms_ssim_against_a_reference_folder(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(10):  # odd-sized RGB pictures: read as the generator's 28x28x1, as training reads them
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    path = tiny_generator(tmp_path)
    main(["evaluate", "--generator", str(path), "--reference", str(folder), "--num-images", "4"])
    table = capsys.readouterr().out
    assert "SWD x1e3, 28x28" in table and "SWD x1e3, average" in table and "MS-SSIM of pairs" in table
    main(["evaluate", "--generator", str(path), "--reference", str(folder), "--num-images", "4", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["num_images"] == 4 and list(report["swd"]) == ["28"] and "real_swd_avg" in report  # 10 >= 2 x 4
    assert 0 <= report["ms_ssim"] <= 1 and 0 <= report["reference_ms_ssim"] <= 1
    main(["evaluate", "--generator", str(path), "--reference", "mnist-embedded", "--num-images", "6", "--json"])
    assert json.loads(capsys.readouterr().out)["reference"] == "mnist-embedded"
    error = _usage_error(["evaluate", "--generator", str(path), "--reference", str(tmp_path / "none")], capsys)
    assert "neither a folder of images nor an embedded dataset" in error


@pytest.mark.long  # two or more train commands: run by pytest -m long
def test_ema_run_writes_the_averaged_generator_and_says_so(tmp_path, capsys):
    import keras

    output = tmp_path / "run"
    main(["train", "--epochs", "1", "--ema", "0.9", "--output", str(output), *TINY])
    assert json.loads((output / "run.json").read_text())["options"]["ema"] == 0.9
    assert json.loads((output / "quality.json").read_text())["generator"] == "the average of G (EMA decay 0.9)"
    assert "generator (G's average, EMA decay 0.9)" in capsys.readouterr().out
    gan = keras.models.load_model(output / "dcgan.keras")
    saved = keras.models.load_model(output / "generator.keras")
    for a, b in zip(saved.get_weights(), gan.averaged_generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(saved.trainable_weights) == len(gan.generator.trainable_weights)  # fine-tunable, like any generator
    # The average is part of the run: training further without it (or with another decay) is refused.
    line = _usage_error(["train", "--epochs", "2", "--output", str(output), *TINY], capsys)
    assert "--ema 0.9; this command asks for --ema None" in line
    assert "--ema: must be a decay in [0, 1)" in _usage_error(["train", "--ema", "1", *TINY], capsys)
