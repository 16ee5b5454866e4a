"""Files the package writes: atomically, and under one cache folder.

``replace_atomically`` is the one way anything here writes a file that a
later run reads back (checkpoints, scores, histories, grids, cached runs): a
killed process leaves the old file or the new one, never half of one. (The
resume snapshots are whole folders, renamed into place the same way.)
``folder_lock`` keeps two training processes out of one folder, and
``RunPaths`` names every file of a run folder.
"""

import contextlib
import dataclasses
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
            raise UsageError(f"{folder} is in use by {holder} (process {pid}). "
                             "Wait for it to finish, or use another folder.") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_writable_folder(folder, option="--output"):
    """Raise ``UsageError`` unless ``folder`` is, or can be made as, a folder this process can write in."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} is a file; give a folder.")
    existing = next(parent for parent in [folder, *folder.absolute().parents] if parent.exists())
    if not existing.is_dir():
        raise UsageError(f"{option} {folder}: {existing} is a file, so no folder can be made under it.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {folder}: this user cannot write in {existing}. Choose another folder.")


def frame_name(epoch):
    """The file name of 0-based ``epoch``'s sample grid, numbered from 1."""
    return f"epoch_{epoch + 1:03d}.png"


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Where a training run writes, all under one folder: the one definition of the run folder's file names.

    ``train``, the callbacks (``SampleGrid`` frames, ``QualityCheckpoint``'s
    generators and scores) and the notebooks' runs all name files through it.
    """

    output: pathlib.Path

    samples = property(lambda self: self.output / "samples")
    backup = property(lambda self: self.output / "backup")
    history = property(lambda self: self.output / "history.csv")
    curves = property(lambda self: self.output / "history.png")
    gif = property(lambda self: self.output / "progress.gif")
    generator = property(lambda self: self.output / "generator.keras")
    dcgan = property(lambda self: self.output / "dcgan.keras")
    best_generator = property(lambda self: self.output / "best_generator.keras")
    quality = property(lambda self: self.output / "quality.json")
    last_generator = property(lambda self: self.output / "last_generator.keras")
    tensorboard = property(lambda self: self.output / "tensorboard")  # event files (train --tensorboard)
    record = property(lambda self: self.output / "run.json")

    def frame(self, epoch):
        """The sample grid of 0-based ``epoch``: ``samples/epoch_001.png`` is the first."""
        return self.samples / frame_name(epoch)

    def artefacts(self):
        """Everything a run writes here, folders first."""
        return [self.samples, self.backup, self.tensorboard, self.history, self.curves, self.gif, self.generator,
                self.dcgan, self.best_generator, self.last_generator, self.quality, self.record]
