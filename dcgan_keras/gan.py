"""The DCGAN training loop: a `keras.Model` with a custom `train_step`.

Notebook 04 walks through this file. One `train_step` is one iteration of the
paper's algorithm, in the order of the paper's reference code (and of the
PyTorch DCGAN example):

1. draw z ~ N(0, I) and generate a fake batch G(z);
2. update D on the real batch and on the fake batch, each through D on its own,
   so that BatchNorm normalises real and fake images with their own statistics;
3. update G through the freshly updated D, with the non-saturating loss.
"""

import numpy as np
import keras
from keras import ops

from dcgan_keras.models import build_discriminator, build_generator

PAPER_LEARNING_RATE = 2e-4
PAPER_BETA_1 = 0.5


def paper_optimizer():
    """Adam(2e-4, beta_1=0.5): the paper found beta_1=0.9 oscillates."""
    return keras.optimizers.Adam(learning_rate=PAPER_LEARNING_RATE, beta_1=PAPER_BETA_1)


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy of D: real images are labelled 1, fakes 0.

    ``-log D(x) - log(1 - D(G(z)))`` with ``D = sigmoid(logit)``, written with
    ``-log sigmoid(a) = softplus(-a)`` and ``-log(1 - sigmoid(a)) = softplus(a)``
    so that it stays finite however confident D becomes. The two halves are
    averaged over their own batches and summed, as in the paper's code.
    """
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits):
    """The non-saturating generator loss ``-log D(G(z))``.

    The minimax game asks G to minimise ``log(1 - D(G(z)))``, whose gradient
    vanishes exactly when G is bad and D rejects its samples with confidence
    (early in training). ``-log D(G(z))`` has the same fixed point and strong
    gradients there (Goodfellow et al., 2014, section 3).
    """
    return ops.mean(ops.softplus(-ops.cast(fake_logits, "float32")))


def latent_noise(num_images, latent_dim, seed=None):
    """z ~ N(0, I) as float32 numpy, identical on every backend for a given seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_images, latent_dim)).astype("float32")


def interpolate(z_start, z_end, steps):
    """``steps`` latent points on the straight line from z_start to z_end."""
    weights = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return (1.0 - weights) * z_start[None] + weights * z_end[None]


@keras.saving.register_keras_serializable(package="dcgan_keras")
class DCGAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    >>> gan = DCGAN(build_generator(image_shape=(28, 28, 1)),
    ...             build_discriminator(image_shape=(28, 28, 1)))
    >>> gan.compile()                      # the paper's Adam for both players
    >>> gan.fit(images, epochs=5)          # images in [-1, 1], no labels
    >>> samples = gan.generate(16, seed=0)

    ``fit()`` reports d_loss, g_loss, D_x (the mean of D(x) on real images) and
    D_G_z (the mean of D(G(z)) on fakes, before D's update).
    """

    def __init__(self, generator, discriminator, seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_pair(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.image_shape = tuple(generator.output_shape[1:])
        self.seed = seed
        # Attached to the model so the noise stream is part of its state,
        # saved and restored with it, and traced correctly under jit.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="D_x")
        self.fake_score_tracker = keras.metrics.Mean(name="D_G_z")
        # Both networks are functional models, built on construction.
        self.built = True

    @classmethod
    def from_shape(cls, image_shape, latent_dim=100, width=128, kernel_size=5, seed=None):
        """Build the matching generator and discriminator for one image shape."""
        generator = build_generator(latent_dim, image_shape, width, kernel_size, seed)
        discriminator = build_discriminator(
            image_shape, width, kernel_size, None if seed is None else seed + 1
        )
        return cls(generator, discriminator, seed=seed)

    @property
    def metrics(self):
        # Listed here so that Keras resets them at the start of every epoch.
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.real_score_tracker,
            self.fake_score_tracker,
        ]

    def call(self, images, training=False):
        """D's logits for a batch of images (``fit()`` builds the model on one)."""
        return self.discriminator(images, training=training)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Set one optimizer per player; both default to the paper's Adam.

        Under the ``mixed_float16`` policy both are wrapped in a
        ``LossScaleOptimizer``: Keras only wraps ``model.optimizer``, which a
        GAN does not use, and float16 gradients underflow without scaling.
        """
        # No model-level optimizer: each player has its own (Keras would default to RMSprop).
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._prepare(d_optimizer or paper_optimizer())
        self.g_optimizer = self._prepare(g_optimizer or paper_optimizer())
        # Built now so that checkpoints can restore their state before step 1.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _prepare(self, optimizer):
        optimizer = keras.optimizers.get(optimizer)
        float16 = self.generator.dtype_policy.name == "mixed_float16"
        if float16 and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, np.ndarray):
            _check_images(x, self.image_shape)
        else:
            # A tf.data pipeline shuffles itself (make_dataset does); without
            # this Keras warns that its own shuffle flag is ignored.
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    def train_step(self, data):
        real_images = _images_only(data)
        _check_batch_shape(real_images, self.image_shape)
        batch_size = ops.shape(real_images)[0]
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError(
                f"DCGAN.train_step runs on the TensorFlow backend; got "
                f"KERAS_BACKEND={keras.backend.backend()!r}. Set "
                f"KERAS_BACKEND=tensorflow before importing keras."
            )
        stats = self._tensorflow_step(real_images, z)
        return self._update_metrics(*stats)

    def _tensorflow_step(self, real_images, z):
        """The one backend-specific piece: gradients and updates with tapes."""
        import tensorflow as tf

        generator, discriminator = self.generator, self.discriminator
        with tf.GradientTape() as g_tape:
            fake_images = generator(z, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    real_logits = discriminator(real_images, training=True)
                    fake_logits = discriminator(
                        ops.stop_gradient(fake_images), training=True
                    )
                    d_loss = discriminator_loss(real_logits, fake_logits)
                    scaled = self.d_optimizer.scale_loss(d_loss)
                d_weights = discriminator.trainable_variables
                self.d_optimizer.apply(d_tape.gradient(scaled, d_weights), d_weights)
            # G's gradient flows through the discriminator D has just become.
            g_loss = generator_loss(discriminator(fake_images, training=True))
            scaled = self.g_optimizer.scale_loss(g_loss)
        g_weights = generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(scaled, g_weights), g_weights)
        return d_loss, g_loss, real_logits, fake_logits

    def _update_metrics(self, d_loss, g_loss, real_logits, fake_logits):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.sigmoid(ops.cast(real_logits, "float32")))
        self.fake_score_tracker.update_state(ops.sigmoid(ops.cast(fake_logits, "float32")))
        return {metric.name: metric.result() for metric in self.metrics}

    def generate(self, num_images, seed=None, z=None, batch_size=256):
        """Sample images in [-1, 1] as numpy, with BatchNorm in inference mode.

        Pass ``seed`` for a reproducible batch, or your own ``z``.
        """
        if z is None:
            z = latent_noise(num_images, self.latent_dim, seed)
        return generate_images(self.generator, z, batch_size)

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return {}
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
        )


def generate_images(generator, z, batch_size=256):
    """Run ``generator`` on ``z`` in inference mode and return numpy images."""
    chunks = [
        ops.convert_to_numpy(generator(z[start : start + batch_size], training=False))
        for start in range(0, len(z), batch_size)
    ]
    return np.concatenate(chunks).astype("float32")


def _images_only(data):
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    if y is not None:
        raise ValueError(
            "DCGAN.fit() takes images only, but got (images, labels). Map the "
            "labels away first, e.g. dataset.map(lambda x, y: x)."
        )
    return x


def _check_pair(generator, discriminator):
    produced = tuple(generator.output_shape[1:])
    expected = tuple(discriminator.input_shape[1:])
    if produced != expected:
        raise ValueError(
            f"The generator makes {produced} images but the discriminator "
            f"expects {expected}. Build both with the same image_shape."
        )


def _check_batch_shape(images, image_shape):
    shape = tuple(images.shape[1:])
    if len(shape) != 3 or any(
        got is not None and got != want for got, want in zip(shape, image_shape)
    ):
        raise ValueError(
            f"DCGAN was built for {image_shape} images but fit() got batches of "
            f"shape {tuple(images.shape)}. Resize the data or build the models "
            f"with image_shape={tuple(shape)}."
        )


def _check_images(images, image_shape):
    if images.ndim == 3 and image_shape[-1] == 1:
        hint = " Add the channel axis: images[..., None]."
    else:
        hint = ""
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"Expected images of shape (N, {', '.join(map(str, image_shape))}), "
            f"got {images.shape}.{hint}"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Expected float images scaled to [-1, 1], got dtype {images.dtype}. "
            f"Use dcgan_keras.data.to_unit_range(images)."
        )
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(
            f"Expected pixels in [-1, 1] (the range of the generator's tanh), got "
            f"[{low:.3g}, {high:.3g}]. Use dcgan_keras.data.to_unit_range(images)."
        )
