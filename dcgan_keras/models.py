"""The DCGAN generator and discriminator (Radford, Metz & Chintala, 2015).

Notebooks 01 (generator) and 03 (discriminator) walk through these builders.
Both follow the paper's architecture rules:

- no pooling: the discriminator downsamples with strided convolutions, the
  generator upsamples with fractional-strided (transposed) convolutions;
- batch normalization everywhere except the generator's output layer and the
  discriminator's input layer;
- ReLU inside the generator with tanh at its output, LeakyReLU(0.2) inside the
  discriminator;
- no fully connected hidden layers: one projection of z at the generator's
  input, one logit straight from the flattened features at the discriminator's
  output;
- convolution and dense kernels drawn from N(0, 0.02), BatchNorm gamma from
  N(1, 0.02) and beta = 0.
"""

import numbers

import keras
import numpy as np
from keras import layers

from dcgan_keras.errors import UsageError
from dcgan_keras.layers import LearnedGrid, SpaceToDepthConv2D, SubPixelConv2DTranspose

# Square image sizes are start * 2**stages; these are the starting grids.
START_SIZES = (4, 7)
LEAKY_SLOPE = 0.2
# PyTorch's BatchNorm defaults, which the paper's reference code matches more
# closely than Keras' momentum of 0.99 (slow to follow a moving generator).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
# Each layer's initializer draws from seed * 1000 + its index; JAX takes 32-bit seeds.
LARGEST_SEED = (2**32 - 1) // 1000 - 1


def kernel_initializer(seed=None):
    """N(0, 0.02) for every convolution and dense kernel, as in the paper."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02, seed=seed)


def gamma_initializer(seed=None):
    """N(1, 0.02) for BatchNorm's scale: centred on 1 so BN starts near identity."""
    return keras.initializers.RandomNormal(mean=1.0, stddev=0.02, seed=seed)


def valid_image_sizes(limit=256):
    """The square sizes the builders accept, up to ``limit``."""
    sizes = set()
    for start in START_SIZES:
        size = start * 2
        while size <= limit:
            sizes.add(size)
            size *= 2
    return sorted(sizes)


def num_stages(image_size):
    """How many stride-2 stages connect the starting grid to ``image_size``.

    Returns ``(start, stages)`` such that ``image_size == start * 2**stages``.
    """
    for start in START_SIZES:
        stages = 0
        size = image_size
        while size > start and size % 2 == 0:
            size //= 2
            stages += 1
        if size == start and stages >= 1:
            return start, stages
    raise UsageError(
        f"Unsupported image size {image_size}. DCGAN doubles the resolution at "
        f"every stage, so the size must be 4*2**k or 7*2**k with k >= 1: "
        f"{', '.join(map(str, valid_image_sizes()))}, ... "
        f"Resize or crop your images to one of these (28 for MNIST, 64 for the paper)."
    )


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_integer(name, value, minimum, hint):
    """``value`` as an int, or one line saying what is wrong and what would do."""
    if not _is_integer(value) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum} ({hint}), got {value!r}.")
    return int(value)


def _check_choice(name, value, choices):
    # ``value in choices`` would let 1 pass for True and fail on arrays; compare type and value.
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        raise UsageError(f"{name} must be {_or(choices)}, got {value!r}.")
    return value


def _or(choices):
    names = [repr(choice) for choice in choices]
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def _check_seed(seed):
    if seed is None:
        return None
    if not _is_integer(seed) or not 0 <= seed <= LARGEST_SEED:
        raise UsageError(
            f"seed must be None or an integer from 0 to {LARGEST_SEED} (each layer draws from seed * 1000 + "
            f"its index, and JAX takes 32-bit seeds), got {seed!r}."
        )
    return int(seed)


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise UsageError(f"name must be a non-empty string (the model's name), got {name!r}.")
    return name


def _check_shape(image_shape):
    """``image_shape`` as a tuple of ints, after checking it is a square image DCGAN can make."""
    try:
        image_shape = tuple(image_shape)
    except TypeError:
        image_shape = (image_shape,)
    if len(image_shape) != 3:
        raise UsageError(
            f"image_shape must be (height, width, channels), got {image_shape}."
        )
    if not all(_is_integer(dimension) for dimension in image_shape):
        raise UsageError(f"image_shape must hold integers (height, width, channels), got {image_shape}.")
    height, width, channels = (int(dimension) for dimension in image_shape)
    if height != width:
        raise UsageError(
            f"DCGAN images are square, got {height}x{width}. Center-crop them "
            f"first (dcgan_keras.data does this for you)."
        )
    if channels < 1:
        raise UsageError(
            f"image_shape needs at least 1 channel (1 for grayscale, 3 for RGB), got {channels}."
        )
    num_stages(height)  # one line naming the sizes that work
    return height, width, channels


def _check_kernel(kernel_size):
    return _check_integer(
        "kernel_size", kernel_size, 3,
        "5 in the paper, 4 in the PyTorch examples; 2 would not overlap at stride 2",
    )


def most_stages(image_size):
    """The most stride-2 stages an ``image_size`` square allows: halvings that stay whole and at least 2x2."""
    return max(n for n in range(1, image_size.bit_length()) if image_size % 2**n == 0 and image_size // 2**n >= 2)


def _check_stages(stages, size, network):
    """``stages`` as an int from 1 to ``most_stages(size)``; None gives the paper's (``num_stages``)."""
    if stages is None:
        return num_stages(size)[1]
    most = most_stages(size)
    if not _is_integer(stages) or not 1 <= stages <= most:
        grids = [str(size // 2**n) for n in range(most + 1)]
        if network == "generator":
            why = (f"each stage doubles the grid, which must start whole and at least 2x2: {' -> '.join(grids[::-1])}; "
                   f"for no stage at all, see chapters.generator_anatomy.build_one_step_generator")
        else:
            why = f"each stage halves the grid, which must stay whole and at least 2x2: {' -> '.join(grids)}"
        raise UsageError(
            f"stages must be an integer from 1 to {most} for {size}x{size} images ({why}), got {stages!r}."
        )
    return int(stages)


def _batch_norm(name, seed):
    return layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer=gamma_initializer(seed),
        name=name,
    )


def _size_name(size):
    return f"{size}x{size}"


def build_generator(image_shape=(64, 64, 3), latent_dim=100, width=128, kernel_size=5, seed=None, name="generator", *,
                    batch_norm=True, projection=True, upsampling="transposed", activation="relu",
                    output_activation="tanh", stages=None):
    """Map a latent vector z to an image in [-1, 1].

    With the defaults this is the paper's generator::

        z (100) -> project -> 4x4x1024 -> up_8x8 (512) -> up_16x16 (256)
                -> up_32x32 (128) -> to_image 64x64x3, tanh

    Args:
        image_shape: ``(size, size, channels)`` with size 4*2**k or 7*2**k
            (28 gives MNIST's 7 -> 14 -> 28) and any number of channels
            from 1 (1 for grayscale, 3 for RGB).
        latent_dim: length of z, an integer >= 1.
        width: channels of the last hidden stage, an integer >= 1; each stage
            nearer z doubles it (the paper's 128 gives 1024 at 4x4 for 64x64 images).
        kernel_size: any integer >= 3: 5 as in the paper, 4 as in the PyTorch
            examples. "same" padding keeps every stage's size exact for each.
        seed: makes the initial weights reproducible: None or 0 to ``LARGEST_SEED``.

    The keyword-only options exist for the experiments that test the paper's
    choices; their defaults are the paper's:

        batch_norm: False drops BatchNorm from every hidden layer.
        projection: False replaces the Dense projection of z by a transposed
            convolution from a 1x1 grid (``z`` as a 1x1xlatent_dim image), as
            the PyTorch DCGAN example writes it; that is the same linear map
            (one weight per output position), written differently. "tile" is a
            real alternative: z is repeated at every position of the starting
            grid and mixed by a 3x3 convolution, so the grid starts with no
            position except what the zero padding at its border tells it.
            "grid" adds z, mapped to one value per channel, to a learned
            constant grid (``layers.LearnedGrid``): position-specific, but not
            fully connected, since z reaches every position through the same weights.
        upsampling: "resize" replaces each fractional-strided convolution by
            nearest-neighbour upsampling followed by a stride-1 convolution.
            "subpixel" keeps the paper's model exactly (same weights, same
            outputs) but computes each transposed convolution as a 3x3
            convolution (5x5 for kernels 7 to 10) plus depth-to-space, which
            XLA runs much faster on GPUs.
        activation: "tanh" replaces ReLU in every hidden layer.
        output_activation: "hard_tanh" clips a linear output to [-1, 1]: the
            same range as tanh, without its smooth saturation. "sigmoid" makes
            images in (0, 1) instead; train it on data scaled to [0, 1].
        stages: how many times the generator doubles the resolution; the
            default (None) starts from the paper's grid (7x7 for 28, 4x4 for
            64). Fewer stages start from a larger grid (1 gives 14 -> 28), more
            from a smaller one, down to 2x2 (5 gives 2 -> 4 -> ... -> 64):
            1 to ``most_stages(size)``.

    A bad value of any argument raises ``UsageError`` (a ``ValueError``) with
    one line saying what is wrong and what would do.
    """
    image_shape = _check_shape(image_shape)
    latent_dim = _check_integer("latent_dim", latent_dim, 1, "the length of z; the paper's is 100")
    width = _check_integer("width", width, 1, "channels of the last hidden stage; the paper's is 128")
    kernel_size = _check_kernel(kernel_size)
    seed, name = _check_seed(seed), _check_name(name)
    stages = _check_stages(stages, image_shape[0], "generator")
    start = image_shape[0] // 2**stages
    batch_norm = _check_flag("batch_norm", batch_norm)
    _check_choice("projection", projection, (True, False, "tile", "grid"))
    _check_choice("upsampling", upsampling, ("transposed", "subpixel", "resize"))
    _check_choice("activation", activation, ("relu", "tanh"))
    _check_choice("output_activation", output_activation, ("tanh", "hard_tanh", "sigmoid"))
    seeds = _seed_stream(seed)
    size, channels = start, width * 2 ** (stages - 1)

    def normalize_and_activate(x, stage):
        if batch_norm:
            x = _batch_norm(f"{stage}_bn", next(seeds))(x)
        if activation == "tanh":
            return layers.Activation("tanh", name=f"{stage}_tanh")(x)
        return layers.ReLU(name=f"{stage}_relu")(x)

    z = keras.Input(shape=(latent_dim,), name="z")
    # The one fully connected layer: it turns z into a coarse spatial grid, the
    # first place where "position" exists. No bias when BatchNorm's beta follows.
    x = _project(z, size, channels, projection, not batch_norm, next(seeds))
    x = normalize_and_activate(x, "project")

    for _ in range(stages - 1):
        size, channels = size * 2, channels // 2
        stage = f"up_{_size_name(size)}"
        x = _upsample(x, channels, kernel_size, upsampling, not batch_norm, next(seeds), stage)
        x = normalize_and_activate(x, stage)

    # The output layer has no BatchNorm: it would pin every image's pixel
    # statistics to the batch's, which the data does not have.
    x = _upsample(x, image_shape[-1], kernel_size, upsampling, True, next(seeds), "to_image")
    # float32 output keeps mixed-precision images exact at the edges of [-1, 1].
    images = layers.Activation(output_activation, dtype="float32", name=output_activation)(x)
    return keras.Model(z, images, name=name)


def build_discriminator(image_shape=(64, 64, 3), width=128, kernel_size=5, seed=None, name="discriminator", *,
                        batch_norm=True, input_batch_norm=False, activation="leaky_relu", downsampling="strided",
                        stages=None):
    """Map an image in [-1, 1] to one logit: positive means "looks real".

    With the defaults this is the paper's discriminator, the generator's
    mirror image::

        64x64x3 -> down_32x32 (128) -> down_16x16 (256) -> down_8x8 (512)
                -> down_4x4 (1024) -> flatten -> logit

    It returns a logit, not a probability. The sigmoid lives in the losses
    (``gan.discriminator_loss`` and ``gan.generator_loss``), which compute
    ``log(sigmoid(x))`` as ``-softplus(-x)``: exact where a separate sigmoid
    would round to 0 or 1 and turn the log into -inf, which is exactly what
    happens when the discriminator becomes confident. Take
    ``keras.ops.sigmoid(logit)`` for D(x) as a probability.

    Args:
        image_shape: ``(size, size, channels)``, as for ``build_generator``:
            any number of channels from 1.
        width: channels of the first stage, an integer >= 1; each later stage doubles it.
        kernel_size: any integer >= 3, as for ``build_generator``.
        seed: makes the initial weights reproducible: None or 0 to ``LARGEST_SEED``.

    The keyword-only options exist for the experiments that test the paper's
    choices; their defaults are the paper's:

        batch_norm: False drops BatchNorm from every layer.
        input_batch_norm: True adds BatchNorm to the input layer too.
        activation: "relu" replaces LeakyReLU(0.2) by ReLU.
        downsampling: "pooling" replaces each strided convolution by a
            stride-1 convolution followed by 2x2 max pooling. "space_to_depth"
            keeps the paper's model exactly (same weights, same outputs) but
            computes each strided convolution as space-to-depth plus a 3x3
            convolution (5x5 for kernels 7 to 10), which XLA runs faster on GPUs.
        stages: how many stride-2 stages halve the image before the logit;
            the default (None) is the mirror of the paper's generator (down to
            7x7 for 28, 4x4 for 64). The logit reads a grid of size / 2**stages:
            1 to ``most_stages(size)``, down to 2x2 (5 gives 64 -> 32 -> ... -> 2).

    A bad value of any argument raises ``UsageError`` (a ``ValueError``) with
    one line saying what is wrong and what would do.
    """
    image_shape = _check_shape(image_shape)
    width = _check_integer("width", width, 1, "channels of the first stage; the paper's is 128")
    kernel_size = _check_kernel(kernel_size)
    seed, name = _check_seed(seed), _check_name(name)
    stages = _check_stages(stages, image_shape[0], "discriminator")
    batch_norm = _check_flag("batch_norm", batch_norm)
    input_batch_norm = _check_flag("input_batch_norm", input_batch_norm)
    _check_choice("activation", activation, ("leaky_relu", "relu"))
    _check_choice("downsampling", downsampling, ("strided", "space_to_depth", "pooling"))
    seeds = _seed_stream(seed)
    size, channels = image_shape[0], width

    images = keras.Input(shape=image_shape, name="image")
    x = images
    for stage_index in range(stages):
        size = size // 2
        stage = f"down_{_size_name(size)}"
        # The input layer has no BatchNorm: normalising raw pixels per batch
        # would let the discriminator tell real and fake batches apart by
        # their batch statistics rather than by the images themselves.
        normalize = batch_norm and (stage_index > 0 or input_batch_norm)
        x = (SpaceToDepthConv2D if downsampling == "space_to_depth" else layers.Conv2D)(
            channels,
            kernel_size,
            strides=1 if downsampling == "pooling" else 2,
            padding="same",
            use_bias=not normalize,
            kernel_initializer=kernel_initializer(next(seeds)),
            name=stage,
        )(x)
        if downsampling == "pooling":
            x = layers.MaxPooling2D(2, name=f"{stage}_pool")(x)
        if normalize:
            x = _batch_norm(f"{stage}_bn", next(seeds))(x)
        if activation == "relu":
            x = layers.ReLU(name=f"{stage}_relu")(x)
        else:
            x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{stage}_lrelu")(x)
        channels *= 2

    x = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(
        1,
        kernel_initializer=kernel_initializer(next(seeds)),
        dtype="float32",
        name="logit",
    )(x)
    return keras.Model(images, logit, name=name)


def _project(z, size, channels, projection, use_bias, seed):
    """z -> a size x size x channels grid: Dense, a 1x1 transposed conv, tiled z and a 3x3 conv, or a learned grid."""
    if projection == "tile":
        x = layers.Reshape((1, 1, z.shape[-1]), name="reshape_1x1")(z)
        x = layers.UpSampling2D(size, name=f"tile_{_size_name(size)}")(x)
        return layers.Conv2D(channels, 3, padding="same", use_bias=use_bias,
                             kernel_initializer=kernel_initializer(seed), name="project")(x)
    if projection == "grid":
        x = layers.Dense(channels, use_bias=use_bias, kernel_initializer=kernel_initializer(seed), name="project")(z)
        x = layers.Reshape((1, 1, channels), name="reshape_1x1")(x)
        # The constant is drawn like every other weight, N(0, 0.02), from its own seed.
        return LearnedGrid(size, channels, kernel_initializer(None if seed is None else seed + 500),
                           name=f"grid_{_size_name(size)}")(x)
    if projection:
        x = layers.Dense(
            size * size * channels,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer(seed),
            name="project",
        )(z)
        return layers.Reshape((size, size, channels), name=f"reshape_{_size_name(size)}")(x)
    x = layers.Reshape((1, 1, z.shape[-1]), name="reshape_1x1")(z)
    return layers.Conv2DTranspose(
        channels,
        size,
        padding="valid",  # 1x1 -> size x size: every output pixel has its own weights
        use_bias=use_bias,
        kernel_initializer=kernel_initializer(seed),
        name="project",
    )(x)


def _upsample(x, channels, kernel_size, upsampling, use_bias, seed, name):
    """Double height and width: a fractional-strided conv, or resize then conv."""
    if upsampling == "resize":
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    convolution = {
        "transposed": layers.Conv2DTranspose,
        "subpixel": SubPixelConv2DTranspose,
        "resize": layers.Conv2D,
    }[upsampling]
    return convolution(
        channels,
        kernel_size,
        strides=1 if upsampling == "resize" else 2,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=kernel_initializer(seed),
        name=name,
    )(x)


def _seed_stream(seed):
    """Distinct, reproducible initializer seeds (None stays random)."""
    counter = 0
    while True:
        yield None if seed is None else seed * 1000 + counter
        counter += 1


def multiply_adds(model):
    """Multiply-adds of one forward pass per image: convolutions (plain and transposed) and dense layers.

    A convolution does k*k*in multiply-adds for each value it writes; a
    transposed convolution does k*k*out for each value it reads. Pooling,
    BatchNorm and activations are not counted. The benchmark turns this into
    FLOPs per training step; notebook 03 compares discriminator heads with it.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2DTranspose):
            height, width = layer.input.shape[1:3]
        elif isinstance(layer, layers.Conv2D):
            height, width = layer.output.shape[1:3]
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
            continue
        else:
            continue
        total += height * width * int(np.prod(layer.kernel_size)) * layer.input.shape[-1] * layer.filters
    return int(total)
