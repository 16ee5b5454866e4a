"""The evaluation networks and evaluators: shipped cards, reproducibility, plumbing."""

import json

import keras
import numpy as np
import pytest

from dcgan_keras import data, evaluate, feature_nets
from dcgan_keras.callbacks import QualityCheckpoint
from dcgan_keras.gan import DCGAN
from dcgan_keras.models import build_generator


@pytest.fixture(scope="module")
def evaluator():
    return evaluate.MnistEvaluator(num_subsets=20)


@pytest.mark.parametrize("net, accuracy", [(feature_nets.MNIST, 0.97), (feature_nets.EMOJI_NET, 0.7)])
def test_shipped_network_matches_its_card(net, accuracy):
    model, card = feature_nets.load(net)
    _, (images, labels) = feature_nets.split(net)
    assert card["held_out_accuracy"] > accuracy and card["held_out_images"] == len(labels)
    assert card["command"] == net.command
    assert feature_nets.held_out_scores(model, images, labels)["held_out_accuracy"] == pytest.approx(
        card["held_out_accuracy"], abs=1e-9)


@pytest.mark.long  # trains the classifier twice: run by pytest -m long
def test_classifier_training_is_reproducible():
    (images, labels), held_out = feature_nets.split(feature_nets.MNIST)
    small = (images[:600], labels[:600])
    first, scores = feature_nets.train(feature_nets.MNIST, small, held_out, epochs=1)
    second, again = feature_nets.train(feature_nets.MNIST, small, held_out, epochs=1)
    assert scores == again
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_split_keeps_held_out_digits_apart():
    (train, _), (held, _) = feature_nets.split(feature_nets.MNIST)
    assert len(train) + len(held) == 10000 and len(held) == feature_nets.MNIST_HELD_OUT
    assert not set(map(bytes, held[:200])) & set(map(bytes, train))


def test_emoji_split_keeps_every_skin_tone_of_a_design_on_one_side():
    _, _, _, names = data.load_embedded_emoji(with_labels=True)
    designs = data.emoji_designs(names)
    held = feature_nets.design_split(designs, feature_nets.EMOJI_HELD_OUT, feature_nets.SEED)
    assert not set(designs[held]) & set(designs[~held])
    assert round(0.2 * 1911) == len(set(designs[held]))
    (train, _), (held_images, _) = feature_nets.split(feature_nets.EMOJI_NET)
    assert len(train) + len(held_images) == 3786 and len(held_images) == held.sum()


def test_augmentation_moves_and_mirrors_but_keeps_the_range():
    images = np.full((6, 64, 64, 3), -1.0, "float32")  # black: the white fill shows where it moved
    moved = feature_nets.shifted_and_mirrored(images, seed=0)
    assert moved.shape == images.shape and moved.min() == -1.0 and moved.max() == 1.0
    np.testing.assert_array_equal(moved, feature_nets.shifted_and_mirrored(images, seed=0))


def test_real_digits_score_near_the_floor_and_noise_far_above(evaluator):
    floor = evaluator.real_floor(num_images=2000)
    assert floor["fid"] < 5 and floor["classes"] == 10 and floor["kl"] < 0.01 and floor["confidence"] > 0.98
    noise = np.random.default_rng(0).uniform(-1, 1, (2000, 28, 28, 1)).astype("float32")
    scored = evaluator.scores(noise)
    assert scored["fid"] > 50 * floor["fid"] and scored["kid"] > 10 * abs(floor["kid"]) + scored["kid_std"]


def test_a_collapsed_sample_loses_classes(evaluator):
    real = evaluator.real_half[:2000]
    _, probabilities = evaluator.embed(real)
    ones = real[probabilities.argmax(1) == 1]  # a generator that only draws 1s
    collapsed = evaluator.scores(np.resize(ones, real.shape))
    assert collapsed["classes"] == 1 and collapsed["kl"] == pytest.approx(np.log(1 / 0.1135), abs=0.01)
    assert collapsed["fid"] > evaluator.scores(real)["fid"] + 20


def test_generator_scores_are_reproducible_and_resized(evaluator):
    generator = build_generator(image_shape=(56, 56, 1), width=8, seed=0)
    first = evaluator.evaluate_generator(generator, num_images=300, seed=1)
    assert first == evaluator.evaluate_generator(generator, num_images=300, seed=1)
    assert evaluate.to_mnist_input(np.zeros((2, 56, 56, 3), "float32")).shape == (2, 28, 28, 1)


def test_sigmoid_outputs_are_mapped_to_the_unit_range(evaluator):
    sigmoid = build_generator(image_shape=(28, 28, 1), width=8, seed=0, output_activation="sigmoid")
    with pytest.raises(ValueError, match="output_range"):
        evaluator.scores(np.full((4, 28, 28, 1), 1.5, "float32"))
    assert np.isfinite(evaluator.evaluate_generator(sigmoid, 200, output_range=(0, 1))["fid"])


def test_bad_images_are_rejected_with_a_hint(evaluator):
    with pytest.raises(ValueError, match="to_unit_range"):
        evaluator.scores(np.zeros((4, 28, 28, 1), "uint8"))
    with pytest.raises(ValueError, match=r"\(N, height, width, 1 or 3\)"):
        evaluator.scores(np.zeros((4, 28, 28), "float32"))


@pytest.fixture(scope="module")
def emoji():
    return evaluate.EmojiEvaluator(num_subsets=20)


def test_emoji_halves_share_no_design_and_have_the_documented_size(emoji):
    _, _, _, names = data.load_embedded_emoji(with_labels=True)
    designs = data.emoji_designs(names)
    reference, real = evaluate._halves(designs)
    assert len(reference) == len(real) == evaluate.EMOJI_HALF == emoji.default_num_images
    assert not set(designs[reference]) & set(designs[real])
    assert evaluate.EVALUATOR_IMAGES["emoji"] == len(emoji.real_half)


@pytest.mark.long
def test_emoji_floor_is_far_below_noise_white_and_one_category(emoji):
    floor = emoji.real_floor()
    assert floor["fid"] < 25 and floor["classes"] >= 8 and floor["colours"] < 0.1
    size = (emoji.default_num_images, 64, 64, 3)
    noise = emoji.scores(np.random.default_rng(0).uniform(-1, 1, size).astype("float32"))
    white = emoji.scores(np.ones(size, "float32"))
    assert min(noise["fid"], white["fid"]) > 10 * floor["fid"] and noise["colours"] > 0.5
    _, probabilities = emoji.embed(emoji.real_half)
    flags = emoji.real_half[probabilities.argmax(1) == 3]  # a generator that only draws flags
    one_category = emoji.scores(np.resize(flags, emoji.real_half.shape))
    assert one_category["classes"] == 1 and one_category["fid"] > floor["fid"] + 20


def test_emoji_generator_scores_are_reproducible_and_other_sizes_are_resized(emoji):
    generator = build_generator(image_shape=(32, 32, 3), width=4, seed=0)
    first = emoji.evaluate_generator(generator, num_images=200, seed=1)
    assert first == emoji.evaluate_generator(generator, num_images=200, seed=1) and "colours" in first
    assert evaluate.to_emoji_input(np.zeros((2, 32, 32, 1), "float32")).shape == (2, 64, 64, 3)


@pytest.mark.long  # builds the feature networks: run by pytest -m long
def test_the_output_shape_picks_the_evaluator():
    assert evaluate.for_shape((28, 28, 1)) == "mnist" and evaluate.for_shape((64, 64, 3)) == "emoji"
    assert evaluate.for_shape((32, 32, 3)) is None
    assert isinstance(evaluate.offline_evaluator("emoji"), evaluate.EmojiEvaluator)


@pytest.mark.long  # builds the feature networks: run by pytest -m long
def test_inception_plumbing_with_random_weights():
    # Random weights: this checks shapes, resizing and the FID/KID wiring only;
    # it says nothing about the scores' meaning (that needs the ImageNet weights).
    rng = np.random.default_rng(0)
    reference = rng.uniform(-1, 1, (6, 28, 28, 1)).astype("float32")
    inception = evaluate.InceptionEvaluator(reference, weights=None, batch_size=3, num_subsets=2)
    assert inception.reference.shape == (6, 2048)
    assert evaluate.to_inception_input(reference[:2]).shape == (2, 299, 299, 3)
    scores = inception.scores(reference)
    assert scores["fid"] == pytest.approx(0.0, abs=1e-3) and "classes" not in scores


def test_inception_offline_says_so_in_one_line(monkeypatch):
    def offline(**kwargs):
        raise OSError("URL fetch failure: no internet")

    monkeypatch.setattr(evaluate.keras.applications, "InceptionV3", offline)
    with pytest.raises(evaluate.UsageError, match="needs the internet. Offline, 28x28x1 generators"):
        evaluate.InceptionEvaluator(np.zeros((2, 28, 28, 1), "float32"))


class ScriptedEvaluator:
    """Returns the FIDs it is given, in order: the callback's bookkeeping is under test."""

    def __init__(self, fids):
        self.fids, self.calls = list(fids), []

    def evaluate_generator(self, generator, num_images, seed, output_range):
        self.calls.append(num_images)
        return {"fid": self.fids.pop(0), "kid": 0.0, "classes": 10, "kl": 0.0, "confidence": 1.0}


def tiny_gan():
    gan = DCGAN.from_shape((28, 28, 1), latent_dim=8, width=4, seed=0)
    gan.compile()
    return gan


def test_quality_checkpoint_keeps_the_best_and_the_last(tmp_path):
    images = np.zeros((64, 28, 28, 1), "float32")
    scripted = ScriptedEvaluator([30.0, 10.0, 20.0])
    callback = QualityCheckpoint(scripted, tmp_path, every=2, num_images=7)
    history = tiny_gan().fit(images, batch_size=32, epochs=5, verbose=0, callbacks=[callback]).history
    # Epochs 2 and 4, and the last one (5); only those epochs' logs carry scores.
    assert scripted.calls == [7, 7, 7]
    assert history["fid"] == [30.0, 10.0, 20.0] and len(history["d_loss"]) == 5
    record = json.loads((tmp_path / "quality.json").read_text())
    assert record["best"]["epoch"] == 4 and [e["epoch"] for e in record["evaluations"]] == [2, 4, 5]
    best = keras.models.load_model(tmp_path / "best_generator.keras")
    last = keras.models.load_model(tmp_path / "last_generator.keras")
    assert not all(np.array_equal(a, b) for a, b in zip(best.get_weights(), last.get_weights()))


def test_quality_checkpoint_can_keep_the_scores_only(tmp_path):
    images = np.zeros((64, 28, 28, 1), "float32")
    callback = QualityCheckpoint(ScriptedEvaluator([3.0, 2.0]), tmp_path, every=1, keep_generators=False)
    tiny_gan().fit(images, batch_size=32, epochs=2, verbose=0, callbacks=[callback])
    assert [e["fid"] for e in json.loads((tmp_path / "quality.json").read_text())["evaluations"]] == [3.0, 2.0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["quality.json"]


def test_quality_checkpoint_remembers_the_best_across_a_resume(tmp_path):
    images = np.zeros((64, 28, 28, 1), "float32")
    first = QualityCheckpoint(ScriptedEvaluator([5.0]), tmp_path, every=1)
    tiny_gan().fit(images, batch_size=32, epochs=1, verbose=0, callbacks=[first])
    # A new callback (a resumed run) reads quality.json: a worse score is recorded, not kept as best.
    resumed = QualityCheckpoint(ScriptedEvaluator([9.0, 3.0]), tmp_path, every=1)
    tiny_gan().fit(images, batch_size=32, initial_epoch=1, epochs=3, verbose=0, callbacks=[resumed])
    record = json.loads((tmp_path / "quality.json").read_text())
    assert record["best"]["fid"] == 3.0 and [e["fid"] for e in record["evaluations"]] == [5.0, 9.0, 3.0]
    # Resumed from epoch 2's backup after epoch 3 was scored: epoch 3 is forgotten, the best with it.
    again = QualityCheckpoint(ScriptedEvaluator([4.0]), tmp_path, every=1)
    tiny_gan().fit(images, batch_size=32, initial_epoch=2, epochs=3, verbose=0, callbacks=[again])
    record = json.loads((tmp_path / "quality.json").read_text())
    assert [e["fid"] for e in record["evaluations"]] == [5.0, 9.0, 4.0] and record["best"]["fid"] == 4.0
    with pytest.raises(ValueError, match="every must be a whole number of 1 or more"):
        QualityCheckpoint(ScriptedEvaluator([]), tmp_path, every=0)
