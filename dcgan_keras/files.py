"""Files the package writes: atomically, and under one cache folder.

``replace_atomically`` is the one way anything here writes a file that a
later run reads back (checkpoints, backups, scores, cached runs): a killed
process leaves the old file or the new one, never half of one.
"""

import os
import pathlib

# Where retrained evaluation networks and cached notebook runs live.
CACHE_DIR = pathlib.Path(os.environ.get("DCGAN_KERAS_CACHE", pathlib.Path.home() / ".cache" / "dcgan_keras"))


def replace_atomically(write, path):
    """Call ``write(temporary_path)``, then rename the result over ``path``.

    The temporary file is a sibling (same folder, so the rename is atomic),
    and its name keeps the suffix intact: Keras insists on ".weights.h5".
    """
    directory, name = os.path.split(str(path))
    partial = os.path.join(directory, f"partial-{name}")
    write(partial)
    os.replace(partial, path)
    return pathlib.Path(path)


def write_text_atomically(text, path):
    """``path.write_text(text)`` through ``replace_atomically``."""
    return replace_atomically(lambda partial: pathlib.Path(partial).write_text(text), path)
