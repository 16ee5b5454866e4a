"""Every bad input gets one actionable line, no traceback, and loses nothing.

One table for the command line (exit status 2, one ``error:`` line on
stderr, the run folder untouched) and one for the public API (a
``UsageError``, a one-line message).
"""

import shutil

import numpy as np
import pytest

from dcgan_keras import DCGAN, UsageError, build_discriminator, build_generator
from dcgan_keras.cli import main
from dcgan_keras.data import load_images, make_dataset, to_uint8
from dcgan_keras.files import folder_lock
from dcgan_keras.resume import fit_resumably, save_state

TINY = ["--width", "4", "--batch-size", "500", "--latent-dim", "8", "--verbose", "0", "--eval-every", "0"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 1-epoch run (20 steps) and a folder of odd files, made once."""
    root = tmp_path_factory.mktemp("bad_input")
    main(["train", "--epochs", "1", "--output", str(root / "run"), *TINY])
    (root / "notes.keras").write_text("not a model")
    (root / "a_file").write_text("")
    (root / "empty").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "digit.png").write_bytes(b"not a png")
    build_discriminator((28, 28, 1), width=4).save(root / "discriminator.keras")
    build_generator((32, 32, 3), 8, width=4).save(root / "colour_generator.keras")
    return root


def _files(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


RUN = "{run}"  # the copy of the finished run each case gets
CLI_CASES = {
    # numbers, checked by argparse before anything loads
    "epochs -1": (["train", "--epochs", "-1"], "argument --epochs: must be a whole number of 1 or more, got '-1'"),
    "epochs 0": (["train", "--epochs", "0"], "--epochs: must be a whole number of 1 or more"),
    "epochs not a number": (["train", "--epochs", "ten"], "--epochs: must be a whole number of 1 or more, got 'ten'"),
    "batch size 0": (["train", "--batch-size", "0"], "--batch-size: must be a whole number of 1 or more"),
    "width 0": (["train", "--width", "0"], "--width: must be"),
    "latent size -3": (["train", "--latent-dim", "-3"], "--latent-dim: must be"),
    "eval every -1": (["train", "--eval-every", "-1"], "--eval-every: must be a whole number of 0 or more"),
    "eval images 0": (["train", "--eval-images", "0"], "--eval-images: must be"),
    "backup every -2": (["train", "--backup-every", "-2"], "--backup-every: must be a whole number of 0 or more"),
    "channels 2": (["train", "--channels", "2"], "argument --channels: invalid choice"),
    "a misspelt option": (["train", "--epohcs", "3"], "unrecognized arguments: --epohcs 3"),
    "evaluate num-images -5": (["evaluate", "--num-images", "-5"], "--num-images: must be"),
    "sample num-images -1": (["sample", "--num-images", "-1"], "--num-images: must be"),
    "sample steps 0": (["sample", "--steps", "0"], "--steps: must be"),
    # sizes and folders, checked before the data loads
    "image size 30": (["train", "--image-size", "30", "--output", "{root}/out"], "Unsupported image size 30"),
    "output is a file": (["train", "--output", "{root}/a_file"], "--output {root}/a_file is a file"),
    "output under a file": (["train", "--output", "{root}/a_file/run"], "is a file, so no folder can be made"),
    "sample output is a file": (["sample", "--generator", RUN + "/generator.keras", "--output", "{root}/a_file"],
                                "--output {root}/a_file is a file"),
    # the data
    "image dir missing": (["train", "--image-dir", "{root}/nowhere", "--output", "{root}/out"],
                          "is not a folder of images"),
    "image dir empty": (["train", "--image-dir", "{root}/empty", "--output", "{root}/out"], "No images found under"),
    "unreadable image": (["train", "--image-dir", "{root}/broken", "--output", "{root}/out"], "Cannot read"),
    "batch larger than the data": (["train", "--batch-size", "20000", "--output", "{root}/out"],
                                   "is larger than the 10000"),
    # a run folder that already holds a run: nothing in it may be lost
    "rerun a finished run": (["train", "--epochs", "1", "--output", RUN, *TINY],
                             "holds a finished 1-epoch run; nothing was changed. Pass --epochs N with N > 1"),
    "no-resume on a finished run": (["train", "--epochs", "1", "--no-resume", "--output", RUN, *TINY],
                                    "which --no-resume would delete. Add --overwrite"),
    "resume with another batch size": (["train", "--epochs", "2", "--output", RUN, *TINY[:2], "--batch-size", "250",
                                        *TINY[4:]],
                                       "made with --batch-size 500; this command asks for --batch-size 250"),
    "a second train on a busy folder": (["train", "--epochs", "2", "--output", RUN, *TINY],
                                        "is in use by another train"),
    # generator files
    "generator missing": (["sample", "--generator", "{root}/missing.keras"], "No generator at"),
    "generator is a text file": (["sample", "--generator", "{root}/notes.keras"], "is not a Keras model archive"),
    "generator is a folder": (["evaluate", "--generator", "{root}/empty"], "is a folder; pass the generator.keras"),
    "generator is a discriminator": (["sample", "--generator", "{root}/discriminator.keras"],
                                     "is a model from (28, 28, 1) to (1,) (a discriminator or a classifier?)"),
    "generator is a full DCGAN": (["sample", "--generator", RUN + "/dcgan.keras"], "is a full DCGAN (both networks)"),
    "digit scores for colour": (["evaluate", "--generator", "{root}/colour_generator.keras", "--features", "mnist"],
                                "--features mnist scores 1-channel images. Leave out --features"),
    "emoji scores for grey": (["evaluate", "--generator", "{root}/run/generator.keras", "--features", "emoji"],
                              "makes grayscale images of shape (28, 28, 1); --features emoji scores 3-channel"),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_bad_command_line_input(case, finished_run, tmp_path, capsys):
    argv, expected = CLI_CASES[case]
    run = shutil.copytree(finished_run / "run", tmp_path / "run")
    before = _files(run)
    fill = {"root": finished_run, "run": run}
    argv = [part.format(**fill) for part in argv]
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        if case == "a second train on a busy folder":
            with folder_lock(run, holder="another train command"):
                main(argv)
        else:
            main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert expected.format(**fill) in lines[0]
    assert _files(run) == before  # nothing lost, nothing changed
    assert not (finished_run / "out").exists()


@pytest.fixture(scope="module")
def digits():
    return load_images()[:256]


def _fit(gan, *args, **kwargs):
    return lambda: gan.fit(*args, epochs=1, batch_size=64, verbose=0, **kwargs)


def _api_cases(digits, tmp_path):
    gan = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4)
    gan.compile()
    labels = np.zeros(len(digits), "int64")
    with_nan = digits.copy()
    with_nan[3, 4, 5, 0] = np.nan
    snapshot = tmp_path / "snapshot"
    other = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=8)
    other.compile()
    save_state(other, snapshot, 1, 4)
    import tensorflow as tf

    return {
        "generator of an unsupported size": (lambda: build_generator(image_shape=(30, 30, 3)),
                                             "Unsupported image size 30"),
        "discriminator of an unsupported size": (lambda: build_discriminator((100, 100, 3)),
                                                 "Unsupported image size 100"),
        "a mismatched pair": (lambda: DCGAN(build_generator((28, 28, 1), 8, 4), build_discriminator((32, 32, 1), 4)),
                              "makes (28, 28, 1) images but the discriminator expects (32, 32, 1)"),
        "fit on images and labels": (_fit(gan, digits, labels), "takes images only"),
        "fit on a labelled tf.data pipeline": (lambda: gan.fit(
                                                   tf.data.Dataset.from_tensor_slices((digits, labels)).batch(64),
                                                   epochs=1, verbose=0), "takes images only"),
        "fit on uint8 images": (_fit(gan, to_uint8(digits)), "got dtype uint8. Use dcgan_keras.data.to_unit_range"),
        "fit on images in [0, 255]": (_fit(gan, (digits + 1) * 127.5), "Expected pixels in [-1, 1]"),
        "fit on images with NaN": (_fit(gan, with_nan), "1 NaN or infinite pixels"),
        "fit without the channel axis": (_fit(gan, digits[..., 0]), "Add the channel axis"),
        "fit on colour images": (_fit(gan, np.repeat(digits, 3, axis=-1)), "Expected images of shape (N, 28, 28, 1)"),
        "a stream of NaN images": (lambda: make_dataset(with_nan, 64), "NaN or infinite pixels"),
        "a batch larger than the data": (lambda: make_dataset(digits, 1000), "batch_size=1000 is larger than the 256"),
        "channels 2": (lambda: load_images(channels=2), "channels must be 1 or 3"),
        "a missing image folder": (lambda: load_images(image_dir=tmp_path / "nowhere"), "is not a folder of images"),
        "resume from another model's snapshot": (lambda: fit_resumably(gan, make_dataset(digits, 64), 1, snapshot,
                                                                       verbose=0),
                                                 "was written by a different model"),
    }


def test_bad_api_input(digits, tmp_path):
    cases = _api_cases(digits, tmp_path)
    assert len(cases) + len(CLI_CASES) >= 25
    for case, (call, expected) in cases.items():
        with pytest.raises(UsageError) as raised:
            call()
        message = str(raised.value)
        assert "\n" not in message and expected in message, f"{case}: {message}"
