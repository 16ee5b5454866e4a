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
import shutil

from dcgan_keras.errors import UsageError

try:
    import fcntl
except ImportError:  # Windows: folder_lock locks nothing there
    fcntl = None

# Where retrained evaluation networks and cached notebook runs live. An empty DCGAN_KERAS_CACHE would
# mean the working folder: it is refused (check_cache_setting), and never used.
CACHE_DIR = pathlib.Path(os.environ.get("DCGAN_KERAS_CACHE", "").strip()
                         or pathlib.Path.home() / ".cache" / "dcgan_keras")


def check_cache_setting():
    """Raise ``UsageError`` if ``DCGAN_KERAS_CACHE`` is set but empty (the command line checks it first)."""
    setting = os.environ.get("DCGAN_KERAS_CACHE")
    if setting is not None and not setting.strip():
        raise UsageError("DCGAN_KERAS_CACHE is set but empty, which would put the cache in the working folder. "
                         "Unset it (the cache is then ~/.cache/dcgan_keras) or set it to a folder.")


def replace_atomically(write, path):
    """Call ``write(temporary_path)``, then rename the result over ``path``.

    The temporary file is a sibling (same folder, so the rename is atomic),
    and its name keeps the suffix intact: Keras insists on ".weights.h5".
    A write that fails (a full disk, Ctrl-C) removes its temporary file.
    """
    directory, name = os.path.split(str(path))
    partial = os.path.join(directory, f"partial-{name}")
    try:
        write(partial)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
    return pathlib.Path(path)


def write_text_atomically(text, path):
    """``path.write_text(text)`` through ``replace_atomically``."""
    return replace_atomically(lambda partial: pathlib.Path(partial).write_text(text), path)


@dataclasses.dataclass
class LockedFolder:
    """What ``folder_lock`` made: the folder (and the parents it lacked) and its ``.lock`` file."""

    folder: pathlib.Path
    made_folder: pathlib.Path | None = None  # the outermost folder this process made: the folder or a parent
    made_lock_file: bool = False
    previous_holder: bytes = b""  # what the lock file said before this process wrote its id in it

    def take_back(self, keep_folder=False):
        """Undo what this process did to the folder, for a command that failed: remove the folder if it made
        it (unless ``keep_folder``), else remove the lock file it made or put back what that file said.
        Call it while holding the lock: no other process is using the folder."""
        lock = self.folder / ".lock"
        with contextlib.suppress(OSError):
            if self.made_folder and not keep_folder:
                shutil.rmtree(self.made_folder)
            elif self.made_lock_file:
                lock.unlink()
            else:
                lock.write_bytes(self.previous_holder)


@contextlib.contextmanager
def folder_lock(folder, holder="another process"):
    """Hold an exclusive lock on ``folder`` for the ``with`` block, or raise ``UsageError``.

    An ``flock`` on ``folder/.lock``: the kernel drops it when the holder
    exits, even by SIGKILL, so a crash never leaves a stale lock. Where
    ``fcntl`` does not exist (Windows) there is no lock. Yields a
    ``LockedFolder``: whether this process made the folder and the lock
    file. A process refused the lock changes nothing.
    """
    folder = pathlib.Path(folder)
    locked = LockedFolder(folder, made_folder=_make_folder(folder))
    if fcntl is None:
        yield locked
        return
    lock = folder / ".lock"
    locked.made_lock_file = not lock.exists()
    try:
        handle = open(lock, "a+b")
    except OSError as error:
        raise UsageError(f"Cannot open the lock file {lock} ({error.strerror}). Remove it if it is not a file, "
                         "or choose another folder.") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read(40).decode(errors="replace").strip() or "unknown"
            raise UsageError(f"{folder} is in use by {holder} (process {pid}). "
                             "Wait for it to finish, or use another folder.") from None
        handle.seek(0)
        locked.previous_holder = handle.read()
        handle.truncate(0)
        handle.write(str(os.getpid()).encode())
        handle.flush()
        try:
            yield locked
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_folder(folder):
    """Make ``folder`` and its parents; the outermost folder this call made, or None if ``folder`` was there."""
    if folder.is_dir():
        return None
    outermost = folder
    while not outermost.parent.exists():
        outermost = outermost.parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()
    except FileExistsError:  # made by another process a moment ago
        return None
    return outermost


def check_writable_folder(folder, option="--output"):
    """Raise ``UsageError`` unless ``folder`` is, or can be made as, a folder this process can write in."""
    folder = pathlib.Path(folder)
    _check_name_lengths(folder, option)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} is a file; give a folder.")
    existing = next(parent for parent in [folder, *folder.absolute().parents] if parent.exists())
    if not existing.is_dir():
        raise UsageError(f"{option} {folder}: {existing} is a file, so no folder can be made under it.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {folder}: this user cannot write in {existing}. Choose another folder.")


def _check_name_lengths(folder, option):
    """``UsageError`` for a path the file system cannot hold: a name over 255 bytes, or a path over 4096."""
    try:
        longest = os.pathconf("/", "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        longest = 255
    too_long = [part for part in folder.parts if len(os.fsencode(part)) > longest]
    if too_long:
        raise UsageError(f"{option} {folder}: the name {too_long[0][:40]}... is {len(os.fsencode(too_long[0]))} "
                         f"bytes long, more than the {longest} the file system allows. Choose a shorter name.")
    if len(os.fsencode(str(folder.absolute()))) >= 4096:
        raise UsageError(f"{option} {str(folder)[:60]}...: the path is longer than the 4096 bytes the file system "
                         "allows. Choose a shorter one.")


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


# ``sample`` writes these into its --output, and never over earlier ones.
SAMPLES = "samples"  # the default --output: a new folder of this name (then samples-2, ...) in the working folder
SAMPLE_PICTURES = ("grid.png", "interpolation.png")
SAMPLE_IMAGES = "images"  # --images: one PNG per image in this sub-folder


def new_folder_name(name, parent=pathlib.Path(), create=False):
    """``parent/name`` if nothing has that name yet, else the first free ``parent/name-2``, ``name-3``, ...

    With ``create`` the folder is made as it is picked (``mkdir`` fails on a name taken in between), so two
    commands started at once never pick the same one.
    """
    number = 1
    while True:
        path = pathlib.Path(parent, name if number == 1 else f"{name}-{number}")
        if not (path.exists() or path.is_symlink()):
            if not create:
                return path
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:  # another process took it first: try the next number
                pass
        number += 1


def check_sample_output(folder, images=False):
    """Raise ``UsageError`` unless ``sample`` can write its pictures (and, with ``images``, its images/) in
    ``folder`` without replacing anything there: checked before it writes."""
    folder = pathlib.Path(folder)
    for name in SAMPLE_PICTURES:
        if (folder / name).is_dir():
            raise UsageError(f"{folder / name} is a folder; sample writes a picture of that name there. "
                             "Move it, or pass another --output.")
    pictures = folder / SAMPLE_IMAGES
    if images and pictures.exists() and not pictures.is_dir():
        raise UsageError(f"--images writes into the folder {pictures}, but that is a file. Move it, or pass "
                         "another --output.")
    taken = [name for name in SAMPLE_PICTURES if (folder / name).exists()]
    if images and pictures.is_dir() and any(pictures.iterdir()):
        taken.append(f"{SAMPLE_IMAGES}/")
    if taken:
        raise UsageError(f"--output {folder} already holds {' and '.join(taken)} from an earlier sample, which "
                         f"sample never overwrites. Pass another --output, or leave it out to write to a new "
                         f"folder ({new_folder_name(SAMPLES)}/ here).")
