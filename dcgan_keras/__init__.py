"""dcgan_keras: DCGAN (Radford, Metz & Chintala, 2015) in Keras 3, as a tutorial and a library.

>>> import dcgan_keras
>>> generator = dcgan_keras.build_generator()          # the paper's 64x64x3 generator
>>> gan = dcgan_keras.DCGAN.from_shape((28, 28, 1))     # MNIST-sized pair
"""

from dcgan_keras.console import import_tensorflow_quietly

import_tensorflow_quietly()

# ruff: noqa: E402  (TensorFlow must be imported quietly before Keras)
from dcgan_keras.gan import (
    DCGAN,
    discriminator_loss,
    generator_loss,
    interpolate,
    latent_noise,
    paper_optimizer,
)
from dcgan_keras.models import build_discriminator, build_generator, valid_image_sizes

__version__ = "0.1.0"

__all__ = [
    "DCGAN",
    "build_discriminator",
    "build_generator",
    "discriminator_loss",
    "generator_loss",
    "interpolate",
    "latent_noise",
    "paper_optimizer",
    "valid_image_sizes",
]
