"""DCGAN as a keras.Model: keras.io habits caught at the first batch, compile(), the LR callbacks,
predict and evaluate. Rerun on JAX and PyTorch (tests/test_backends.py, PORTABLE_SUITES)."""

import keras
import numpy as np
import pytest
from keras import layers

from dcgan_keras import DCGAN, UsageError, build_discriminator, build_generator, make_dataset

SHAPE = (28, 28, 1)


def _one_line(error):
    message = str(error.value)
    assert "\n" not in message and len(message) < 300, message
    return message


def _batches(images, batch_size=8):
    return [images[i:i + batch_size] for i in range(0, len(images), batch_size)]


# --- the pixel range, from every kind of input -----------------------------------------------


@pytest.mark.parametrize("scale, match", [
    (lambda x: (x + 1) / 2, r"scaled to \[0, 1\].*images \* 2 - 1"),  # keras.io's current example
    (lambda x: (x + 1) * 127.5, r"\[-1, 1\]"),  # 0..255 as floats
    (lambda x: np.round((x + 1) * 127.5).astype("uint8"), "dtype uint8"),
])
@pytest.mark.parametrize("kind", ["numpy", "generator", "pydataset", "tf.data"])
def test_a_batch_outside_the_generators_range_is_refused(kind, scale, match, mnist_images, make_gan):
    images = scale(mnist_images[:32])
    if kind == "numpy":
        data = images
    elif kind == "generator":
        data = iter([(batch,) for batch in _batches(images)])  # Keras wants tuples from a generator
    elif kind == "pydataset":
        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return 4

            def __getitem__(self, index):
                return images[index * 8:(index + 1) * 8]

        data = Batches()
    else:
        tf = pytest.importorskip("tensorflow")
        data = tf.data.Dataset.from_tensor_slices(images).batch(8)
    gan = make_gan()
    with pytest.raises(UsageError, match=match) as error:
        gan.fit(data, epochs=1, verbose=0)
    _one_line(error)


def test_real_minus_one_to_one_images_without_dark_pixels_can_be_let_through(mnist_images, make_gan):
    bright = np.clip(mnist_images[:16] + 1.0, 0.0, 1.0)  # in [-1, 1], but not one pixel below 0
    for data in (bright, iter([(bright[:8],), (bright[8:],)])):
        with pytest.raises(UsageError, match="allow_unit_range=True") as error:
            make_gan().fit(data, batch_size=8, epochs=1, steps_per_epoch=2, verbose=0)
        _one_line(error)
    gan = make_gan()
    gan.fit(iter([(bright[:8],), (bright[8:],)]), steps_per_epoch=2, epochs=1, verbose=0, allow_unit_range=True)
    gan.fit(bright, batch_size=8, epochs=1, verbose=0, allow_unit_range=True)
    assert int(gan.g_optimizer.iterations) == 4
    # The switch lets through only that guess: pixels outside [-1, 1] are still refused, and so is a non-flag.
    with pytest.raises(UsageError, match=r"\[-1, 1\]"):
        gan.fit(bright * 3, batch_size=8, epochs=1, verbose=0, allow_unit_range=True)
    with pytest.raises(UsageError, match="allow_unit_range must be True or False"):
        gan.fit(bright, batch_size=8, epochs=1, verbose=0, allow_unit_range="yes")


def test_check_data_runs_fits_checks_alone_and_gives_back_what_to_train_on(mnist_images, make_gan):
    gan = make_gan()
    batches = _batches(mnist_images[:32])
    served = gan.check_data(iter(batches))  # a one-pass iterator: its first batch was read to check it
    assert [len(batch) for batch in served] == [8, 8, 8, 8]
    assert gan.check_data(mnist_images[:32]) is not None
    with pytest.raises(UsageError, match="images scaled to") as error:
        gan.check_data(iter([(batch + 1) / 2 for batch in batches]))
    _one_line(error)
    assert int(gan.g_optimizer.iterations) == 0  # checking trains nothing


def test_a_sigmoid_generator_takes_data_in_0_1(mnist_images):
    generator = build_generator(SHAPE, 16, width=4, seed=0, output_activation="sigmoid")
    gan = DCGAN(generator, build_discriminator(SHAPE, width=4, seed=1))
    gan.compile()
    gan.fit((mnist_images[:16] + 1) / 2, batch_size=8, epochs=1, verbose=0)  # its range: accepted
    with pytest.raises(UsageError, match=r"\[0, 1\].*sigmoid") as error:
        gan.fit(mnist_images[:16], batch_size=8, epochs=1, verbose=0)
    _one_line(error)


def test_the_first_batch_of_a_one_pass_generator_is_not_lost(mnist_images, make_gan):
    served = []

    def stream():
        for batch in _batches(mnist_images[:32]):
            served.append(len(batch))
            yield (batch,)

    gan = make_gan()
    gan.fit(stream(), steps_per_epoch=4, epochs=1, verbose=0)
    # Four batches, each read once, and four steps trained: the peeked batch went back in front.
    assert served == [8, 8, 8, 8]
    assert int(gan.g_optimizer.iterations) == 4


# --- the pair ---------------------------------------------------------------------------------


def _keras_io_discriminator():
    """keras.io's DCGAN discriminator, shrunk: it ends in a sigmoid."""
    return keras.Sequential([
        keras.Input(SHAPE),
        layers.Conv2D(8, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1, activation="sigmoid"),
    ])


def test_a_discriminator_that_ends_in_a_sigmoid_is_refused():
    generator = build_generator(SHAPE, 16, width=4, seed=0)
    with pytest.raises(UsageError, match="logits") as error:
        DCGAN(generator, _keras_io_discriminator())
    _one_line(error)
    inputs = keras.Input(SHAPE)
    probabilities = layers.Activation("sigmoid")(build_discriminator(SHAPE, width=4, seed=1)(inputs))
    with pytest.raises(UsageError, match="sigmoid"):
        DCGAN(generator, keras.Model(inputs, probabilities))
    softmax = keras.Sequential([keras.Input(SHAPE), layers.Flatten(), layers.Dense(2), layers.Softmax()])
    with pytest.raises(UsageError, match="softmax"):
        DCGAN(generator, softmax)


def test_the_package_discriminator_and_a_logit_head_are_accepted():
    generator = build_generator(SHAPE, 16, width=4, seed=0)
    DCGAN(generator, build_discriminator(SHAPE, width=4, seed=1))
    head = keras.Sequential([keras.Input(SHAPE), layers.Flatten(), layers.Dense(1)])
    DCGAN(generator, head)


def test_swapped_generator_and_discriminator_are_refused():
    generator, discriminator = build_generator(SHAPE, 16, width=4, seed=0), build_discriminator(SHAPE, width=4)
    with pytest.raises(UsageError, match="swapped") as error:
        DCGAN(discriminator, generator)  # keras.io's order
    _one_line(error)


# --- compile, evaluate, predict ----------------------------------------------------------------


@pytest.mark.parametrize("arguments, match", [
    ({"loss": "hinge"}, "override discriminator_loss"),
    ({"loss_fn": keras.losses.BinaryCrossentropy()}, "override discriminator_loss"),
    ({"optimizer": "adam"}, "d_optimizer=..., g_optimizer="),
    ({"metrics": ["accuracy"]}, "QualityCheckpoint"),
    ({"learning_rate": 1e-3}, "unknown argument learning_rate="),
])
def test_compile_refuses_what_dcgan_does_not_use(arguments, match, make_gan):
    gan = make_gan()
    with pytest.raises(UsageError, match=match) as error:
        gan.compile(**arguments)
    _one_line(error)


def test_compile_keeps_the_keras_options_it_uses(mnist_images, make_gan):
    gan = make_gan()
    # Keras' PyTorch trainer runs one step per execution.
    gan.compile(run_eagerly=True, steps_per_execution=1 if keras.backend.backend() == "torch" else 2)
    history = gan.fit(mnist_images[:32], batch_size=8, epochs=1, verbose=0)
    assert gan.run_eagerly and np.isfinite(history.history["d_loss"][0])


def test_evaluate_and_validation_are_refused_with_the_way_to_score(mnist_images, make_gan):
    gan = make_gan()
    with pytest.raises(UsageError, match="QualityCheckpoint") as error:
        gan.evaluate(mnist_images[:16], verbose=0)
    _one_line(error)
    for option in ({"validation_data": mnist_images[:8]}, {"validation_split": 0.2}):
        with pytest.raises(UsageError, match="no held-out loss"):
            gan.fit(mnist_images[:32], batch_size=8, verbose=0, **option)


def test_predict_and_call_return_samples(mnist_images, make_gan):
    gan = make_gan()
    gan.fit(mnist_images[:32], batch_size=8, epochs=1, verbose=0)  # moving BN statistics away from their start
    z = np.random.default_rng(0).standard_normal((10, 16)).astype("float32")
    expected = gan.generate(z=z)
    assert expected.shape == (10, *SHAPE)
    np.testing.assert_allclose(gan.predict(z, batch_size=4, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gan(z)), expected, atol=1e-5)


# --- learning-rate callbacks ---------------------------------------------------------------------


def _two_timescale_gan():
    gan = DCGAN.from_shape(SHAPE, latent_dim=16, width=4, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(4e-4, beta_1=0.5, name="d"),
                g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, name="g"))
    return gan


def _rates(gan):
    return [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in (gan.d_optimizer, gan.g_optimizer)]


def test_learning_rate_scheduler_acts_on_both_players(mnist_images):
    gan = _two_timescale_gan()
    halve = keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate * 0.5)
    history = gan.fit(mnist_images[:16], batch_size=8, epochs=2, verbose=0, callbacks=[halve])
    np.testing.assert_allclose(_rates(gan), [1e-4, 2.5e-5], rtol=1e-6)  # both halved twice: the ratio stays 4
    np.testing.assert_allclose(history.history["learning_rate_d"], [2e-4, 1e-4], rtol=1e-6)


def test_reduce_lr_on_plateau_acts_on_both_players(mnist_images):
    gan = _two_timescale_gan()
    # A min_delta nothing can beat: every epoch after the first is a plateau.
    # mode="min": Keras infers the direction only for "loss" and compiled metrics.
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="g_loss", mode="min", factor=0.5, patience=0, min_delta=1e9)
    gan.fit(mnist_images[:16], batch_size=8, epochs=3, verbose=0, callbacks=[plateau])
    np.testing.assert_allclose(_rates(gan), [1e-4, 2.5e-5], rtol=1e-6)


def test_a_learning_rate_callback_on_a_schedule_is_refused(mnist_images):
    gan = DCGAN.from_shape(SHAPE, latent_dim=16, width=4, seed=0)
    decay = keras.optimizers.schedules.ExponentialDecay(2e-4, decay_steps=100, decay_rate=0.9)
    gan.compile(g_optimizer=keras.optimizers.Adam(decay, beta_1=0.5))
    with pytest.raises(UsageError, match="schedule or the callback") as error:
        gan.fit(mnist_images[:16], batch_size=8, verbose=0,
                callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate)])
    _one_line(error)
    gan.fit(mnist_images[:16], batch_size=8, verbose=0)  # the schedule alone trains


def test_from_shape_stages_set_both_networks():
    gan = DCGAN.from_shape((64, 64, 3), latent_dim=16, width=4, seed=0, stages=3)
    first_grid = [layer for layer in gan.generator.layers if isinstance(layer, layers.Reshape)][0].target_shape
    flatten = [layer for layer in gan.discriminator.layers if isinstance(layer, layers.Flatten)][0]
    assert first_grid[:2] == (8, 8) and tuple(flatten.input.shape[1:3]) == (8, 8)
    with pytest.raises(UsageError, match="stages") as error:
        DCGAN.from_shape((28, 28, 1), width=4, stages=3)
    _one_line(error)


def test_an_endless_stream_with_steps_per_epoch_none_trains_one_pass(mnist_images, make_gan):
    gan = make_gan()
    gan.fit(make_dataset(mnist_images[:128], 64, seed=0), epochs=1, steps_per_epoch=None, verbose=0)
    assert int(gan.g_optimizer.iterations) == 2  # one pass of 128 images, not an epoch that never ends
