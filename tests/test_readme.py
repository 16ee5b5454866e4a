"""The README's Python examples use only public names, and they run."""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

import dcgan_keras

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
# Each example trains for real; here one epoch of two steps is enough to run every line.
QUICK_FIT = """
import dcgan_keras
_fit = dcgan_keras.DCGAN.fit
def _quick_fit(self, x=None, *args, epochs=1, **kwargs):
    kwargs.update(steps_per_epoch=2)
    return _fit(self, x.repeat() if hasattr(x, "repeat") else x, *args, epochs=1, **kwargs)
dcgan_keras.DCGAN.fit = _quick_fit
"""


def _names_used(code):
    """Every name an example takes from dcgan_keras: imported, or read as dcgan_keras.NAME."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dcgan_keras"):
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "dcgan_keras":
            yield "dcgan_keras", [node.attr]


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_examples_use_only_public_names(code):
    private = [f"{module}.{name}" for module, names in _names_used(code) for name in names
               if module != "dcgan_keras" or name not in dcgan_keras.__all__]
    assert private == [], "the README should show only names in dcgan_keras.__all__"


@pytest.mark.long
@pytest.mark.slow
@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_examples_run(code, tmp_path):
    result = subprocess.run([sys.executable, "-c", QUICK_FIT + code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_no_binary_is_tracked_outside_the_assets_and_the_package_data():
    root = README.parent
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True)
    if listed.returncode:
        pytest.skip("not a git checkout")
    allowed = ("assets/", "dcgan_keras/mnist/", "dcgan_keras/emoji/", "dcgan_keras/pretrained/")
    binary = [name for name in listed.stdout.decode().split("\0") if name and not name.startswith(allowed)
              and (root / name).is_file() and b"\0" in (root / name).read_bytes()[:8192]]
    assert binary == [], f"binary files outside {allowed}: {binary}"
