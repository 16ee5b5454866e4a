"""How good are the samples? FID, KID and class coverage, offline for MNIST.

Offline protocol (Binkowski et al., 2018, use LeNet-like features for MNIST):

1. A small convolutional classifier is trained once on 8,000 of the embedded
   MNIST digits, seeded, and its held-out accuracy on the other 2,000 is
   recorded. The package ships the result (``mnist/classifier.keras``), so
   every user scores with the *same* features; delete it, or call
   ``mnist_classifier(retrain=True)``, and it is retrained and cached.
2. Its 128 penultimate activations are the feature space for FID and KID.
3. The embedded digits are split in two fixed halves of 5,000. Half A is the
   reference. A generator is scored on 5,000 samples against it, and so is
   half B: B's scores are the floor a perfect generator would reach
   (about what sampling noise alone costs at 5,000 images).
4. The classifier's predictions give class coverage (``metrics.class_coverage``).

For other data, ``InceptionEvaluator`` gives FID and KID on InceptionV3 pool
features; it needs the ImageNet weights, so it needs the internet once.
"""

import json
import pathlib

import keras
import numpy as np
from keras import layers, ops

from dcgan_keras import metrics
from dcgan_keras.compute import predict
from dcgan_keras.data import check_unit_range, load_embedded_mnist, to_unit_range
from dcgan_keras.files import CACHE_DIR, replace_atomically, write_text_atomically
from dcgan_keras.gan import generate_images, latent_noise


PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
SHIPPED_CLASSIFIER = PACKAGE_DIR / "mnist" / "classifier.keras"
CLASSIFIER_SEED, CLASSIFIER_EPOCHS, HELD_OUT = 0, 10, 2000
# How the shipped classifier was made (reproducible on the TensorFlow backend):
CLASSIFIER_COMMAND = "python -m dcgan_keras train-classifier dcgan_keras/mnist/classifier.keras"
NUM_IMAGES = 5000  # per side: generated vs reference, and the real floor
# The scalar scores an evaluation reports (InceptionEvaluator has no classifier, so only the first two).
SCORE_KEYS = ("fid", "kid", "classes", "kl", "confidence")
MNIST_SHAPE = (28, 28, 1)


# --- the MNIST classifier ----------------------------------------------------

def build_classifier(seed=CLASSIFIER_SEED):
    """A LeNet-like CNN; the Dense layer named "features" is the embedding."""
    init = keras.initializers.GlorotUniform(seed=seed)
    x = inputs = keras.Input(MNIST_SHAPE, name="digit")
    for index, filters in enumerate((32, 32, 64, 64)):
        x = layers.Conv2D(filters, 3, activation="relu", kernel_initializer=init, name=f"conv{index + 1}")(x)
        if index % 2:
            x = layers.MaxPooling2D(2, name=f"pool{index // 2 + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(128, activation="relu", kernel_initializer=init, name="features")(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout")(features)
    probabilities = layers.Dense(10, activation="softmax", kernel_initializer=init, name="class")(x)
    return keras.Model(inputs, probabilities, name="mnist_classifier")


def classifier_split(seed=CLASSIFIER_SEED, held_out=HELD_OUT):
    """The embedded digits in [-1, 1] and labels, split (train, held-out) by a fixed permutation."""
    images, labels = load_embedded_mnist(with_labels=True)
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = to_unit_range(images[order, ..., None]), labels[order].astype("int32")
    return (images[held_out:], labels[held_out:]), (images[:held_out], labels[:held_out])


def train_classifier(train, held_out, epochs=CLASSIFIER_EPOCHS, seed=CLASSIFIER_SEED, batch_size=128):
    """Train ``build_classifier`` on (images, labels); returns (model, held-out accuracy).

    Seeds the global Keras RNG: create it *before* seeding a GAN run.
    """
    keras.utils.set_random_seed(seed)
    model = build_classifier(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    predictions = predict(model, held_out[0], batch_size=500).argmax(axis=1)
    return model, float(np.mean(predictions == held_out[1]))


def save_classifier(model, accuracy, path):
    """The model, and beside it a JSON card: held-out accuracy and how it was made."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    card = {
        "held_out_accuracy": accuracy,
        "held_out_images": HELD_OUT,
        "train_images": 10000 - HELD_OUT,
        "epochs": CLASSIFIER_EPOCHS,
        "seed": CLASSIFIER_SEED,
        "backend": keras.backend.backend(),
        "command": CLASSIFIER_COMMAND,
    }
    # An uncompiled copy: the optimizer's state would triple the file for nothing.
    bare = build_classifier()
    bare.set_weights(model.get_weights())
    replace_atomically(bare.save, path)
    write_text_atomically(json.dumps(card, indent=1), _card_path(path))
    return path


def mnist_classifier(retrain=False):
    """The shared MNIST classifier and its card: shipped, cached, or trained now (~1 min)."""
    for path in () if retrain else (SHIPPED_CLASSIFIER, CACHE_DIR / "mnist_classifier.keras"):
        if path.exists() and _card_path(path).exists():
            return keras.models.load_model(path), json.loads(_card_path(path).read_text())
    print(f"Training the MNIST evaluation classifier once; it is cached in {CACHE_DIR}.")
    model, accuracy = train_classifier(*classifier_split())
    path = save_classifier(model, accuracy, CACHE_DIR / "mnist_classifier.keras")
    return model, json.loads(_card_path(path).read_text())


def _card_path(model_path):
    return pathlib.Path(model_path).with_suffix(".json")


# --- evaluators -----------------------------------------------------------------

class Evaluator:
    """Scores images against a reference set in one feature space.

    Subclasses define ``embed(images) -> (features, probabilities or None)``
    and set ``self.reference`` (features) in their constructor.
    """

    name = "features"
    reference = reference_shares = None

    def __init__(self, num_subsets=100, subset_size=1000):
        self.num_subsets, self.subset_size = num_subsets, subset_size

    def scores(self, images, seed=0):
        """FID, KID (and class coverage where there is a classifier) of ``images`` in [-1, 1]."""
        features, probabilities = self.embed(_check_images(images))
        kid, kid_std = metrics.kid(features, self.reference, self.num_subsets, self.subset_size, seed)
        result = {"num_images": len(features), "fid": metrics.fid(features, self.reference), "kid": kid, "kid_std": kid_std}
        if probabilities is not None:
            coverage = metrics.class_coverage(probabilities, self.reference_shares)
            result.update(classes=coverage["classes"], kl=coverage["kl"], confidence=coverage["confidence"],
                          shares=[round(float(share), 4) for share in coverage["shares"]])
        return result

    def evaluate_generator(self, generator, num_images=NUM_IMAGES, seed=0, output_range=(-1.0, 1.0)):
        """Scores of ``num_images`` samples of ``generator`` (fixed z for a given seed).

        ``output_range`` maps another output range (a sigmoid's (0, 1)) to [-1, 1].
        """
        z = latent_noise(num_images, int(generator.input_shape[-1]), seed)
        low, high = output_range
        images = (generate_images(generator, z) - low) / (high - low) * 2.0 - 1.0
        return self.scores(images, seed)


class MnistEvaluator(Evaluator):
    """FID, KID and class coverage on the MNIST classifier's features (offline)."""

    name = "mnist-classifier"

    def __init__(self, classifier=None, card=None, num_subsets=100, subset_size=1000):
        super().__init__(num_subsets, subset_size)
        if classifier is None:
            classifier, card = mnist_classifier()
        self.card = card or {}
        self.model = keras.Model(classifier.input, [classifier.get_layer("features").output, classifier.output])
        images, labels = load_embedded_mnist(with_labels=True)
        self.reference_half, self.real_half = _halves(to_unit_range(images[..., None]))
        self.reference, _ = self.embed(self.reference_half)
        self.reference_shares = np.bincount(labels, minlength=10) / len(labels)

    def embed(self, images):
        features, probabilities = predict(self.model, to_mnist_input(images), batch_size=500)
        return features, probabilities

    def real_floor(self, num_images=NUM_IMAGES, seed=0):
        """The scores of real digits that are not in the reference: what a perfect generator gets.

        Use the generator's ``num_images`` (at most 5,000): FID grows as samples shrink.
        """
        return self.scores(self.real_half[:num_images], seed)


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
        self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=weights,
                                                     input_shape=(299, 299, 3))
        self.reference, _ = self.embed(_check_images(reference_images))

    def embed(self, images):
        # Resized a chunk at a time: 5,000 images at 299x299x3 would be 5 GB.
        return predict(self.model, images, self.batch_size, transform=to_inception_input), None


def to_mnist_input(images):
    """Images in [-1, 1] of any square size and 1 or 3 channels -> 28x28x1 (gray = channel mean)."""
    images = _check_images(images)
    if images.shape[-1] == 3:
        images = images.mean(axis=-1, keepdims=True)
    if images.shape[1:3] != (28, 28):
        images = ops.convert_to_numpy(ops.image.resize(images, (28, 28), antialias=True))
    return images


def to_inception_input(images):
    """Images in [-1, 1] -> 299x299x3 float32 in [-1, 1], the resizer described in InceptionEvaluator."""
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    shrinking = images.shape[1] > 299
    return ops.image.resize(images, (299, 299), interpolation="bilinear", antialias=shrinking)


def _halves(images, seed=1):
    order = np.random.default_rng(seed).permutation(len(images))
    half = len(images) // 2
    return images[order[:half]], images[order[half:]]


def _check_images(images):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"Expected images of shape (N, height, width, 1 or 3), got {images.shape}.")
    check_unit_range(images, "A sigmoid generator's (0, 1) output needs evaluate_generator(..., output_range=(0, 1)).")
    return images.astype("float32")
