"""The DCGAN training loop: a `keras.Model` with a custom `train_step`.

Notebook 04 walks through this file. One `train_step` is one iteration of the
paper's algorithm, in the order of the paper's reference code (and of the
PyTorch DCGAN example):

1. draw z ~ N(0, I) and generate a fake batch G(z);
2. update D on the real batch and on the fake batch, each through D on its own,
   so that BatchNorm normalises real and fake images with their own statistics;
3. update G through the freshly updated D, with the non-saturating loss.
"""

import contextlib
import inspect

import keras
import numpy as np
from keras import ops

from dcgan_keras.data import TrainingBatches, check_unit_range
from dcgan_keras.errors import UsageError
from dcgan_keras.formulation import FORMULATIONS, as_paper_layers, resolve
from dcgan_keras.models import build_discriminator, build_generator
from dcgan_keras.sampling import sample

PAPER_LEARNING_RATE = 2e-4
PAPER_BETA_1 = 0.5


def paper_optimizer(name="adam"):
    """Adam(2e-4, beta_1=0.5): the paper found beta_1=0.9 oscillates."""
    return keras.optimizers.Adam(learning_rate=PAPER_LEARNING_RATE, beta_1=PAPER_BETA_1, name=name)


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


# The method that runs one training step on each backend. Keras' JAX trainer is
# functional (it passes the model's state in and expects the new state back), so
# its step has its own signature.
STEP_METHODS = {"tensorflow": "_tensorflow_step", "jax": "_jax_train_step", "torch": "_torch_step"}


@keras.saving.register_keras_serializable(package="dcgan_keras")
class DCGAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    >>> gan = DCGAN(build_generator(image_shape=(28, 28, 1)),
    ...             build_discriminator(image_shape=(28, 28, 1)))
    >>> gan.compile()                      # the paper's Adam for both players
    >>> gan.fit(images, epochs=5)          # images in [-1, 1], no labels
    >>> samples = gan.predict(z)           # or gan.generate(16, seed=0)

    ``fit()`` reports d_loss, g_loss, D_x (the mean of D(x) on real images) and
    D_G_z (the mean of D(G(z)) on fakes, before D's update). The discriminator
    must return logits (no sigmoid): the losses apply the sigmoid themselves.

    Override points, each a plain method that a subclass replaces (they run
    inside the compiled step, so write them with ``keras.ops``):

    - ``discriminator_loss(real_logits, fake_logits)`` and
      ``generator_loss(fake_logits)``: the game (hinge, least squares, ...);
    - ``sample_latent(batch_size)``: the noise G draws from;
    - ``unpack_batch(data)``: one batch from ``fit()`` -> (images, condition);
    - ``generator_inputs(z, condition)`` and ``discriminator_inputs(images,
      condition)``: what each network is fed, for a conditional GAN.

    ``ema=0.999`` also keeps an exponential moving average of G's weights
    (Yazıcı et al., 2019), updated inside every step; ``generate``,
    ``predict`` and ``inference_generator`` then use the averaged generator.

    ``docs/library.md`` has a hinge-loss subclass and a conditional DCGAN.
    """

    def __init__(self, generator, discriminator, seed=None, ema=None, **kwargs):
        super().__init__(**kwargs)
        _check_order(generator, discriminator)
        _check_logits(discriminator)
        if type(self).discriminator_inputs is DCGAN.discriminator_inputs:  # a conditional D sees more than G makes
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
        self.ema = _check_ema(ema)
        if self.ema is not None:
            # Non-trainable, so Keras saves it with the model and the JAX trainer threads it through the step.
            self.averaged_generator = _frozen_copy(generator)
            # float32 whatever the policy: a bfloat16 counter would stop at 256.
            self.ema_updates = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ema_updates",
                                               dtype="float32")
        # Both networks are functional models, built on construction.
        self.built = True

    @classmethod
    def from_shape(cls, image_shape, latent_dim=100, width=128, kernel_size=5, seed=None, formulation="auto",
                   stages=None, ema=None):
        """Build the matching generator and discriminator for one image shape.

        ``formulation`` picks how the paper's strided layers are computed, never
        what they compute: "auto" (the measured choice for this backend, device
        and kernel), "paper", "subpixel" or "fast" (``dcgan_keras.formulation``).
        The weights, and so the initial model for a seed, are the same in all.
        ``stages`` is how many times G doubles the grid and D halves it (None:
        the paper's, from the image size), so D's last grid is G's first.
        """
        upsampling, downsampling = FORMULATIONS[resolve(formulation, kernel_size)]
        generator = build_generator(image_shape, latent_dim, width, kernel_size, seed, upsampling=upsampling,
                                    stages=stages)
        discriminator = build_discriminator(
            image_shape, width, kernel_size, None if seed is None else seed + 1, downsampling=downsampling,
            stages=stages,
        )
        return cls(generator, discriminator, seed=seed, ema=ema)

    @property
    def inference_generator(self):
        """The generator to draw samples from: the averaged one when ``ema`` is on, else G itself."""
        return self.generator if self.ema is None else self.averaged_generator

    def shippable_generator(self):
        """``inference_generator`` as a model to save on its own: the paper's plain layers, and trainable (the
        average is frozen inside the DCGAN only so that no optimizer moves it)."""
        generator = as_paper_layers(self.inference_generator)
        if self.ema is not None:
            if generator is self.averaged_generator:  # never unfreeze the DCGAN's own average
                generator = _frozen_copy(generator)
            generator.trainable = True
        return generator

    @property
    def metrics(self):
        # Listed here so that Keras resets them at the start of every epoch.
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.real_score_tracker,
            self.fake_score_tracker,
        ]

    def call(self, z, training=False):
        """G(z): ``gan(z)`` and ``gan.predict(z)`` return samples in [-1, 1] (from the averaged G with ``ema``)."""
        return self.inference_generator(z, training=training)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Set one optimizer per player; both default to the paper's Adam.

        ``run_eagerly``, ``jit_compile`` and ``steps_per_execution`` work as in
        any Keras model. There is no ``loss`` or ``metrics`` to give: the losses
        are the methods ``discriminator_loss`` and ``generator_loss`` (override
        them), and ``fit()`` always reports d_loss, g_loss, D_x and D_G_z.

        Under the ``mixed_float16`` policy both are wrapped in a
        ``LossScaleOptimizer``: Keras only wraps ``model.optimizer``, which a
        GAN does not use, and float16 gradients underflow without scaling.
        """
        _check_compile_arguments(kwargs)
        # No model-level optimizer: each player has its own (Keras would default to RMSprop).
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._prepare(d_optimizer or paper_optimizer("d_adam"))
        self.g_optimizer = self._prepare(g_optimizer or paper_optimizer("g_adam"))
        # Built now so that checkpoints can restore their state before step 1.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        # `model.optimizer` is both players: the JAX trainer threads its
        # variables through the jitted step, and Keras' learning-rate callbacks
        # (ReduceLROnPlateau, LearningRateScheduler) act on each of its `optimizers`.
        self.optimizer = _OptimizerPair(self.d_optimizer, self.g_optimizer)

    def _prepare(self, optimizer):
        optimizer = keras.optimizers.get(optimizer)
        float16 = self.generator.dtype_policy.name == "mixed_float16"
        if float16 and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def fit(self, x=None, y=None, *args, allow_unit_range=False, **kwargs):
        """Keras' ``fit``, after ``check_data``: the first batch (all of a numpy array) against G's output range.

        ``allow_unit_range=True`` accepts images for a tanh generator whose pixels all lie in [0, 1]: by
        default they are refused as images scaled to [0, 1] instead of [-1, 1].
        """
        # Checked here, once, before Keras starts: the compiled step stays as it
        # is, and an error raised inside a JAX fit() would leave the model's
        # variables detached from their values.
        _refuse_validation(kwargs)
        _check_schedules_and_callbacks(self, kwargs.get("callbacks"))
        if self.ema is not None and _replicas() > 1:
            raise UsageError("ema= is not supported under a TensorFlow strategy with several replicas yet: train "
                             "without ema, or on one device.")
        x = self.check_data(x, y, allow_unit_range)
        if isinstance(x, TrainingBatches):
            # The stream is endless: one "epoch" is one pass over the images (None, Keras' default, would never end).
            if kwargs.get("steps_per_epoch") is None:
                kwargs["steps_per_epoch"] = x.steps_per_epoch
            if keras.backend.backend() == "tensorflow":
                x = x.as_tf_dataset()
        if not isinstance(x, np.ndarray):
            # A stream shuffles itself (make_dataset's does); without this,
            # Keras would also shuffle the order of a PyDataset's batches.
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        raise UsageError(_NO_HELD_OUT_LOSS)

    def check_data(self, x, y=None, allow_unit_range=False):
        """What ``fit`` checks before it trains, on its own; returns the ``x`` to train on.

        A numpy array is checked whole; any other input by its first batch (a
        one-pass generator's first batch is put back in front, so use the
        returned ``x``). Raises ``UsageError`` with one line for images of the
        wrong shape, dtype or pixel range.
        """
        if not isinstance(allow_unit_range, (bool, np.bool_)):
            raise UsageError(f"allow_unit_range must be True or False, got {allow_unit_range!r}.")
        if isinstance(x, np.ndarray):
            _check_images(x, self.image_shape, self._output_range(), allow_unit_range=allow_unit_range)  # all of it
            self._check_first_batch(x[:2] if y is None else (x[:2], np.asarray(y)[:2]), allow_unit_range)  # labels?
        elif isinstance(x, TrainingBatches):
            _check_images(x.images, self.image_shape, values=False)  # the stream checked them
        else:
            first, x = _first_batch(x)
            self._check_first_batch(first, allow_unit_range)
        return x

    def _check_first_batch(self, data, allow_unit_range=False):
        """Shape and pixel range of one batch, read eagerly (``unpack_batch`` refuses labels)."""
        images, _ = self.unpack_batch(data)
        images = np.asarray(keras.ops.convert_to_numpy(images))
        _check_images(images, self.image_shape, self._output_range(), allow_unit_range=allow_unit_range)

    def _output_range(self):
        return _output_range(self.generator)

    # --- override points: each runs inside the compiled step -------------------------------

    def discriminator_loss(self, real_logits, fake_logits):
        """D's loss from its logits on a real and a fake batch (the paper's: ``discriminator_loss``)."""
        return discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        """G's loss from D's logits on its fakes (the paper's, non-saturating: ``generator_loss``)."""
        return generator_loss(fake_logits)

    def sample_latent(self, batch_size):
        """z ~ N(0, I) for one step, from the model's own seed generator.

        Override it to feed your own noise (the backend-agreement test does).
        """
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def unpack_batch(self, data):
        """One batch from ``fit()`` -> (real images, condition); unconditional: (images, None)."""
        return _images_only(data), None

    def generator_inputs(self, z, condition):
        """What G is fed: z (a conditional GAN joins the condition)."""
        return z

    def discriminator_inputs(self, images, condition):
        """What D is fed for a batch of real or fake images: the images themselves."""
        return images

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend not in STEP_METHODS:
            raise NotImplementedError(
                f"DCGAN trains on the tensorflow, jax and torch backends, not "
                f"{backend!r}. Set KERAS_BACKEND before importing keras."
            )
        if backend == "jax":
            return self._jax_train_step(*args)
        (data,) = args
        real_images, condition = self._real_batch(data)
        z = self.sample_latent(ops.shape(real_images)[0])
        losses_and_logits = getattr(self, STEP_METHODS[backend])(real_images, z, condition)
        self._update_average()  # inside the compiled step, after G's update (JAX's step does it in its own way)
        return self._update_metrics(*losses_and_logits)

    def _real_batch(self, data):
        """(real images, condition); the shape check costs nothing per step: it runs while tracing."""
        real_images, condition = self.unpack_batch(data)
        _check_batch_shape(real_images, self.image_shape)
        return real_images, condition

    def _tensorflow_step(self, real_images, z, condition):
        """TensorFlow's step: gradients with tapes (JAX and PyTorch each have their own step below)."""
        import tensorflow as tf

        generator, discriminator = self.generator, self.discriminator
        d_inputs = self.discriminator_inputs
        with tf.GradientTape() as g_tape:
            fake_images = generator(self.generator_inputs(z, condition), training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    real_logits = discriminator(d_inputs(real_images, condition), training=True)
                    fake_logits = discriminator(d_inputs(ops.stop_gradient(fake_images), condition), training=True)
                    d_loss = self.discriminator_loss(real_logits, fake_logits)
                    scaled = self.d_optimizer.scale_loss(_per_replica(d_loss))
                d_weights = discriminator.trainable_variables
                self.d_optimizer.apply(d_tape.gradient(scaled, d_weights), d_weights)
            # G's gradient flows through the discriminator D has just become.
            g_loss = self.generator_loss(discriminator(d_inputs(fake_images, condition), training=True))
            scaled = self.g_optimizer.scale_loss(_per_replica(g_loss))
        g_weights = generator.trainable_variables
        self.g_optimizer.apply(g_tape.gradient(scaled, g_weights), g_weights)
        return d_loss, g_loss, real_logits, fake_logits

    def _torch_step(self, real_images, z, condition):
        """The same step in eager PyTorch: autograd instead of tapes."""
        import torch

        generator, discriminator = self.generator, self.discriminator
        d_inputs = self.discriminator_inputs
        fake_images = generator(self.generator_inputs(z, condition), training=True)
        real_logits = discriminator(d_inputs(real_images, condition), training=True)
        fake_logits = discriminator(d_inputs(fake_images.detach(), condition), training=True)
        d_loss = self.discriminator_loss(real_logits, fake_logits)
        d_weights = discriminator.trainable_variables
        d_grads = torch.autograd.grad(self.d_optimizer.scale_loss(d_loss), [w.value for w in d_weights])
        self.d_optimizer.apply(d_grads, d_weights)
        # G's gradient flows through the discriminator D has just become.
        g_loss = self.generator_loss(discriminator(d_inputs(fake_images, condition), training=True))
        g_weights = generator.trainable_variables
        g_grads = torch.autograd.grad(self.g_optimizer.scale_loss(g_loss), [w.value for w in g_weights])
        self.g_optimizer.apply(g_grads, g_weights)
        return d_loss.detach(), g_loss.detach(), real_logits.detach(), fake_logits.detach()

    def _update_average(self):
        """TensorFlow's and PyTorch's step: the averaged G moves towards G as just updated."""
        if self.ema is None:
            return
        averaged = self.averaged_generator.weights
        with _no_gradient():  # the average is arithmetic on the weights, not part of any loss
            new = self._averaged_values([v.value for v in averaged], [v.value for v in self.generator.weights],
                                        self.ema_updates.value)
        for variable, value in zip(averaged + [self.ema_updates], new):
            variable.assign(value)

    def _averaged_values(self, averaged, current, updates):
        """The averaged G's weights after one more step, then the update count (pure: every backend's step uses it).

        Each averaged weight keeps ``decay`` of itself and takes ``1 - decay`` of G's; BatchNorm's statistics
        are copied, as StudioGAN's EMA does. ``decay`` is
        ``min(ema, (1 + n) / (10 + n))`` after n updates (``tf.train.ExponentialMovingAverage``'s
        ``num_updates``), so the early average is not anchored to the random initial weights.
        """
        decay = ops.minimum(self.ema, (1.0 + updates) / (10.0 + updates))
        new = [ops.cast(decay * a + (1.0 - decay) * ops.cast(c, a.dtype), a.dtype) if variable.trainable else c
               for a, c, variable in zip(averaged, current, self.generator.weights)]
        return new + [updates + 1.0]

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
        real_images, condition = self._real_batch(data)
        generator, discriminator, d_inputs = self.generator, self.discriminator, self.discriminator_inputs
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
            return generator.stateless_call(g_train, g_state, self.generator_inputs(z, condition), training=True)

        fake_images, g_backward, g_state_new = jax.vjp(generate, g_train, has_aux=True)

        def d_objective(d_train):
            real_logits, state = discriminator.stateless_call(
                d_train, d_state, d_inputs(real_images, condition), training=True
            )
            fake_logits, state = discriminator.stateless_call(
                d_train, state, d_inputs(jax.lax.stop_gradient(fake_images), condition), training=True
            )
            d_loss = self.discriminator_loss(real_logits, fake_logits)
            return _scale(self.d_optimizer, d_opt, d_loss), (d_loss, real_logits, fake_logits, state)

        (_, (d_loss, real_logits, fake_logits, d_state_new)), d_grads = jax.value_and_grad(
            d_objective, has_aux=True
        )(d_train)
        d_train_new, d_opt_new = self.d_optimizer.stateless_apply(d_opt, d_grads, d_train)

        def g_objective(fake_images):
            # G's gradient flows through the discriminator D has just become.
            fake_logits, state = discriminator.stateless_call(
                d_train_new, d_state_new, d_inputs(fake_images, condition), training=True
            )
            g_loss = self.generator_loss(fake_logits)
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
        if self.ema is not None:
            # G as just updated, read from the new state; then the averaged G's values swapped in.
            current = _values_of(generator.weights, self.trainable_variables + self.non_trainable_variables,
                                 trainable + non_trainable)
            averaged_variables = self.averaged_generator.weights + [self.ema_updates]
            averaged = _values_of(averaged_variables, self.non_trainable_variables, non_trainable)
            non_trainable = _replaced(self.non_trainable_variables, non_trainable, (
                averaged_variables, self._averaged_values(averaged[:-1], current, averaged[-1])))
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

    def generate(self, num_images=None, seed=None, z=None, batch_size=256):
        """Sample images in [-1, 1] as numpy, with BatchNorm in inference mode.

        Pass ``seed`` for a reproducible batch, or your own ``z``. With ``ema``, the averaged generator draws them.
        """
        return sample(self.inference_generator, num_images, seed, z, batch_size)

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "seed": self.seed,
            "ema": self.ema,
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
    """Both optimizers seen as one ``model.optimizer`` (variables: D's, then G's).

    Keras' learning-rate callbacks change each of ``optimizers`` on its own, so
    a two-timescale pair keeps its ratio under a scheduler that scales rates.
    """

    built = True

    def __init__(self, d_optimizer, g_optimizer):
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def optimizers(self):
        return [self.d_optimizer, self.g_optimizer]

    @property
    def variables(self):
        return list(self.d_optimizer.variables) + list(self.g_optimizer.variables)

    @property
    def iterations(self):
        return self.g_optimizer.iterations


def _check_ema(ema):
    """None (off) or a decay in [0, 1): how much of the average each step keeps."""
    if ema is None:
        return None
    if isinstance(ema, bool) or not isinstance(ema, (int, float, np.floating)) or not 0.0 <= float(ema) < 1.0:
        raise UsageError(f"ema is the averaged generator's decay, a number in [0, 1) such as 0.999 (or None for "
                         f"no average), got {ema!r}.")
    return float(ema)


def _no_gradient():
    """PyTorch records the history of arithmetic on trainable weights unless told not to."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _frozen_copy(generator):
    """A non-trainable copy of ``generator`` with the same weights: the average starts at G.

    Built under its own name scope, so that its variables' paths (``averaged_generator/...``) differ from G's:
    Keras' state tree and PyTorch's parameter dict are keyed by path.
    """
    try:
        with keras.name_scope("averaged_generator"):
            copy = keras.models.clone_model(generator)
    except Exception as error:  # a subclassed model, or a layer without get_config
        raise UsageError(f"ema= needs a generator that keras.models.clone_model can copy (a Sequential or "
                         f"functional model): {error}") from None
    copy.set_weights(generator.get_weights())
    copy.trainable = False
    return copy


def _multi_worker_tensorflow():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def _replicas():
    """How many replicas a TensorFlow strategy trains on (1 on the other backends)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def _per_replica(loss):
    """Divide by the replica count: tf.distribute SUMs the replicas' gradients."""
    replicas = _replicas()
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


_NO_HELD_OUT_LOSS = (
    "A GAN has no held-out loss to evaluate: score its samples instead, with a QualityCheckpoint "
    "callback during fit() or dcgan_keras.evaluate (FID, KID, class coverage; see docs/evaluation.md)."
)
_LOSS_HINT = "the losses are methods: subclass DCGAN and override discriminator_loss and generator_loss."
_COMPILE_HINTS = {
    "optimizer": "there is one optimizer per player: compile(d_optimizer=..., g_optimizer=...).",
    "loss": _LOSS_HINT, "loss_fn": _LOSS_HINT, "loss_weights": _LOSS_HINT,
    "metrics": "fit() reports d_loss, g_loss, D_x and D_G_z; score samples with a QualityCheckpoint callback.",
}
_COMPILE_HINTS["weighted_metrics"] = _COMPILE_HINTS["metrics"]
_COMPILE_KEEPS = ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")
_SETS_LEARNING_RATE = ("ReduceLROnPlateau", "LearningRateScheduler")


def _check_compile_arguments(kwargs):
    for name in kwargs:
        if name in _COMPILE_HINTS:
            raise UsageError(f"DCGAN.compile() does not use {name}=: {_COMPILE_HINTS[name]}")
        if name not in _COMPILE_KEEPS:
            raise UsageError(f"DCGAN.compile() got an unknown argument {name}=; it takes d_optimizer, "
                             f"g_optimizer, {', '.join(_COMPILE_KEEPS)}.")


def _refuse_validation(kwargs):
    if kwargs.get("validation_data") is not None or kwargs.get("validation_split"):
        raise UsageError(_NO_HELD_OUT_LOSS)


def _check_schedules_and_callbacks(model, callbacks):
    """A learning-rate callback cannot set a rate that is a schedule: say so before training starts."""
    setters = [type(c).__name__ for c in callbacks or () if type(c).__name__ in _SETS_LEARNING_RATE]
    for player in ("d_optimizer", "g_optimizer") if setters else ():
        optimizer = getattr(model, player, None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
        if isinstance(getattr(optimizer, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule):
            raise UsageError(f"{setters[0]} sets the learning rate every epoch, but {player} was given a "
                             "LearningRateSchedule, which cannot be set: use the schedule or the callback, not both.")


def _first_batch(x):
    """(one batch, the input to train on) for any input ``fit()`` takes, without losing that batch.

    A tf.data pipeline, a PyDataset or a DataLoader is read one batch ahead
    by a fresh iterator (``fit()`` starts its own); a one-pass iterator gets its
    first batch put back in front.
    """
    try:
        if hasattr(x, "element_spec"):
            return next(iter(x.take(1))), x
        if isinstance(x, keras.utils.PyDataset):
            return x[0], x
        if inspect.isgenerator(x) or (hasattr(x, "__next__") and iter(x) is x):
            first = next(x)

            def resumed():
                yield first
                yield from x

            return first, resumed()
        if hasattr(x, "__iter__"):
            return next(iter(x)), x
    except StopIteration:
        raise UsageError("fit() got an empty dataset: it yielded no batch.") from None
    raise UsageError(f"fit() takes images as a numpy array, a tf.data.Dataset, a PyDataset or a generator, "
                     f"not {type(x).__name__}.")


def _final_activation(model):
    """The name of the activation ``model`` applies last ('sigmoid', 'tanh', 'linear', ...), or None."""
    layer = model
    while isinstance(layer, keras.Model):  # down to the layer that makes the output
        try:
            layer = layer.outputs[0]._keras_history[0]
        except (AttributeError, IndexError, TypeError, ValueError):
            layer = layer.layers[-1] if layer.layers else None
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def _output_range(generator):
    """The pixel range G draws, read from its last activation; None when it does not bound it."""
    return {"tanh": (-1.0, 1.0), "hard_tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(_final_activation(generator))


def _check_logits(discriminator):
    activation = _final_activation(discriminator)
    if activation in ("sigmoid", "softmax", "log_softmax"):
        raise UsageError(f"The discriminator ends in a {activation}, but DCGAN's losses take logits and apply the "
                         "sigmoid themselves: end it in Dense(1) with no activation.")


def _check_order(generator, discriminator):
    g_input, d_input = generator.input_shape, discriminator.input_shape
    if isinstance(g_input, tuple) and isinstance(d_input, tuple) and len(g_input) == 4 and len(d_input) == 2:
        raise UsageError("DCGAN takes (generator, discriminator), in that order, but these look swapped: "
                         "the first takes images and the second takes vectors.")


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


def _check_images(images, image_shape, output_range=(-1.0, 1.0), values=True, allow_unit_range=False):
    """Shape, then (with ``values``) pixels: ``_check_pixels``."""
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
        _check_pixels(images, output_range, allow_unit_range)


def _check_pixels(images, output_range, allow_unit_range=False):
    """Floats in the range G draws: [-1, 1] for tanh, [0, 1] for sigmoid; any finite floats when unknown (None)."""
    if output_range == (-1.0, 1.0):
        check_unit_range(images)  # floats, finite, in [-1, 1]: the data module's check, with its messages
        # Spanning most of [0, 1] without a single negative pixel: keras.io's scaling, not the tanh range.
        if not allow_unit_range and float(np.min(images)) >= 0.0 and float(np.ptp(images)) > 0.5:
            raise UsageError("Every pixel is in [0, 1], but the generator's tanh draws [-1, 1]: these look like "
                             "images scaled to [0, 1]. Rescale them with images * 2 - 1 (or, if they really are "
                             "[-1, 1] images with no dark pixel, pass allow_unit_range=True to fit).")
        return
    if not np.issubdtype(images.dtype, np.floating):
        raise UsageError(f"Expected float images, got dtype {images.dtype}. Scale them to the generator's range.")
    if not np.isfinite(images).all():
        raise UsageError("The images hold NaN or infinite pixels. Find them with np.isfinite(images).")
    if output_range is not None and (float(np.min(images)) < -0.001 or float(np.max(images)) > 1.001):
        raise UsageError(f"Expected pixels in [0, 1] (the range of the generator's sigmoid), got "
                         f"[{float(np.min(images)):.3g}, {float(np.max(images)):.3g}]. Scale the images to it.")
