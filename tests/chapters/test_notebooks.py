"""Committed notebooks are clean: executed in order, no errors, small, no pasted module code.

`pytest --nbmake notebooks/` (part of the README's test command) executes them.
"""

import json
import pathlib

import pytest

from dcgan_keras.chapters.notebook import notebook_problems

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MODULE_DEFINITIONS = ("def build_generator", "def build_discriminator", "class DCGAN", "def train_step")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_is_clean(path):
    assert notebook_problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_imports_rather_than_retypes(path):
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    assert "dcgan_keras" in code
    for definition in MODULE_DEFINITIONS:
        assert definition not in code, f"{path.name} defines {definition!r}; import it from dcgan_keras"
    markdown = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    for section in ("Summary", "References", "Exercises", "Reader questions"):
        assert section in markdown, f"{path.name} has no {section!r} section"


def test_clean_notebook_round_trip(tmp_path):
    from dcgan_keras.chapters.notebook import clean_notebook

    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": 7, "id": "x", "metadata": {"scrolled": True},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}], "source": ["print('hi')"]},
        ],
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook))
    assert notebook_problems(path)  # dirty
    clean_notebook(path)
    assert notebook_problems(path) == []


def test_assets_come_from_the_environment_or_the_checkout(tmp_path, monkeypatch):
    from dcgan_keras.chapters import notebook
    from dcgan_keras.errors import UsageError

    monkeypatch.setenv("DCGAN_ASSETS", str(tmp_path / "mine"))
    assert notebook.find_assets() == tmp_path / "mine"
    monkeypatch.delenv("DCGAN_ASSETS")
    monkeypatch.chdir(tmp_path)  # a notebook's folder: found through the package's checkout
    assert (notebook.find_assets() / "mnist_generator.keras").is_file()
    monkeypatch.setattr(notebook, "ASSETS", tmp_path)
    with pytest.raises(UsageError, match="DCGAN_ASSETS"):
        notebook.load_shipped_generator()
