"""The two layers: the library never imports the chapters' code, and imports stay light."""

import ast
import os
import pathlib
import subprocess
import sys

import pytest

import dcgan_keras

PACKAGE = pathlib.Path(dcgan_keras.__file__).parent
LIBRARY = sorted(PACKAGE.glob("*.py"))
OPTIONAL = {"tensorflow", "tensorflow_datasets", "jax", "torch", "tensorboard",
            # Pillow's parts that exist only where it was built with libavif or littlecms
            "PIL.AvifImagePlugin", "PIL.ImageCms"}


def _imports(path):
    """(line, module) for every import in a file, at any depth, relative ones resolved."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            module = f"dcgan_keras.{base}".rstrip(".") if node.level else base
            yield node.lineno, module
            yield from ((node.lineno, f"{module}.{alias.name}") for alias in node.names)


def test_the_library_never_imports_the_chapters():
    offending = [f"{path.name}:{line} imports {module}" for path in LIBRARY for line, module in _imports(path)
                 if module == "dcgan_keras.chapters" or module.startswith("dcgan_keras.chapters.")]
    assert offending == []


def test_lazy_imports_are_only_for_optional_dependencies():
    # An import inside a function is kept for what may be missing (TensorFlow on a JAX
    # machine, tfds, jax, torch, tensorboard); everything else is imported once, at the top.
    lazy = []
    for path in [*LIBRARY, *sorted((PACKAGE / "chapters").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                else:
                    continue
                lazy += [f"{path.name}:{node.lineno} {name}" for name in names
                         if not any(name == part or name.startswith(part + ".") for part in OPTIONAL)]
    assert lazy == []


def test_every_public_name_exists_and_is_listed_once():
    assert len(dcgan_keras.__all__) == len(set(dcgan_keras.__all__))
    missing = [name for name in dcgan_keras.__all__ if not hasattr(dcgan_keras, name)]
    assert missing == []


IMPORT_PROBE = """
import os, sys
redirects = []
real_dup2 = os.dup2
os.dup2 = lambda *args, **kwargs: (redirects.append(args), real_dup2(*args, **kwargs))[1]
import dcgan_keras
heavy = sorted(m for m in sys.modules if m in ("keras", "tensorflow", "jax", "torch", "matplotlib.pyplot")
               or m.startswith("dcgan_keras.chapters"))
print(heavy, redirects)
"""


def test_importing_the_package_loads_nothing_heavy_and_leaves_stderr_alone():
    # The names load on first use; the command line (not the package) quiets TensorFlow's start-up.
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[] []"


def test_the_public_surface_is_small_and_every_name_loads():
    assert len(dcgan_keras.__all__) <= 25
    namespace = {}
    exec("from dcgan_keras import *", namespace)
    assert set(dcgan_keras.__all__) <= set(namespace)


LOAD_PROBE = """
import sys, keras, dcgan_keras
dcgan_keras.build_generator  # any public name registers the package's Keras classes
gan = keras.models.load_model(sys.argv[1])
print(type(gan).__name__)
"""


@pytest.mark.long  # a fresh Python process per public name: run by pytest -m long
def test_a_saved_dcgan_loads_once_any_public_name_is_used(tmp_path, make_gan):
    make_gan().save(tmp_path / "dcgan.keras")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", LOAD_PROBE, str(tmp_path / "dcgan.keras")], capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "DCGAN"
