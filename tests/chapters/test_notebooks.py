"""Committed notebooks are clean: executed in order, no errors, small, no pasted module code.

`pytest --nbmake notebooks/` (part of the README's test command) executes them.
"""

import datetime
import json
import pathlib

import keras
import pytest

from dcgan_keras.chapters.notebook import MAX_BODY_WORDS, body_words, notebook_problems, runtime_banner

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_body_prose_is_short(path):
    assert body_words(path) <= MAX_BODY_WORDS, f"{path.name}: move detours into an appendix"


def test_body_words_stop_at_the_tail_and_skip_code_and_maths(tmp_path):
    def markdown(text):
        return {"cell_type": "markdown", "metadata": {}, "source": [text]}

    notebook = {"cells": [markdown("# Title\n\nOne two three."),
                          {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["many words in code"]},
                          markdown("Four [five](https://x.org/a b) $a + b = c$.\n```\nnot counted here\n```"),
                          markdown("Six.\n\n## Summary\n\nNot body."), markdown("## Appendix: detours\n\nNot body.")],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook))
    assert body_words(path) == 8  # Title; One two three.; Four five, x for the maths; Six.


def test_clean_notebook_round_trip(tmp_path):
    from dcgan_keras.chapters.notebook import clean_notebook

    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": 7, "id": "x", "metadata": {"scrolled": True},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}], "source": ["print('hi')"]},
        ],
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook))
    assert notebook_problems(path)  # dirty
    clean_notebook(path)
    assert notebook_problems(path) == []


def test_assets_come_from_the_environment_or_the_checkout(tmp_path, monkeypatch):
    from dcgan_keras.chapters import notebook

    monkeypatch.setenv("DCGAN_ASSETS", str(tmp_path / "mine"))
    assert notebook.find_assets() == tmp_path / "mine"
    monkeypatch.delenv("DCGAN_ASSETS")
    monkeypatch.chdir(tmp_path)  # a notebook's folder: found through the package's checkout
    assert (notebook.find_assets() / "mnist_history.csv").is_file()
    monkeypatch.setattr(notebook, "ASSETS", tmp_path)  # the generator is package data: no assets/ needed
    assert notebook.load_shipped_generator().output_shape[1:] == (28, 28, 1)


def _notebook(path, *cells):
    """A notebook of code cells; a cell given as (source, tag) carries that tag."""
    def cell(source):
        source, tags = (source, []) if isinstance(source, str) else (source[0], [source[1]])
        return {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags} if tags else {},
                "outputs": [], "source": source}

    notebook = {"cells": [cell(source) for source in cells], "metadata": {"kernelspec": {"name": "python3"}},
                "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(notebook))
    return path


@pytest.mark.long  # executes a notebook on another backend: run by pytest -m long
@pytest.mark.slow
def test_execute_runs_under_the_backend_asked_for_and_never_in_place(tmp_path, capsys):
    from dcgan_keras.chapters.notebook import AGREEMENT_TAG, execute, execute_to
    from dcgan_keras.errors import UsageError

    path = _notebook(tmp_path / "n.ipynb", "import keras\nprint(keras.backend.backend())",
                     ("print(6 * 7)", AGREEMENT_TAG), "print('untagged')")
    tagged = execute(path, "jax", tag=AGREEMENT_TAG)
    assert [cell.outputs[0]["text"] for cell in tagged.cells] == ["jax\n", "42\n"]  # first cell + tagged ones

    times = execute_to([path], tmp_path / "out", "torch")
    assert times["n.ipynb"] > 0 and notebook_problems(tmp_path / "out" / "n.ipynb") == []
    ran = json.loads((tmp_path / "out" / "n.ipynb").read_text())
    assert (ran["cells"][0]["outputs"][0]["text"] == ["torch\n"]
            and ran["cells"][1]["metadata"] == {"tags": [AGREEMENT_TAG]})
    with pytest.raises(UsageError, match="pick another folder"):
        execute_to([path], tmp_path, "jax")

    broken = _notebook(tmp_path / "broken.ipynb", "1 / 0")
    assert execute_to([broken], tmp_path / "out", "jax") == {"broken.ipynb": None}
    assert "failed under jax: ZeroDivisionError: division by zero" in capsys.readouterr().err
    assert not (tmp_path / "out" / "broken.ipynb").exists()
    kept = json.loads((tmp_path / "out" / "broken.failed.ipynb").read_text())  # for the traceback
    assert kept["cells"][0]["outputs"][0]["ename"] == "ZeroDivisionError"


def test_the_banner_names_the_day_and_the_backend():
    banner = runtime_banner()
    assert banner.startswith(f"Run on {datetime.date.today().isoformat()}: ") and keras.backend.backend() in banner
