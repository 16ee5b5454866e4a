import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One compute thread per test process (pytest-xdist runs one per core): the models are small, and
    # two processes of two threads each on two cores mostly wait for each other. Subprocesses and
    # notebook kernels inherit it.
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from dcgan_keras.console import import_tensorflow_quietly

import_tensorflow_quietly()  # before Keras: the test output carries no C++ start-up lines

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import dcgan_keras  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test starts (and leaves) with float32 and a fixed seed."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(autouse=True, scope="session")
def _image_cache_of_its_own(tmp_path_factory):
    """Decoded test folders and mock tfds splits are cached in a temporary folder, not the user's."""
    from dcgan_keras import image_cache

    saved, image_cache.CACHE_FOLDER = image_cache.CACHE_FOLDER, tmp_path_factory.mktemp("image-cache")
    yield
    image_cache.CACHE_FOLDER = saved


@pytest.fixture(scope="session")
def mnist_images():
    from dcgan_keras.data import load_images

    return load_images()


@pytest.fixture
def make_gan():
    """A factory of small compiled MNIST-sized DCGANs: ``make_gan(seed=0, width=8)``."""

    def make(seed=0, width=8):
        gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), latent_dim=16, width=width, seed=seed)
        gan.compile()
        return gan

    return make


def weights_of(model):
    """A model's weights as numpy copies (to compare before and after)."""
    return [np.array(weight) for weight in model.get_weights()]


@pytest.fixture(name="weights_of")
def _weights_of():
    return weights_of
