"""The machine's limits and options out of range: one line each, no traceback, and nothing lost.

A full disk or Ctrl-C mid-run says where the newest snapshot is, leaves no
``partial-`` file, and the same command resumes exactly. Bad numbers and
paths are refused before any folder is touched. ``sample`` streams: memory
stays flat in --num-images, and the grid is capped at a size any viewer opens.
"""

import errno
import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
import warnings

import keras
import numpy as np
import pytest
from PIL import Image
from test_bad_input import TINY, _files

from dcgan_keras import cli, data, image_cache, plotting, resume, runs
from dcgan_keras.cli import main
from dcgan_keras.files import folder_lock
from dcgan_keras.models import LARGEST_SEED, build_generator


def _error_line(argv, capsys, code=2):
    """Run the command line; the one line it printed on stderr, after checking its exit status."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == code, lines
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """A 1-epoch run (20 steps) never interrupted: what every interrupted one must end as."""
    output = tmp_path_factory.mktemp("limits") / "straight"
    main(["train", "--epochs", "1", "--output", str(output), *TINY])
    return output


def _same_state(run, reference, step=20):
    def state(folder):
        with np.load(folder / "backup" / f"step-{step:010d}" / "state.npz") as stored:
            return dict(stored)

    ours, theirs = state(run), state(reference)
    return ours.keys() == theirs.keys() and all(np.array_equal(ours[key], theirs[key]) for key in ours)


@pytest.mark.long  # trains or decodes for many seconds: run by pytest -m long
@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied")])
def test_a_full_disk_mid_run_is_one_line_and_the_same_command_resumes_exactly(tmp_path, capsys, monkeypatch,
                                                                             straight_run, code, words):
    """The second snapshot's write fails half-way (after step 10); the first one (step 5) is kept."""
    run = tmp_path / "run"
    train = ["train", "--epochs", "1", "--backup-every", "5", "--output", str(run), *TINY]
    savez, saves = np.savez, []

    def failing_savez(path, **arrays):
        saves.append(path)
        if len(saves) == 2:
            with open(path, "wb") as handle:
                handle.write(b"PK half a snapshot")
            raise OSError(code, os.strerror(code), str(path))
        savez(path, **arrays)

    monkeypatch.setattr(resume.np, "savez", failing_savez)
    line = _error_line(train, capsys)
    assert line.startswith(f"error: Training stopped writing {run}/backup/partial-step-0000000010/state.npz: {words}")
    assert f"The newest snapshot (epoch 1, step 5) is kept in {run / 'backup'}; free some space" in line
    assert [path.name for path in (run / "backup").iterdir()] == ["step-0000000005"]
    assert not [path for path in run.rglob("*") if "partial-" in path.name]
    monkeypatch.undo()
    if code == errno.ENOSPC:
        main(train)  # the same command: resumed at step 5, ends bit for bit as if never stopped
        assert "Resuming the run" in capsys.readouterr().out
        assert _same_state(run, straight_run)


class _CtrlC(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 7:
            raise KeyboardInterrupt


@pytest.mark.long  # trains or decodes for many seconds: run by pytest -m long
def test_ctrl_c_is_one_line_saying_that_the_same_command_resumes(tmp_path, capsys, monkeypatch, straight_run):
    run = tmp_path / "run"
    train = ["train", "--epochs", "1", "--backup-every", "5", "--output", str(run), *TINY]
    callbacks = runs._training_callbacks
    monkeypatch.setattr(runs, "_training_callbacks", lambda *args: [*callbacks(*args), _CtrlC()])
    line = _error_line(train, capsys, code=130)
    assert line == (f"Interrupted. The newest snapshot (epoch 1, step 5) is in {run / 'backup'}; run the same "
                    "command again to resume from it exactly.")
    monkeypatch.undo()
    main(train)
    assert _same_state(run, straight_run)


def test_ctrl_c_before_the_first_snapshot_leaves_no_folder(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "_load_training_images", interrupted)
    line = _error_line(["train", "--output", str(tmp_path / "new"), *TINY], capsys, code=130)
    assert line == "Interrupted before the first snapshot; run the same command again to start the run."
    assert not (tmp_path / "new").exists()


def test_a_second_train_on_a_new_folder_leaves_the_first_one_alone(tmp_path, capsys):
    output = tmp_path / "new"
    with folder_lock(output, holder="another train command"):  # a train command started a moment earlier
        (output / "run.json").write_text("{}")  # ... and writing in it
        line = _error_line(["train", "--output", str(output), *TINY], capsys)
        assert line.startswith(f"error: {output} is in use by another train command (process {os.getpid()})")
        assert sorted(path.name for path in output.iterdir()) == [".lock", "run.json"]


@pytest.mark.long  # trains or decodes for many seconds: run by pytest -m long
def test_two_processes_needing_one_image_cache_build_it_once(tmp_path, monkeypatch):
    folder = tmp_path / "digits"
    folder.mkdir()
    for index in range(64):
        Image.fromarray(np.full((8, 8), 4 * index, "uint8")).save(folder / f"{index:02d}.png")
    monkeypatch.setattr(image_cache, "CACHE_FOLDER", tmp_path / "cache")
    results, errors = [], []

    def build():
        try:
            results.append(data.folder_cache(folder, 8, 1, verbose=False))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 2
    assert results[0].path == results[1].path and np.array_equal(results[0][:], results[1][:])


@pytest.mark.long  # trains or decodes for many seconds: run by pytest -m long
@pytest.mark.skipif(sys.platform != "linux", reason="file names must be bytes, not UTF-8, on this file system")
def test_a_file_name_that_is_not_utf8_is_read_and_printed(tmp_path):
    folder = os.fsencode(tmp_path / "digits")
    os.mkdir(folder)
    for index in range(8):
        Image.fromarray(np.full((8, 8), 30 * index, "uint8")).save(os.path.join(folder, b"\xff%d.png" % index))
    assert len(data.folder_cache(os.fsdecode(folder), 8, 1, verbose=False)) == 8  # keyed by the bytes
    with open(os.path.join(folder, b"\xfe broken.png"), "wb") as handle:
        handle.write(b"not a png")
    result = subprocess.run([sys.executable, "-m", "dcgan_keras", "train", "--image-dir", os.fsdecode(folder),
                             "--image-size", "8", "--channels", "1", "--output", str(tmp_path / "run"), *TINY],
                            capture_output=True)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: Cannot read ") and "\\udcfe broken.png" in lines[0]


def test_a_decompression_bomb_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("L", (64, 64)).save(folder / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64x64 is then over twice the limit, like 200 MP
    line = _error_line(["train", "--image-dir", str(folder), "--image-size", "8", "--channels", "1",
                        "--output", str(tmp_path / "run"), *TINY], capsys)
    assert f"Cannot read {folder / 'huge.png'} as an image (DecompressionBombError" in line
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def generator_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "generator.keras"
    build_generator((28, 28, 1), 8, width=4, seed=0).save(path)
    return path


def test_sample_streams_and_caps_its_grid(generator_path, tmp_path, capsys):
    output = tmp_path / "many"
    main(["sample", "--generator", str(generator_path), "--num-images", "100000", "--output", str(output)])
    assert ("grid.png shows the first 4624 of the 100000 images (the most that fit in 4096x4096 pixels, which any "
            "viewer opens); add --images to write each one.") in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(output / "grid.png") as grid:
            assert max(grid.size) <= 4096
            grid.load()
    few = tmp_path / "few"
    main(["sample", "--generator", str(generator_path), "--num-images", "5", "--output", str(few)])
    with Image.open(few / "grid.png") as grid, Image.open(output / "grid.png") as big:
        # The same z: the first images of the big grid are the small grid's.
        assert np.array_equal(np.asarray(grid)[:60, :120], np.asarray(big)[:60, :120])


def _peak_bytes(call):
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.long  # trains or decodes for many seconds: run by pytest -m long
def test_sample_memory_is_flat_in_the_number_of_images(generator_path, tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "GRID_SIDE", 256)  # a grid of 16 images: the rest are only written one by one

    def sample(count):
        return lambda: main(["sample", "--generator", str(generator_path), "--num-images", str(count), "--images",
                             "--steps", "4", "--output", str(tmp_path / str(count))])

    small, large = _peak_bytes(sample(600)), _peak_bytes(sample(3000))
    assert len(list((tmp_path / "3000" / "images").iterdir())) == 3000
    assert large < 1.2 * small, (small, large)  # five times the images, not five times the memory


# --- options out of range, and paths that cannot be: refused before any folder is touched ------------------------

OPTION_CASES = {
    "train seed -1": (["train", "--seed", "-1"], f"argument --seed: must be a whole number from 0 to {LARGEST_SEED}"),
    "train seed 2**32": (["train", "--seed", "4294967296"], "argument --seed: must be a whole number from 0 to"),
    "train seed above the largest": (["train", "--seed", str(LARGEST_SEED + 1)], f"got '{LARGEST_SEED + 1}'"),
    "sample seed -1": (["sample", "--seed", "-1"], "argument --seed: must be a whole number of 0 or more"),
    "evaluate seed -1": (["evaluate", "--seed", "-1"], "argument --seed: must be a whole number of 0 or more"),
    "train eval images 1": (["train", "--eval-images", "1"], "argument --eval-images: must be a whole number of 2"),
    "evaluate num images 1": (["evaluate", "--num-images", "1"], "argument --num-images: must be a whole number of 2"),
    "kernel size 2": (["train", "--kernel-size", "2"], "argument --kernel-size: must be a whole number of 3 or more"),
    "epochs 0": (["train", "--epochs", "0"], "argument --epochs: must be a whole number of 1 or more"),
    "batch size 0": (["train", "--batch-size", "0"], "argument --batch-size: must be"),
    "width 0": (["train", "--width", "0"], "argument --width: must be"),
    "latent dim 0": (["train", "--latent-dim", "0"], "argument --latent-dim: must be"),
    "eval every -1": (["train", "--eval-every", "-1"], "argument --eval-every: must be"),
    "sample num images 0": (["sample", "--num-images", "0"], "argument --num-images: must be"),
    "image size 30": (["train", "--image-size", "30"], "Unsupported image size 30"),
    "output name too long": (["train", "--output", "{tmp}/" + "x" * 300],
                             "the name xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... is 300 bytes long, more than"),
    "sample output name too long": (["sample", "--generator", "{generator}", "--output", "{tmp}/" + "y" * 300],
                                    "is 300 bytes long"),
    "output is a file": (["train", "--output", "{tmp}/a_file"], "--output {tmp}/a_file is a file; give a folder"),
    "sample images is a file": (["sample", "--generator", "{generator}", "--output", "{tmp}/pictures", "--images"],
                                "--images writes into the folder {tmp}/pictures/images, but that is a file"),
    "sample grid is a folder": (["sample", "--generator", "{generator}", "--output", "{tmp}/grids"],
                                "{tmp}/grids/grid.png is a folder"),
    "sample steps too many": (["sample", "--generator", "{generator}", "--output", "{tmp}/new", "--steps", "69"],
                              "--steps 69 would make interpolation.png wider than 4096 pixels; at most 68"),
    "a failed train in new nested folders": (["train", "--image-dir", "{tmp}/nowhere", "--output", "{tmp}/a/b/run"],
                                             "is not a folder of images"),  # leaves neither run nor a/b/
    "train-classifier PATH not .keras": (["train-classifier", "{tmp}/grids"],
                                         "PATH {tmp}/grids must be a .keras file to write (not a folder)"),
}


@pytest.mark.parametrize("case", OPTION_CASES)
def test_an_option_out_of_range_is_one_line_and_touches_nothing(case, tmp_path, generator_path, capsys):
    argv, expected = OPTION_CASES[case]
    shutil.copy(generator_path, tmp_path / "generator.keras")
    (tmp_path / "a_file").write_text("")
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "images").write_text("")
    (tmp_path / "grids" / "grid.png").mkdir(parents=True)
    fill = {"tmp": tmp_path, "generator": tmp_path / "generator.keras"}
    before = _files(tmp_path)
    if "--output" not in argv and argv[0] == "train":
        argv = [*argv, "--output", "{tmp}/run"]
    line = _error_line([part.format(**fill) for part in argv], capsys)
    assert line.startswith("error: ") and expected.format(**fill) in line, line
    assert _files(tmp_path) == before and sorted(path.name for path in tmp_path.iterdir()) == [
        "a_file", "generator.keras", "grids", "pictures"]  # nothing made, nothing changed


def test_a_folder_this_user_cannot_write_in_is_one_line(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "read_only"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(locked) else real_access(path, mode))
    line = _error_line(["train", "--output", str(locked / "run"), *TINY], capsys)
    assert f"this user cannot write in {locked}. Choose another folder." in line
    assert list(locked.iterdir()) == []


def test_a_script_gets_the_seed_range_before_any_folder_is_made(tmp_path):
    from dcgan_keras.errors import UsageError
    from dcgan_keras.runs import TrainConfig

    for seed in (-1, 2**32, LARGEST_SEED + 1, 1.5):
        with pytest.raises(UsageError, match=f"seed must be a whole number from 0 to {LARGEST_SEED}"):
            TrainConfig.create(seed=seed, output=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_ctrl_c_in_sample_is_one_line(generator_path, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.sampling, "sample", interrupted)
    line = _error_line(["sample", "--generator", str(generator_path), "--output", str(tmp_path)], capsys, code=130)
    assert line == "Interrupted."


def test_a_full_disk_under_sample_is_one_line(generator_path, tmp_path, capsys, monkeypatch):
    def full(picture, path, scale=1):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(cli, "save_image", full)
    line = _error_line(["sample", "--generator", str(generator_path), "--output", str(tmp_path), "--images"], capsys)
    assert line == f"error: stopped at {tmp_path / 'images' / '00000.png'}: the disk is full (No space left on device)."
