"""A damaged run folder: one line naming the file and what to do, and the folder stays as it was.

Each file of a finished tiny run is damaged in turn, at random but seeded: cut
short, overwritten with garbage bytes, emptied, or (JSON) given values of the
wrong type. The command that reads that file (``train`` to train the run
further, ``sample`` for a .keras file) must refuse in one ``error:`` line with
exit status 2 and change nothing in the folder; or, where an older snapshot is
intact, resume from it, say so, and end exactly where an undamaged run ends.
"""

import json
import random
import shutil

import numpy as np
import pytest
from test_bad_input import _files

from dcgan_keras import resume
from dcgan_keras.cli import main
from dcgan_keras.damaged import check_picture

# Three trained runs, then every file damaged in turn: minutes, so run by `pytest -m long` (and CI).
pytestmark = pytest.mark.long

QUICK = ["--width", "4", "--batch-size", "500", "--latent-dim", "8", "--verbose", "0", "--eval-every", "0"]
SCORED = [*QUICK[:-1], "1", "--eval-images", "300"]  # scored every epoch: quality.json and its generators
NEWEST = "backup/step-0000000020"  # the snapshot at the end of epoch 1 (20 steps of 500 digits)
JSON_FILES = ("run.json", f"{NEWEST}/position.json", "quality.json")
READ_BY_TRAIN = (*JSON_FILES, f"{NEWEST}/state.npz", "history.csv", "samples/epoch_001.png")
READ_BY_SAMPLE = ("generator.keras", "best_generator.keras", "last_generator.keras", "dcgan.keras")
NEVER_READ = ("history.png", "progress.gif", ".lock")  # written, never read back: train writes them again


class _KeepOlderSnapshots:
    """``shutil`` for ``resume.save_state`` that keeps the older snapshots, as a save killed between its
    rename and its clean-up leaves them."""

    def rmtree(self, path, ignore_errors=False):
        if not path.name.startswith(resume.SNAPSHOT_PREFIX):
            shutil.rmtree(path, ignore_errors=ignore_errors)


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """A finished, scored 1-epoch run; the same run unscored with two snapshots (steps 10 and 20); and a
    2-epoch one to compare with."""
    root = tmp_path_factory.mktemp("damaged_runs")
    main(["train", "--epochs", "1", "--output", str(root / "finished"), *SCORED])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resume, "shutil", _KeepOlderSnapshots())
        main(["train", "--epochs", "1", "--backup-every", "10", "--output", str(root / "two_snapshots"), *QUICK])
    main(["train", "--epochs", "2", "--output", str(root / "two_epochs"), *QUICK])
    return root


def test_every_file_of_the_run_folder_is_covered(runs):
    names = {str(path) for path in _files(runs / "finished")}
    assert names == {*READ_BY_TRAIN, *READ_BY_SAMPLE, *NEVER_READ}
    assert sorted(path.name for path in (runs / "two_snapshots" / "backup").iterdir()) == [
        "step-0000000010", "step-0000000020"]


WRONG_VALUES = ("text", [1, 2], {"a": 1}, -1, True)  # none is a valid value of any field


def _damage(data, mode, rng):
    """``data`` (a file's bytes) damaged the way ``mode`` says, at places ``rng`` picks."""
    if mode == "empty":
        return b""
    if mode == "cut":
        return data[: rng.randrange(1, len(data))]
    if mode == "garbage":  # bytes of 128 or more: never plain text, never the bytes that were there
        start, length = rng.randrange(len(data) - 1), rng.randrange(8, 64)
        return data[:start] + bytes(rng.randrange(128, 256) for _ in range(length)) + data[start + length:]
    value = json.loads(data)  # "wrong type": the whole value, or one field
    if rng.random() < 0.3:
        return json.dumps(rng.choice([[], "text", 42, None, {}])).encode()
    value[rng.choice(sorted(value))] = rng.choice(WRONG_VALUES)
    return json.dumps(value).encode()


def _modes(name):
    return ("cut", "garbage", "empty", *(("wrong type",) if name in JSON_FILES else ()))


CASES = [(name, mode) for name in (*READ_BY_TRAIN, *READ_BY_SAMPLE) for mode in _modes(name)]


def _damaged_copy(source, tmp_path, name, mode):
    run = shutil.copytree(source, tmp_path / "run")
    path = run / name
    path.write_bytes(_damage(path.read_bytes(), mode, random.Random(f"{name} {mode}")))
    return run, path


@pytest.mark.parametrize("name, mode", CASES, ids=[f"{name} {mode}" for name, mode in CASES])
def test_a_damaged_file_is_one_line_and_changes_nothing(runs, tmp_path, capsys, name, mode):
    run, path = _damaged_copy(runs / "finished", tmp_path, name, mode)
    before = _files(run)
    if name in READ_BY_SAMPLE:
        argv = ["sample", "--generator", str(path), "--num-images", "4"]
    else:
        argv = ["train", "--epochs", "2", "--output", str(run), *SCORED]
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert str(path) in lines[0], lines[0]  # names the file
    assert _files(run) == before  # nothing lost, nothing changed


def _state(run, step=40):
    with np.load(run / "backup" / f"step-{step:010d}" / "state.npz") as state:
        return dict(state)


@pytest.mark.parametrize("name, mode", [("state.npz", "cut"), ("position.json", "wrong type")])
def test_a_damaged_newest_snapshot_resumes_from_an_older_intact_one_exactly(runs, tmp_path, capsys, name, mode):
    run, path = _damaged_copy(runs / "two_snapshots", tmp_path, f"{NEWEST}/{name}", mode)
    capsys.readouterr()
    main(["train", "--epochs", "2", "--output", str(run), *QUICK])
    printed = capsys.readouterr().out
    assert (f"Resuming from the older snapshot step-0000000010 (epoch 1, step 10): the newest one is damaged "
            f"({path}: ") in printed
    assert [snapshot.name for snapshot in (run / "backup").iterdir()] == ["step-0000000040"]
    reference, resumed = _state(runs / "two_epochs"), _state(run)
    assert reference.keys() == resumed.keys()
    assert all(np.array_equal(reference[key], resumed[key]) for key in reference)  # as if never damaged
    assert (run / "history.csv").read_bytes() == (runs / "two_epochs" / "history.csv").read_bytes()


def test_following_the_advice_resumes_and_the_files_never_read_are_written_again(runs, tmp_path, capsys):
    run, _ = _damaged_copy(runs / "finished", tmp_path, "history.csv", "cut")
    for name in NEVER_READ:
        (run / name).write_bytes(b"\x89garbage")
    train = ["train", "--epochs", "2", "--output", str(run), *QUICK]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(train)
    line = capsys.readouterr().err.strip()
    assert f"{run / 'history.csv'} is damaged (cut short in its last row). Delete it to resume without it" in line
    (run / "history.csv").unlink()
    main(train)
    assert (run / "history.csv").read_text().splitlines()[1].startswith("2,")  # the rows start at epoch 2
    check_picture(run / "history.png")
    check_picture(run / "progress.gif")
    assert (run / ".lock").read_bytes().isdigit()


def _unfinished_without_snapshot(run):
    """As a run stopped between its first grid and its first snapshot leaves the folder, with a damaged CSV."""
    shutil.rmtree(run / "backup")
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "finished_epochs": None}))
    (run / "history.csv").write_bytes(b"\xff\xfe garbage")


def _file_for_folder(name):
    def damage(run):
        shutil.rmtree(run / name)
        (run / name).write_text("")
    return damage


def _folder_for_file(name):
    def damage(run):
        (run / name).unlink()
        (run / name).mkdir()
    return damage


FOLDER_CASES = {
    "samples is a file": (_file_for_folder("samples"),
                          "{run}/samples is damaged (a file where the run keeps a folder)"),
    "backup is missing": (lambda run: shutil.rmtree(run / "backup"),
                          "holds a finished 1-epoch run but not its training state ({run}/backup is missing or "
                          "empty), so it cannot be trained further. Pass --overwrite"),
    "backup is a file": (_file_for_folder("backup"), "holds a finished 1-epoch run but not its training state"),
    ".lock is a folder": (_folder_for_file(".lock"), "Cannot open the lock file {run}/.lock (Is a directory)"),
    "history.csv is a folder": (_folder_for_file("history.csv"), "{run}/history.csv is damaged (a folder, not a file)"),
}


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_a_file_or_folder_out_of_place_is_one_line_and_changes_nothing(runs, tmp_path, capsys, case):
    damage, expected = FOLDER_CASES[case]
    run = shutil.copytree(runs / "finished", tmp_path / "run")
    damage(run)
    before = sorted(str(path.relative_to(run)) for path in run.rglob("*")), _files(run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--epochs", "2", "--output", str(run), *SCORED])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(lines) == 1, lines
    assert expected.format(run=run) in lines[0], lines[0]
    assert (sorted(str(path.relative_to(run)) for path in run.rglob("*")), _files(run)) == before


def test_a_run_stopped_before_its_first_snapshot_starts_again_without_reading_what_it_left(runs, tmp_path):
    from dcgan_keras.files import RunPaths
    from dcgan_keras.runs import TrainConfig, claim_run_folder

    run = shutil.copytree(runs / "finished", tmp_path / "run")
    _unfinished_without_snapshot(run)
    claim = claim_run_folder(TrainConfig.create(epochs=1, output=run, width=4, batch_size=500, latent_dim=8),
                             RunPaths(run))
    assert claim.forget and claim.snapshot is None  # replaced, not read: its history.csv is garbage


@pytest.mark.parametrize("option", ["--overwrite", "--no-resume"])
def test_a_command_that_would_replace_a_run_but_fails_keeps_it(runs, tmp_path, capsys, option):
    run = shutil.copytree(runs / "finished", tmp_path / "run")
    if option == "--no-resume":  # an interrupted run, which --no-resume discards
        record = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**record, "finished_epochs": None}))
    before = _files(run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--epochs", "2", option, "--output", str(run), *QUICK, "--batch-size", "20000"])
    assert stopped.value.code == 2 and "is larger than the 10000 images" in capsys.readouterr().err
    assert _files(run) == before  # deleted only once everything the new run needs is there
