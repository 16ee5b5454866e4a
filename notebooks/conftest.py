"""`pytest --nbmake notebooks/` runs every notebook in its fast variant.

Set before any kernel starts, so each notebook's kernel inherits it. Run a
notebook in Jupyter, or with `jupyter nbconvert --execute`, for the real experiment.
"""

import os

os.environ.setdefault("DCGAN_FAST", "1")
