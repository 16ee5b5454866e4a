import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import dcgan_keras  # noqa: E402,F401  (first: it imports TensorFlow quietly)
import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test starts (and leaves) with float32 and a fixed seed."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def mnist_images():
    from dcgan_keras.data import load_images

    return load_images()
