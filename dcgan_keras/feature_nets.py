"""The small networks whose features score samples offline: one for MNIST, one for the emoji.

FID and KID need a feature space. InceptionV3's is the usual one, but its
weights are a download, so for the two embedded datasets the package trains
and ships its own (Binkowski et al., 2018, do the same with LeNet features
for MNIST). Each network is a classifier trained once, seeded, on part of its
dataset; its card (a JSON file beside it) records the split, the held-out
accuracy and the command that made it. Every user then scores in the *same*
feature space. Delete a shipped file, or pass ``retrain=True``, and it is
trained again and cached.

- ``"mnist"``: a LeNet-like CNN on 8,000 of the embedded digits, 10 digit
  classes, held-out accuracy on the other 2,000 (``mnist/classifier.keras``).
- ``"emoji"``: a four-stage CNN on 64x64x3 emoji, their 10 Unicode
  categories (``emoji/features.keras``). The split is by *design*: every
  skin-tone variant of an emoji sits on the same side, so the held-out
  accuracy is measured on emoji it has never seen in any tone. Categories are
  very unequal (People & Body is 60% of the images), so the loss weighs each
  category equally and the card gives the balanced accuracy too. It trains on
  copies shifted by up to 4 pixels and mirrored, to learn shapes rather than
  positions.

What the emoji features can see: the shapes and colours that tell categories
apart (a face from a flag from a fruit). What they cannot: whatever a
category does not depend on, such as skin tone or which of two similar flags.
FIDs in this space measure distance to the emoji in *these* features; they are
not comparable with InceptionV3 FIDs or with any published number.
"""

import dataclasses
import json
import pathlib

import keras
import numpy as np
from keras import layers

from dcgan_keras.compute import predict
from dcgan_keras.data import (
    EMOJI,
    emoji_designs,
    load_embedded_emoji,
    load_embedded_mnist,
    to_unit_range,
)
from dcgan_keras.errors import UsageError
from dcgan_keras.files import CACHE_DIR, replace_atomically, write_text_atomically

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
SEED = 0


@dataclasses.dataclass(frozen=True)
class FeatureNet:
    """How one evaluation network is built, split, trained and shipped."""

    name: str  # "mnist" or "emoji": the CLI's --features value
    shipped: pathlib.Path
    image_shape: tuple
    epochs: int
    augment: bool  # train on shifted and mirrored copies
    balanced: bool  # weigh every class equally in the loss
    held_out: str  # what the card says about the split

    @property
    def command(self):
        """How the shipped file was made (reproducible on the TensorFlow backend)."""
        option = "" if self.name == "mnist" else f"--features {self.name} "  # mnist is the default
        return f"python -m dcgan_keras train-classifier {option}{self.shipped.relative_to(PACKAGE_DIR.parent)}"

    @property
    def cached(self):
        return CACHE_DIR / f"{self.name}_{self.shipped.name}"


MNIST = FeatureNet("mnist", PACKAGE_DIR / "mnist" / "classifier.keras", (28, 28, 1), epochs=10, augment=False,
                   balanced=False, held_out="2,000 random digits of the 10,000")
EMOJI_NET = FeatureNet("emoji", PACKAGE_DIR / "emoji" / "features.keras", (64, 64, 3), epochs=30, augment=True,
                       balanced=True, held_out="20% of the emoji designs, each with all its skin tones")
NETWORKS = {net.name: net for net in (MNIST, EMOJI_NET)}
MNIST_HELD_OUT = 2000  # digits
EMOJI_HELD_OUT = 0.2  # of the designs


def _head(x, seed, num_classes, init):
    """The 128 "features" units (the embedding FID uses), dropout, and the class softmax."""
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(128, activation="relu", kernel_initializer=init, name="features")(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout")(features)
    return layers.Dense(num_classes, activation="softmax", kernel_initializer=init, name="class")(x)


def build(net, seed=SEED, num_classes=10):
    """The network of ``net``: LeNet-like for MNIST, four conv-pool stages for the emoji."""
    init = keras.initializers.GlorotUniform(seed=seed)
    x = inputs = keras.Input(net.image_shape, name="digit" if net.name == "mnist" else "image")
    if net.name == "mnist":
        for index, filters in enumerate((32, 32, 64, 64)):
            x = layers.Conv2D(filters, 3, activation="relu", kernel_initializer=init, name=f"conv{index + 1}")(x)
            if index % 2:
                x = layers.MaxPooling2D(2, name=f"pool{index // 2 + 1}")(x)
    else:
        for index, filters in enumerate((32, 64, 128, 128)):  # 64 -> 32 -> 16 -> 8 -> 4
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init,
                              name=f"conv{index + 1}")(x)
            x = layers.MaxPooling2D(2, name=f"pool{index + 1}")(x)
    return keras.Model(inputs, _head(x, seed, num_classes, init), name=f"{net.name}_classifier")


def split(net, seed=SEED):
    """``(train, held_out)``, each ``(images in [-1, 1], int labels)``, by a fixed permutation.

    MNIST: 2,000 random digits are held out. Emoji: 20% of the designs, with
    all their skin tones (about 740 images).
    """
    if net.name == "mnist":
        images, labels = load_embedded_mnist(with_labels=True)
        order = np.random.default_rng(seed).permutation(len(images))
        images, labels = to_unit_range(images[order]), labels[order].astype("int32")
        return (images[MNIST_HELD_OUT:], labels[MNIST_HELD_OUT:]), (images[:MNIST_HELD_OUT], labels[:MNIST_HELD_OUT])
    images, labels, _, names = load_embedded_emoji(with_labels=True)
    held = design_split(emoji_designs(names), EMOJI_HELD_OUT, seed)
    images = to_unit_range(images)
    return (images[~held], labels[~held]), (images[held], labels[held])


def design_split(designs, fraction, seed):
    """A boolean mask over the images: ``fraction`` of the designs, chosen at random, with all their variants."""
    chosen = np.random.default_rng(seed).permutation(designs.max() + 1)[: round(fraction * (designs.max() + 1))]
    return np.isin(designs, chosen)


def shifted_and_mirrored(images, seed):
    """Each image moved by up to 4 pixels (white fills the gap) and, half the time, mirrored."""
    rng = np.random.default_rng(seed)
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)), constant_values=1.0)
    size = images.shape[1]
    out = np.empty_like(images)
    for index, (dy, dx) in enumerate(rng.integers(0, 9, (len(images), 2))):
        out[index] = padded[index, dy : dy + size, dx : dx + size]
    mirrored = rng.random(len(images)) < 0.5
    out[mirrored] = out[mirrored, :, ::-1]
    return out


def train(net, train_set, held_out, epochs=None, seed=SEED, batch_size=128):
    """Train ``build(net)`` on ``train_set``; returns (model, held-out scores for its card).

    Seeds the global Keras RNG: create it *before* seeding a GAN run.
    """
    keras.utils.set_random_seed(seed)
    images, labels = train_set
    model = build(net, seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    weights = None
    if net.balanced:
        counts = np.bincount(labels, minlength=10)
        weights = (len(labels) / (10 * np.maximum(counts, 1)))[labels].astype("float32")
    epochs = net.epochs if epochs is None else epochs
    if net.augment:
        for epoch in range(epochs):  # a new random shift of every image each epoch
            model.fit(shifted_and_mirrored(images, [seed, epoch]), labels, sample_weight=weights,
                      batch_size=batch_size, shuffle=True, verbose=0)
    else:
        model.fit(images, labels, sample_weight=weights, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return model, held_out_scores(model, *held_out)


def held_out_scores(model, images, labels):
    """Accuracy, and accuracy averaged over the classes present (what a majority guess cannot fake)."""
    predicted = predict(model, images, batch_size=500).argmax(axis=1)
    per_class = [np.mean(predicted[labels == c] == c) for c in np.unique(labels)]
    return {"held_out_accuracy": float(np.mean(predicted == labels)),
            "held_out_balanced_accuracy": float(np.mean(per_class)), "held_out_images": len(labels)}


def save(net, model, scores, path, train_images):
    """The model, uncompiled, and beside it its JSON card: held-out scores and how it was made."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    card = {**scores, "train_images": int(train_images), "held_out": net.held_out, "epochs": net.epochs,
            "seed": SEED, "backend": keras.backend.backend(), "command": net.command}
    # An uncompiled copy: the optimizer's state would triple the file for nothing.
    bare = build(net)
    bare.set_weights(model.get_weights())
    replace_atomically(bare.save, path)
    write_text_atomically(json.dumps(card, indent=1), card_path(path))
    return path


def load(net, retrain=False):
    """The shared network of ``net`` and its card: shipped, cached, or trained now (minutes)."""
    for path in () if retrain else (net.shipped, net.cached):
        if path.exists() and card_path(path).exists():
            return keras.models.load_model(path), json.loads(card_path(path).read_text())
    print(f"Training the {net.name} evaluation network once; it is cached in {CACHE_DIR}.")
    train_set, held_out = split(net)
    model, scores = train(net, train_set, held_out)
    path = save(net, model, scores, net.cached, len(train_set[0]))
    return model, json.loads(card_path(path).read_text())


def card_path(model_path):
    return pathlib.Path(model_path).with_suffix(".json")


def by_name(name):
    """The ``FeatureNet`` called ``name`` ("mnist" or "emoji"), or a one-line error."""
    if name not in NETWORKS:
        raise UsageError(f"No feature network {name!r}; choose one of {', '.join(NETWORKS)} "
                         f"({EMOJI} generators use 'emoji').")
    return NETWORKS[name]
