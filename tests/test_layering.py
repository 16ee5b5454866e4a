"""The two layers: the library never imports the chapters' code, and imports stay light."""

import ast
import os
import pathlib
import subprocess
import sys

import dcgan_keras

PACKAGE = pathlib.Path(dcgan_keras.__file__).parent
LIBRARY = sorted(PACKAGE.glob("*.py"))
OPTIONAL = {"tensorflow", "tensorflow_datasets", "jax", "torch"}


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
                 if module == "dcgan_keras.chapters" or module.startswith("dcgan_keras.chapters.")]  # fmt: skip
    assert offending == []


def test_lazy_imports_are_only_for_optional_dependencies():
    # An import inside a function is kept for what may be missing (TensorFlow on a JAX
    # machine, tfds, jax, torch); everything else is imported once, at the top.
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
                    names = [node.module or ""]
                else:
                    continue
                lazy += [f"{path.name}:{node.lineno} {name}" for name in names if name.split(".")[0] not in OPTIONAL]
    assert lazy == []


def test_every_public_name_exists_and_is_listed_once():
    assert len(dcgan_keras.__all__) == len(set(dcgan_keras.__all__))
    missing = [name for name in dcgan_keras.__all__ if not hasattr(dcgan_keras, name)]
    assert missing == []


def _loaded_after_import(backend):
    code = ("import sys, dcgan_keras; print(sorted(m for m in sys.modules "
            "if m == 'tensorflow' or m.startswith('dcgan_keras.chapters')))")
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_importing_the_package_loads_no_chapter_and_no_tensorflow_on_jax():
    assert _loaded_after_import("jax") == "[]"
    assert _loaded_after_import("tensorflow") == "['tensorflow']"
