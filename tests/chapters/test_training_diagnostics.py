"""dcgan_keras.chapters.training_diagnostics: sample measures, BatchNorm probes, callbacks, figures."""

import inspect
import math

import keras
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from dcgan_keras import DCGAN, build_discriminator, build_generator, generator_loss
from dcgan_keras.chapters import figures, measures
from dcgan_keras.chapters import training_diagnostics as dg
from dcgan_keras.data import load_embedded_mnist, make_dataset, to_unit_range
from dcgan_keras.resume import fit_resumably

SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def mnist():
    images, labels = load_embedded_mnist(with_labels=True)
    return to_unit_range(images), labels


@pytest.fixture(scope="module")
def split(mnist):
    return dg.reference_split(*mnist, num_reference=500, num_held_out=64)


def test_identical_images_have_zero_diversity(split):
    reference, held_out, _ = split
    same = np.repeat(held_out[:1], 32, axis=0)
    assert dg.sample_diversity(same, reference) == pytest.approx(0.0, abs=1e-6)


def test_the_data_against_itself_is_about_one(split):
    reference, held_out, _ = split
    assert dg.sample_diversity(reference, reference) == 1.0
    assert dg.sample_diversity(held_out, reference) == pytest.approx(1.0, abs=0.08)
    assert dg.nearest_real_ratio(held_out[:32], reference, held_out[32:]) == pytest.approx(1.0, abs=0.2)


def test_noise_is_diverse_but_far_from_the_data(split):
    reference, held_out, _ = split
    noise = np.random.default_rng(0).uniform(-1, 1, held_out.shape).astype("float32")
    assert dg.sample_diversity(noise, reference) > 0.9  # diversity alone does not see it
    assert dg.nearest_real_ratio(noise, reference, held_out) > 2.0


def test_collapse_report_flags_collapse_and_passes_real_data(split):
    reference, held_out, labels = split
    assert not dg.collapse_report(held_out, reference, labels)["collapsed"]
    assert dg.collapse_report(np.repeat(held_out[:1], 64, 0), reference)["collapsed"]
    # four modes repeated: mean distance stays high-ish, duplicate pairs give it away
    four = dg.collapse_report(np.repeat(held_out[:4], 16, 0), reference)
    assert four["diversity"] > 0.5 and four["duplicate_pairs"] > 0.2 and four["collapsed"]


def test_collapse_onto_one_class_is_flagged_by_labels(mnist, split):
    images, all_labels = mnist
    reference, _, labels = split
    ones = images[all_labels == 1][-64:]  # distinct images, one digit
    report = dg.collapse_report(ones, reference, labels)
    assert report["top_class"] == 1 and report["top_class_share"] > 0.8 and report["collapsed"]
    held = images[-200:]
    accuracy = (measures.nearest_labels(held, reference, labels) == all_labels[-200:]).mean()
    assert accuracy > 0.8
    np.testing.assert_allclose(dg.class_shares([0, 0, 1, 9]), [0.5, 0.25] + [0] * 7 + [0.25])


def test_loss_curves_match_the_formulas():
    d = np.array([0.01, 0.5, 0.9])
    curves = dg.generator_loss_curves(d, {"minimax": dg.minimax_generator_loss, "ns": generator_loss})
    minimax, ns = curves["minimax"], curves["ns"]
    np.testing.assert_allclose(minimax[0], np.log(1 - d), rtol=1e-4)
    np.testing.assert_allclose(ns[0], -np.log(d), rtol=1e-4)
    # d/dlogit log(1 - sigmoid) = -D ; d/dlogit -log sigmoid = -(1 - D)
    np.testing.assert_allclose(minimax[1], -d, rtol=1e-4)
    np.testing.assert_allclose(ns[1], -(1 - d), rtol=1e-4)


def test_batch_norm_probe_separate_vs_mixed(split):
    reference, held_out, _ = split
    discriminator = build_discriminator(SHAPE, width=8, seed=1)
    fake = np.zeros_like(held_out)  # a very un-real batch: all grey
    layer = discriminator.get_layer(dg.first_batch_norm(discriminator))
    before = np.array(layer.moving_mean)
    probe = dg.batch_norm_probe(discriminator, held_out, fake)
    np.testing.assert_array_equal(before, np.array(layer.moving_mean))  # no side effect
    np.testing.assert_allclose(probe["pre_mixed"], (probe["pre_real"] + probe["pre_fake"]) / 2, rtol=1e-4, atol=1e-6)
    for half in probe["separately"]:  # each batch normalised by itself: mean = beta = 0
        np.testing.assert_allclose(half, 0.0, atol=1e-4)
    real_half, fake_half = probe["mixed"]  # the midpoint: equal and opposite offsets
    np.testing.assert_allclose(real_half, -fake_half, atol=1e-4)
    assert np.abs(real_half).mean() > 0.1
    assert np.all(probe["moving_variance"] == 1.0)  # untrained: not the batch's variance


def test_training_mode_gap_needs_batch_norm():
    z = np.random.default_rng(0).standard_normal((16, 16)).astype("float32")
    with_bn = build_generator(SHAPE, 16, width=8, seed=0)
    train, infer = dg.training_mode_gap(with_bn, z)
    assert np.abs(train - infer).mean() > 0.01 and train.std() > 2 * infer.std()
    moving = np.array(with_bn.get_layer("project_bn").moving_mean)
    np.testing.assert_array_equal(moving, 0.0)  # the probe did not update it
    train, infer = dg.training_mode_gap(build_generator(SHAPE, 16, width=8, seed=0, batch_norm=False), z)
    np.testing.assert_allclose(train, infer, atol=1e-6)


def test_layer_spread_without_batch_norm_shrinks():
    z = np.random.default_rng(0).standard_normal((32, 16)).astype("float32")
    with_bn = dg.layer_spread(build_generator(SHAPE, 16, width=8, seed=0), z)
    without = dg.layer_spread(build_generator(SHAPE, 16, width=8, seed=0, batch_norm=False), z)
    assert list(with_bn) == ["project_relu", "up_14x14_relu", "tanh"]
    assert without["tanh"] < with_bn["tanh"] / 5
    same_z = np.repeat(z[:1], 8, axis=0)
    assert dg.layer_spread(build_generator(SHAPE, 16, width=8, seed=0, batch_norm=False),
                           same_z)["tanh"] == pytest.approx(0.0, abs=1e-8)


def _tiny_gan(seed=0):
    gan = DCGAN.from_shape(SHAPE, latent_dim=16, width=8, seed=seed)
    gan.compile()
    return gan


def test_tracker_records_each_checkpoint(mnist, split):
    reference, held_out, labels = split
    tracker = dg.DiversityTracker(reference, held_out, labels, num_images=32)
    seconds = dg.train_and_track(_tiny_gan(), mnist[0][:256], steps=4, checkpoints=2, tracker=tracker, batch_size=32)
    assert seconds > tracker.seconds > 0 and [row["epoch"] for row in tracker.history] == [1, 2]
    assert {"diversity", "nearest_real", "top_class_share", "d_loss", "D_G_z"} <= set(tracker.history[0])
    assert "fid" not in tracker.history[0]  # no evaluator, no scoring


def test_tracker_scores_each_checkpoint_with_a_shipped_evaluator(mnist, split):
    from dcgan_keras.evaluate import MnistEvaluator

    reference, held_out, labels = split
    evaluator = MnistEvaluator(num_subsets=2, subset_size=20)
    tracker = dg.DiversityTracker(reference, held_out, labels, num_images=32, evaluator=evaluator, evaluator_images=40)
    gan = _tiny_gan()
    dg.train_and_track(gan, mnist[0][:128], steps=2, checkpoints=1, tracker=tracker, batch_size=32)
    row, scores = tracker.history[0], evaluator.evaluate_generator(gan.generator, 40, seed=0)
    # The row holds the evaluator's own scores of the generator as it stood at the checkpoint.
    assert row["fid"] == pytest.approx(scores["fid"], rel=1e-5) and row["classes"] == scores["classes"]
    assert row["top_share"] == max(scores["shares"]) and 0.1 <= row["top_share"] <= 1.0


def test_crash_at_step_resume_probe_and_state_difference(tmp_path, mnist):
    data = make_dataset(mnist[0][:128], 32)  # 4 steps per epoch
    reference = _tiny_gan()
    fit_resumably(reference, data, 3, tmp_path / "reference", verbose=0)
    with pytest.raises(dg.SimulatedCrash, match="step 6"):
        fit_resumably(_tiny_gan(), data, 3, tmp_path / "crashed", verbose=0, callbacks=[dg.CrashAtStep(6)])
    probe, resumed = dg.ResumeProbe(), _tiny_gan(seed=1)
    fit_resumably(resumed, data, 3, tmp_path / "crashed", verbose=0, callbacks=[probe])
    assert probe.seen == [{"epoch": 2, "d_steps": 4, "g_steps": 4}, {"epoch": 3, "d_steps": 8, "g_steps": 8}]
    assert set(dg.state_difference(reference, resumed).values()) == {0.0}
    assert dg.state_difference(reference, _tiny_gan())["model"] > 0


def test_figures(tmp_path):
    from dcgan_keras.plotting import plot_history, save_grid

    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1))
    paths = [save_grid(images, tmp_path / f"e{i}.png") for i in range(3)]
    assert len(dg.grid_strip(paths, ["a", "b", "c"]).axes) == 3
    assert len(figures.compare_samples({"x": images, "y": images}).axes) == 2
    history = {"d_loss": [1.0, 1.2], "g_loss": [0.8, 0.7], "D_x": [0.6, 0.5], "D_G_z": [0.4, 0.5]}
    figure = dg.annotate_equilibrium(plot_history(history))
    levels = {round(line.get_ydata()[0], 4) for line in figure.axes[0].lines if len(set(line.get_ydata())) == 1}
    assert {round(2 * math.log(2), 4), round(math.log(2), 4)} <= levels
    rows = [{"epoch": 1, "diversity": 0.5, "d_loss": 1.0}, {"epoch": 2, "diversity": 0.6, "d_loss": 0.9}]
    assert len(dg.plot_tracked({"run": rows}).axes) == 2
    by_step = dg.plot_tracked({"run": rows}, steps_per_checkpoint=100).axes[0]
    assert list(by_step.lines[0].get_xdata()) == [100, 200] and by_step.get_xlabel() == "training step"
    keras.backend.clear_session()


def test_step_source_prints_the_backends_step_without_docstrings():
    gan = DCGAN.from_shape(SHAPE, width=8, seed=0)
    text = dg.step_source(gan, generator_loss)
    step = {"tensorflow": "_tensorflow_step", "jax": "_jax_train_step", "torch": "_torch_step"}[keras.backend.backend()]
    assert text.startswith("def generator_loss(fake_logits):") and f"def {step}(self" in text
    assert '"""' not in text and "softplus" in text
    # The printed step is the method DCGAN.train_step runs on this backend: each of its code lines is there.
    body = [line.strip() for line in inspect.getsource(getattr(DCGAN, step)).splitlines()
            if line.strip() and not line.strip().startswith(('"""', "#"))]
    assert all(line in text for line in body[-5:])
