"""`pytest --nbmake notebooks/` runs every notebook in its fast variant.

Set before any kernel starts, so each notebook's kernel inherits it. Run a
notebook in Jupyter, or with `jupyter nbconvert --execute`, for the real experiment.
"""

import os

import pytest

os.environ.setdefault("DCGAN_FAST", "1")


def pytest_collection_modifyitems(items):
    # Executing a notebook takes minutes even in fast mode: not part of `-m "not slow"`.
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
