"""The chapter notebooks run on every Keras backend, and print the same numbers where they should.

`pytest --nbmake notebooks/` executes them under the default backend (TensorFlow).
Here each one runs again, in fast mode, under the other backends named in
``DCGAN_NOTEBOOK_BACKENDS`` (default "jax,torch"). These are the `long` suites:
`pytest -m long` runs them (CI does, after the README's test command).

The cells tagged "agreement" compute deterministic things: arithmetic, shapes,
parameter counts, and measurements of fixed weights (the shipped generators and
evaluators) on fixed inputs. Those cells run under all three backends, and what
they print must match: the words exactly, each number to its printed precision
(one unit in its last digit, plus 1e-5 of its size or 1e-5 absolute, float32 rounding).
"""

import math
import os
import pathlib
import re

import pytest

from dcgan_keras.chapters.notebook import AGREEMENT_TAG, BACKENDS, execute

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
OTHER_BACKENDS = [b for b in os.environ.get("DCGAN_NOTEBOOK_BACKENDS", "jax,torch").split(",") if b]
# A number as printed: thousands separators, decimals, an exponent.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?")
TAGGED = [path for path in NOTEBOOKS if AGREEMENT_TAG in path.read_text()]


def printed(cell):
    """What a cell printed or displayed as text (stderr left out: warnings differ per backend)."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output["text"])
        elif "text/plain" in output.get("data", {}) and output.get("output_type") == "execute_result":
            parts.append(output["data"]["text/plain"])
    return "".join(parts)


def parse(text):
    """``(words, numbers)``: the text with each number replaced by '#', and ``(value, last digit's unit)``."""
    numbers = []
    for match in NUMBER.finditer(text):
        token = match.group().replace(",", "")
        mantissa, _, exponent = token.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        numbers.append((float(token), 10.0 ** (int(exponent or 0) - decimals)))
    return NUMBER.sub("#", text), numbers


def disagreements(reference, other):
    """Where two printouts of the same cell differ beyond float32 rounding, in words (empty: they agree)."""
    (words_a, numbers_a), (words_b, numbers_b) = parse(reference), parse(other)
    if words_a != words_b or len(numbers_a) != len(numbers_b):
        return [f"the text differs:\n{reference}\n---\n{other}"]
    problems = []
    for (a, unit_a), (b, unit_b) in zip(numbers_a, numbers_b):
        if not math.isclose(a, b, rel_tol=1e-5, abs_tol=max(unit_a, unit_b) * 1.001 + 1e-5):
            problems.append(f"{a} vs {b}")
    return problems


def test_parse_reads_printed_numbers():
    words, numbers = parse("FID   66.1, 1,638,400 params, 2.98e-08 | (7, 7, 128) -> 6272 numbers, 36.7%")
    assert words == "FID   #, # params, # | (#, #, #) -> # numbers, #%"
    values = [value for value, _ in numbers]
    assert values == [66.1, 1638400, 2.98e-08, 7, 7, 128, 6272, 36.7]
    assert [unit for _, unit in numbers][:3] == [pytest.approx(0.1), 1, pytest.approx(1e-10)]


def test_disagreements_allow_rounding_only():
    assert disagreements("FID 66.1, diff 2.98e-08", "FID 66.2, diff 0.00e+00") == []  # last digit, float32 noise
    assert disagreements("FID 66.1", "FID 66.3") == ["66.1 vs 66.3"]
    assert disagreements("equal? True", "equal? False")  # words must match exactly
    assert disagreements("1,024 params", "1,025 params") == []  # one unit in the last printed digit
    assert disagreements("1,024 params", "1,026 params") == ["1024.0 vs 1026.0"]


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_notebook_runs_on_another_backend(path, backend):
    notebook = execute(path, backend, fast=True)
    first = printed(next(cell for cell in notebook.cells if cell.cell_type == "code"))
    assert f"{backend} backend" in first  # the first cell says which backend made the outputs


@pytest.fixture(scope="module")
def agreement_runs():
    runs = {}

    def run(path, backend):
        if (path, backend) not in runs:
            cells = execute(path, backend, fast=True, tag=AGREEMENT_TAG).cells[1:]
            runs[path, backend] = [printed(cell) for cell in cells]
        return runs[path, backend]

    return run


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.parametrize("path", TAGGED, ids=[path.stem[:2] for path in TAGGED])
def test_tagged_cells_print_the_same_numbers_on_every_backend(path, agreement_runs):
    reference = agreement_runs(path, BACKENDS[0])
    assert any(reference), "the tagged cells print something to compare"
    for backend in BACKENDS[1:]:
        for index, (expected, got) in enumerate(zip(reference, agreement_runs(path, backend))):
            problems = disagreements(expected, got)
            assert not problems, f"tagged cell {index + 1} of {path.name}, {backend} vs tensorflow: {problems}"
