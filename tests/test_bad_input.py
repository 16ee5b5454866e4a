"""Every bad input gets one actionable line, no traceback, and loses nothing.

One table for the command line (exit status 2, one ``error:`` line on
stderr, the run folder untouched) and one for the public API (a
``UsageError``, a one-line message).
"""

import shutil

import numpy as np
import pytest

from dcgan_keras import (
    DCGAN,
    HistoryCSV,
    MnistEvaluator,
    QualityCheckpoint,
    SampleGrid,
    TensorBoardLogger,
    UsageError,
    build_discriminator,
    build_generator,
    interpolate,
    latent_noise,
    open_images,
    sample,
    save_grid,
)
from dcgan_keras.cli import main
from dcgan_keras.data import load_images, make_dataset, to_uint8
from dcgan_keras.evaluate import Evaluator, make_evaluator
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
    (root / "zero").mkdir()
    (root / "zero" / "digit.png").write_bytes(b"")
    (root / "dangling").mkdir()
    (root / "dangling" / "digit.png").symlink_to(root / "moved.png")
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
    # an empty path would be the working folder (--overwrite would delete a run's names there)
    "output ''": (["train", "--output", ""], "argument --output: must be a path, got '' (write . for the working"),
    "image dir ''": (["train", "--image-dir", "", "--output", "{root}/out"], "argument --image-dir: must be a path"),
    "generator ''": (["sample", "--generator", ""], "argument --generator: must be a path, got ''"),
    "sample output ' '": (["sample", "--output", " "], "argument --output: must be a path, got ' '"),
    "evaluate image dir ''": (["evaluate", "--image-dir", ""], "argument --image-dir: must be a path"),
    "train-classifier ''": (["train-classifier", ""], "argument PATH: must be a path"),
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
    "an empty image file": (["train", "--image-dir", "{root}/zero", "--output", "{root}/out"],
                            "Cannot read {root}/zero/digit.png as an image (it is empty (0 bytes))"),
    "a link to a moved image": (["train", "--image-dir", "{root}/dangling", "--output", "{root}/out"],
                                "{root}/dangling/digit.png is a link to {root}/moved.png, which does not exist"),
    "batch larger than the data": (["train", "--batch-size", "20000", "--output", "{root}/out"],
                                   "is larger than the 10000"),
    # a run folder that already holds a run: nothing in it may be lost
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
        **_api_number_cases(gan, digits, tmp_path),
    }


def _api_number_cases(gan, digits, tmp_path):
    """Counts, sizes and paths of the public API: each bad value gets one line naming it."""
    generator, images = gan.generator, digits[:8]
    bare = Evaluator()  # the checks come before any use of a reference set
    return {
        "generate -1": (lambda: gan.generate(-1, seed=0), "num_images must be a whole number of 0 or more"),
        "generate 2.5": (lambda: gan.generate(2.5), "num_images must be a whole number of 0 or more"),
        "generate True": (lambda: gan.generate(True), "got True"),
        "latent_noise latent_dim 0": (lambda: latent_noise(4, 0), "latent_dim must be a whole number of 1 or more"),
        "latent_noise seed -1": (lambda: latent_noise(4, 8, seed=-1), "seed must be a whole number of 0 or more"),
        "sample batch_size 0": (lambda: sample(generator, 4, 0, batch_size=0), "batch_size must be a whole number"),
        "sample z of another width": (lambda: sample(generator, z=np.zeros((2, 5), "float32")),
                                      "z must have shape (num_images, 8), the generator's input, got (2, 5)"),
        "sample num_images and z disagree": (lambda: sample(generator, 3, z=np.zeros((2, 8), "float32")),
                                             "num_images=3 but z holds 2 latent vectors"),
        "sample with neither": (lambda: sample(generator), "needs num_images (with a seed) or z"),
        "make_dataset batch_size 0": (lambda: make_dataset(images, 0), "batch_size must be a whole number of 1"),
        "make_dataset batch_size -5": (lambda: make_dataset(images, -5), "batch_size must be a whole number of 1"),
        "make_dataset batch_size 4.0": (lambda: make_dataset(images, 4.0), "got 4.0"),
        "make_dataset seed -1": (lambda: make_dataset(images, 4, seed=-1), "seed must be a whole number of 0"),
        "make_dataset without the channel axis": (lambda: make_dataset(images[..., 0], 4), "images[..., None]"),
        "load_images image_size 0": (lambda: load_images(image_size=0), "image_size must be a whole number of 1"),
        "load_images channels 3.0": (lambda: load_images(channels=3.0), "(grayscale or RGB), got 3.0"),
        "open_images channels True": (lambda: open_images(channels=True), "got True"),
        "open_images dataset None": (lambda: open_images(None), "dataset must be a name"),
        "open_images image_dir ''": (lambda: open_images(image_dir=""), "The image folder is an empty string"),
        "interpolate steps 0": (lambda: interpolate(np.zeros(8), np.ones(8), 0), "steps must be a whole number"),
        "save_grid of no images": (lambda: save_grid(images[:0], tmp_path / "g.png"), "Expected at least one image"),
        "save_grid of uint8 pixels": (lambda: save_grid(to_uint8(images), tmp_path / "g.png"), "to_unit_range"),
        "save_grid of [0, 255] floats": (lambda: save_grid((images + 1) * 127.5, tmp_path / "g.png"),
                                         "save_grid draws images in [-1, 1]"),
        "save_grid columns 0": (lambda: save_grid(images, tmp_path / "g.png", columns=0), "columns must be"),
        "save_grid scale 0": (lambda: save_grid(images, tmp_path / "g.png", scale=0), "scale must be"),
        "save_grid to a .jpg": (lambda: save_grid(images, tmp_path / "g.jpg"), "give a path ending in .png"),
        "save_grid to a folder": (lambda: save_grid(images, tmp_path), "is a folder; give the grid a file name"),
        "save_grid to ''": (lambda: save_grid(images, ""), "The grid's path is an empty string"),
        "evaluate_generator 0 images": (lambda: bare.evaluate_generator(generator, 0),
                                        "num_images must be a whole number of 2 or more"),
        "evaluate_generator 1 image": (lambda: bare.evaluate_generator(generator, 1), "got 1"),
        "evaluate_generator -5 images": (lambda: bare.evaluate_generator(generator, -5), "got -5"),
        "evaluate_generator range (1, 1)": (lambda: bare.evaluate_generator(generator, 10, output_range=(1, 1)),
                                            "output_range must be (low, high) with low < high"),
        "scores of 1 image": (lambda: bare.scores(images[:1]), "Scoring needs at least 2 images"),
        "real_floor 0": (lambda: MnistEvaluator.real_floor(bare, 0), "num_images must be a whole number of 2"),
        "an evaluator of 0 KID subsets": (lambda: Evaluator(num_subsets=0), "num_subsets must be"),
        "an InceptionV3 reference of 0 images": (lambda: make_evaluator("inception", 0, images=images),
                                                 "num_images must be a whole number of 2"),
        "QualityCheckpoint every 0": (lambda: QualityCheckpoint(bare, tmp_path, every=0),
                                      "every must be a whole number of 1 or more"),
        "QualityCheckpoint every 1.5": (lambda: QualityCheckpoint(bare, tmp_path, every=1.5), "got 1.5"),
        "QualityCheckpoint num_images 1": (lambda: QualityCheckpoint(bare, tmp_path, num_images=1),
                                           "num_images must be a whole number of 2"),
        "QualityCheckpoint monitor accuracy": (lambda: QualityCheckpoint(bare, tmp_path, monitor="accuracy"),
                                               "monitor must be one of the scores"),
        "SampleGrid of 0 images": (lambda: SampleGrid(tmp_path, num_images=0), "num_images must be a whole number"),
        "SampleGrid columns 0": (lambda: SampleGrid(tmp_path, columns=0), "columns must be a whole number of 1"),
        "TensorBoardLogger of 0 images": (lambda: TensorBoardLogger(tmp_path, num_images=0), "num_images must be"),
        "fit_resumably epochs 0": (lambda: fit_resumably(gan, make_dataset(images, 4), 0, tmp_path / "b"),
                                   "epochs must be a whole number of 1 or more"),
        "fit_resumably epochs -1": (lambda: fit_resumably(gan, make_dataset(images, 4), -1, tmp_path / "b"),
                                    "got -1"),
        "fit_resumably on an array": (lambda: fit_resumably(gan, images, 1, tmp_path / "b"),
                                      "fit_resumably needs the stream of dcgan_keras.make_dataset"),
        # an empty path would be the working folder
        "SampleGrid into ''": (lambda: SampleGrid(""), "directory is an empty string; give a path"),
        "HistoryCSV at ''": (lambda: HistoryCSV(""), "path is an empty string"),
        "QualityCheckpoint into ''": (lambda: QualityCheckpoint(bare, ""), "directory is an empty string"),
        "fit_resumably into ''": (lambda: fit_resumably(gan, make_dataset(images, 4), 1, ""),
                                  "directory is an empty string"),
    }


def test_empty_requests_give_empty_arrays_of_the_right_shape(digits):
    gan = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4)
    for empty in (gan.generate(0), gan.generate(np.int64(0), seed=3), sample(gan.generator, z=np.zeros((0, 8)))):
        assert isinstance(empty, np.ndarray) and empty.shape == (0, 28, 28, 1) and empty.dtype == np.float32
    assert latent_noise(0, 8).shape == (0, 8)
    assert gan.generate(np.int64(2), seed=0).shape == (2, 28, 28, 1)  # numpy integers are whole numbers
    np.testing.assert_array_equal(latent_noise(np.int32(3), np.int64(8), seed=np.uint8(1)), latent_noise(3, 8, 1))


def test_bad_api_input(digits, tmp_path):
    cases = _api_cases(digits, tmp_path)
    assert len(cases) + len(CLI_CASES) >= 25
    for case, (call, expected) in cases.items():
        with pytest.raises(UsageError) as raised:
            call()
        message = str(raised.value)
        assert "\n" not in message and expected in message, f"{case}: {message}"
