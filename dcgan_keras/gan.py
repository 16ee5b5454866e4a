"""The DCGAN training loop: a `keras.Model` with a custom `train_step`.

Notebook 04 walks through this file. One `train_step` is one iteration of the
paper's algorithm, in the order of the paper's reference code (and of the
PyTorch DCGAN example):

1. draw z ~ N(0, I) and generate a fake batch G(z);
2. update D on the real batch and on the fake batch, each through D on its own,
   so that BatchNorm normalises real and fake images with their own statistics;
3. update G through the freshly updated D, with the non-saturating loss.
"""

import keras
import numpy as np
from keras import ops

from dcgan_keras.data import TrainingBatches, check_unit_range
from dcgan_keras.errors import UsageError
from dcgan_keras.formulation import FORMULATIONS, resolve
from dcgan_keras.models import build_discriminator, build_generator
from dcgan_keras.sampling import sample

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
    def from_shape(cls, image_shape, latent_dim=100, width=128, kernel_size=5, seed=None, formulation="auto"):
        """Build the matching generator and discriminator for one image shape.

        ``formulation`` picks how the paper's strided layers are computed, never
        what they compute: "auto" (the measured choice for this backend, device
        and kernel), "paper", "subpixel" or "fast" (``dcgan_keras.formulation``).
        The weights, and so the initial model for a seed, are the same in all.
        """
        upsampling, downsampling = FORMULATIONS[resolve(formulation, kernel_size)]
        generator = build_generator(image_shape, latent_dim, width, kernel_size, seed, upsampling=upsampling)
        discriminator = build_discriminator(
            image_shape, width, kernel_size, None if seed is None else seed + 1, downsampling=downsampling
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
        if keras.backend.backend() == "jax":
            # The JAX trainer threads `model.optimizer.variables` through its
            # jitted step and nothing else: hand it both players' state.
            self.optimizer = _OptimizerPair(self.d_optimizer, self.g_optimizer)

    def _prepare(self, optimizer):
        optimizer = keras.optimizers.get(optimizer)
        float16 = self.generator.dtype_policy.name == "mixed_float16"
        if float16 and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def fit(self, x=None, *args, **kwargs):
        # Checked here, before Keras starts: an error raised inside a JAX fit()
        # would leave the model's variables detached from their values.
        if isinstance(x, np.ndarray):
            _check_images(x, self.image_shape)
        else:
            if isinstance(x, TrainingBatches):
                _check_images(x.images, self.image_shape, values=False)  # the stream checked them
                # The stream is endless: one "epoch" is one pass over the images.
                kwargs.setdefault("steps_per_epoch", x.steps_per_epoch)
                if keras.backend.backend() == "tensorflow":
                    x = x.as_tf_dataset()
            elif hasattr(x, "element_spec"):
                _check_dataset_spec(x.element_spec, self.image_shape)
            # A stream shuffles itself (make_dataset's does); without this,
            # Keras would also shuffle the order of a PyDataset's batches.
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    def sample_latent(self, batch_size):
        """z ~ N(0, I) for one step, from the model's own seed generator.

        Override it to feed your own noise (the backend-agreement test does).
        """
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def train_step(self, *args):
        # Keras' JAX trainer is functional: it passes the model's state in and
        # expects the new state back, so its step has its own signature.
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        (data,) = args
        real_images = self._real_batch(data)
        z = self.sample_latent(ops.shape(real_images)[0])
        steps = {"tensorflow": self._tensorflow_step, "torch": self._torch_step}
        if keras.backend.backend() not in steps:
            raise NotImplementedError(
                f"DCGAN trains on the tensorflow, jax and torch backends, not "
                f"{keras.backend.backend()!r}. Set KERAS_BACKEND before importing keras."
            )
        return self._update_metrics(*steps[keras.backend.backend()](real_images, z))

    def _real_batch(self, data):
        real_images = _images_only(data)
        _check_batch_shape(real_images, self.image_shape)
        return real_images

    def _tensorflow_step(self, real_images, z):
        """TensorFlow's step: gradients with tapes (JAX and PyTorch each have their own step below)."""
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
                    scaled = self.d_optimizer.scale_loss(_per_replica(d_loss))
                d_weights = discriminator.trainable_variables
                self.d_optimizer.apply(d_tape.gradient(scaled, d_weights), d_weights)
            # G's gradient flows through the discriminator D has just become.
            g_loss = generator_loss(discriminator(fake_images, training=True))
            scaled = self.g_optimizer.scale_loss(_per_replica(g_loss))
        g_weights = generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(scaled, g_weights), g_weights)
        return d_loss, g_loss, real_logits, fake_logits

    def _torch_step(self, real_images, z):
        """The same step in eager PyTorch: autograd instead of tapes."""
        import torch

        generator, discriminator = self.generator, self.discriminator
        fake_images = generator(z, training=True)
        real_logits = discriminator(real_images, training=True)
        fake_logits = discriminator(fake_images.detach(), training=True)
        d_loss = discriminator_loss(real_logits, fake_logits)
        d_weights = discriminator.trainable_variables
        d_grads = torch.autograd.grad(self.d_optimizer.scale_loss(d_loss), [w.value for w in d_weights])
        self.d_optimizer.apply(d_grads, d_weights)
        # G's gradient flows through the discriminator D has just become.
        g_loss = generator_loss(discriminator(fake_images, training=True))
        g_weights = generator.trainable_variables
        g_grads = torch.autograd.grad(self.g_optimizer.scale_loss(g_loss), [w.value for w in g_weights])
        self.g_optimizer.apply(g_grads, g_weights)
        return d_loss.detach(), g_loss.detach(), real_logits.detach(), fake_logits.detach()

    def _jax_train_step(self, state, data):
        """The same step as a pure function of the model's state, for jax.jit.

        Keras' JAX trainer hands over (trainable, non-trainable, optimizer,
        metrics) variable values and wants them back updated. The optimizer
        part holds *both* players' state (see ``_OptimizerPair``); each network
        runs through ``stateless_call`` and each optimizer through
        ``stateless_apply`` on its own slice.
        """
        import jax

        trainable, non_trainable, optimizer_values, metric_values = state
        real_images = self._real_batch(data)
        generator, discriminator = self.generator, self.discriminator
        g_train = _values_of(generator.trainable_variables, self.trainable_variables, trainable)
        d_train = _values_of(discriminator.trainable_variables, self.trainable_variables, trainable)
        g_state = _values_of(generator.non_trainable_variables, self.non_trainable_variables, non_trainable)
        d_state = _values_of(discriminator.non_trainable_variables, self.non_trainable_variables, non_trainable)
        split = len(self.d_optimizer.variables)
        d_opt, g_opt = optimizer_values[:split], optimizer_values[split:]

        with keras.StatelessScope(state_mapping=list(zip(self.non_trainable_variables, non_trainable))) as scope:
            z = self.sample_latent(ops.shape(real_images)[0])
        # None when an overridden sample_latent did not draw from the seed generator.
        seed_state = scope.get_current_value(self.seed_generator.state)
        seed_update = ([self.seed_generator.state], [seed_state]) if seed_state is not None else ([], [])

        def generate(g_train):
            return generator.stateless_call(g_train, g_state, z, training=True)

        fake_images, g_backward, g_state_new = jax.vjp(generate, g_train, has_aux=True)

        def d_objective(d_train):
            real_logits, state = discriminator.stateless_call(d_train, d_state, real_images, training=True)
            fake_logits, state = discriminator.stateless_call(
                d_train, state, jax.lax.stop_gradient(fake_images), training=True
            )
            d_loss = discriminator_loss(real_logits, fake_logits)
            return _scale(self.d_optimizer, d_opt, d_loss), (d_loss, real_logits, fake_logits, state)

        (_, (d_loss, real_logits, fake_logits, d_state_new)), d_grads = jax.value_and_grad(
            d_objective, has_aux=True
        )(d_train)
        d_train_new, d_opt_new = self.d_optimizer.stateless_apply(d_opt, d_grads, d_train)

        def g_objective(fake_images):
            # G's gradient flows through the discriminator D has just become.
            fake_logits, state = discriminator.stateless_call(d_train_new, d_state_new, fake_images, training=True)
            g_loss = generator_loss(fake_logits)
            return _scale(self.g_optimizer, g_opt, g_loss), (g_loss, state)

        (_, (g_loss, d_state_new)), image_grads = jax.value_and_grad(g_objective, has_aux=True)(fake_images)
        (g_grads,) = g_backward(image_grads)
        g_train_new, g_opt_new = self.g_optimizer.stateless_apply(g_opt, g_grads, g_train)

        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metric_values))) as scope:
            logs = self._update_metrics(d_loss, g_loss, real_logits, fake_logits)
        metric_values = [scope.get_current_value(v) for v in self.metrics_variables]

        trainable = _replaced(
            self.trainable_variables, trainable,
            (generator.trainable_variables, g_train_new), (discriminator.trainable_variables, d_train_new),
        )
        non_trainable = _replaced(
            self.non_trainable_variables, non_trainable,
            (generator.non_trainable_variables, g_state_new),
            (discriminator.non_trainable_variables, d_state_new),
            seed_update,
        )
        return logs, (trainable, non_trainable, list(d_opt_new) + list(g_opt_new), metric_values)

    def _update_metrics(self, d_loss, g_loss, real_logits, fake_logits):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.sigmoid(ops.cast(real_logits, "float32")))
        self.fake_score_tracker.update_state(ops.sigmoid(ops.cast(fake_logits, "float32")))
        logs = {metric.name: metric.result() for metric in self.metrics}
        if _multi_worker_tensorflow():
            # Keras averages multi-worker logs along axis 0, which a scalar lacks
            # ("Invalid reduction dimension 0"); one-element vectors average to the same scalar.
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def generate(self, num_images, seed=None, z=None, batch_size=256):
        """Sample images in [-1, 1] as numpy, with BatchNorm in inference mode.

        Pass ``seed`` for a reproducible batch, or your own ``z``.
        """
        return sample(self.generator, num_images, seed, z, batch_size)

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


class _OptimizerPair:
    """Both optimizers seen as one, for Keras' JAX trainer (variables: D's, then G's)."""

    built = True

    def __init__(self, d_optimizer, g_optimizer):
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def variables(self):
        return list(self.d_optimizer.variables) + list(self.g_optimizer.variables)

    @property
    def iterations(self):
        return self.g_optimizer.iterations


def _multi_worker_tensorflow():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def _per_replica(loss):
    """Divide by the replica count: tf.distribute SUMs the replicas' gradients."""
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def _values_of(variables, model_variables, values):
    """The entries of ``values`` (aligned with ``model_variables``) for ``variables``."""
    position = {id(variable): index for index, variable in enumerate(model_variables)}
    return [values[position[id(variable)]] for variable in variables]


def _replaced(model_variables, values, *updates):
    """``values`` with the entries of each (variables, new_values) pair swapped in."""
    new = {id(variable): value for variables, new_values in updates for variable, value in zip(variables, new_values)}
    return [new.get(id(variable), value) for variable, value in zip(model_variables, values)]


def _scale(optimizer, optimizer_values, loss):
    """``optimizer.scale_loss`` evaluated on the given optimizer state (JAX)."""
    with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, optimizer_values))):
        return optimizer.scale_loss(loss)


def _labels_given():
    return UsageError(
        "DCGAN.fit() takes images only, but got (images, labels). Map the "
        "labels away first, e.g. dataset.map(lambda x, y: x)."
    )


def _images_only(data):
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    if y is not None:
        raise _labels_given()
    return x


def _check_pair(generator, discriminator):
    produced = tuple(generator.output_shape[1:])
    expected = tuple(discriminator.input_shape[1:])
    if produced != expected:
        raise UsageError(
            f"The generator makes {produced} images but the discriminator "
            f"expects {expected}. Build both with the same image_shape."
        )


def _check_batch_shape(images, image_shape):
    shape = tuple(images.shape[1:])
    if len(shape) != 3 or any(
        got is not None and got != want for got, want in zip(shape, image_shape)
    ):
        raise UsageError(
            f"DCGAN was built for {image_shape} images but fit() got batches of "
            f"shape {tuple(images.shape)}. Resize the data or build the models "
            f"with image_shape={tuple(shape)}."
        )


def _check_dataset_spec(spec, image_shape):
    """Reject a tf.data pipeline of (images, labels) or of wrongly shaped images."""
    if isinstance(spec, (tuple, list, dict)):
        raise _labels_given()
    _check_batch_shape(spec, image_shape)


def _check_images(images, image_shape, values=True):
    if images.ndim == 3 and image_shape[-1] == 1:
        hint = " Add the channel axis: images[..., None]."
    else:
        hint = ""
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        raise UsageError(
            f"Expected images of shape (N, {', '.join(map(str, image_shape))}), "
            f"got {images.shape}.{hint}"
        )
    if values:
        check_unit_range(images)
