"""What a run folder holds, read back and checked before a command relies on it.

A file that was cut short (a disk filled up, a copy was interrupted), holds
garbage, or has the wrong fields is a ``DamagedFile``: a ``UsageError`` whose
one line names the file and what is wrong with it; the caller adds what to do.
``train`` reads everything it will rely on with these before it changes
anything in the folder, so a damaged file never ends a run halfway, and a
refused command leaves the folder as it was.
"""

import csv
import io
import json
import math
import numbers
import os
import re

from PIL import Image

from dcgan_keras.errors import UsageError


class DamagedFile(UsageError):
    """A file of a run folder that cannot be read as what it should be."""

    def __init__(self, path, why, advice=""):
        self.path, self.why = path, why
        super().__init__(f"{path} is damaged ({why}).{' ' + advice if advice else ''}")

    def advise(self, advice):
        """The same error with what to do added."""
        return DamagedFile(self.path, self.why, advice)


def reason(error):
    """A few words on why reading failed."""
    text = str(error).splitlines()[0][:100] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def read_text(path):
    """The text of ``path``, or ``DamagedFile`` if it is empty or not UTF-8 text."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise DamagedFile(path, "a folder, not a file") from None
    if not raw.strip():
        raise DamagedFile(path, "empty")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedFile(path, "not text: garbage bytes") from None


def read_json(path):
    """The JSON value in ``path``, or ``DamagedFile`` (cut short, garbage, empty)."""
    text = read_text(path)
    try:
        return json.loads(text)
    except ValueError as error:
        raise DamagedFile(path, f"not valid JSON, cut short or overwritten: {error}") from None


def show(value, length=60):
    """A JSON value as it reads in the file, cut to ``length`` characters."""
    text = json.dumps(value)
    return text if len(text) <= length else text[: length - 3] + "..."


def json_kind(value):
    """What a JSON value is, in JSON's words."""
    kinds = ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"), (numbers.Real, "number"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def whole(value, minimum=0):
    """Whether ``value`` is a JSON whole number (not a bool) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def number(value):
    """Whether ``value`` is a JSON number (not a bool); NaN counts (a diverged score)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# run.json's options that are text (or None), and decays (a number in [0, 1), or None); the others are whole numbers.
TEXT_OPTIONS = ("dataset", "image_dir", "precision")
DECAY_OPTIONS = ("ema",)


def read_record(path):
    """run.json as a dict, checked field by field; None if there is none."""
    if not path.exists():
        return None
    record = read_json(path)
    if not isinstance(record, dict):
        raise DamagedFile(path, f"a JSON {json_kind(record)}, not the run's record (an object)")
    if "finished_epochs" not in record:
        raise DamagedFile(path, "it has no finished_epochs")
    if record["finished_epochs"] is not None and not whole(record["finished_epochs"], 1):
        raise DamagedFile(path, f"finished_epochs is {show(record['finished_epochs'])}, not a number of epochs or null")
    options = record.get("options")
    if not isinstance(options, dict):
        raise DamagedFile(path, f"options is {show(options)}, not an object")
    for name, value in options.items():
        text = value is None or (isinstance(value, str) and not any(ord(char) < 32 for char in value))
        decay = value is None or (number(value) and 0 <= value < 1)
        fine = text if name in TEXT_OPTIONS else decay if name in DECAY_OPTIONS else whole(value)
        if not fine:
            raise DamagedFile(path, f"option {name} is {show(value)}")
    seconds = record.get("train_seconds")
    if seconds is not None and not (number(seconds) and seconds >= 0):
        raise DamagedFile(path, f"train_seconds is {show(seconds)}")
    images = record.get("data")
    if images is not None and not (isinstance(images, dict) and whole(images.get("images"))
                                   and isinstance(images.get("files"), str)):
        raise DamagedFile(path, f"data is {show(images)}")
    return record


def check_history(path, epochs):
    """history.csv must hold a whole row for each of the first ``epochs`` epochs (when it exists at all)."""
    if not path.exists():
        return
    text = read_text(path)
    if not text.endswith("\n"):
        raise DamagedFile(path, "cut short in its last row")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise DamagedFile(path, f"not CSV: {reason(error)}") from None
    header = rows[0] if rows else []
    if "epoch" not in header or not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in header):
        raise DamagedFile(path, f"its first line is not the column names: {','.join(header)[:60]!r}")
    seen = set()
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DamagedFile(path, f"line {line} has {len(row)} values for {len(header)} columns")
        try:
            [float(cell) for cell in row if cell not in ("", "NA")]
            epoch = float(row[header.index("epoch")])
        except ValueError:
            raise DamagedFile(path, f"line {line} holds something other than numbers") from None
        if not math.isfinite(epoch) or not epoch.is_integer() or epoch < 0:
            raise DamagedFile(path, f"line {line} has epoch {row[header.index('epoch')]!r}")
        seen.add(int(epoch))
    if 0 in seen:  # a file that counts from 0 (Keras' CSVLogger) is renumbered when read
        seen = {epoch + 1 for epoch in seen}
    missing = [epoch for epoch in range(1, epochs + 1) if epoch not in seen]
    if missing:
        raise DamagedFile(path, f"it has no row for epoch {missing[0]}, which the snapshot has trained")


def check_quality(path):
    """quality.json: every evaluation an object with its epoch and FID; the best one of them or null."""
    if not path.exists():
        return
    record = read_json(path)
    evaluations = record.get("evaluations") if isinstance(record, dict) else None
    if not isinstance(evaluations, list) or "best" not in record:
        raise DamagedFile(path, "not the record of evaluations (an object with evaluations and best)")
    for entry in [*evaluations, *([record["best"]] if record["best"] is not None else [])]:
        if not (isinstance(entry, dict) and whole(entry.get("epoch"), 1) and number(entry.get("fid"))):
            raise DamagedFile(path, f"an evaluation reads {show(entry)}")


def check_picture(path):
    """A PNG or GIF that Pillow reads whole."""
    try:
        with Image.open(path) as picture:
            picture.verify()  # every chunk's checksum
        with Image.open(path) as picture:
            picture.load()  # and the pixels, to the end
    except Exception as error:  # Pillow raises many types for a damaged file
        why = "empty" if path.stat().st_size == 0 else f"not a whole picture: {reason(error)}"
        raise DamagedFile(path, why) from None


def check_folders(*folders):
    """The folders a resumed run writes in: folders (not files), and writable."""
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise DamagedFile(folder, "a file where the run keeps a folder")
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"This user cannot write in {folder}, which the run writes in. Make it writable, "
                             "or choose another --output.")
