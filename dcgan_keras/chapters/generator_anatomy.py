"""Probes for the generator's anatomy: sizes, pooling, the latent space, activations.

Notebook 01 (generator upsampling) shows what these measure. Every function here measures or draws something
about a model built by ``dcgan_keras.models``; none of them trains anything.

- layer tables: name, output shape, how many numbers, parameters, a note;
- pooling: two inputs that 2x2 max pooling cannot tell apart, a strided
  convolution that can, and how little pooling changes under small shifts;
- the latent space: sweeping one coordinate (or any direction) of z, with
  simple digit traits (``measures.stroke_thickness``, ``measures.slant``) and
  the evaluator's class label;
- ``compare_layers``: a hand-written model checked, layer by layer, against the library's;
- ``fit_codes``: a non-adversarial fit of a generator (codes and weights by
  squared error), which separates what it can represent from what GAN training finds;
- diversity: the mean RMS distance between samples;
- activations: derivatives, and the gradient that reaches the ``project`` layer.
"""

import itertools

import keras
import numpy as np
from keras import layers, ops

from dcgan_keras.chapters.conv_arithmetic import conv2d
from dcgan_keras.chapters.gradients import weight_gradients
from dcgan_keras.chapters.measures import mean_pairwise_distance, slant, stroke_thickness
from dcgan_keras.compute import predict
from dcgan_keras.models import kernel_initializer

# --- layer tables -----------------------------------------------------------


def layer_table(model, notes=None):
    """One row per layer: name, output shape (no batch axis), numbers, parameters, note.

    ``numbers`` is how many values the layer hands on per example, the
    "information budget" a notebook compares between generator and discriminator.
    """
    notes = notes or {}
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        rows.append(
            {
                "layer": layer.name,
                "shape": shape,
                "numbers": int(np.prod(shape)),
                "params": int(layer.count_params()),
                "note": notes.get(layer.name, ""),
            }
        )
    return rows


def size_path(model):
    """The rows of ``layer_table`` where the output shape changes (BN/activations dropped)."""
    rows, previous = [], None
    for row in layer_table(model):
        if row["shape"] != previous:
            rows.append(row)
        previous = row["shape"]
    return rows


_SHOWN = {  # the arguments that define each layer type in a DCGAN (the first ones positional); the rest are defaults
    "Dense": ("units", "use_bias"), "Reshape": ("target_shape",),
    "Conv2DTranspose": ("filters", "kernel_size", "strides", "padding", "use_bias"),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "use_bias"),
    "BatchNormalization": ("momentum", "epsilon"), "LeakyReLU": ("negative_slope",),
    "Activation": ("activation",), "MaxPooling2D": ("pool_size",), "UpSampling2D": ("size",),
}
_POSITIONAL = ("units", "filters", "kernel_size", "target_shape", "activation")


def layer_call(layer):
    """The Keras call that builds ``layer``, as one would type it: ``layers.Conv2D(32, 5, strides=2, ...)``."""
    name = type(layer).__name__
    config = layer.get_config()
    arguments = [_short(config[key]) if key in _POSITIONAL else f"{key}={_short(config[key])}"
                 for key in _SHOWN.get(name, ()) if key in config]
    return f"layers.{name}({', '.join(arguments)})"


def _initializers(layer):
    """The distributions a layer draws its weights from (their seeds left out)."""
    config = layer.get_config()
    drawn = {}
    for key in ("kernel_initializer", "gamma_initializer", "beta_initializer", "bias_initializer"):
        if isinstance(config.get(key), dict):
            drawn[key] = (config[key]["class_name"],
                          {k: v for k, v in config[key]["config"].items() if k != "seed"})
    return drawn


def compare_layers(model, reference):
    """Check ``model`` against ``reference`` layer by layer: (rows, same).

    One row per layer of ``model`` (input layers left out): its Keras call, output
    shape, parameters, and whether the reference's layer at that place has the same
    type, arguments, initializers, output shape and parameter count. ``same`` is
    True when every layer matches and neither model has a layer more: then the two
    compute the same function once they hold the same weights.
    """
    def signature(layer):
        return layer_call(layer), tuple(layer.output.shape[1:]), int(layer.count_params()), _initializers(layer)

    ours = [signature(layer) for layer in model.layers if type(layer).__name__ != "InputLayer"]
    theirs = [signature(layer) for layer in reference.layers if type(layer).__name__ != "InputLayer"]
    rows = []
    for index, mine in enumerate(ours):
        call, shape, params, _ = mine
        same = index < len(theirs) and theirs[index] == mine
        rows.append({"layer": call, "shape": shape, "params": params, "same": "yes" if same else "NO"})
    same = len(ours) == len(theirs) and all(row["same"] == "yes" for row in rows)
    return rows, same


def _short(value):
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        return str(value[0])  # (5, 5) -> 5, as one would type it
    if isinstance(value, str):
        return f'"{value}"'
    return repr(tuple(value) if isinstance(value, list) else value)


def format_table(rows, columns=("layer", "shape", "numbers", "params", "note")):
    """A fixed-width text table of ``rows`` (dicts), for printing in a notebook."""
    cells = [[_format_cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _format_cell(value):
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return str(value)


def footprints(start_size, stages, kernel_size=5, stride=2):
    """Side length of the output patch that one cell of the starting grid can touch.

    A "same" transposed convolution stamps each input pixel as a ``kernel_size``
    patch at ``stride`` spacing, so a block of f cells becomes
    ``stride * (f - 1) + kernel_size`` pixels (clipped to the grid).
    Returns one value per grid, starting grid (1) included.
    """
    sizes, size, footprint = [1], start_size, 1
    for _ in range(stages):
        size *= stride
        footprint = min(stride * (footprint - 1) + kernel_size, size)
        sizes.append(footprint)
    return sizes


# --- pooling versus strided convolution ---------------------------------------


def max_pool(image, size=2):
    """Non-overlapping ``size`` x ``size`` max pooling of a 2-D array (numpy oracle)."""
    height, width = image.shape
    blocks = image[: height - height % size, : width - width % size]
    return blocks.reshape(height // size, size, width // size, size).max(axis=(1, 3))


def strided_conv(image, kernel):
    """A stride-2 "valid" convolution of a 2-D array with a 2-D kernel."""
    out = conv2d(image[:, :, None], kernel[:, :, None, None], stride=2)
    return out[:, :, 0]


def pooling_twins():
    """Two 4x4 inputs with the same 2x2-window maxima at different places.

    Every window holds one bright pixel (its maximum) on a dim background;
    the second input moves each bright pixel to another corner of its window.
    """
    peaks = np.array([[9.0, 7.0], [8.0, 6.0]])
    first, second = np.ones((4, 4)), np.ones((4, 4))
    # (row, column) of the bright pixel inside each window, for each twin
    spots_first = {(0, 0): (0, 0), (0, 1): (1, 1), (1, 0): (0, 1), (1, 1): (1, 0)}
    spots_second = {(0, 0): (1, 1), (0, 1): (0, 0), (1, 0): (1, 0), (1, 1): (0, 1)}
    for (i, j), (r, c) in spots_first.items():
        first[2 * i + r, 2 * j + c] = peaks[i, j]
    for (i, j), (r, c) in spots_second.items():
        second[2 * i + r, 2 * j + c] = peaks[i, j]
    return first, second


def all_placements(peaks, background=1.0):
    """Every input whose 2x2 windows hold ``peaks`` at any corner: 4**windows arrays."""
    rows, columns = peaks.shape
    windows = [(i, j) for i in range(rows) for j in range(columns)]
    corners = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for choice in itertools.product(corners, repeat=len(windows)):
        image = np.full((2 * rows, 2 * columns), background)
        for (i, j), (r, c) in zip(windows, choice):
            image[2 * i + r, 2 * j + c] = peaks[i, j]
        yield image


def distinct_outputs(images, operation, decimals=6):
    """How many different results ``operation`` gives on ``images``."""
    return len({np.round(operation(image), decimals).tobytes() for image in images})


def shift_change(images, operation, shift=1):
    """Mean relative change ||f(x) - f(x shifted)|| / ||f(x)|| under a ``shift``-pixel move.

    ``images``: (N, H, W) arrays with a zero background (so rolling is a clean shift).
    The shift alternates right and down, averaged over both.
    """
    changes = []
    for axis in (1, 2):
        for image, moved in zip(images, np.roll(images, shift, axis=axis)):
            before, after = operation(image), operation(moved)
            changes.append(np.linalg.norm(before - after) / np.linalg.norm(before))
    return float(np.mean(changes))


# --- the latent space ---------------------------------------------------------


def vary_coordinate(z, index, values):
    """Copies of one z with coordinate ``index`` set to each of ``values``."""
    batch = np.repeat(np.asarray(z, "float32")[None], len(values), axis=0)
    batch[:, index] = values
    return batch


def coordinate_sweeps(z, indices, values):
    """Rows of ``vary_coordinate``, one row per index: shape (len(indices)*len(values), dim)."""
    return np.concatenate([vary_coordinate(z, index, values) for index in indices])


def direction_sweeps(generate, classify, z_base, directions, low=-2.0, high=2.0):
    """What setting z's component along each unit direction to ``low`` and to ``high`` does, over ``z_base``.

    ``generate`` maps (N, dim) z to images in [-1, 1]; ``classify`` maps
    images to class indices (the evaluator's classifier). For the coordinate
    axes (``np.eye(dim)``) this sets one coordinate of z. Returns a dict of
    (num_directions,) arrays: ``rms`` pixel change per unit, ``label_flip``
    (share of starting points whose class changes), ``ink``
    (``measures.stroke_thickness``) and ``slant`` changes (high minus low, mean).
    """
    count, directions = len(z_base), np.asarray(directions, "float32")
    along = z_base @ directions.T  # (count, num_directions): each z's component along each direction
    rest = np.repeat(z_base, len(directions), axis=0) - (along.reshape(-1, 1) * np.tile(directions, (count, 1)))
    lows, highs = rest + low * np.tile(directions, (count, 1)), rest + high * np.tile(directions, (count, 1))
    a, b = generate(lows), generate(highs)
    per_image = {
        "rms": np.sqrt(((a - b) ** 2).mean(axis=(1, 2, 3))) / (high - low),
        "label_flip": classify(a) != classify(b),
        "ink": stroke_thickness(b) - stroke_thickness(a),
        "slant": slant(b) - slant(a),
    }
    # rows are ordered (base 0: direction 0..n-1), (base 1: ...): average over bases
    return {key: value.astype("float64").reshape(count, -1).mean(axis=0) for key, value in per_image.items()}


def sweep_effects(generate, classify, z_base, low=-2.0, high=2.0):
    """``direction_sweeps`` along every coordinate axis of z."""
    return direction_sweeps(generate, classify, z_base, np.eye(z_base.shape[1], dtype="float32"), low, high)


def fit_codes(generator, images, epochs=60, batch_size=64, learning_rate=1e-2, seed=0):
    """Fit ``generator`` to ``images`` without a discriminator: a code per image and the weights, by squared error.

    This is "generative latent optimisation" (Bojanowski et al., 2018) in
    its plainest form. What the fitted generator reconstructs is what its
    architecture can draw when each image has a code of its own; whether it
    can also draw from *random* codes is ``sample_fitted_codes``'s question.
    Returns the reconstructions, the final mean squared error and the codes
    (N, latent_dim). The generator's weights are changed in place.
    """
    keras.utils.set_random_seed(seed)
    codes = keras.layers.Embedding(len(images), generator.input_shape[-1], name="codes",
                                   embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0, seed=seed))
    index = keras.Input(shape=(), dtype="int32")
    model = keras.Model(index, generator(codes(index)))
    model.compile(keras.optimizers.Adam(learning_rate), "mse")
    history = model.fit(np.arange(len(images)), np.asarray(images, "float32"), batch_size=batch_size,
                        epochs=epochs, verbose=0)
    fitted = keras.ops.convert_to_numpy(codes.embeddings)
    reconstructions = predict(generator, fitted)  # the same as the model's output, without tracing a predict step
    return reconstructions, float(history.history["loss"][-1]), fitted


def sample_fitted_codes(generator, codes, num_images, seed=0):
    """Images from codes drawn at random from a Gaussian fitted to ``fit_codes``' codes (mean and covariance).

    The control for a direct fit: a fitted generator that draws digits only
    from the codes it was given has not shown that it maps a random ``z`` to
    digits, which is what a GAN's generator must do.
    """
    codes = np.asarray(codes, "float64")
    drawn = np.random.default_rng(seed).multivariate_normal(codes.mean(0), np.cov(codes, rowvar=False), num_images)
    return predict(generator, drawn.astype("float32"))


# --- diversity ----------------------------------------------------------------


def pairwise_rms(images, limit=500):
    """Mean RMS distance between distinct pairs of the first ``limit`` images: diversity."""
    return mean_pairwise_distance(images[:limit]) / float(np.sqrt(np.prod(images.shape[1:])))


# --- activations --------------------------------------------------------------


def activation_derivatives(x):
    """Values and derivatives of ReLU, tanh and sigmoid at ``x``: {name: (f, f')}."""
    sig = 1.0 / (1.0 + np.exp(-x))
    return {
        "relu": (np.maximum(x, 0.0), (x > 0).astype("float64")),
        "tanh": (np.tanh(x), 1.0 - np.tanh(x) ** 2),
        "sigmoid": (sig, sig * (1.0 - sig)),
    }


def passing_fraction(activation, scale, threshold=0.1, samples=200_000, seed=0):
    """Share of units with slope f'(s * u) >= ``threshold``, u ~ N(0, 1).

    BatchNorm keeps the *total* gradient from vanishing (it rescales), but a
    saturated unit passes nothing: this counts the units gradient can still use.
    """
    x = scale * np.random.default_rng(seed).standard_normal(samples)
    return float((activation_derivatives(x)[activation][1] >= threshold).mean())


def swap_hidden_activation(generator, activation):
    """A copy of ``generator`` (fresh weights copied over) with every ReLU replaced.

    Used to ask "what if the hidden layers saturated?" on the real architecture.
    """
    def clone(layer):
        if isinstance(layer, keras.layers.ReLU):
            return keras.layers.Activation(activation, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(generator, clone_function=clone)
    copy.set_weights(generator.get_weights())
    return copy


def gradient_norms(generator, z, seed=0, layers=("project", "to_image")):
    """Gradient norm reaching each named layer's kernel, for a fixed random loss.

    The loss is <G(z), r> / N with r a fixed random image direction: a stand-in
    for "whatever the discriminator asks for", the same for every generator
    compared. BatchNorm runs in training mode, as it does during training.
    """
    direction = np.random.default_rng(seed).standard_normal((1, *generator.output_shape[1:])).astype("float32")

    def loss(images):
        return ops.mean(ops.sum(ops.multiply(images, direction), axis=(1, 2, 3)))

    grads = weight_gradients(generator, loss, z, training=True)
    return {name: float(np.linalg.norm(grads[generator.get_layer(name).kernel.path])) for name in layers}


def with_scaled_gamma(generator, factor, names=("project_bn",)):
    """A copy of ``generator`` whose named BatchNorm scales (gamma) are multiplied by ``factor``.

    Larger gamma means larger pre-activations: the state a network drifts
    into during training, where a saturating activation stops passing
    gradient. The default scales only the first hidden layer's BatchNorm,
    whose activation feeds another normalised layer: the output tanh is left
    alone, so only the hidden activation is being tested.
    """
    copy = keras.models.clone_model(generator)
    copy.set_weights(generator.get_weights())
    for name in names:
        layer = copy.get_layer(name)
        layer.gamma.assign(layer.gamma * factor)
    return copy


def copy_projection(dense_generator, conv_generator):
    """Load a Dense ``project`` kernel into a 1x1 transposed-conv ``project`` layer.

    Dense kernel (dim, size*size*channels) reshaped to (dim, size, size,
    channels) and moved to Keras' Conv2DTranspose layout (size, size,
    channels, dim): output pixel (i, j, c) = sum_k z_k W[k, i, j, c] in both.
    """
    dense = ops.convert_to_numpy(dense_generator.get_layer("project").kernel)
    layer = conv_generator.get_layer("project")
    size, _, channels, dim = layer.kernel.shape
    layer.kernel.assign(dense.reshape(dim, size, size, channels).transpose(1, 2, 3, 0))


def build_one_step_generator(image_shape=(28, 28, 1), latent_dim=100, seed=None, name="one_step_generator"):
    """The "why not jump in one layer?" generator: z -> image in a single layer.

    One transposed convolution from a 1x1 grid straight to full size. Each
    output pixel is then a fixed linear function of z followed by tanh: the
    network can only blend one template per latent coordinate.
    """
    size = image_shape[0]
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Reshape((1, 1, latent_dim), name="reshape_1x1")(z)
    x = layers.Conv2DTranspose(image_shape[-1], size, padding="valid", kernel_initializer=kernel_initializer(seed),
                               name="to_image")(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(z, images, name=name)
