"""Images are read as a viewer shows them, or refused in one line naming the file: never misread in silence.

Each case builds its files on the fly and checks the pixels that come out
(``data.read_image`` for one file, ``data.folder_cache`` for a folder).
"""

import json
import os
import shutil
import signal

import numpy as np
import pytest
from PIL import Image

from dcgan_keras import data, files, image_cache
from dcgan_keras.cli import main
from dcgan_keras.errors import UsageError
from dcgan_keras.files import RunPaths
from dcgan_keras.runs import TrainConfig, claim_run_folder

RAMP = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (4, 1))  # 4 rows of 0 .. 65535


def _one_line(call, expected):
    with pytest.raises(UsageError) as raised:
        call()
    message = str(raised.value)
    assert "\n" not in message and expected in message, message
    return message


# --- how a file is read ------------------------------------------------------------


@pytest.mark.parametrize("mode, name", [("I;16", "ramp.png"), ("I;16B", "ramp.tiff"), ("I;16", "ramp.pgm"),
                                        ("I", "ramp.tif"), ("F", "ramp.tiff")])
def test_deep_grayscale_is_scaled_to_8_bits_not_clipped(tmp_path, mode, name):
    """convert("RGB") clips a 16-bit ramp to 99% white; read_image scales 65535 to 255."""
    pixels = {"I;16": RAMP, "I;16B": RAMP.astype(">u2"), "I": RAMP.astype(np.int32),
              "F": RAMP.astype(np.float32) / 65535}[mode]
    path = tmp_path / name
    Image.fromarray(pixels).save(path)  # a 16-bit PGM opens as mode I, a 16-bit PNG as I;16
    with Image.open(path) as opened:
        assert opened.mode.startswith("I") or opened.mode == "F"  # the file really is deeper than 8 bits
    image = data.read_image(path)
    assert image.shape == (4, 256, 3) and image.dtype == np.uint8
    assert (image == image[..., :1]).all()  # grey stays grey
    np.testing.assert_allclose(image[0, :, 0], np.arange(256), atol=1)  # a ramp: 0, 1, ..., 255
    cached = data.folder_cache(tmp_path, image_size=4, channels=1, verbose=False)[:]
    assert 100 < cached.mean() < 155  # the centre of the ramp, not a white square


def test_pixels_outside_what_a_deep_image_can_mean_are_refused(tmp_path):
    Image.fromarray(np.array([[0, 70000]], np.int32)).save(tmp_path / "wide.tiff")
    _one_line(lambda: data.read_image(tmp_path / "wide.tiff"), "wide.tiff: its integer pixels run from 0 to 70000")
    Image.fromarray(np.array([[-3.0, 900.0]], np.float32)).save(tmp_path / "depth.tiff")
    _one_line(lambda: data.read_image(tmp_path / "depth.tiff"), "floating-point pixels run from -3 to 900")
    Image.fromarray(np.array([[0.0, np.nan]], np.float32)).save(tmp_path / "nan.tiff")
    _one_line(lambda: data.read_image(tmp_path / "nan.tiff"), "nan.tiff: its floating-point pixels")
    Image.fromarray(np.array([[0.0, 200.0]], np.float32)).save(tmp_path / "levels.tiff")
    assert data.read_image(tmp_path / "levels.tiff")[0, :, 0].tolist() == [0, 200]  # [0, 255] floats are levels


def _half_black_half_white(width, height):
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, width // 2:] = 255  # stored: black on the left, white on the right
    return Image.fromarray(pixels)


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": a portrait photo stored landscape
    _half_black_half_white(40, 20).save(tmp_path / "portrait.jpg", exif=exif, quality=95)
    image = data.read_image(tmp_path / "portrait.jpg")
    assert image.shape == (40, 20, 3)  # portrait, as a viewer shows it
    assert image[:16].max() < 40 and image[24:].min() > 215  # the stored left (black) is now the top
    (square,) = data.folder_cache(tmp_path, image_size=8, channels=1, verbose=False)[:]
    assert square[:3].max() < 40 and square[5:].min() > 215  # top black, bottom white: not lying on its side


def test_transparent_pixels_are_laid_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black: a viewer shows the background
    rgba[:2] = (255, 0, 0, 128)  # half-transparent red in the top rows
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image = data.read_image(tmp_path / "rgba.png")
    assert (image[2:] == 255).all()  # white, not the black hidden under alpha 0
    np.testing.assert_allclose(image[0, 0], (255, 127, 127), atol=1)  # red at half strength over white
    grey_alpha = np.stack([np.full((4, 4), 30, np.uint8), np.zeros((4, 4), np.uint8)], -1)
    Image.fromarray(grey_alpha, "LA").save(tmp_path / "la.png")
    assert (data.read_image(tmp_path / "la.png") == 255).all()
    palette = Image.fromarray(np.zeros((4, 4), np.uint8), "P")
    palette.putpalette([0, 0, 0] * 256)
    palette.save(tmp_path / "palette.png", transparency=0)  # palette entry 0 (black) is transparent
    assert (data.read_image(tmp_path / "palette.png") == 255).all()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(tmp_path / "keyed.png", transparency=(10, 20, 30))
    assert (data.read_image(tmp_path / "keyed.png") == 255).all()  # a colour marked transparent
    Image.new("RGBA", (4, 4), (0, 0, 255, 255)).save(tmp_path / "opaque.png")
    assert (data.read_image(tmp_path / "opaque.png") == (0, 0, 255)).all()  # opaque pixels are untouched


def test_other_modes_are_converted_to_what_they_show(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # red in print colours
    red = data.read_image(tmp_path / "cmyk.jpg")
    assert (red[..., 0] > 230).all() and (red[..., 1:] < 25).all()
    bits = Image.fromarray(np.indices((4, 4)).sum(0) % 2 == 0)  # a 1-bit checkerboard
    bits.save(tmp_path / "bits.png")
    assert Image.open(tmp_path / "bits.png").mode == "1"
    checker = data.read_image(tmp_path / "bits.png")[..., 0]
    assert set(np.unique(checker)) == {0, 255} and checker[0, 0] == 255 and checker[0, 1] == 0
    grey_lab = data._as_rgb(Image.new("LAB", (2, 2), (128, 128, 128)), "lab.tif")  # L* = 50, no colour
    assert (abs(np.asarray(grey_lab).astype(int) - 119) <= 2).all()  # sRGB's mid grey, not Pillow's blue


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("L", (8, 8), value) for value in (0, 255)]
    frames[0].save(tmp_path / "blink.gif", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(tmp_path / "blink.gif").n_frames == 2
    assert data.read_image(tmp_path / "blink.gif").max() == 0


def test_grey_and_colour_images_meet_the_channels_asked_for(tmp_path):
    Image.new("L", (8, 8), 90).save(tmp_path / "grey.png")
    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "red.png")
    colour = data.folder_cache(tmp_path, image_size=8, channels=3, verbose=False)[:]
    assert (colour[0] == 90).all()  # grey.png: the grey in all three channels
    assert (colour[1] == (255, 0, 0)).all()
    grey = data.folder_cache(tmp_path, image_size=8, channels=1, verbose=False)[:]
    assert (grey[0] == 90).all() and (grey[1] == 76).all()  # red's luma: 0.299 * 255


def test_a_tall_image_is_center_cropped_like_a_wide_one(tmp_path):
    tall = np.zeros((60, 20), np.uint8)
    tall[20:40] = 255  # a white middle square between black bands
    Image.fromarray(tall).save(tmp_path / "tall.png")
    (image,) = data.folder_cache(tmp_path, image_size=20, channels=1, verbose=False)[:]
    assert image.min() == 255


@pytest.mark.parametrize("name, content, expected", [
    ("empty.png", b"", "Cannot read {path} as an image (it is empty (0 bytes))"),
    ("notes.jpg", b"a text file with an image's name", "Cannot read {path} as an image"),
    ("cut.jpg", "truncated", "Cannot read {path} as an image (OSError: image file is truncated"),
])
def test_files_that_are_not_whole_images_are_named(tmp_path, name, content, expected):
    path = tmp_path / name
    if content == "truncated":
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(path, quality=95)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    message = _one_line(lambda: data.folder_cache(tmp_path, 8, 3, verbose=False), expected.format(path=path))
    assert message.endswith("Remove or replace it.")


# --- which files count ------------------------------------------------------------------


def _image(path, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)


def _names(listing):
    return [str(path.relative_to(listing.directory)) for path in listing.paths]


def test_upper_case_extensions_count_and_hidden_files_do_not(tmp_path):
    _image(tmp_path / "PHOTO.JPG")
    _image(tmp_path / "scan.PNG")
    _image(tmp_path / "sub" / "page.TiFf")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "._PHOTO.JPG").write_bytes(b"\0\5\26\7 macOS resource fork")  # AppleDouble, on a non-Mac disk
    _image(tmp_path / ".thumbnails" / "PHOTO.png")
    (tmp_path / "readme.txt").write_text("ignored")
    assert _names(data.list_folder(tmp_path)) == ["PHOTO.JPG", "scan.PNG", "sub/page.TiFf"]
    assert len(data.folder_cache(tmp_path, 8, 1, verbose=False)) == 3


def test_images_that_cannot_be_decoded_here_stop_the_folder(tmp_path):
    """An iPhone folder of JPEGs and HEICs would otherwise train on the JPEGs alone, without a word."""
    _image(tmp_path / "IMG_0001.JPG")
    (tmp_path / "._IMG_0002.HEIC").write_bytes(b"AppleDouble")  # hidden: skipped, not refused
    _image(tmp_path / "scan.jfif")
    assert _names(data.list_folder(tmp_path)) == ["IMG_0001.JPG", "scan.jfif"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "IMG_0002.HEIC").write_bytes(b"\0\0\0\x18ftypheic")
    _one_line(lambda: data.list_folder(tmp_path), f"{tmp_path / 'sub' / 'IMG_0002.HEIC'} is an image in a format "
                                                  "that cannot be decoded here (HEIC), and leaving it out would train "
                                                  "on part of")


def _within(seconds, call):
    """``call()``, or a failure (not a hung test) if it takes longer: a symlink cycle must not loop."""
    def stop(*_):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        return call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_linked_folders_are_followed_once_each(tmp_path):
    """8 images, 4 behind a linked folder: all 8 train, once each, whatever links lead to them twice."""
    root, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    for index in range(4):
        _image(root / "own" / f"{index}.png", value=10 + index)
        _image(elsewhere / f"{index}.png", value=200 + index)
    os.symlink(elsewhere, root / "linked")  # the 8-of-16 case: these were left out
    os.symlink(root, root / "own" / "loop")  # a cycle back to the top
    os.symlink(root / "own", root / "again")  # a second way into own/
    os.symlink(root / "own" / "0.png", root / "own" / "copy.png")  # a second name for one file
    listing = _within(20, lambda: data.list_folder(root))
    assert _names(listing) == ["again/0.png", "again/1.png", "again/2.png", "again/3.png",
                               "linked/0.png", "linked/1.png", "linked/2.png", "linked/3.png"]
    values = data.folder_cache(root, 8, 1, verbose=False)[:][:, 0, 0, 0]
    assert sorted(values) == [10, 11, 12, 13, 200, 201, 202, 203]


def test_a_broken_link_or_an_unlistable_folder_is_named(tmp_path, monkeypatch):
    _image(tmp_path / "a.png")
    os.symlink(tmp_path / "moved.png", tmp_path / "b.png")
    _one_line(lambda: data.list_folder(tmp_path), f"{tmp_path / 'b.png'} is a link to {tmp_path / 'moved.png'}, "
                                                  "which does not exist. Restore the file, or remove the link.")
    (tmp_path / "b.png").unlink()
    (tmp_path / "locked").mkdir()
    walk = os.walk

    def denied(top, onerror=None, **kwargs):  # as os.walk does for a folder this user may not list
        for entry in walk(top, onerror=onerror, **kwargs):
            yield entry
            if entry[0] == str(tmp_path):
                onerror(PermissionError(13, "Permission denied", str(tmp_path / "locked")))

    monkeypatch.setattr(data.os, "walk", denied)
    _one_line(lambda: data.list_folder(tmp_path), f"Cannot list {tmp_path / 'locked'} (Permission denied), so its "
                                                  "images would be left out")


# --- empty strings are not the working folder ------------------------------------------------


def test_an_empty_path_is_refused_not_taken_as_the_working_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _image(tmp_path / "here.png")
    _one_line(lambda: data.open_images(image_dir=""), "The image folder is an empty string")
    _one_line(lambda: TrainConfig.create(output=""), "--output is an empty string")
    _one_line(lambda: TrainConfig.create(image_dir=" "), "--image-dir is an empty string")
    monkeypatch.setenv("DCGAN_KERAS_CACHE", "")
    _one_line(lambda: data.folder_cache(tmp_path, 8, 1, verbose=False), "DCGAN_KERAS_CACHE is set but empty")
    with pytest.raises(SystemExit) as stopped:
        main(["sample", "--generator", str(tmp_path / "missing.keras")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: DCGAN_KERAS_CACHE is set but empty, which would put the cache in the working folder. Unset it "
        "(the cache is then ~/.cache/dcgan_keras) or set it to a folder."]
    monkeypatch.delenv("DCGAN_KERAS_CACHE")
    files.check_cache_setting()  # unset: fine
    assert sorted(os.listdir(tmp_path)) == ["here.png"]  # nothing was written here


# --- a folder changed under a run ----------------------------------------------------------------

TINY = ["--image-size", "8", "--channels", "1", "--width", "4", "--batch-size", "8", "--latent-dim", "4",
        "--verbose", "0", "--eval-every", "0"]


def _snapshot(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_run_is_not_trained_further_on_a_changed_folder(tmp_path, capsys):
    """Half the images replaced: --epochs 2 refuses in one line, instead of continuing as if nothing changed."""
    photos, run = tmp_path / "photos", tmp_path / "run"
    for index in range(16):
        _image(photos / f"{index:02d}.png", value=8 * index)
    main(["train", "--image-dir", str(photos), "--epochs", "1", "--output", str(run), *TINY])
    record = json.loads(RunPaths(run).record.read_text())
    assert record["data"] == data.list_folder(photos).fingerprint and record["data"]["images"] == 16
    # Unchanged, it may be trained further (claimed here on a copy of the run, without training).
    config = TrainConfig.create(image_dir=photos, epochs=2, output=tmp_path / "copy", **_options(TINY))
    shutil.copytree(run, tmp_path / "copy")
    assert claim_run_folder(config, RunPaths(tmp_path / "copy"), data.list_folder(photos)) is not None
    # Half the images replaced by others of the same names: refused, the run folder untouched.
    for index in range(8):
        _image(photos / f"{index:02d}.png", value=255 - index)
    before = _snapshot(run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--image-dir", str(photos), "--epochs", "2", "--output", str(run), *TINY])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: --image-dir {photos} has changed since the run in --output {run} started on it (16 "
                     "images then, 16 now; files were added, removed, replaced or edited). Training further would "
                     "mix two datasets: pass --overwrite to start again on the folder as it is, or choose another "
                     "--output."]
    assert _snapshot(run) == before


def _options(argv):
    pairs = dict(zip(argv[::2], argv[1::2]))
    names = {"--image-size": "image_size", "--channels": "channels", "--width": "width", "--batch-size": "batch_size",
             "--latent-dim": "latent_dim", "--verbose": "verbose", "--eval-every": "eval_every"}
    return {names[flag]: int(value) for flag, value in pairs.items()}


# --- unreadable files: all named at once, or left out with --skip-bad-images ----------------------------------------


def _photos_with_bad_files(folder, good=16, bad=5):
    for index in range(good):
        _image(folder / f"{index:02d}.png", value=8 * index)
    (folder / "bad").mkdir(parents=True)
    (folder / "bad" / "a_empty.png").write_bytes(b"")
    for index in range(1, bad):
        (folder / "bad" / f"b{index}.jpg").write_bytes(b"a text file with an image's name")
    return sorted(str(path.relative_to(folder)) for path in (folder / "bad").iterdir())


def test_every_unreadable_file_is_named_in_one_go_and_skip_bad_images_trains_on_the_rest(tmp_path, capsys):
    """One rerun, not one per bad file: the first run names all five; --skip-bad-images trains on the 16 others."""
    photos, run = tmp_path / "photos", tmp_path / "run"
    bad = _photos_with_bad_files(photos)
    train = ["train", "--image-dir", str(photos), "--output", str(run), *TINY]
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main([*train, "--epochs", "1"])
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    listed = line.split("all listed in ")[1].split(". Remove")[0]
    assert line == (f"error: 5 of the 21 image files under {photos} cannot be read as images: {photos}/bad/a_empty.png "
                    f"(it is empty (0 bytes)); {photos}/bad/b1.jpg (UnidentifiedImageError: cannot identify image file "
                    f"'{photos}/bad/b1.jpg'); {photos}/bad/b2.jpg (UnidentifiedImageError: cannot identify image file "
                    f"'{photos}/bad/b2.jpg'); and 2 more, all listed in {listed}. Remove or replace them, or pass "
                    "--skip-bad-images (skip_bad=True in Python) to train on the other 16.")
    assert [entry["path"] for entry in json.loads(open(listed).read())] == bad  # the full list
    assert not run.exists()  # a refused command leaves no run folder
    # The library says the same, and with skip_bad=True gives the 16 readable images and the files it left out.
    _one_line(lambda: data.folder_cache(photos, 8, 1, verbose=False), "5 of the 21 image files under")
    cache = data.folder_cache(photos, 8, 1, verbose=False, skip_bad=True)
    assert len(cache) == 16 and [str(path.relative_to(photos)) for path, _ in cache.skipped] == bad
    assert sorted(cache[:][:, 0, 0, 0]) == [8 * index for index in range(16)]  # the readable ones, none misread

    main([*train, "--epochs", "1", "--skip-bad-images"])
    printed = capsys.readouterr().out
    assert f"Skipping 5 file(s) that cannot be read as images: {photos}/bad/a_empty.png (it is empty" in printed
    assert "Training on 16 images" in printed
    record = json.loads(RunPaths(run).record.read_text())["data"]
    assert record == {**data.list_folder(photos).fingerprint, "skipped": bad}
    # Resumed without the flag: refused as the folder would be, the run untouched.
    before = _snapshot(run)
    with pytest.raises(SystemExit) as stopped:
        main([*train, "--epochs", "2"])
    assert stopped.value.code == 2 and "pass --skip-bad-images" in capsys.readouterr().err
    assert _snapshot(run) == before
    # With it, the skipped files are the same ones: not a changed folder, it trains further.
    main([*train, "--epochs", "2", "--skip-bad-images"])
    assert "Resuming the run" in capsys.readouterr().out
    assert json.loads(RunPaths(run).record.read_text())["finished_epochs"] == 2


def test_a_few_unreadable_files_are_all_named_and_a_wholly_unreadable_folder_is_refused(tmp_path):
    photos = tmp_path / "photos"
    _photos_with_bad_files(photos, good=2, bad=2)
    message = _one_line(lambda: data.folder_cache(photos, 8, 1, verbose=False), "2 of the 4 image files")
    assert "a_empty.png" in message and "b1.jpg" in message and "more" not in message
    shutil.rmtree(photos)
    _photos_with_bad_files(photos, good=0, bad=2)  # nothing left to train on: skip_bad cannot help
    message = _one_line(lambda: data.folder_cache(photos, 8, 1, verbose=False, skip_bad=True),
                        "2 of the 2 image files")
    assert message.endswith("Remove or replace them.")


def test_a_resumed_run_leaves_out_the_same_files_it_started_without(tmp_path, capsys, monkeypatch):
    """A file that became unreadable without changing its size or time (permissions): refused, not mixed in."""
    photos, run = tmp_path / "photos", tmp_path / "run"
    _photos_with_bad_files(photos, bad=1)
    train = ["train", "--image-dir", str(photos), "--output", str(run), "--skip-bad-images", *TINY]
    main([*train, "--epochs", "1"])
    for cache in image_cache.CACHE_FOLDER.glob("folder-*"):  # decoded again, now with one more unreadable
        cache.unlink()
    read = data.read_image

    def unreadable_now(path):
        if path.name == "03.png":
            raise data.UnreadableImage("Cannot read 03.png", path, "PermissionError")
        return read(path)

    monkeypatch.setattr(data, "read_image", unreadable_now)
    before = _snapshot(run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main([*train, "--epochs", "2"])
    assert stopped.value.code == 2
    assert "left out 1 unreadable file(s) when it started, and 2 cannot be read now (03.png changed)" in (
        capsys.readouterr().err)
    assert _snapshot(run) == before


# --- the folders of a run are compared by their resolved paths ----------------------------------------------------


@pytest.mark.long  # three train commands: run by pytest -m long
def test_a_run_resumes_whichever_way_its_folders_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for index in range(16):
        _image(tmp_path / "photos" / f"{index:02d}.png", value=8 * index)
    main(["train", "--image-dir", "photos", "--output", "run", "--epochs", "1", *TINY])
    record_path = tmp_path / "run" / "run.json"
    record = json.loads(record_path.read_text())
    assert record["options"]["image_dir"] == str(tmp_path.resolve() / "photos")
    # An older run.json holds the folder as typed: resolved from the working folder, it is the same folder.
    record["options"]["image_dir"] = "photos"
    record_path.write_text(json.dumps(record))
    capsys.readouterr()
    main(["train", "--image-dir", str(tmp_path / "photos"), "--output", str(tmp_path / "run"), "--epochs", "2",
          *TINY])
    assert "Resuming the run" in capsys.readouterr().out
    main(["train", "--image-dir", "./photos/", "--output", "./run", "--epochs", "3", *TINY])
    assert "Resuming the run" in capsys.readouterr().out
    shutil.copytree(tmp_path / "photos", tmp_path / "copy")  # the same files elsewhere: another folder
    with pytest.raises(SystemExit):
        main(["train", "--image-dir", "copy", "--output", "run", "--epochs", "4", *TINY])
    assert f"made with --image-dir {tmp_path.resolve() / 'photos'}; this command asks for --image-dir copy" in (
        capsys.readouterr().err)
