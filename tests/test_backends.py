"""The same DCGAN on TensorFlow, JAX and PyTorch: identical steps, and no TensorFlow needed.

Each backend runs in its own subprocess (Keras picks its backend once per
process). The README's test command runs the agreement tests and the
no-TensorFlow script (train, save, load, resume exactly, the command line, a
streamed folder) on every backend; the whole portable suites rerun on JAX and
PyTorch with the `long` suites (`pytest -m long`).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

# Each test starts fresh Python processes on other backends: minutes, not seconds.
pytestmark = pytest.mark.slow

BACKENDS = [name for name in ("tensorflow", "jax", "torch") if importlib.util.find_spec(name)]
STEPS = 3

# Run in a subprocess: the DCGAN's weights come from a shared file, the noise is
# fixed, the batches are fixed, so every backend computes the same function.
AGREEMENT_SCRIPT = r"""
import json, sys
import numpy as np
import dcgan_keras, keras
from keras import ops
from dcgan_keras.data import load_images

weights, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
Z = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")

class FixedNoiseDCGAN(dcgan_keras.DCGAN):
    def sample_latent(self, batch_size):
        return ops.convert_to_tensor(Z)

built = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0)
gan = FixedNoiseDCGAN(built.generator, built.discriminator, seed=0)
gan.compile()
with np.load(weights) as saved:  # by position: the formulation auto picks differs between backends
    gan.set_weights([saved[f"arr_{i}"] for i in range(len(saved.files))])
images = load_images()[:16 * steps]
losses = [gan.train_on_batch(images[16 * i : 16 * (i + 1)], return_dict=True) for i in range(steps)]
np.savez(out, *[np.asarray(w) for w in gan.get_weights()])
print(json.dumps({key: [float(step[key]) for step in losses] for key in losses[0]}))
"""


def _run(code, backend, *args, block_tensorflow=False):
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    prelude = "import sys; sys.modules['tensorflow'] = None\n" if block_tensorflow else ""
    result = subprocess.run(
        [sys.executable, "-c", prelude + code, *map(str, args)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs at least two Keras backends installed")
def test_backends_agree_step_by_step(tmp_path):
    import dcgan_keras

    initial = tmp_path / "initial.npz"
    gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0)
    gan.compile()
    np.savez(initial, *gan.get_weights())

    results = {}
    for backend in BACKENDS:
        out = tmp_path / f"{backend}.npz"
        losses = json.loads(_run(AGREEMENT_SCRIPT, backend, initial, out, STEPS))
        with np.load(out) as saved:
            results[backend] = losses, [saved[key] for key in sorted(saved.files, key=lambda k: int(k[4:]))]

    reference_losses, reference_weights = results[BACKENDS[0]]
    for backend in BACKENDS[1:]:
        losses, weights = results[backend]
        for key in reference_losses:
            np.testing.assert_allclose(losses[key], reference_losses[key], rtol=2e-4, atol=2e-5,
                                       err_msg=f"{backend} {key}")
        for ours, theirs in zip(weights, reference_weights):
            # Adam moves each weight by ~lr per step whatever the gradient's size,
            # so float32 rounding in tiny gradients shows up at ~lr, not at 1e-7.
            np.testing.assert_allclose(ours, theirs, atol=2e-4 * STEPS, err_msg=backend)


WITHOUT_TENSORFLOW_SCRIPT = r"""
import sys, tempfile, pathlib
import numpy as np
import dcgan_keras, keras
from dcgan_keras.data import load_images
assert sys.modules.get("tensorflow") is None
gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0)
gan.compile()
history = gan.fit(load_images()[:64], batch_size=32, epochs=1, verbose=0)
folder = pathlib.Path(tempfile.mkdtemp())
gan.save(folder / "dcgan.keras")
gan.generator.save(folder / "generator.keras")
restored = keras.models.load_model(folder / "dcgan.keras")
np.testing.assert_array_equal(restored.generate(2, seed=1), gan.generate(2, seed=1))
generator = keras.models.load_model(folder / "generator.keras")
# The command line too: numpy batches instead of tf.data, scored by the MNIST classifier.
from dcgan_keras.cli import main
main(["train", "--epochs", "1", "--width", "4", "--latent-dim", "8", "--batch-size", "500", "--verbose", "0",
      "--eval-images", "200", "--output", str(folder / "run")])
assert (folder / "run" / "best_generator.keras").is_file()
# A folder streams from its cache without TensorFlow (Pillow decodes it).
from PIL import Image
from dcgan_keras import data, image_cache
image_cache.CACHE_FOLDER = folder / "image-cache"
(folder / "digits").mkdir()
for index, digit in enumerate(data.load_embedded_mnist()[:64]):
    Image.fromarray(digit[..., 0]).save(folder / "digits" / f"{index}.png")
cache = data.open_images(image_dir=folder / "digits", image_size=28, channels=1)
assert isinstance(cache, image_cache.ImageCache) and len(cache) == 64
gan.fit(data.make_dataset(cache, batch_size=32), epochs=1, verbose=0)
# Exact resume: two epochs in one go, or one epoch and then the second resumed from its snapshot.
from dcgan_keras.resume import fit_resumably
def fresh(seed):
    model = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=seed)
    model.compile()
    return model
digits = load_images()[:128]
whole, halves = fresh(0), fresh(0)
fit_resumably(whole, data.make_dataset(digits, 32, seed=0), 2, folder / "whole", verbose=0)
fit_resumably(halves, data.make_dataset(digits, 32, seed=0), 1, folder / "halves", verbose=0)
resumed = fresh(1)  # other initial weights: the snapshot must win
fit_resumably(resumed, data.make_dataset(digits, 32, seed=0), 2, folder / "halves", verbose=0)
for ours, theirs in zip(resumed.get_weights(), whole.get_weights()):
    np.testing.assert_array_equal(ours, theirs)
assert sys.modules.get("tensorflow") is None
print(keras.backend.backend(), history.history["d_loss"][0], generator.output_shape)
"""


@pytest.mark.long
@pytest.mark.parametrize("backend", [name for name in BACKENDS if name != "tensorflow"])
def test_trains_and_saves_without_tensorflow(backend):
    line = _run(WITHOUT_TENSORFLOW_SCRIPT, backend, block_tensorflow=True)
    assert line.startswith(backend)


PORTABLE_SUITES = [
    "tests/test_gan.py", "tests/test_models.py", "tests/test_layers.py", "tests/test_compute.py",
    "tests/test_resume.py", "tests/test_keras_api.py", "tests/test_overrides.py",
    "tests/test_image_cache.py", "tests/chapters/test_gradients.py", "tests/test_tensorboard.py", "tests/test_ema.py",
]


@pytest.mark.long
@pytest.mark.parametrize("backend", [name for name in BACKENDS if name != "tensorflow"])
def test_portable_suites_pass_on(backend):
    """The train_step, model, layer, compute, exact-resume, image-cache and TensorBoard tests, on another backend."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", "-m", "not slow",
         *PORTABLE_SUITES],
        capture_output=True, text=True, cwd=root,
        env={**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, result.stdout[-4000:]


# The probes' gradients through dcgan_keras.compute: same weights and images, every backend.
GRADIENTS_SCRIPT = r"""
import json, sys
import numpy as np
import dcgan_keras
from keras import ops
from dcgan_keras.chapters import discriminator_probes as probes, generator_anatomy as anatomy

weights, out = sys.argv[1], sys.argv[2]
discriminator = dcgan_keras.build_discriminator((28, 28, 1), width=4, seed=0, activation="relu")
generator = dcgan_keras.build_generator((28, 28, 1), 8, width=4, seed=0)
with np.load(weights) as saved:
    discriminator.set_weights([saved[f"d{i}"] for i in range(len(discriminator.weights))])
    generator.set_weights([saved[f"g{i}"] for i in range(len(generator.weights))])
images = dcgan_keras.load_images()[:16]
z = np.random.default_rng(0).standard_normal((16, 8)).astype("float32")
np.savez(out, saliency=probes.input_gradients(discriminator, images),
         saliency_training=probes.input_gradients(discriminator, images, training=True),
         logits=probes.logits(discriminator, images, training=True))
print(json.dumps({"dead": probes.zero_gradient_fraction(discriminator, images),
                  "norms": anatomy.gradient_norms(generator, z)}))
"""


@pytest.mark.long  # the chapters' probes; the library's steps agree in test_backends_agree_step_by_step
@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs at least two Keras backends installed")
def test_probe_gradients_agree_across_backends(tmp_path):
    import dcgan_keras

    discriminator = dcgan_keras.build_discriminator((28, 28, 1), width=4, seed=0, activation="relu")
    generator = dcgan_keras.build_generator((28, 28, 1), 8, width=4, seed=0)
    weights = tmp_path / "weights.npz"
    np.savez(weights, **{f"d{i}": w for i, w in enumerate(discriminator.get_weights())},
             **{f"g{i}": w for i, w in enumerate(generator.get_weights())})
    results = {}
    for backend in BACKENDS:
        out = tmp_path / f"{backend}.npz"
        scalars = json.loads(_run(GRADIENTS_SCRIPT, backend, weights, out))
        with np.load(out) as saved:
            results[backend] = scalars, {key: saved[key] for key in saved.files}
    reference_scalars, reference_arrays = results[BACKENDS[0]]
    dead_units = [fraction for name, fraction in reference_scalars["dead"].items() if name != "image"]
    assert dead_units and all(0.2 < fraction < 0.9 for fraction in dead_units)  # a ReLU D: many dead units
    for backend in BACKENDS[1:]:
        scalars, arrays = results[backend]
        for key, value in reference_arrays.items():
            scale = np.abs(value).max()
            np.testing.assert_allclose(arrays[key], value, atol=1e-4 * scale, err_msg=f"{backend} {key}")
        for name, fraction in reference_scalars["dead"].items():
            # A unit whose pre-activation is within rounding of 0 may flip: allow 1% of units.
            assert abs(scalars["dead"][name] - fraction) < 0.01, (backend, name)
        for name, norm in reference_scalars["norms"].items():
            assert scalars["norms"][name] == pytest.approx(norm, rel=1e-4), (backend, name)
