"""Files the package writes: atomically, and under one cache folder.

``replace_atomically`` is the one way anything here writes a file that a
later run reads back (checkpoints, scores, histories, grids, cached runs): a
killed process leaves the old file or the new one, never half of one. (The
resume snapshots are whole folders, renamed into place the same way.)
``folder_lock`` keeps two training processes out of one folder.
"""

import contextlib
import os
import pathlib

from dcgan_keras.errors import UsageError

try:
    import fcntl
except ImportError:  # Windows: folder_lock locks nothing there
    fcntl = None

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


@contextlib.contextmanager
def folder_lock(folder, holder="another process"):
    """Hold an exclusive lock on ``folder`` for the ``with`` block, or raise ``UsageError``.

    An ``flock`` on ``folder/.lock``: the kernel drops it when the holder
    exits, even by SIGKILL, so a crash never leaves a stale lock. Where
    ``fcntl`` does not exist (Windows) there is no lock.
    """
    if fcntl is None:
        yield
        return
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            raise UsageError(f"{folder} is in use by {holder} (process {pid}). Wait for it to finish, or use another folder.") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
