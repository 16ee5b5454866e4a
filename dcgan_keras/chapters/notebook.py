"""Support for the chapter notebooks: the fast switch, the repository's assets, running them, clean commits.

Every notebook's first code cell does ``from dcgan_keras.chapters.notebook import FAST, pick``.
``DCGAN_FAST=1`` (set by CI) makes ``pick(fast=..., full=...)`` return the
small setting, so the same code path runs in a few minutes on 2 CPU cores;
without it the notebook runs the real experiment.

``python -m dcgan_keras.chapters.notebook clean notebooks/*.ipynb`` strips
volatile metadata before a commit; ``tests/chapters/test_notebooks.py`` checks
that it was run.

``python -m dcgan_keras.chapters.notebook words notebooks/*.ipynb`` prints each
notebook's body prose (``body_words``), which the tests keep at ``MAX_BODY_WORDS``.

``python -m dcgan_keras.chapters.notebook execute --backend jax --out DIR notebooks/*.ipynb``
runs notebooks in fresh kernels under any Keras backend (fast mode unless ``--full``)
and writes them, executed and cleaned, to DIR: the PyTorch run in notebooks/README.md, the
GPU script (``notebooks/run_on_gpu.sh``) and the cross-backend tests use it.
"""

import argparse
import json
import os
import pathlib
import re
import sys
import time
from datetime import datetime

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from dcgan_keras import devices
from dcgan_keras.errors import UsageError
from dcgan_keras.pretrained_generators import pretrained

FAST = os.environ.get("DCGAN_FAST", "0") not in ("", "0", "false", "False")


def pick(fast, full):
    """The fast-mode value under DCGAN_FAST=1, the real one otherwise."""
    return fast if FAST else full


def runtime_banner():
    """The first line every notebook prints: the day and machine that made its outputs; how to change the backend."""
    return (f"Run on {datetime.now():%Y-%m-%d}: {devices.describe()}. "
            f"To switch, set KERAS_BACKEND=tensorflow, jax or torch before starting Jupyter.")


def find_assets():
    """The repository's ``assets/`` folder (the committed runs' histories and figures, the long run's record).

    ``DCGAN_ASSETS`` if set; else the folder beside the package (an editable
    install); else ``assets/`` in or above the working directory, which is
    where a notebook runs from in a clone with a regular install.
    """
    if os.environ.get("DCGAN_ASSETS"):
        return pathlib.Path(os.environ["DCGAN_ASSETS"])
    here = pathlib.Path.cwd()
    candidates = [pathlib.Path(__file__).resolve().parents[2], here, *here.parents]
    for folder in candidates:
        if (folder / "assets" / "mnist_history.csv").is_file():
            return folder / "assets"
    return here / "assets"


ASSETS = find_assets()


def load_shipped_generator():
    """The MNIST generator of the default CLI run: ``dcgan_keras.pretrained("mnist")``, whose card says how it was
    made (``dcgan_keras.pretrained()["mnist"]``)."""
    return pretrained("mnist")


# --- keeping committed notebooks clean -------------------------------------

KEPT_METADATA = {"kernelspec", "language_info"}
# Cell tags are kept: "agreement" marks a cell whose printed numbers must agree across
# backends (tests/chapters/test_notebook_backends.py runs those cells on all three).
KEPT_CELL_METADATA = {"tags"}
AGREEMENT_TAG = "agreement"
BACKENDS = ("tensorflow", "jax", "torch")


def clean_notebook(path):
    """Drop volatile metadata, renumber executions 1..n; keep outputs."""
    path = pathlib.Path(path)
    notebook = json.loads(path.read_text())
    notebook["metadata"] = {key: value for key, value in notebook.get("metadata", {}).items() if key in KEPT_METADATA}
    notebook["metadata"].get("language_info", {}).pop("version", None)
    count = 0
    for cell in notebook["cells"]:
        cell["metadata"] = {key: value for key, value in cell.get("metadata", {}).items() if key in KEPT_CELL_METADATA}
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
        extra = set(cell.get("metadata", {})) - KEPT_CELL_METADATA
        if extra:
            problems.append(f"cell {index} has metadata {sorted(extra)}")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index} output is an error ({output.get('ename')})")
            text = "".join(output.get("text", []))
            if "Traceback" in text:
                problems.append(f"cell {index} prints a traceback")
    if not any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code"):
        problems.append("no outputs: commit it executed (a full run), so readers see the figures")
    return problems


# --- how much a learner reads ------------------------------------------------

MAX_BODY_WORDS = 1000
# The tail a learner may skip: from the first of these headings on, nothing counts as body prose.
TAIL_HEADING = re.compile(r"#+\s*(summary|reader questions|references|exercises|appendix)", re.IGNORECASE)
WORD = re.compile(r"[A-Za-z0-9][\w'’.,/-]*")


def _prose(markdown):
    """Markdown as read: no code blocks, no maths (one word each), link targets dropped."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    markdown = re.sub(r"\$[^$]+\$", " x ", markdown)
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)


def body_words(path):
    """Words of markdown a learner reads before the notebook's tail (summary, questions, references,
    exercises, appendices): the main line, which ``MAX_BODY_WORDS`` caps."""
    count = 0
    for cell in json.loads(pathlib.Path(path).read_text())["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = "".join(cell["source"]).splitlines()
        tail = next((i for i, line in enumerate(lines) if TAIL_HEADING.match(line)), None)
        count += len(WORD.findall(_prose("\n".join(lines[:tail]))))
        if tail is not None:
            return count
    return count


# --- running notebooks under any backend ----------------------------------


def execute(path, backend, fast=True, tag=None, timeout=3000):
    """``path`` run in a fresh kernel under ``backend``: the executed notebook (an nbformat node).

    The kernel inherits this process's environment plus ``KERAS_BACKEND`` and
    ``DCGAN_FAST``, and starts in the notebook's folder, as Jupyter would.
    ``tag``: run only the first code cell (the imports) and the code cells
    carrying that tag. A failing cell raises ``nbclient``'s ``CellExecutionError``,
    with the notebook as far as it ran in its ``notebook`` attribute.
    """
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}.")
    path = pathlib.Path(path)
    notebook = nbformat.read(path, as_version=4)
    if tag:
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        notebook.cells = code[:1] + [cell for cell in code[1:] if tag in cell.metadata.get("tags", [])]
    environment = {**os.environ, "KERAS_BACKEND": backend, "DCGAN_FAST": "1" if fast else "0"}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    try:
        client.execute(env=environment)
    except CellExecutionError as error:
        error.notebook = notebook
        raise
    return notebook


def execute_to(paths, out, backend, fast=True):
    """Run each notebook (``execute``), write it cleaned to ``out``; ``{name: seconds}``, or None for a failure.

    A notebook that fails is written as ``NAME.failed.ipynb``, with its outputs up to the error.
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    for path in map(pathlib.Path, paths):
        started = time.perf_counter()
        target = out / path.name
        if target.resolve() == path.resolve():
            raise UsageError(f"--out {out} holds {path.name} itself: pick another folder (committed outputs are kept).")
        try:
            notebook = execute(path, backend, fast)
        except CellExecutionError as error:
            failed = out / f"{path.stem}.failed.ipynb"
            nbformat.write(error.notebook, failed)
            print(f"{path.name}: failed under {backend}: {error.ename}: {error.evalue} (the traceback is in {failed})",
                  file=sys.stderr)
            times[path.name] = None
            continue
        times[path.name] = time.perf_counter() - started
        partial = target.with_suffix(".ipynb.partial")
        nbformat.write(notebook, partial)
        clean_notebook(partial)
        partial.replace(target)  # atomic: a half-written notebook never takes the name
        print(f"{path.name}: {times[path.name] / 60:.1f} min under {backend} ({'fast' if fast else 'full'} mode)"
              f" -> {target}; slowest cells: {slowest_cells(notebook)}", flush=True)
    return times


def slowest_cells(notebook, count=3):
    """"cell 28 41 s, ..." from the timings nbclient records in an executed notebook's cell metadata."""
    durations = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                          for key in ("iopub.execute_input", "shell.execute_reply"))
            durations.append(((end - start).total_seconds(), index))
    return ", ".join(f"cell {index} {seconds:.0f} s" for seconds, index in sorted(durations, reverse=True)[:count])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dcgan_keras.chapters.notebook")
    parser.add_argument("action", choices=["clean", "check", "execute", "words"])
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                        help="execute: the Keras backend")
    parser.add_argument("--full", action="store_true", help="execute: the real experiment (default: DCGAN_FAST=1)")
    parser.add_argument("--out", type=pathlib.Path, help="execute: where the executed notebooks go (never in place)")
    args = parser.parse_args(argv)
    if args.action == "execute":
        if args.out is None:
            parser.error("execute needs --out DIR (it never overwrites the notebooks it runs)")
        try:
            times = execute_to(args.paths, args.out, args.backend, fast=not args.full)
        except UsageError as error:
            raise SystemExit(f"error: {error}")
        raise SystemExit(1 if None in times.values() else 0)
    if args.action == "words":
        for path in args.paths:
            print(f"{path}: {body_words(path)} words of body prose (at most {MAX_BODY_WORDS})")
        raise SystemExit(0)
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
