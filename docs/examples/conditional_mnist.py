"""A label-conditioned DCGAN on MNIST, built from dcgan_keras's blocks.

    python docs/examples/conditional_mnist.py      # writes conditional_mnist.png

G sees z joined with a one-hot label; D sees the image with the label as ten
constant planes (Mirza & Osindero, 2014). Only what each network is fed
changes: the step, the losses and the optimizers are DCGAN's own.
"""

import keras
import numpy as np
from keras import ops

import dcgan_keras
from dcgan_keras.data import load_embedded_mnist, to_unit_range

CLASSES, LATENT = 10, 100


class ConditionalDCGAN(dcgan_keras.DCGAN):
    def unpack_batch(self, data):  # fit(images, labels) gives (images, labels) batches
        images, labels = data
        return images, ops.one_hot(ops.cast(labels, "int32"), CLASSES)

    def sample_latent(self, batch_size):  # G's input is z and the label: draw only z
        return keras.random.normal((batch_size, LATENT), seed=self.seed_generator)

    def generator_inputs(self, z, onehot):
        return ops.concatenate([z, ops.cast(onehot, z.dtype)], axis=-1)

    def discriminator_inputs(self, images, onehot):
        planes = ops.ones_like(images[..., :1]) * ops.cast(onehot, images.dtype)[:, None, None, :]
        return ops.concatenate([images, planes], axis=-1)

    def draw(self, labels, seed=0):
        """One sample in [-1, 1] for each label."""
        z = dcgan_keras.latent_noise(len(labels), LATENT, seed)
        return dcgan_keras.sample(self.generator, z=np.concatenate([z, np.eye(CLASSES, dtype=z.dtype)[labels]], 1))


def build(width=32, seed=0):
    generator = dcgan_keras.build_generator((28, 28, 1), LATENT + CLASSES, width=width, seed=seed)
    discriminator = dcgan_keras.build_discriminator((28, 28, 1 + CLASSES), width=width, seed=seed + 1)
    gan = ConditionalDCGAN(generator, discriminator, seed=seed)
    gan.compile()
    return gan


if __name__ == "__main__":
    images, labels = load_embedded_mnist(with_labels=True)
    gan = build()
    gan.fit(to_unit_range(images), labels, batch_size=64, epochs=5)
    dcgan_keras.save_grid(gan.draw(np.repeat(np.arange(CLASSES), 8)), "conditional_mnist.png", columns=8)
