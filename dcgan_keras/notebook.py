"""Support for the chapter notebooks: the fast switch, cached runs, clean commits.

Every notebook's first code cell does ``from dcgan_keras.notebook import FAST, pick``.
``DCGAN_FAST=1`` (set by CI) makes ``pick(fast=..., full=...)`` return the
small setting, so the same code path runs in a few minutes on 2 CPU cores;
without it the notebook runs the real experiment.

``python -m dcgan_keras.notebook clean notebooks/*.ipynb`` strips volatile
metadata before a commit; ``tests/test_notebooks.py`` checks that it was run.
"""

import argparse
import json
import os
import pathlib

FAST = os.environ.get("DCGAN_FAST", "0") not in ("", "0", "false", "False")
ROOT = pathlib.Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
CACHE = pathlib.Path(os.environ.get("DCGAN_CACHE", ROOT / "runs" / "notebook_cache"))
SHIPPED_GENERATOR = ASSETS / "mnist_generator.keras"
# How assets/mnist_generator.keras was made (the README says the same):
SHIPPED_GENERATOR_COMMAND = (
    "python -m dcgan_keras train --output runs/default && "
    "cp runs/default/generator.keras assets/mnist_generator.keras"
)


def pick(fast, full):
    """The fast-mode value under DCGAN_FAST=1, the real one otherwise."""
    return fast if FAST else full


def load_shipped_generator():
    """The MNIST generator trained by the default CLI run (see SHIPPED_GENERATOR_COMMAND)."""
    import keras

    return keras.models.load_model(SHIPPED_GENERATOR)


def run_folder(name, steps, batch_size=64, seed=0):
    """Where ``cached_fit`` keeps a run; the mode is part of the name, so fast and full never mix."""
    return CACHE / f"{name}-{'fast' if FAST else 'full'}-{steps}steps-b{batch_size}-s{seed}"


def cached_fit(name, build_gan, images, steps, batch_size=64, seed=0):
    """Train ``build_gan()`` for ``steps`` updates once; later calls load the result.

    The cache key includes the mode, so fast and full runs never mix. Returns
    the trained DCGAN and its per-epoch history dict.
    """
    import keras

    from dcgan_keras.callbacks import replace_atomically
    from dcgan_keras.data import make_dataset

    folder = run_folder(name, steps, batch_size, seed)
    model_path, history_path = folder / "dcgan.keras", folder / "history.json"
    if model_path.exists() and history_path.exists():
        return keras.models.load_model(model_path), json.loads(history_path.read_text())
    keras.utils.set_random_seed(seed)
    gan = build_gan()
    dataset = make_dataset(images, batch_size, seed=seed).repeat()
    history = gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0).history
    folder.mkdir(parents=True, exist_ok=True)
    replace_atomically(gan.save, model_path)
    history_path.write_text(json.dumps({key: [float(v) for v in values] for key, values in history.items()}))
    return gan, history


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
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.notebook")
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

