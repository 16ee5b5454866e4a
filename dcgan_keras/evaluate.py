"""How good are the samples? FID, KID and class coverage, offline for MNIST and the emoji.

Offline protocol (Binkowski et al., 2018, use LeNet-like features for MNIST):

1. A small classifier, trained once, seeded, and shipped with its card
   (``dcgan_keras.feature_nets``), gives the feature space: its 128
   penultimate activations. Every user scores with the *same* features.
2. The dataset is split in two fixed halves. Half A is the reference. A
   generator is scored on samples against it, and so is half B: B's scores
   are the floor a perfect generator would reach (about what sampling noise
   alone costs at that many images). Compare FIDs only at one number of
   images: FID grows as samples shrink.
3. The classifier's predictions give class coverage (``metrics.class_coverage``).

- ``MnistEvaluator``: 28x28x1 digits, halves of 5,000, 10 digit classes.
- ``EmojiEvaluator``: 64x64x3 emoji, halves of 1,893 split by *design* (all
  skin tones of an emoji in one half, so the floor is "new emoji", not
  "the same emoji in another tone"), 10 Unicode categories, plus the colour
  histogram distance. Its categories are very unequal and about half the
  images are skin-tone variants of another: "all 10 categories" is a coarse
  test of collapse, and a generator that draws one face in five tones covers
  one design, not five. Its FIDs are in the emoji network's features and are
  not comparable with InceptionV3 FIDs.

For other data, ``InceptionEvaluator`` gives FID and KID on InceptionV3 pool
features; it needs the ImageNet weights, so it needs the internet once.
``for_shape(image_shape)`` picks the offline evaluator for a generator's output.

Without any feature network, ``reference_scores`` compares a generator of any
shape with reference images (a folder, such as its own training images):
SWD per pyramid scale and MS-SSIM of sample pairs (``metrics``).
"""

import pathlib

import keras
import numpy as np
from keras import ops

from dcgan_keras import feature_nets, metrics
from dcgan_keras.compute import predict
from dcgan_keras.data import (
    EMOJI,
    MNIST,
    as_unit_range,
    check_unit_range,
    emoji_designs,
    load_embedded_emoji,
    load_embedded_mnist,
    open_images,
    to_unit_range,
)
from dcgan_keras.errors import UsageError, check_whole_number
from dcgan_keras.sampling import sample

NUM_IMAGES = 5000  # MNIST, per side: generated vs reference, and the real floor
# The scalar scores an evaluation reports (InceptionEvaluator has no classifier, so only the first two).
SCORE_KEYS = ("fid", "kid", "classes", "kl", "confidence", "colours")
MNIST_SHAPE, EMOJI_SHAPE = (28, 28, 1), (64, 64, 3)
OFFLINE_SHAPES = {"mnist": MNIST_SHAPE, "emoji": EMOJI_SHAPE}  # the generator output each offline evaluator scores
EMOJI_HALF = 1893  # emoji per half, split by design (tests check it against EmojiEvaluator)


# --- evaluators -----------------------------------------------------------------

class Evaluator:
    """Scores images against a reference set in one feature space.

    Subclasses define ``embed(images) -> (features, probabilities or None)``
    and set ``self.reference`` (features) in their constructor.
    """

    name = "features"
    reference = reference_shares = None
    default_num_images = NUM_IMAGES

    def __init__(self, num_subsets=100, subset_size=1000):
        self.num_subsets = check_whole_number("num_subsets", num_subsets, 1, "KID's random subsets")
        self.subset_size = check_whole_number("subset_size", subset_size, 2, "images in each KID subset")

    def scores(self, images, seed=0):
        """FID, KID (and class coverage where there is a classifier) of ``images`` in [-1, 1] (2 or more)."""
        images = _check_images(images)
        if len(images) < 2:
            raise UsageError(f"Scoring needs at least 2 images (FID fits a covariance to them), got {len(images)}; "
                             f"use thousands ({self.default_num_images} here) for a score worth comparing.")
        features, probabilities = self.embed(images)
        kid, kid_std = metrics.kid(features, self.reference, self.num_subsets, self.subset_size, seed)
        result = {"num_images": len(features), "fid": metrics.fid(features, self.reference), "kid": kid,
                  "kid_std": kid_std}
        if probabilities is not None:
            coverage = metrics.class_coverage(probabilities, self.reference_shares)
            result.update(classes=coverage["classes"], kl=coverage["kl"], confidence=coverage["confidence"],
                          shares=[round(float(share), 4) for share in coverage["shares"]])
        return result

    def evaluate_generator(self, generator, num_images=None, seed=0, output_range=(-1.0, 1.0)):
        """Scores of ``num_images`` samples of ``generator`` (fixed z for a given seed).

        ``num_images`` defaults to ``default_num_images``: as many as the real floor
        holds (5,000 digits, 1,893 emoji). ``output_range`` maps another output
        range (a sigmoid's (0, 1)) to [-1, 1].
        """
        num_images = self.default_num_images if num_images is None else check_num_images(num_images)
        low, high = _check_output_range(output_range)
        images = (sample(generator, num_images, seed) - low) / (high - low) * 2.0 - 1.0
        return self.scores(images, seed)


class ClassifierEvaluator(Evaluator):
    """FID, KID and class coverage on a shipped classifier's features, with the floor of a real half.

    Subclasses give ``net`` (a ``feature_nets.FeatureNet``), ``to_input`` and
    the dataset through ``_images_and_halves``.
    """

    net = None

    def __init__(self, classifier=None, card=None, num_subsets=100, subset_size=1000):
        super().__init__(num_subsets, subset_size)
        if classifier is None:
            classifier, card = feature_nets.load(self.net)
        self.card = card or {}
        self.model = keras.Model(classifier.input, [classifier.get_layer("features").output, classifier.output])
        images, labels, (reference, real) = self._images_and_halves()
        self.reference_half, self.real_half = images[reference], images[real]
        self.reference, _ = self.embed(self.reference_half)
        self.reference_shares = np.bincount(labels, minlength=10) / len(labels)
        # Score as many samples as the floor has real images: FID depends on the number.
        self.default_num_images = min(NUM_IMAGES, len(self.real_half))

    def embed(self, images):
        features, probabilities = predict(self.model, self.to_input(images), batch_size=500)
        return features, probabilities

    def real_floor(self, num_images=None, seed=0):
        """The scores of real images that are not in the reference: what a perfect generator gets.

        Use the generator's ``num_images`` (at most ``len(self.real_half)``).
        """
        num_images = self.default_num_images if num_images is None else check_num_images(num_images)
        return self.scores(self.real_half[:num_images], seed)


class MnistEvaluator(ClassifierEvaluator):
    """FID, KID and class coverage of 28x28x1 digits on the MNIST classifier's features (offline)."""

    name, net = "mnist-classifier", feature_nets.MNIST

    def _images_and_halves(self):
        images, labels = load_embedded_mnist(with_labels=True)
        return to_unit_range(images), labels, _halves(np.arange(len(images)))  # every digit its own group

    @staticmethod
    def to_input(images):
        return to_mnist_input(images)


class EmojiEvaluator(ClassifierEvaluator):
    """FID, KID, category coverage and colour distance of 64x64x3 images on the emoji network (offline).

    The halves are split by design: no emoji is in both, in any skin tone.
    ``colours`` is the total-variation distance between the RGB histograms of
    the samples and of the reference (``metrics.colour_histogram_distance``):
    0 for the same palette, 1 for none in common.
    """

    name, net = "emoji-features", feature_nets.EMOJI_NET

    def __init__(self, classifier=None, card=None, num_subsets=100, subset_size=1000):
        super().__init__(classifier, card, num_subsets, subset_size)
        self.reference_colours = metrics.colour_histogram(self.reference_half)  # once, not per evaluation

    @staticmethod
    def to_input(images):
        return to_emoji_input(images)

    def _images_and_halves(self):
        images, labels, _, names = load_embedded_emoji(with_labels=True)
        return to_unit_range(images), labels, _halves(emoji_designs(names))

    def scores(self, images, seed=0):
        result = super().scores(images, seed)  # checks the images first
        result["colours"] = metrics.colour_histogram_distance(images, self.reference_colours)
        return result


EVALUATORS = {"mnist": MnistEvaluator, "emoji": EmojiEvaluator}
# Their default_num_images (the size of the real half), known without building them.
EVALUATOR_IMAGES = {"mnist": NUM_IMAGES, "emoji": EMOJI_HALF}


def for_shape(image_shape):
    """The name of the offline evaluator for generators of ``image_shape``, or None (use InceptionV3)."""
    return {shape: name for name, shape in OFFLINE_SHAPES.items()}.get(tuple(image_shape))


def offline_evaluator(name):
    """A new ``MnistEvaluator`` ("mnist") or ``EmojiEvaluator`` ("emoji")."""
    return EVALUATORS[feature_nets.by_name(name).name]()


class InceptionEvaluator(Evaluator):
    """FID and KID on InceptionV3's 2048 average-pool features.

    Resizer: images in [-1, 1] (already Inception's input range) are made RGB
    by repeating a gray channel, then resized to 299x299 bilinearly with
    ``keras.ops.image.resize`` (antialiased when shrinking). The TTUR and
    clean-fid reference implementations resize differently (TF1 bilinear
    without antialiasing, PIL bicubic) and use the TF1 Inception graph, so
    these numbers are *not* directly comparable with published FIDs.

    ``weights="imagenet"`` downloads the weights once (needs the internet);
    ``weights=None`` gives random features, useful only to test the plumbing.
    """

    name = "inceptionv3"

    def __init__(self, reference_images, weights="imagenet", batch_size=50, num_subsets=100, subset_size=1000):
        super().__init__(num_subsets, subset_size)
        self.batch_size = batch_size
        try:
            self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=weights,
                                                         input_shape=(299, 299, 3))
        except Exception as error:  # offline, the download fails with one of many types
            if weights is None:
                raise
            raise UsageError(
                f"Could not get InceptionV3's ImageNet weights ({type(error).__name__}: {str(error)[:120]}); they "
                f"are downloaded once, which needs the internet. Offline, 28x28x1 generators are scored on the "
                f"MNIST classifier and 64x64x3 ones on the emoji network (--features mnist or emoji)."
            ) from error
        self.reference, _ = self.embed(_check_images(reference_images))

    def embed(self, images):
        # Resized a chunk at a time: 5,000 images at 299x299x3 would be 5 GB.
        return predict(self.model, images, self.batch_size, transform=to_inception_input), None


def make_evaluator(features, num_images, image_shape=None, dataset=MNIST, image_dir=None, images=None):
    """An offline evaluator ("mnist", "emoji"), or InceptionV3 against ``num_images`` reference images.

    The InceptionV3 reference is ``images`` when given, else loaded from
    ``dataset`` or ``image_dir`` at ``image_shape`` (the generator's).
    """
    if features in EVALUATORS:
        return offline_evaluator(features)
    num_images = check_num_images(num_images)
    if images is None:
        size, _, channels = image_shape
        images = open_images(dataset, size, channels, image_dir)
    reference = as_unit_range(images[np.random.default_rng(0).permutation(len(images))[:num_images]])
    return InceptionEvaluator(reference)


# --- SWD and MS-SSIM against reference images: no feature network ------------------

REFERENCE_IMAGES = 1000  # SWD's default per side: 128 patches an image, 128,000 per set and scale


def open_reference(reference, image_shape):
    """Reference images at a generator's ``image_shape``: a folder, or "mnist-embedded" or "emoji-embedded"."""
    size, _, channels = image_shape
    if str(reference) in (MNIST, EMOJI):
        return open_images(reference, size, channels)
    if not pathlib.Path(reference).is_dir():
        raise UsageError(f"The reference {reference} is neither a folder of images nor an embedded dataset "
                         f"({MNIST} or {EMOJI}).")
    return open_images(image_size=size, channels=channels, image_dir=pathlib.Path(reference))


def reference_scores(generator, reference, num_images=None, seed=0, name="generator"):
    """SWD (x 10^3, per scale and average) of ``generator``'s samples against reference images, and MS-SSIM.

    ``reference`` is a folder or an embedded dataset name (``open_reference``),
    read at the generator's output shape. ``num_images`` samples (default
    1,000, at most as many as the reference holds) are compared with as many
    reference images drawn with ``seed``. ``ms_ssim`` is the mean MS-SSIM of
    the samples' pairs and ``reference_ms_ssim`` that of the reference images:
    a generator as diverse as its data scores about the same. When the
    reference holds twice the images, ``real_swd`` is the SWD of other
    reference images against the same ones: the floor a perfect generator reaches.
    """
    reference_images = open_reference(reference, tuple(generator.output_shape[1:]))
    count = min(REFERENCE_IMAGES if num_images is None else check_num_images(num_images), len(reference_images))
    if count < 2:
        raise UsageError(f"The reference {reference} holds {count} image; SWD and MS-SSIM need at least 2.")
    order = np.random.default_rng(seed).permutation(len(reference_images))
    real = as_unit_range(reference_images[np.sort(order[:count])])
    generated = _check_images(sample(generator, count, seed))
    try:
        swd = metrics.sliced_wasserstein(generated, real, seed)
        report = {"generator": str(name), "reference": str(reference), "seed": seed, "num_images": count,
                  "swd": swd["per_scale"], "swd_avg": swd["avg"], "ms_ssim": metrics.pairwise_ms_ssim(generated),
                  "reference_ms_ssim": metrics.pairwise_ms_ssim(real)}
    except ValueError as error:  # images too small for the pyramid or the five MS-SSIM scales
        raise UsageError(f"Cannot score {generated.shape[1]}x{generated.shape[2]} images: {error}") from error
    if len(reference_images) >= 2 * count:
        other = as_unit_range(reference_images[np.sort(order[count:2 * count])])
        real_swd = metrics.sliced_wasserstein(other, real, seed)
        report.update(real_swd=real_swd["per_scale"], real_swd_avg=real_swd["avg"])
    return report


def reference_table(report):
    """``reference_scores``' report as a table, the reference images' own values beside the generator's."""
    lines = [f"{report['generator']}: {report['num_images']} samples (seed {report['seed']}) against as many "
             f"images of {report['reference']}",
             f"{'score':34s} {'generator':>10s} {'reference':>10s}"]
    real = report.get("real_swd", {})
    for size, value in report["swd"].items():
        floor = f"{real[size]:.2f}" if size in real else ""
        lines.append(f"{f'SWD x1e3, {size}x{size} (lower is better)':34s} {value:10.2f} {floor:>10s}")
    floor = f"{report['real_swd_avg']:.2f}" if "real_swd_avg" in report else ""
    lines.append(f"{'SWD x1e3, average':34s} {report['swd_avg']:10.2f} {floor:>10s}")
    lines.append(f"{'MS-SSIM of pairs (lower: diverse)':34s} {report['ms_ssim']:10.4f} "
                 f"{report['reference_ms_ssim']:10.4f}")
    if real:
        lines.append("'reference': SWD of other reference images against the same ones (the floor); MS-SSIM of "
                     "the reference images' own pairs.")
    else:
        lines.append("'reference': MS-SSIM of the reference images' own pairs (too few images for an SWD floor).")
    return "\n".join(lines)


def score_table(report):
    """The ``evaluate`` command's report as a table: each score beside the real images' floor, when there is one."""
    floor = report.get("real_floor", {})
    real = {"mnist": "real digits", "emoji": "real emoji"}.get(report.get("reference"), "real")
    lines = [
        f"{report['generator']}: {report['scores']['num_images']} samples (seed {report['seed']}), "
        f"{report['features']} features",
        f"{'score':28s} {'generator':>10s} {real:>12s}",
    ]
    rows = [("FID (lower is better)", "fid", "{:.2f}"), ("KID (lower is better)", "kid", "{:.3f}"),
            ("classes present (of 10)", "classes", "{:d}"), ("KL(classes || data)", "kl", "{:.4f}"),
            ("mean confidence", "confidence", "{:.3f}"), ("colour histogram distance", "colours", "{:.3f}")]
    for label, key, form in rows:
        if key in report["scores"]:
            floor_value = form.format(floor[key]) if key in floor else ""
            lines.append(f"{label:28s} {form.format(report['scores'][key]):>10s} {floor_value:>12s}")
    if floor:
        lines.append(f"'{real}': {floor['num_images']} {real} outside the reference set, scored the same way "
                     f"(the floor). Classifier held-out accuracy {report['classifier_held_out_accuracy']:.1%}.")
    if report.get("reference") == "emoji":
        lines.append("These FIDs are in the package's emoji features: not comparable with InceptionV3 FIDs.")
    return "\n".join(lines)


def to_mnist_input(images):
    """Images in [-1, 1] of any square size and 1 or 3 channels -> 28x28x1 (gray = channel mean)."""
    images = _check_images(images)
    if images.shape[-1] == 3:
        images = images.mean(axis=-1, keepdims=True)
    if images.shape[1:3] != (28, 28):
        images = ops.convert_to_numpy(ops.image.resize(images, (28, 28), antialias=True))
    return images


def to_emoji_input(images):
    """Images in [-1, 1] of any square size and 1 or 3 channels -> 64x64x3 (gray repeated)."""
    images = _check_images(images)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    if images.shape[1:3] != (64, 64):
        images = ops.convert_to_numpy(ops.image.resize(images, (64, 64), antialias=True))
    return images


def to_inception_input(images):
    """Images in [-1, 1] -> 299x299x3 float32 in [-1, 1], the resizer described in InceptionEvaluator."""
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    shrinking = images.shape[1] > 299
    return ops.image.resize(images, (299, 299), interpolation="bilinear", antialias=shrinking)


def _halves(groups, seed=1):
    """Two disjoint index sets of equal size, whole groups on each side (one image per group for MNIST).

    Groups are taken in a random order; the first half of the images (by
    group) is the reference, the rest the floor, and the larger is cut to the
    size of the smaller.
    """
    group_order = np.random.default_rng(seed).permutation(groups.max() + 1)
    rank = np.empty_like(group_order)
    rank[group_order] = np.arange(len(group_order))
    order = np.argsort(rank[groups], kind="stable")
    boundary = int(np.searchsorted(np.cumsum(np.bincount(groups)[group_order]), len(groups) // 2)) + 1
    first = np.isin(groups, group_order[:boundary])
    reference, real = order[first[order]], order[~first[order]]
    size = min(len(reference), len(real))
    return reference[:size], real[:size]


def check_num_images(num_images):
    return check_whole_number("num_images", num_images, 2, "samples to score, or None for the default; FID "
                                                           "fits a covariance, so at least 2")


def _check_output_range(output_range):
    try:
        low, high = (float(end) for end in output_range)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not low < high:
        raise UsageError(f"output_range must be (low, high) with low < high, such as (-1, 1) for tanh or (0, 1) "
                         f"for a sigmoid, got {output_range!r}.")
    return low, high


def _check_images(images):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise UsageError(f"Expected images of shape (N, height, width, 1 or 3), got {images.shape}.")
    check_unit_range(images, "A sigmoid generator's (0, 1) output needs evaluate_generator(..., output_range=(0, 1)).")
    return images.astype("float32")
