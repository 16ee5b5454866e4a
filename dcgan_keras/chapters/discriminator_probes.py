"""Measurements on discriminators: saliency, dead gradients, detail sensitivity.

Notebook 03 (discriminator design) explains these. Everything takes a Keras
model that maps images (N, H, W, C) to one logit per image, e.g.
``build_discriminator(...)``, and returns numpy. Forward passes and gradients
go through ``dcgan_keras.compute``, so the probes run on every backend.

By default the probes run the model in inference mode (``training=False``):
BatchNorm then uses its moving statistics, so each image's logit depends on
that image alone and a batch's summed logit has per-image gradients. With
``training=True`` BatchNorm normalises with the batch's own statistics, as it
does inside ``DCGAN.train_step``; its moving statistics are never updated, so
probing never changes the model.
"""

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers, ops

from dcgan_keras.chapters.gradients import gradients
from dcgan_keras.compute import predict
from dcgan_keras.gan import paper_optimizer

# Layers whose backward pass can stop a gradient: ReLU (zero slope below 0),
# LeakyReLU (never zero), max pooling (only the window's maximum gets it).
GATING_LAYERS = (layers.ReLU, layers.LeakyReLU, layers.MaxPooling2D)


# --- forward passes -----------------------------------------------------------


def _tap(model, names, where="output"):
    """A model that returns the named layers' inputs or outputs, then the logits."""
    tensors = [getattr(model.get_layer(name), where) for name in names]
    return keras.Model(_single_input(model), [*tensors, model.outputs[0]])


def _single_input(model):
    # One tensor, not a one-element list: Keras warns when a list-input model gets an array.
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def logits(model, images, training=False, batch_size=500):
    """The model's logits as a flat numpy array (state untouched)."""
    return predict(model, images, batch_size, training).reshape(-1)


def layer_outputs(model, images, names, training=False):
    """{name: that layer's output} for one batch, plus "logit"."""
    values = predict(_tap(model, names), np.asarray(images, "float32"), training=training)
    if not names:  # one output: predict returns the array itself, not a list of one
        values = [values]
    return dict(zip([*names, "logit"], values))


def relative_change(before, after):
    """||after - before|| / ||before|| over the whole batch.

    Pooled over the batch rather than averaged per image, so that a logit
    near 0 cannot blow the ratio up.
    """
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))


def shift_sensitivity(model, images, names, shift=1, training=False):
    """{layer: relative change of its output} when every image moves ``shift`` pixels right.

    The images are rolled; MNIST's empty border makes that a clean shift.
    """
    shifted = np.roll(images, shift, axis=2)
    before = layer_outputs(model, images, names, training)
    after = layer_outputs(model, shifted, names, training)
    return {name: relative_change(before[name], after[name]) for name in before}


# --- gradients -----------------------------------------------------------------


def logit_shift(model, images, shift=1):
    """(mean |logit change|, std of the logit across ``images``) when every image moves ``shift`` pixels right.

    The ratio of the two is how far a shift moves D's verdict, in units of how
    much the verdict varies between images: well conditioned where a relative
    change of the logit itself is not (a logit near 0 would blow it up).
    """
    base = logits(model, images)
    moved = logits(model, np.roll(images, shift, axis=2))
    return float(np.abs(moved - base).mean()), float(base.std())


def called_real(model, images, edits, masked=False):
    """{edit name: share of ``images`` with a positive logit after that edit}.

    ``edits`` maps names to functions of a batch; ``masked`` sets the outer
    4 pixels to black after each edit, so no border cue is left to D.
    """
    shares = {}
    for name, edit in edits.items():
        edited = np.ascontiguousarray(edit(images))
        shares[name] = float(np.mean(logits(model, mask_border(edited) if masked else edited) > 0))
    return shares


def input_gradients(model, images, training=False):
    """d logit / d image for every image: a saliency map of the same shape."""
    return gradients(lambda x: ops.sum(model(x, training=training)), images)


def class_gradients(classifier, images, labels):
    """d log p(label | image) / d image: where a digit classifier looks, the semantic control for D's maps.

    ``classifier`` outputs class probabilities (for example ``MnistEvaluator().model``'s second output).
    """
    onehot = np.eye(classifier.output_shape[-1], dtype="float32")[np.asarray(labels)]
    # ops.multiply, not "*": a PyTorch tensor times a numpy array is left to numpy, which
    # refuses a tensor that carries a gradient.
    return gradients(lambda x: ops.sum(ops.multiply(ops.log(classifier(x, training=False) + 1e-7), onehot)), images)


def border_shares(maps, width=4):
    """Where the energy of a set of maps sits: its share in each outer ``width``-pixel strip, and in the whole frame.

    Energy spread evenly over 28x28 puts 14% in each 4-pixel strip and 49%
    in the frame; MNIST draws nothing there, so a map concentrated on the
    frame reads something other than the digit.
    """
    energy = (np.asarray(maps, "float64") ** 2).sum(axis=-1).mean(axis=0)  # (H, W), averaged over the maps
    total = energy.sum()
    return {"top": energy[:width].sum() / total, "bottom": energy[-width:].sum() / total,
            "left": energy[:, :width].sum() / total, "right": energy[:, -width:].sum() / total,
            "frame": 1.0 - energy[width:-width, width:-width].sum() / total}


def border_deviation(images, width=4, background=-1.0):
    """Mean |pixel - background| in each outer strip: how far a generator's border is from MNIST's exact black."""
    gap = np.abs(np.asarray(images, "float64") - background).mean(axis=(0, -1))
    return {"top": gap[:width].mean(), "bottom": gap[-width:].mean(), "left": gap[:, :width].mean(),
            "right": gap[:, -width:].mean()}


def mask_border(images, width=4, background=-1.0):
    """The images with their outer ``width`` pixels set to ``background``: nothing left for D to read there."""
    masked = np.array(images, "float32", copy=True)
    masked[:, :width], masked[:, -width:], masked[:, :, :width], masked[:, :, -width:] = (background,) * 4
    return masked


def _stack(model):
    """The model's layers in order, checked to form a plain stack (each feeds only the next)."""
    stack = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    feeds = [model.inputs[0], *(layer.output for layer in stack[:-1])]
    if len(model.inputs) != 1 or any(layer.input is not fed for layer, fed in zip(stack, feeds)):
        raise ValueError(f"{model.name} is not a plain stack of layers; these probes need one.")
    return stack


def _gradients_at_inputs(model, images, names, training=False):
    """d(summed logits) / d images, and / d the input of each named layer.

    The model is run layer by layer with a zero tensor added in front of each
    named layer; the gradient with respect to that zero is the gradient
    arriving at the layer's input, on any backend.
    """
    stack = _stack(model)
    images = np.asarray(images, "float32")
    inputs = {layer.name: layer.input for layer in stack}
    zeros = [np.zeros((len(images), *inputs[name].shape[1:]), "float32") for name in names]

    def total(x, offsets):
        offset = dict(zip(names, offsets))
        for layer in stack:
            x = layer(x + offset[layer.name] if layer.name in offset else x, training=training)
        return ops.sum(x)

    return gradients(total, images, zeros)


def gating_layers(model):
    """Names of the layers whose backward pass can block a gradient, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, GATING_LAYERS)]


def zero_gradient_fraction(model, images, names=None, training=False):
    """{layer: fraction of its input units whose logit gradient is exactly 0}.

    Measured at the *input* of each gating layer (the pre-activation for ReLU
    and LeakyReLU, the full-resolution map for max pooling): a zero there means
    the logit's gradient stops at that unit and nothing before it learns
    through it for this image. ``"image"`` is the same fraction for the pixels.
    """
    names = gating_layers(model) if names is None else list(names)
    image_grads, layer_grads = _gradients_at_inputs(model, images, names, training)
    fractions = {name: float(np.mean(g == 0)) for name, g in zip(names, layer_grads)}
    fractions["image"] = float(np.mean(image_grads == 0))
    return fractions


# --- frequencies ---------------------------------------------------------------


def gaussian_blur(images, sigma):
    """Blur (N, H, W, C) images with a Gaussian of ``sigma`` pixels (edges repeated)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.asarray(images, "float32")
    for axis in (1, 2):  # separable: rows, then columns
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        out = sum(
            weight * np.take(padded, np.arange(k, k + out.shape[axis]), axis=axis)
            for k, weight in enumerate(kernel)
        )
    return out.astype("float32")


def radial_frequency(size):
    """|f| in cycles per pixel for every entry of a size x size FFT (0 to ~0.71)."""
    f = np.fft.fftfreq(size)
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


def high_frequency_fraction(maps, cutoff=0.25):
    """Mean over maps of the share of spectral energy above ``cutoff`` cycles/pixel.

    Each map's mean is removed first: only its variation counts (for a digit,
    the black background would otherwise put most energy at frequency 0).
    """
    maps = np.asarray(maps, "float64")[..., 0]
    maps = maps - maps.mean(axis=(1, 2), keepdims=True)
    energy = np.abs(np.fft.fft2(maps)) ** 2
    high = radial_frequency(maps.shape[1]) > cutoff
    return float(np.mean(energy[:, high].sum(axis=1) / energy.sum(axis=(1, 2))))


def mean_spectrum(maps, bins=10):
    """(bin centres, mean energy share per radial frequency bin): a 1-D spectrum."""
    maps = np.asarray(maps, "float64")[..., 0]
    maps = maps - maps.mean(axis=(1, 2), keepdims=True)
    energy = np.abs(np.fft.fft2(maps)) ** 2
    energy /= energy.sum(axis=(1, 2), keepdims=True)
    radius = radial_frequency(maps.shape[1])
    edges = np.linspace(0, radius.max() + 1e-9, bins + 1)
    share = [energy[:, (radius >= lo) & (radius < hi)].sum(axis=1).mean() for lo, hi in zip(edges, edges[1:])]
    return (edges[:-1] + edges[1:]) / 2, np.array(share)


# --- training and scoring a discriminator on its own --------------------------


def train_real_vs_fake(model, real, fake, steps, batch_size=64, seed=0):
    """Train ``model`` to output a positive logit on ``real``, negative on ``fake``.

    As in ``DCGAN.train_step`` a batch is all real or all fake (BatchNorm never
    mixes them) and the optimizer is the paper's Adam. Returns the loss per step.
    """
    model.compile(optimizer=paper_optimizer(), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    ones, zeros = np.ones((batch_size, 1), "float32"), np.zeros((batch_size, 1), "float32")
    losses = []
    for _ in range(steps):
        real_loss = model.train_on_batch(real[rng.integers(0, len(real), batch_size)], ones)
        fake_loss = model.train_on_batch(fake[rng.integers(0, len(fake), batch_size)], zeros)
        losses.append(float(real_loss) + float(fake_loss))
    return losses


def real_fake_accuracy(model, real, fake, training=False):
    """Share of images on the right side of 0 (real > 0, fake < 0), both halves weighted equally."""
    return float((np.mean(logits(model, real, training) > 0) + np.mean(logits(model, fake, training) < 0)) / 2)


def sigmoid(x):
    """D(x) as a probability from a logit."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, "float64")))


# --- the discriminator's head -------------------------------------------------


def with_dense_head(discriminator, units=1024, seed=0):
    """The same discriminator with a fully connected hidden layer before the logit.

    Only for comparing parameter counts: the new head is plain Keras layers on
    top of the shared ``flatten`` output.
    """
    features = discriminator.get_layer("flatten").output
    init = keras.initializers.RandomNormal(stddev=0.02, seed=seed)
    x = layers.Dense(units, kernel_initializer=init, name="hidden")(features)
    x = layers.LeakyReLU(0.2, name="hidden_lrelu")(x)
    logit = layers.Dense(1, kernel_initializer=init, name="dense_logit")(x)
    return keras.Model(_single_input(discriminator), logit, name=f"{discriminator.name}_dense_head")


def logit_weight_map(discriminator):
    """The ``logit`` kernel as the last feature grid: L2 norm over channels, (H, W).

    Flatten keeps position, so each weight belongs to one grid cell and one
    channel; a cell's norm says how strongly the logit listens to that place.
    """
    grid = tuple(discriminator.get_layer("flatten").input.shape[1:])
    kernel = ops.convert_to_numpy(discriminator.get_layer("logit").kernel)
    return np.linalg.norm(kernel.reshape(grid), axis=-1)


# --- figures ----------------------------------------------------------------------


def grouped_bars(ax, labels, series, fmt="{:.2f}"):
    """Bars for each label, one colour per series ({name: values}), numbers on top."""
    width = 0.8 / len(series)
    positions = np.arange(len(labels))
    for index, (name, values) in enumerate(series.items()):
        bars = ax.bar(positions + (index - (len(series) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=8, padding=1)
    ax.set_xticks(positions, labels)
    ax.legend(fontsize=8)
    return ax


def saliency_figure(images, grads, titles, rows=2):
    """Images above their input-gradient maps (red: raising the pixel raises the logit)."""
    columns = len(images) // rows
    figure, axes = plt.subplots(2 * rows, columns, figsize=(1.2 * columns, 2.5 * rows))
    for index, (image, grad, title) in enumerate(zip(images, grads, titles)):
        row, column = divmod(index, columns)
        top, bottom = axes[2 * row, column], axes[2 * row + 1, column]
        top.imshow(image[..., 0], cmap="gray", vmin=-1, vmax=1)
        top.set_title(title, fontsize=8)
        limit = np.abs(grad).max()
        bottom.imshow(grad[..., 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    for ax in axes.flat:
        ax.set_axis_off()
    figure.tight_layout()
    return figure
