"""The discriminator as a feature extractor (the paper's section 5.1).

The paper checks what D has learned by using it as a fixed feature extractor
for a supervised task: every layer's activations are max-pooled to a 4x4 grid,
flattened and concatenated, and a linear classifier is trained on top with
few labels. Notebook 05 (experiments), section 6, does the same on MNIST:

- ``discriminator_features`` and ``raw_pixel_features``: the features and the
  baseline they must beat;
- ``balanced_subset``: the same number of labelled examples per class;
- ``ridge_classifier``: a closed-form linear classifier (one-hot least squares
  with an L2 penalty chosen by cross-validation), standing in for the paper's
  L2-SVM: deterministic, numpy only, no training loop;
- ``linear_probe``: accuracy over several random labelled subsets.

Images are numpy arrays (N, H, W, C) in [-1, 1]; (N, H, W) is accepted for
one channel.
"""

import keras
import numpy as np

from dcgan_keras.compute import predict

DEFAULT_PENALTIES = (1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


# --- features ------------------------------------------------------------------------


def activation_layers(discriminator):
    """Names of ``discriminator``'s stage outputs: layers ending in "_lrelu" or "_relu"."""
    return [layer.name for layer in discriminator.layers if layer.name.endswith(("_lrelu", "_relu"))]


def _as_model_input(images, model):
    images = np.asarray(images, dtype="float32")
    expected = tuple(model.input_shape[1:])
    if images.ndim == 3 and expected[-1] == 1:
        images = images[..., None]
    if images.shape[1:] != expected:
        raise ValueError(
            f"The discriminator takes images of shape {expected}, got {images.shape[1:]}; "
            f"resize them or build the discriminator for this image shape."
        )
    return images


def feature_model(discriminator, grid=4):
    """A ``keras.Model``: images -> every stage's activations, max-pooled to grid x grid, concatenated.

    ``keras.layers.AdaptiveMaxPooling2D`` picks the windows as PyTorch's
    adaptive pooling does: output cell i covers rows floor(i*H/grid) to
    ceil((i+1)*H/grid). For 7x7 -> 4x4 these are rows 0-1, 1-3, 3-5, 5-6:
    overlapping windows of 2 or 3 pixels, so every pixel is seen and the
    grid needs no padding. A map smaller than the grid has its pixels repeated.
    """
    names = activation_layers(discriminator)
    if not names:
        raise ValueError(
            f"{discriminator.name} has no layer whose name ends with '_lrelu' or '_relu'; "
            f"pass a model made by dcgan_keras.models.build_discriminator."
        )
    if grid < 1:
        raise ValueError(f"grid must be at least 1, got {grid}.")
    pooled = [
        keras.layers.Flatten(name=f"{name}_flat")(
            keras.layers.AdaptiveMaxPooling2D(grid, name=f"{name}_pool{grid}")(
                discriminator.get_layer(name).output
            )
        )
        for name in names
    ]
    features = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="features")(pooled)
    return keras.Model(discriminator.input, features, name=f"{discriminator.name}_features")


def discriminator_features(discriminator, images, grid=4, batch_size=500):
    """D's pooled activations for ``images``: numpy float32 (N, F).

    Each stage (a layer ending in "_lrelu" or "_relu") is max-pooled to
    grid x grid and flattened (see ``feature_model``); the stages are
    concatenated in order. For a 28x28 discriminator of width w, F is
    ``16 * (w + 2w)`` with grid 4. D runs in inference mode
    (``training=False``): BatchNorm uses its moving statistics, so an image's
    features do not depend on the other images in its batch.
    """
    model = feature_model(discriminator, grid)
    return predict(model, _as_model_input(images, model), batch_size)


def raw_pixel_features(images):
    """The pixels themselves, flattened: float32 (N, H*W*C), the baseline."""
    images = np.asarray(images, dtype="float32")
    return images.reshape(len(images), -1)


# --- labelled subsets --------------------------------------------------------------------


def balanced_subset(labels, per_class, seed=0):
    """Sorted indices of ``per_class`` random examples of every class in ``labels``.

    100 labels for MNIST's 10 classes is ``per_class=10``; the same seed gives
    the same subset.
    """
    labels = np.asarray(labels)
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}.")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(
                f"Class {label} has {len(members)} examples, fewer than per_class={per_class}; "
                f"ask for fewer labels per class."
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


# --- a closed-form linear classifier -----------------------------------------------------


def _standardizer(x):
    """Mean and scale of each feature; constant features get scale 1 (they stay 0)."""
    mean, std = x.mean(0), x.std(0)
    return mean, np.where(std > 1e-8, std, 1.0)


def _ridge_fits(train_x, targets, penalties):
    """Weights (F, C) and intercept of L2-penalised least squares, one pair per penalty.

    Features are standardised with the statistics of ``train_x`` only. One
    eigendecomposition serves every penalty: of the N x N kernel X X^T
    (the dual form, W = X^T (X X^T + lam I)^-1 Y) when there are fewer
    examples than features, of the F x F matrix X^T X (the primal form,
    W = (X^T X + lam I)^-1 X^T Y) otherwise. The intercept is not penalised:
    with centred features it is the mean target.
    """
    mean, scale = _standardizer(train_x)
    x = (train_x - mean) / scale
    intercept = targets.mean(0)
    y = targets - intercept
    fits = []
    if len(x) < x.shape[1]:
        eigenvalues, vectors = np.linalg.eigh(x @ x.T)
        projected = vectors.T @ y
        for penalty in penalties:
            dual = vectors @ (projected / (eigenvalues + penalty)[:, None])
            fits.append(x.T @ dual)
    else:
        eigenvalues, vectors = np.linalg.eigh(x.T @ x)
        projected = vectors.T @ (x.T @ y)
        for penalty in penalties:
            fits.append(vectors @ (projected / (eigenvalues + penalty)[:, None]))
    return [(weights / scale[:, None], intercept - (mean / scale) @ weights) for weights in fits]


def _predict(x, weights, intercept):
    return (x @ weights + intercept).argmax(1)


def _stratified_folds(labels, folds, seed):
    """A fold number per example, each class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(labels), dtype=int)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        assignment[members] = np.arange(len(members)) % folds
    return assignment


def ridge_classifier(train_x, train_y, test_x, num_classes=10, penalties=DEFAULT_PENALTIES, folds=5, seed=0):
    """Fit a linear classifier on (train_x, train_y) and label ``test_x``.

    One-hot least squares with an L2 penalty on standardised features, in
    closed form (see ``_ridge_fits``). The penalty is chosen by stratified
    ``folds``-fold cross-validation on the training examples alone (each
    fold standardised with its own training part); ties go to the larger
    penalty, the simpler model. ``test_x`` is used only for the final
    prediction. Returns ``(predicted test labels, chosen penalty)``.
    """
    train_x = np.asarray(train_x, dtype="float64")
    test_x = np.asarray(test_x, dtype="float64")
    train_y = np.asarray(train_y)
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"train_x and test_x must be (N, F) with the same F, got {train_x.shape} and "
            f"{test_x.shape}; flatten images with raw_pixel_features."
        )
    if train_y.shape != (len(train_x),):
        raise ValueError(f"train_y must hold one label per row of train_x, got shape {train_y.shape}.")
    if not np.issubdtype(train_y.dtype, np.integer):
        raise ValueError(f"train_y must hold integer class labels, got dtype {train_y.dtype}.")
    if train_y.min() < 0 or train_y.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got {train_y.min()} to {train_y.max()}.")
    if min(np.bincount(train_y, minlength=num_classes)[np.unique(train_y)]) < folds:
        raise ValueError(
            f"Every class needs at least folds={folds} training examples for cross-validation; "
            f"use more labels or fewer folds."
        )
    penalties = sorted(penalties)
    if not penalties or penalties[0] <= 0:
        raise ValueError(f"penalties must be a non-empty list of positive numbers, got {penalties}.")
    targets = np.eye(num_classes)[train_y]
    fold_of = _stratified_folds(train_y, folds, seed)
    correct = np.zeros(len(penalties))
    for fold in range(folds):
        held = fold_of == fold
        for index, fit in enumerate(_ridge_fits(train_x[~held], targets[~held], penalties)):
            correct[index] += (_predict(train_x[held], *fit) == train_y[held]).sum()
    # The last maximum of the ascending penalties: ties go to the larger one.
    best = len(penalties) - 1 - int(np.argmax(correct[::-1]))
    (fit,) = _ridge_fits(train_x, targets, [penalties[best]])
    return _predict(test_x, *fit), penalties[best]


def linear_probe(features, labels, num_labels, draws=5, seed=0, num_classes=10, penalties=DEFAULT_PENALTIES):
    """Accuracy of ``ridge_classifier`` trained on ``num_labels`` balanced labels.

    For each of ``draws`` random balanced subsets (seeds ``seed``,
    ``seed + 1``, ...) the classifier is fitted on the subset and tested on
    *all* the remaining examples, its penalty picked from ``penalties`` by
    cross-validation on the subset. Returns a dict with the accuracies'
    "mean" and "std", the "accuracies", the chosen "penalties", "num_labels"
    and the feature size "dim".
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if len(features) != len(labels):
        raise ValueError(f"features ({len(features)}) and labels ({len(labels)}) differ in length.")
    classes = len(np.unique(labels))
    if num_labels % classes:
        raise ValueError(
            f"num_labels={num_labels} cannot be split evenly over {classes} classes; "
            f"use a multiple of {classes}."
        )
    accuracies, chosen = [], []
    for draw in range(draws):
        labelled = balanced_subset(labels, num_labels // classes, seed + draw)
        rest = np.setdiff1d(np.arange(len(labels)), labelled)
        predicted, penalty = ridge_classifier(
            features[labelled], labels[labelled], features[rest], num_classes, penalties
        )
        accuracies.append(float((predicted == labels[rest]).mean()))
        chosen.append(penalty)
    return {
        "mean": float(np.mean(accuracies)),
        "std": float(np.std(accuracies)),
        "accuracies": accuracies,
        "penalties": chosen,
        "num_labels": int(num_labels),
        "dim": int(features.shape[1]),
    }
