"""Reading a GAN's training: diversity, collapse, BatchNorm probes, progress figures.

Notebook 04 (the training loop) explains these. A GAN's losses do not say whether its samples are
good, so the notebook measures the samples themselves:

- ``sample_diversity``: the mean pairwise distance of generated images divided
  by that of real images (0 for identical images, about 1 for the data);
- ``nearest_real_ratio``: how far samples lie from their nearest real image,
  relative to how far held-out real images lie (about 1 for the data, large
  for noise), a cheap stand-in for quality that diversity alone misses;
- ``collapse_report``: diversity, the share of near-duplicate pairs and of
  the most frequent digit (by a nearest-neighbour label), and a verdict;
- ``step_source``: the code one training step runs on the current backend, to print.

All image functions take numpy arrays (N, H, W, C) in [-1, 1].
"""

import inspect
import math
import textwrap
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops
from PIL import Image

from dcgan_keras.chapters.cached_runs import TRAINING_NOISE
from dcgan_keras.chapters.gradients import gradients
from dcgan_keras.chapters.measures import mean_pairwise_distance, nearest_labels, pairwise_distances
from dcgan_keras.compute import predict
from dcgan_keras.console import filtered_stderr
from dcgan_keras.data import make_dataset
from dcgan_keras.gan import STEP_METHODS
from dcgan_keras.resume import state_variables
from dcgan_keras.sampling import latent_noise

# At the theoretical equilibrium D(x) = D(G(z)) = 1/2 everywhere, so each half
# of D's loss is -log(1/2) and G's non-saturating loss is -log(1/2).
EQUILIBRIUM_D_LOSS = 2 * math.log(2)
EQUILIBRIUM_G_LOSS = math.log(2)


def step_source(gan, *functions):
    """The source of ``functions`` and of the step ``gan.fit()`` runs on this backend, docstrings left out."""
    step = getattr(type(gan), STEP_METHODS[keras.backend.backend()])
    return "\n".join(_without_docstring(function) for function in (*functions, step))


def _without_docstring(function):
    lines = textwrap.dedent(inspect.getsource(function)).splitlines()
    doc = inspect.getdoc(function)
    if doc:  # the docstring follows the signature; drop from its first to its last line
        start = next(i for i, line in enumerate(lines) if line.strip().startswith(('"""', "'''")))
        quote = lines[start].strip()[:3]
        end = start if lines[start].strip().count(quote) >= 2 else next(
            i for i in range(start + 1, len(lines)) if quote in lines[i])
        del lines[start:end + 1]
    return "\n".join(lines) + "\n"


# --- diversity and collapse ---------------------------------------------------


def sample_diversity(images, reference):
    """Spread of ``images`` relative to ``reference`` (real images): 0 = all identical."""
    return mean_pairwise_distance(images) / mean_pairwise_distance(reference)


def nearest_real_ratio(images, reference, held_out):
    """Mean distance to the nearest ``reference`` image, relative to ``held_out`` real images.

    About 1 when ``images`` look like the data, far above 1 for noise or blobs.
    ``held_out`` must not overlap ``reference`` (its own nearest neighbour
    would be itself, at distance 0).
    """
    fake = pairwise_distances(images, reference).min(1).mean()
    real = pairwise_distances(held_out, reference).min(1).mean()
    return float(fake / real)


def reference_split(images, labels=None, num_reference=1000, num_held_out=128, seed=0):
    """Disjoint random ``reference`` and ``held_out`` sets of real images (and reference labels)."""
    order = np.random.default_rng(seed).permutation(len(images))
    reference, held_out = order[:num_reference], order[num_reference : num_reference + num_held_out]
    reference_labels = None if labels is None else np.asarray(labels)[reference]
    return images[reference], images[held_out], reference_labels


def class_shares(labels, num_classes=10):
    """The share of each class among ``labels`` (sums to 1)."""
    return np.bincount(np.asarray(labels), minlength=num_classes) / len(labels)


def collapse_report(images, reference, reference_labels=None, *, threshold=0.5,
                    duplicate_scale=0.25, max_duplicates=0.1, max_top_share=0.5):
    """Diversity, near-duplicate share, (optionally) top-class share, and a verdict.

    A pair counts as a near-duplicate when it is closer than ``duplicate_scale``
    times the real data's mean pairwise distance (real MNIST has almost no such
    pairs). The batch is flagged as collapsed when its diversity is below
    ``threshold``, when more than ``max_duplicates`` of its pairs are
    near-duplicates (partial collapse onto a few modes keeps the mean distance
    deceptively high), or, given labels, when one class (by ``nearest_labels``)
    takes more than ``max_top_share`` of the samples (MNIST's largest is 11%).
    """
    scale = mean_pairwise_distance(reference)
    distances = pairwise_distances(images)[np.triu_indices(len(images), k=1)]
    report = {
        "diversity": float(distances.mean() / scale),
        "duplicate_pairs": float((distances < duplicate_scale * scale).mean()),
    }
    collapsed = report["diversity"] < threshold or report["duplicate_pairs"] > max_duplicates
    if reference_labels is not None:
        shares = class_shares(nearest_labels(images, reference, reference_labels))
        report["top_class"], report["top_class_share"] = int(shares.argmax()), float(shares.max())
        collapsed = collapsed or report["top_class_share"] > max_top_share
    report["collapsed"] = bool(collapsed)
    return report


# --- following training --------------------------------------------------------


class DiversityTracker(keras.callbacks.Callback):
    """After each epoch, measure a fixed-z batch of samples against real images.

    Appends to ``self.history`` one dict per epoch with ``diversity``,
    ``nearest_real``, ``top_class_share`` (given labels) and the epoch's logs,
    so a failure can be seen as it happens. Given a shipped ``evaluator``
    (``dcgan_keras.evaluate``), each row also holds its ``fid``, ``classes`` and
    ``top_share`` (the largest class share by its classifier) on
    ``evaluator_images`` samples: the yardstick the notebooks' verdicts use,
    rather than these cheap nearest-neighbour measures alone. ``seconds`` counts
    the time spent measuring, so a step's time can be told without it.
    """

    def __init__(self, reference, held_out, reference_labels=None, num_images=128, seed=0,
                 evaluator=None, evaluator_images=1000):
        super().__init__()
        self.reference, self.held_out, self.labels = reference, held_out, reference_labels
        self.num_images, self.seed = num_images, seed
        self.evaluator, self.evaluator_images = evaluator, evaluator_images
        self.history, self.seconds = [], 0.0

    def on_epoch_end(self, epoch, logs=None):
        started = time.perf_counter()
        z = latent_noise(self.num_images, self.model.latent_dim, self.seed)
        images = self.model.generate(self.num_images, z=z)
        row = {
            "epoch": epoch + 1,
            "diversity": sample_diversity(images, self.reference),
            "nearest_real": nearest_real_ratio(images, self.reference, self.held_out),
        }
        if self.labels is not None:
            row["top_class_share"] = float(class_shares(nearest_labels(images, self.reference, self.labels)).max())
        if self.evaluator is not None:
            scores = self.evaluator.evaluate_generator(self.model.generator, self.evaluator_images, self.seed)
            row.update(fid=scores["fid"], classes=scores["classes"], top_share=max(scores["shares"]))
        self.history.append({**row, **{key: float(value) for key, value in (logs or {}).items()}})
        self.seconds += time.perf_counter() - started


def train_and_track(gan, images, steps, checkpoints, tracker, batch_size=64, seed=0, callbacks=()):
    """``fit()`` for ``steps`` updates in ``checkpoints`` equal "epochs", measuring after each.

    The batches run on across "epochs", so an epoch here is just a measuring interval. Returns
    the training time in seconds (tracking included).
    """
    dataset = make_dataset(images, batch_size, seed=seed)
    started = time.perf_counter()
    # Without BatchNorm, TensorFlow's graph optimiser tries to fuse each biased
    # convolution with its LeakyReLU, fails, logs "remapper failed" from C++ and
    # runs the unfused graph: harmless, so that one line is dropped.
    with filtered_stderr(TRAINING_NOISE):
        gan.fit(dataset, epochs=checkpoints, steps_per_epoch=steps // checkpoints, verbose=0,
                callbacks=[tracker, *callbacks])
    return time.perf_counter() - started


class SimulatedCrash(RuntimeError):
    """Raised by ``CrashAtStep`` in place of a real kill."""


class CrashAtStep(keras.callbacks.Callback):
    """Raise ``SimulatedCrash`` at the end of training step ``step`` (1-based, counted from creation).

    Placed before ``fit_resumably``'s backup (it puts its own backup last), the
    crash comes before that step is saved, as a kill at a random moment would.
    """

    def __init__(self, step):
        super().__init__()
        self.step, self.steps_seen = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps_seen += 1
        if self.steps_seen == self.step:
            raise SimulatedCrash(f"simulated crash at step {self.step}")


def state_difference(first, second):
    """The largest absolute difference between two DCGANs' training states, per group of variables."""
    pairs = zip(state_variables(first).items(), state_variables(second).values())
    return {
        group: max((float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(ours, theirs)), default=0.0)
        for (group, ours), theirs in pairs
    }


class ResumeProbe(keras.callbacks.Callback):
    """Record, at each epoch start, the epoch and both optimizers' step counters."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        gan = self.model
        self.seen.append(
            {
                "epoch": epoch + 1,
                "d_steps": int(gan.d_optimizer.iterations),
                "g_steps": int(gan.g_optimizer.iterations),
            }
        )


# --- losses as functions of D(G(z)) ---------------------------------------------


def minimax_generator_loss(fake_logits):
    """The saturating loss of the original minimax game, ``log(1 - D(G(z)))``.

    G would minimise it; written as ``-softplus(logit)`` so it stays finite.
    Only for comparison: ``dcgan_keras.gan.generator_loss`` is what trains G.
    """
    return ops.mean(-ops.softplus(ops.cast(fake_logits, "float32")))


def generator_loss_curves(d_values, loss_fns):
    """Each loss and its gradient w.r.t. D's logit, at the given values of D(G(z)).

    Gradients come from autodiff through the real loss functions (one logit
    per value, so the batch mean does not rescale them). Returns a dict
    ``name -> (losses, gradients)`` of numpy arrays.
    """
    d_values = np.asarray(d_values, dtype="float32")
    logits = np.log(d_values / (1 - d_values))[:, None, None]  # the inverse of the sigmoid
    curves = {}
    for name, loss_fn in loss_fns.items():
        losses = [float(ops.convert_to_numpy(loss_fn(ops.convert_to_tensor(logit)))) for logit in logits]
        slopes = [float(gradients(loss_fn, logit)[0, 0]) for logit in logits]
        curves[name] = (np.array(losses), np.array(slopes))
    return curves


# --- BatchNorm probes -----------------------------------------------------------


def _channel_means(x):
    return np.asarray(x).reshape(-1, np.shape(x)[-1]).mean(0)


def first_batch_norm(model):
    """The name of ``model``'s first BatchNormalization layer."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            return layer.name
    raise ValueError(f"{model.name} has no BatchNormalization layer.")


def batch_norm_probe(discriminator, real, fake, layer_name=None):
    """What D's first BatchNorm sees for a real, a fake and a half-and-half batch.

    Returns per-channel means (numpy) of the BN layer's *input* (``pre_*``),
    the layer's moving mean and variance, the batch's own variance, and the mean
    BN *output* (training mode) of the real and the fake images when they pass
    ``separately`` or together in one ``mixed`` batch. Moving statistics are
    left untouched.
    """
    layer_name = layer_name or first_batch_norm(discriminator)
    layer = discriminator.get_layer(layer_name)
    to_input = keras.Model(discriminator.input, layer.input)
    # The first BN's input has no BN before it, so the training flag does not change it.
    pre_real, pre_fake = predict(to_input, real), predict(to_input, fake)
    mixed = np.concatenate([pre_real, pre_fake])
    out_real, out_fake = (predict(layer, x, training=True) for x in (pre_real, pre_fake))
    out_mixed = predict(layer, mixed, training=True)
    n = len(pre_real)
    return {
        "layer": layer_name,
        "pre_real": _channel_means(pre_real),
        "pre_fake": _channel_means(pre_fake),
        "pre_mixed": _channel_means(mixed),
        "var_real": pre_real.reshape(-1, pre_real.shape[-1]).var(0),
        "moving_mean": ops.convert_to_numpy(layer.moving_mean),
        "moving_variance": ops.convert_to_numpy(layer.moving_variance),
        "separately": (_channel_means(out_real), _channel_means(out_fake)),
        "mixed": (_channel_means(out_mixed[:n]), _channel_means(out_mixed[n:])),
    }


def training_mode_gap(model, inputs):
    """Outputs of ``model`` in training and in inference mode, without side effects."""
    return predict(model, inputs, training=True), predict(model, inputs, training=False)


def layer_spread(generator, z, training=True):
    """How much samples differ at each stage of a generator.

    For each ReLU stage and the tanh output: the standard deviation across the
    batch (how different the samples are), averaged over units. A stage where
    this shrinks towards 0 maps every z to nearly the same activations.
    """
    names = [layer.name for layer in generator.layers if layer.name.endswith("_relu") or layer.name == "tanh"]
    probe = keras.Model(generator.input, [generator.get_layer(name).output for name in names])
    outputs = predict(probe, z, training=training)
    return {name: float(x.std(0).mean()) for name, x in zip(names, outputs)}


# --- figures ----------------------------------------------------------------------


def grid_strip(frame_paths, labels=None, figsize=(10, 2.6)):
    """Show several sample-grid PNGs (e.g. SampleGrid's, one per epoch) in one row."""
    figure, axes = plt.subplots(1, len(frame_paths), figsize=figsize, squeeze=False)
    for index, (axis, path) in enumerate(zip(axes[0], frame_paths)):
        with Image.open(path) as picture:
            axis.imshow(np.asarray(picture.convert("L")), cmap="gray", vmin=0, vmax=255)
        axis.set_title(labels[index] if labels else path.stem, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    return figure


def annotate_equilibrium(figure):
    """Mark the theoretical equilibrium on a ``plot_history`` figure.

    Left panel: D loss 2 log 2 and G loss log 2; the right panel already has
    its 0.5 line. Returns the figure.
    """
    losses = figure.axes[0]
    for value, label in ((EQUILIBRIUM_D_LOSS, "D loss at equilibrium, 2 log 2"),
                         (EQUILIBRIUM_G_LOSS, "G loss at equilibrium, log 2")):
        losses.axhline(value, color="grey", linestyle=":", linewidth=1)
        losses.annotate(label, (0.02, value), xycoords=("axes fraction", "data"),
                        fontsize=8, color="grey", va="bottom")
    return figure


def plot_tracked(histories, keys=("diversity", "d_loss"), figsize=(10, 3.2), steps_per_checkpoint=None):
    """Plot ``DiversityTracker.history`` entries of several runs, one panel per key.

    With ``steps_per_checkpoint`` the x axis is the training step; else the checkpoint's number.
    """
    figure, axes = plt.subplots(1, len(keys), figsize=figsize, squeeze=False)
    scale = steps_per_checkpoint or 1
    for axis, key in zip(axes[0], keys):
        for name, history in histories.items():
            axis.plot([row["epoch"] * scale for row in history], [row[key] for row in history],
                      marker="o", markersize=3, label=name)
        axis.set_title(key)
        axis.set_xlabel("training step" if steps_per_checkpoint else "checkpoint")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    return figure
