"""Support for the chapter notebooks: the fast switch, the repository's assets, clean commits.

Every notebook's first code cell does ``from dcgan_keras.chapters.notebook import FAST, pick``.
``DCGAN_FAST=1`` (set by CI) makes ``pick(fast=..., full=...)`` return the
small setting, so the same code path runs in a few minutes on 2 CPU cores;
without it the notebook runs the real experiment.

``python -m dcgan_keras.chapters.notebook clean notebooks/*.ipynb`` strips
volatile metadata before a commit; ``tests/chapters/test_notebooks.py`` checks
that it was run.
"""

import argparse
import json
import os
import pathlib

import keras

from dcgan_keras.errors import UsageError

FAST = os.environ.get("DCGAN_FAST", "0") not in ("", "0", "false", "False")
# How assets/mnist_generator.keras was made (the README says the same):
SHIPPED_GENERATOR_COMMAND = (
    "python -m dcgan_keras train --output runs/default && "
    "cp runs/default/generator.keras assets/mnist_generator.keras"
)


def pick(fast, full):
    """The fast-mode value under DCGAN_FAST=1, the real one otherwise."""
    return fast if FAST else full


def find_assets():
    """The repository's ``assets/`` folder (trained generators, the long run's record).

    ``DCGAN_ASSETS`` if set; else the folder beside the package (an editable
    install); else ``assets/`` in or above the working directory, which is
    where a notebook runs from in a clone with a regular install.
    """
    if os.environ.get("DCGAN_ASSETS"):
        return pathlib.Path(os.environ["DCGAN_ASSETS"])
    here = pathlib.Path.cwd()
    candidates = [pathlib.Path(__file__).resolve().parents[2], here, *here.parents]
    for folder in candidates:
        if (folder / "assets" / "mnist_generator.keras").is_file():
            return folder / "assets"
    return here / "assets"


ASSETS = find_assets()


def load_shipped_generator():
    """The MNIST generator trained by the default CLI run (see SHIPPED_GENERATOR_COMMAND)."""
    path = ASSETS / "mnist_generator.keras"
    if not path.is_file():
        raise UsageError(
            f"No {path}. Run the notebooks from a clone of the repository, set DCGAN_ASSETS to its "
            f"assets/ folder, or make the generator: {SHIPPED_GENERATOR_COMMAND}"
        )
    return keras.models.load_model(path)


# --- keeping committed notebooks clean -------------------------------------

KEPT_METADATA = {"kernelspec", "language_info"}


def clean_notebook(path):
    """Drop volatile metadata, renumber executions 1..n; keep outputs."""
    path = pathlib.Path(path)
    notebook = json.loads(path.read_text())
    notebook["metadata"] = {key: value for key, value in notebook.get("metadata", {}).items() if key in KEPT_METADATA}
    notebook["metadata"].get("language_info", {}).pop("version", None)
    count = 0
    for cell in notebook["cells"]:
        cell["metadata"] = {}
        cell.pop("id", None)
        if cell["cell_type"] != "code":
            continue
        count += 1
        cell["execution_count"] = count
        for output in cell.get("outputs", []):
            output.get("metadata", {}).clear()
            if "execution_count" in output:
                output["execution_count"] = count
    notebook["nbformat_minor"] = min(notebook.get("nbformat_minor", 4), 4)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def notebook_problems(path, max_bytes=3_000_000):
    """What keeps a committed notebook from being clean (an empty list if nothing)."""
    path = pathlib.Path(path)
    notebook = json.loads(path.read_text())
    problems = []
    if path.stat().st_size > max_bytes:
        problems.append(f"{path.stat().st_size / 1e6:.1f} MB, over {max_bytes / 1e6:.0f} MB")
    extra = set(notebook.get("metadata", {})) - KEPT_METADATA
    if extra:
        problems.append(f"notebook metadata {sorted(extra)}")
    counts = [cell.get("execution_count") for cell in notebook["cells"] if cell["cell_type"] == "code"]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts {counts} are not 1..n (run it top to bottom, then clean)")
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("metadata"):
            problems.append(f"cell {index} has metadata {sorted(cell['metadata'])}")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index} output is an error ({output.get('ename')})")
            text = "".join(output.get("text", []))
            if "Traceback" in text:
                problems.append(f"cell {index} prints a traceback")
    if not any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code"):
        problems.append("no outputs: commit it executed (a full run), so readers see the figures")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.chapters.notebook")
    parser.add_argument("action", choices=["clean", "check"])
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    args = parser.parse_args(argv)
    failed = False
    for path in args.paths:
        if args.action == "clean":
            clean_notebook(path)
        for problem in notebook_problems(path):
            failed = True
            print(f"{path}: {problem}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
