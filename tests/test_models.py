"""The builders against the paper's architecture rules, read from the built models."""

import keras
import numpy as np
import pytest
from keras import layers

from dcgan_keras import build_discriminator, build_generator
from dcgan_keras.errors import UsageError
from dcgan_keras.models import LARGEST_SEED, most_stages, multiply_adds, valid_image_sizes

SIZES = [8, 14, 16, 28, 32, 56, 64, 128]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kernel_size", [4, 5])
def test_output_shapes(size, channels, kernel_size):
    shape = (size, size, channels)
    generator = build_generator(shape, 16, width=4, kernel_size=kernel_size)
    discriminator = build_discriminator(shape, width=4, kernel_size=kernel_size)
    images = generator(np.zeros((2, 16), "float32"))
    assert tuple(images.shape) == (2, *shape)
    assert tuple(discriminator(images).shape) == (2, 1)


@pytest.mark.parametrize("shape", [(30, 30, 1), (100, 100, 3), (7, 7, 1), (4, 4, 3), (12, 12, 1)])
def test_unsupported_size_names_valid_sizes(shape):
    for build in (lambda: build_generator(image_shape=shape), lambda: build_discriminator(shape)):
        with pytest.raises(ValueError, match="28.*|.*64") as error:
            build()
        assert "32" in str(error.value) and "64" in str(error.value)


@pytest.mark.parametrize(
    "shape, message",
    [((32, 64, 3), "square"), ((32, 32, 0), "channel"), ((32, 32), "height, width, channels")],
)
def test_bad_shapes_explain_themselves(shape, message):
    with pytest.raises(ValueError, match=message):
        build_generator(image_shape=shape)


def test_bad_kernel_size():
    with pytest.raises(ValueError, match="kernel_size"):
        build_generator(kernel_size=2)


def test_valid_sizes_listed():
    assert valid_image_sizes(64) == [8, 14, 16, 28, 32, 56, 64]


def _chain(model):
    """Layers in data-flow order, without the input layer."""
    return [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]


def test_paper_generator_layout():
    generator = build_generator()
    chain = _chain(generator)
    names = [layer.name for layer in chain]
    assert names == [
        "project", "reshape_4x4", "project_bn", "project_relu",
        "up_8x8", "up_8x8_bn", "up_8x8_relu",
        "up_16x16", "up_16x16_bn", "up_16x16_relu",
        "up_32x32", "up_32x32_bn", "up_32x32_relu",
        "to_image", "tanh",
    ]
    shapes = [tuple(layer.output.shape[1:]) for layer in chain if layer.name.endswith("_relu")]
    assert shapes == [(4, 4, 1024), (8, 8, 512), (16, 16, 256), (32, 32, 128)]
    assert tuple(generator.output_shape[1:]) == (64, 64, 3)
    for layer in chain:
        if isinstance(layer, layers.Conv2DTranspose):
            assert layer.kernel_size == (5, 5) and layer.strides == (2, 2)


def test_paper_discriminator_layout():
    discriminator = build_discriminator()
    convs = [layer for layer in _chain(discriminator) if isinstance(layer, layers.Conv2D)]
    assert [layer.name for layer in convs] == ["down_32x32", "down_16x16", "down_8x8", "down_4x4"]
    assert [layer.filters for layer in convs] == [128, 256, 512, 1024]
    assert all(layer.kernel_size == (5, 5) and layer.strides == (2, 2) for layer in convs)
    assert [layer.name for layer in _chain(discriminator)[-2:]] == ["flatten", "logit"]


@pytest.mark.parametrize("size, kernel_size, stages", [(28, 5, None), (64, 5, None), (28, 3, 1), (64, 7, 5)])
def test_no_pooling_and_no_hidden_dense(size, kernel_size, stages):
    shape = (size, size, 1)
    for model in (build_generator(image_shape=shape, width=4, kernel_size=kernel_size, stages=stages),
                  build_discriminator(shape, width=4, kernel_size=kernel_size, stages=stages)):
        for layer in model.layers:
            assert "pooling" not in type(layer).__name__.lower(), layer.name
        dense = [layer.name for layer in model.layers if isinstance(layer, layers.Dense)]
        assert dense in (["project"], ["logit"])


def _followed_by(chain, index):
    return type(chain[index + 1]) if index + 1 < len(chain) else None


@pytest.mark.parametrize("size, kernel_size, stages", [(28, 5, None), (64, 5, None), (28, 3, 1), (64, 7, 5),
                                                      (64, 6, 2)])
def test_batchnorm_and_activations_where_the_paper_puts_them(size, kernel_size, stages):
    shape = (size, size, 3)
    chain = _chain(build_generator(image_shape=shape, width=4, kernel_size=kernel_size, stages=stages))
    for index, layer in enumerate(chain):
        if isinstance(layer, layers.BatchNormalization):
            assert isinstance(chain[index + 1], layers.ReLU)  # ReLU inside the generator
        if isinstance(layer, layers.Conv2DTranspose):
            expected = layers.Activation if layer.name == "to_image" else layers.BatchNormalization
            assert _followed_by(chain, index) is expected, layer.name
    assert chain[-1].get_config()["activation"] == "tanh"
    assert sum(isinstance(layer, layers.ReLU) for layer in chain) == len(
        [layer for layer in chain if isinstance(layer, layers.BatchNormalization)]
    )

    chain = _chain(build_discriminator(shape, width=4, kernel_size=kernel_size, stages=stages))
    convs = [index for index, layer in enumerate(chain) if isinstance(layer, layers.Conv2D)]
    assert len(convs) == (stages or {28: 2, 64: 4}[size])
    assert all(chain[index].kernel_size == (kernel_size,) * 2 and chain[index].strides == (2, 2) for index in convs)
    assert _followed_by(chain, convs[0]) is layers.LeakyReLU  # no BN on the input layer
    for index in convs[1:]:
        assert _followed_by(chain, index) is layers.BatchNormalization
        assert isinstance(chain[index + 2], layers.LeakyReLU)
    for layer in chain:
        if isinstance(layer, layers.LeakyReLU):
            assert layer.negative_slope == pytest.approx(0.2)
        assert not isinstance(layer, layers.ReLU)


def test_initializer_statistics():
    for model in (build_generator(seed=1), build_discriminator(seed=2)):
        for layer in model.layers:
            if isinstance(layer, (layers.Conv2D, layers.Dense)):  # Conv2DTranspose too
                kernel = np.asarray(layer.kernel).ravel()
                if kernel.size >= 10_000:
                    assert abs(kernel.mean()) < 2e-3, layer.name
                    assert kernel.std() == pytest.approx(0.02, rel=0.05), layer.name
            if isinstance(layer, layers.BatchNormalization):
                gamma, beta = np.asarray(layer.gamma), np.asarray(layer.beta)
                assert gamma.mean() == pytest.approx(1.0, abs=0.01), layer.name
                assert gamma.std() == pytest.approx(0.02, rel=0.3), layer.name
                assert np.all(beta == 0), layer.name


def test_seed_makes_weights_reproducible():
    first = build_generator(image_shape=(28, 28, 1), width=8, seed=3)
    second = build_generator(image_shape=(28, 28, 1), width=8, seed=3)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def _types(model):
    return [type(layer).__name__ for layer in _chain(model)]


def test_generator_ablation_options():
    shape = (28, 28, 1)
    no_bn = build_generator(shape, 16, width=8, batch_norm=False)
    assert "BatchNormalization" not in _types(no_bn)
    assert all(layer.use_bias for layer in _chain(no_bn) if hasattr(layer, "use_bias"))

    conv_projection = build_generator(shape, 16, width=8, projection=False)
    project = conv_projection.get_layer("project")
    assert isinstance(project, layers.Conv2DTranspose) and tuple(project.output.shape[1:]) == (7, 7, 16)
    assert "Dense" not in _types(conv_projection)
    # Both are the same linear map from z to the 7x7 grid: same parameter count.
    assert project.count_params() == build_generator(shape, 16, width=8).get_layer("project").count_params()

    resized = build_generator(shape, 16, width=8, upsampling="resize")
    assert "Conv2DTranspose" not in _types(resized) and _types(resized).count("UpSampling2D") == 2
    for model in (no_bn, conv_projection, resized):
        assert tuple(model.output_shape[1:]) == shape


def test_discriminator_ablation_options():
    shape = (28, 28, 1)
    pooled = build_discriminator(shape, width=8, downsampling="pooling")
    assert _types(pooled).count("MaxPooling2D") == 2
    assert all(layer.strides == (1, 1) for layer in _chain(pooled) if isinstance(layer, layers.Conv2D))
    relu = build_discriminator(shape, width=8, activation="relu")
    assert "LeakyReLU" not in _types(relu) and _types(relu).count("ReLU") == 2
    input_bn = build_discriminator(shape, width=8, input_batch_norm=True)
    assert _types(input_bn)[1] == "BatchNormalization"
    assert "BatchNormalization" not in _types(build_discriminator(shape, width=8, batch_norm=False))
    for model in (pooled, relu, input_bn):
        assert tuple(model.output_shape[1:]) == (1,)
    with pytest.raises(ValueError, match="activation"):
        build_discriminator(shape, activation="tanh")


def test_fewer_stages_start_from_a_larger_grid():
    one_stage = build_generator(image_shape=(28, 28, 1), width=8, stages=1)
    assert one_stage.get_layer("reshape_14x14").output.shape[1:] == (14, 14, 8)
    assert build_generator(image_shape=(64, 64, 3), width=8, stages=2).get_layer("reshape_16x16")
    with pytest.raises(ValueError, match="from 1 to 2 for 28x28"):
        build_generator(image_shape=(28, 28, 1), stages=3)


def test_sigmoid_output_makes_unit_range_images():
    generator = build_generator(image_shape=(28, 28, 1), width=8, seed=0, output_activation="sigmoid")
    images = keras.ops.convert_to_numpy(generator(np.random.default_rng(0).normal(size=(4, 100))))
    # Small initial weights: the output sits at the activation's midpoint, 0.5 for sigmoid (0 for tanh).
    assert images.min() >= 0.0 and images.max() <= 1.0 and abs(images.mean() - 0.5) < 0.05
    with pytest.raises(ValueError, match="'tanh', 'hard_tanh' or 'sigmoid'"):
        build_generator(output_activation="relu")


def test_hard_tanh_output_clips_a_linear_output_to_the_tanh_range():
    generator = build_generator(image_shape=(28, 28, 1), width=8, seed=0, output_activation="hard_tanh")
    z = np.random.default_rng(0).normal(size=(4, 100)).astype("float32")
    linear = keras.Model(generator.input, generator.get_layer("to_image").output)  # the pre-activation
    before = keras.ops.convert_to_numpy(linear(z))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(generator(z)), np.clip(before, -1.0, 1.0), atol=1e-6)
    # Scaled up, the pre-activation leaves [-1, 1]; the output is clipped there, not squashed.
    big = 400.0 * z
    images, before = keras.ops.convert_to_numpy(generator(big)), keras.ops.convert_to_numpy(linear(big))
    assert np.abs(before).max() > 1.0 and images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_allclose(images, np.clip(before, -1.0, 1.0), atol=1e-6)


def test_tanh_hidden_activation_replaces_every_relu():
    relu = build_generator(image_shape=(28, 28, 1), width=8, seed=0)
    tanh = build_generator(image_shape=(28, 28, 1), width=8, seed=0, activation="tanh")
    assert [layer.name for layer in tanh.layers if layer.name.endswith("_tanh")] == ["project_tanh", "up_14x14_tanh"]
    assert not [layer for layer in tanh.layers if isinstance(layer, layers.ReLU)]
    # Same weights; the hidden units are tanh of what ReLU sees.
    z = np.random.default_rng(0).normal(size=(4, 100)).astype("float32")
    pre = keras.Model(relu.input, relu.get_layer("project_bn").output)(z)
    after = keras.Model(tanh.input, tanh.get_layer("project_tanh").output)(z)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(after), np.tanh(keras.ops.convert_to_numpy(pre)), atol=1e-6)


def test_multiply_adds_counts_convolutions_and_dense():
    images = keras.Input(shape=(8, 8, 2))
    x = layers.Conv2D(3, 5, strides=2, padding="same")(images)  # 4x4x3 outputs, 5*5*2 each
    model = keras.Model(images, layers.Dense(1)(layers.Flatten()(x)))
    assert multiply_adds(model) == 4 * 4 * 3 * 25 * 2 + 48
    strided = build_discriminator((28, 28, 1), 4, seed=0)
    pooled = build_discriminator((28, 28, 1), 4, seed=0, downsampling="pooling")
    assert strided.count_params() == pooled.count_params()
    assert multiply_adds(pooled) - 392 == 4 * (multiply_adds(strided) - 392)


def test_multiply_adds_of_a_transposed_convolution_count_each_input_value():
    z = keras.Input(shape=(3, 3, 4))
    up = keras.Model(z, layers.Conv2DTranspose(2, 5, strides=2, padding="same")(z))  # 3x3x4 in, 6x6x2 out
    assert multiply_adds(up) == 3 * 3 * 4 * 25 * 2
    same = build_generator((28, 28, 1), 8, width=4, seed=0, upsampling="subpixel")
    assert multiply_adds(same) == multiply_adds(build_generator((28, 28, 1), 8, width=4, seed=0))


def test_more_stages_start_from_a_smaller_grid_down_to_2x2():
    five = build_generator(image_shape=(64, 64, 3), width=4, stages=5)
    assert five.get_layer("reshape_2x2") and tuple(five.output_shape[1:]) == (64, 64, 3)
    with pytest.raises(ValueError, match="from 1 to 5"):
        build_generator(image_shape=(64, 64, 3), stages=6)


def test_a_learned_grid_projection_is_position_specific_but_not_fully_connected():
    from dcgan_keras.layers import LearnedGrid

    generator = build_generator(image_shape=(32, 32, 1), width=4, seed=0, projection="grid")
    grid = next(layer for layer in generator.layers if isinstance(layer, LearnedGrid))
    dense = generator.get_layer("project")
    assert tuple(grid.grid.shape) == (4, 4, 16) and tuple(dense.kernel.shape) == (100, 16)  # z -> one value per channel
    restored = keras.models.clone_model(generator)  # the layer round-trips through its config
    assert isinstance(restored.layers[generator.layers.index(grid)], LearnedGrid)


# --- the wider knobs: discriminator stages, any kernel from 3, any channel count --------------------------------


def _grid_sizes(model, prefix):
    """The spatial size each stage of ``model`` writes (read at its activation), in order."""
    return [layer.output.shape[1] for layer in model.layers if layer.name.startswith(prefix)
            and layer.name.endswith("relu")]


@pytest.mark.parametrize("size", [28, 64])
@pytest.mark.parametrize("downsampling", ["strided", "space_to_depth", "pooling"])
def test_discriminator_stages_halve_the_image_down_to_size_over_2_to_the_stages(size, downsampling):
    width = 4
    assert most_stages(size) == {28: 2, 64: 5}[size]
    for stages in range(1, most_stages(size) + 1):
        discriminator = build_discriminator((size, size, 1), width=width, stages=stages, downsampling=downsampling)
        final = size // 2**stages
        assert _grid_sizes(discriminator, "down_") == [size // 2**n for n in range(1, stages + 1)]
        convs = [layer for layer in _chain(discriminator) if isinstance(layer, layers.Conv2D)]
        assert [layer.filters for layer in convs] == [width * 2**n for n in range(stages)]
        # The logit reads the last grid, flattened: size / 2**stages on a side, width * 2**(stages - 1) deep.
        assert discriminator.get_layer("flatten").output.shape[1] == final * final * width * 2 ** (stages - 1)
        images = np.zeros((2, size, size, 1), "float32")
        assert tuple(discriminator(images).shape) == (2, 1)


@pytest.mark.parametrize("size, paper", [(28, 2), (64, 4), (128, 5)])
def test_the_default_discriminator_stages_mirror_the_generator(size, paper):
    shape = (size, size, 3)
    default = build_discriminator(shape, width=4, seed=0)
    explicit = build_discriminator(shape, width=4, seed=0, stages=paper)
    assert [layer.name for layer in default.layers] == [layer.name for layer in explicit.layers]
    for ours, theirs in zip(default.get_weights(), explicit.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    generator = build_generator(shape, 8, width=4)
    start = generator.get_layer("project_relu").output.shape[1]
    assert default.get_layer("flatten").input.shape[1] == start  # D ends on the grid G starts from


@pytest.mark.slow
@pytest.mark.parametrize("kernel_size", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3)])
def test_every_kernel_from_3_keeps_every_stage_exact(kernel_size, shape):
    size = shape[0]
    z = np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
    # The rewritten layers ("subpixel", "space_to_depth") meet every kernel in tests/test_layers.py.
    for upsampling in ("transposed", "resize"):
        generator = build_generator(shape, 8, width=4, kernel_size=kernel_size, upsampling=upsampling)
        ups = _grid_sizes(generator, "up_")
        assert ups == [size // 2**n for n in range(len(ups), 0, -1)], upsampling
        convs = [layer for layer in generator.layers if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose))]
        assert all(layer.kernel_size == (kernel_size, kernel_size) for layer in convs)
        images = generator(z)
        assert tuple(images.shape) == (2, *shape), upsampling
    for downsampling in ("strided", "pooling"):
        discriminator = build_discriminator(shape, width=4, kernel_size=kernel_size, downsampling=downsampling)
        paper = {28: 2, 64: 4}[size]  # the default: down to 7x7 or 4x4
        assert _grid_sizes(discriminator, "down_") == [size // 2**n for n in range(1, paper + 1)], downsampling
        assert tuple(discriminator(images).shape) == (2, 1), downsampling


@pytest.mark.slow
@pytest.mark.parametrize("kernel_size", [6, 7])  # even (padding uneven at stride 2) and the largest tried
def test_the_generator_and_discriminator_stages_combine_with_kernels(kernel_size):
    for stages in range(1, 6):
        generator = build_generator((64, 64, 2), 8, width=2, kernel_size=kernel_size, stages=stages)
        discriminator = build_discriminator((64, 64, 2), width=2, kernel_size=kernel_size, stages=stages)
        images = generator(np.zeros((1, 8), "float32"))
        assert tuple(images.shape) == (1, 64, 64, 2) and tuple(discriminator(images).shape) == (1, 1)


@pytest.mark.slow
@pytest.mark.parametrize("channels", [2, 4])
def test_any_channel_count_trains_end_to_end(channels):
    from dcgan_keras import DCGAN

    shape = (28, 28, channels)
    generator = build_generator(shape, 8, width=4, seed=0)
    discriminator = build_discriminator(shape, width=4, seed=1)
    assert generator.get_layer("to_image").filters == channels
    assert tuple(discriminator.get_layer("down_14x14").kernel.shape) == (5, 5, channels, 4)
    images = keras.ops.convert_to_numpy(generator(np.zeros((3, 8), "float32")))
    assert images.shape == (3, *shape) and tuple(discriminator(images).shape) == (3, 1)
    gan = DCGAN(generator, discriminator, seed=0)
    gan.compile()
    data = np.random.default_rng(0).uniform(-1, 1, (16, *shape)).astype("float32")
    history = gan.fit(data, epochs=1, batch_size=8, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in history.values())


# Bad values of every builder argument: UsageError, one line, naming the argument and what would do.
BAD_ARGUMENTS = [
    ("width", [8], "width must be an integer >= 1"),
    ("width", 0, "width must be an integer >= 1"),
    ("width", 8.0, "width must be an integer >= 1"),
    ("width", "8", "width must be an integer >= 1"),
    ("width", True, "width must be an integer >= 1"),
    ("kernel_size", 2, "kernel_size must be an integer >= 3"),
    ("kernel_size", 3.5, "kernel_size must be an integer >= 3"),
    ("kernel_size", (5, 5), "kernel_size must be an integer >= 3"),
    ("kernel_size", -5, "kernel_size must be an integer >= 3"),
    ("stages", 0, "stages must be an integer from 1 to 2 for 28x28 images"),
    ("stages", 3, "stages must be an integer from 1 to 2 for 28x28 images"),
    ("stages", 1.0, "stages must be an integer from 1 to 2 for 28x28 images"),
    ("stages", "2", "stages must be an integer from 1 to 2 for 28x28 images"),
    ("image_shape", (28, 28, 0), "at least 1 channel"),
    ("image_shape", (28, 28, -3), "at least 1 channel"),
    ("image_shape", (28, 28, 1.5), "must hold integers"),
    ("image_shape", (28.0, 28.0, 1), "must hold integers"),
    ("image_shape", 28, "image_shape must be (height, width, channels)"),
    ("seed", -1, "seed must be None or an integer from 0 to"),
    ("seed", 1.5, "seed must be None or an integer from 0 to"),
    ("seed", LARGEST_SEED + 1, "seed must be None or an integer from 0 to"),
    ("name", "", "name must be a non-empty string"),
    ("name", 3, "name must be a non-empty string"),
    ("batch_norm", "no", "batch_norm must be True or False"),
]
GENERATOR_ONLY = [
    ("latent_dim", 0, "latent_dim must be an integer >= 1"),
    ("latent_dim", -4, "latent_dim must be an integer >= 1"),
    ("latent_dim", 16.0, "latent_dim must be an integer >= 1"),
    ("latent_dim", None, "latent_dim must be an integer >= 1"),
    ("projection", "dense", "projection must be True, False, 'tile' or 'grid'"),
    ("upsampling", "bilinear", "upsampling must be 'transposed', 'subpixel' or 'resize'"),
    ("output_activation", "relu", "output_activation must be 'tanh', 'hard_tanh' or 'sigmoid'"),
    ("activation", "leaky_relu", "activation must be 'relu' or 'tanh'"),
]
DISCRIMINATOR_ONLY = [
    ("input_batch_norm", 1, "input_batch_norm must be True or False"),
    ("activation", "tanh", "activation must be 'leaky_relu' or 'relu'"),
    ("downsampling", "average", "downsampling must be 'strided', 'space_to_depth' or 'pooling'"),
]


def _one_line_usage_error(build, message):
    with pytest.raises(UsageError) as raised:
        build()
    text = str(raised.value)
    assert "\n" not in text and message in text, text
    assert len(text) < 300, text
    return text


@pytest.mark.parametrize("argument, value, message", BAD_ARGUMENTS + GENERATOR_ONLY)
def test_bad_generator_arguments_raise_one_line(argument, value, message):
    arguments = {"image_shape": (28, 28, 1), "latent_dim": 8, "width": 4, argument: value}
    _one_line_usage_error(lambda: build_generator(**arguments), message)


@pytest.mark.parametrize("argument, value, message", BAD_ARGUMENTS + DISCRIMINATOR_ONLY)
def test_bad_discriminator_arguments_raise_one_line(argument, value, message):
    arguments = {"image_shape": (28, 28, 1), "width": 4, argument: value}
    _one_line_usage_error(lambda: build_discriminator(**arguments), message)


def test_the_stages_error_explains_the_range():
    generator = _one_line_usage_error(lambda: build_generator((64, 64, 3), stages=6), "from 1 to 5 for 64x64")
    assert "2 -> 4 -> 8 -> 16 -> 32 -> 64" in generator and "build_one_step_generator" in generator
    discriminator = _one_line_usage_error(lambda: build_discriminator((28, 28, 1), stages=3), "from 1 to 2 for 28x28")
    assert "28 -> 14 -> 7" in discriminator and "at least 2x2" in discriminator


def test_numpy_integers_are_integers():
    generator = build_generator(np.array([28, 28, 2]), np.int64(8), width=np.int32(4), kernel_size=np.int64(3),
                                seed=np.int64(0), stages=np.int64(2))
    discriminator = build_discriminator((np.int64(28), 28, 2), width=np.int64(4), seed=np.uint8(1),
                                        stages=np.int16(1))
    assert tuple(generator.output_shape) == (None, 28, 28, 2) and tuple(discriminator.output_shape) == (None, 1)
    assert discriminator.get_layer("flatten").output.shape[1] == 14 * 14 * 4
