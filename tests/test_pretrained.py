"""The trained generators that ship with the package: by name, with their cards, from the command line, in a wheel."""

import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest
from PIL import Image

import dcgan_keras
from dcgan_keras import pretrained_generators
from dcgan_keras.cli import build_parser, main
from dcgan_keras.errors import UsageError

REPO = pathlib.Path(__file__).resolve().parent.parent
NAMES = ["emoji", "mnist", "mnist-300-epochs"]
CARD_FIELDS = {"name", "description", "data", "command", "training", "machine", "precision", "scores"}


def test_no_name_gives_every_card():
    cards = dcgan_keras.pretrained()
    assert sorted(cards) == NAMES
    for name, card in cards.items():
        assert CARD_FIELDS <= set(card) and card["name"] == name, name
        assert card["description"] and "\n" not in card["description"]
        assert {"dataset", "images", "split", "image_shape"} <= set(card["data"])
        assert "epochs" in card["training"] and {"evaluator", "fid"} <= set(card["scores"])


@pytest.mark.parametrize("name", NAMES)
def test_each_name_loads_a_generator_that_makes_images_of_its_cards_shape(name):
    generator = dcgan_keras.pretrained(name)
    images = dcgan_keras.sample(generator, 3, seed=0)
    assert images.shape == (3, *dcgan_keras.pretrained()[name]["data"]["image_shape"])
    assert -1 <= images.min() and images.max() <= 1 and images.std() > 0.1  # trained: not one flat colour


def test_an_unknown_name_is_one_line_that_names_the_choices():
    with pytest.raises(UsageError) as error:
        dcgan_keras.pretrained("mnist-30-epochs")
    message = str(error.value)
    assert "\n" not in message and "'mnist-30-epochs'" in message and all(name in message for name in NAMES)


def test_an_installation_without_the_data_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained_generators, "FOLDER", tmp_path)
    assert dcgan_keras.pretrained() == {}
    with pytest.raises(UsageError, match="reinstall dcgan_keras"):
        dcgan_keras.pretrained("mnist")


def test_sample_pretrained_writes_a_grid(tmp_path, capsys):
    main(["sample", "--pretrained", "mnist", "--num-images", "16", "--steps", "4", "--output", str(tmp_path)])
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size[0] > 4 * 28  # a grid of 16 digits
    assert (tmp_path / "interpolation.png").is_file() and str(tmp_path / "grid.png") in capsys.readouterr().out


def test_pretrained_on_the_command_line_names_the_packaged_file():
    args = build_parser().parse_args(["evaluate", "--pretrained", "emoji"])
    assert args.generator == pretrained_generators.FOLDER / "emoji.keras"


@pytest.mark.parametrize("argv, expected", [
    (["sample", "--pretrained", "digits"], "No pretrained generator 'digits'; choose one of emoji, mnist, mnist-300"),
    (["sample", "--pretrained", "mnist", "--generator", "g.keras"], "not allowed with argument --pretrained"),
])
def test_the_command_line_refuses_an_unknown_name_or_two_generators(argv, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(lines) == 1 and expected in lines[0]


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
@pytest.mark.long
def test_a_wheel_installs_the_generators_and_their_cards(tmp_path):
    # Built from a clean copy of the package: a build/ folder left in the checkout by an earlier build would put
    # its old copies of the data files into the wheel, whatever pyproject.toml's package-data says now.
    source = tmp_path / "source"
    shutil.copytree(REPO / "dcgan_keras", source / "dcgan_keras", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(source)])
    (wheel,) = (tmp_path / "wheels").glob("dcgan_keras-*.whl")
    packed = zipfile.ZipFile(wheel).namelist()
    assert [f"dcgan_keras/pretrained/{name}.{kind}" for name in NAMES for kind in ("json", "keras")
            if f"dcgan_keras/pretrained/{name}.{kind}" not in packed] == []
    site = tmp_path / "site"
    _run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)])
    probe = ("import dcgan_keras; print(dcgan_keras.__file__); print(sorted(dcgan_keras.pretrained())); "
             "print(dcgan_keras.pretrained('mnist').output_shape)")
    lines = _run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}).splitlines()
    assert pathlib.Path(lines[-3]).is_relative_to(site), lines  # the installed copy, not the checkout
    assert lines[-2:] == [str(NAMES), "(None, 28, 28, 1)"]
