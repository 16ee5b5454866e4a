"""The experiment variants change one thing each; runs are cached and summarised."""

import keras
import numpy as np
import pytest

from dcgan_keras.chapters import cached_runs, experiments
from dcgan_keras.evaluate import MnistEvaluator


def layer_classes(model):
    return sorted(type(layer).__name__ for layer in model.layers)


@pytest.mark.parametrize("variant", experiments.VARIANTS[1:], ids=lambda v: v.slug)
def test_each_variant_differs_from_the_paper_in_one_network(variant):
    paper = experiments.build_variant(experiments.PAPER, width=4)
    changed = experiments.build_variant(variant, width=4)
    same_g = paper.generator.get_config() == changed.generator.get_config()
    same_d = paper.discriminator.get_config() == changed.discriminator.get_config()
    if variant.adam_defaults:
        assert same_g and same_d
        assert float(changed.g_optimizer.learning_rate) == pytest.approx(1e-3) and changed.g_optimizer.beta_1 == 0.9
        assert float(paper.g_optimizer.learning_rate) == pytest.approx(2e-4) and paper.g_optimizer.beta_1 == 0.5
    else:
        assert same_g != same_d  # exactly one of the two players changed
    assert changed.generator.output_shape == (None, 28, 28, 1)


def test_variant_layers_are_what_their_names_say():
    build = experiments.build_variant
    assert "MaxPooling2D" in layer_classes(build(experiments.by_name("d-with-max-pooling"), width=4).discriminator)
    assert "UpSampling2D" in layer_classes(build(experiments.by_name("g-with-resize---conv"), width=4).generator)
    assert "BatchNormalization" not in layer_classes(build(experiments.by_name("g-without-batchnorm"), width=4).generator)
    assert build(experiments.by_name("g-with-sigmoid-output"), width=4).generator.layers[-1].name == "sigmoid"
    assert len(build(experiments.by_name("g-with-no-stage--one-layer"), width=4).generator.layers) == 4
    with pytest.raises(ValueError, match="Choose from"):
        experiments.by_name("no such thing")


def test_a_sigmoid_variant_trains_on_unit_range_data():
    images = experiments.training_images(experiments.by_name("g-with-sigmoid-output"))
    assert images.min() == 0.0 and images.max() == 1.0
    assert experiments.training_images(experiments.PAPER).min() == -1.0


def test_runs_are_cached_and_summarised(tmp_path, monkeypatch):
    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    evaluator = MnistEvaluator(num_subsets=2, subset_size=100)
    variant = experiments.by_name("g-with-sigmoid-output")
    first = experiments.run(variant, 0, 2, evaluator, num_images=100)
    assert first == experiments.run(variant, 0, 2, evaluator, num_images=100)  # read back, not retrained
    # Every score the MNIST evaluator gives (the colour distance is the emoji evaluator's).
    assert set(experiments.SCORE_KEYS) - {"colours"} <= set(first) and first["steps"] == 2
    assert isinstance(experiments.load_run(variant, 0, 2), keras.Model)


def test_summary_is_mean_and_spread_over_seeds():
    rows = [{"variant": "a", "fid": fid, "kid": 1.0, "classes": 10, "kl": 0.0, "confidence": 0.9, "D_x": 0.5,
             "D_G_z": 0.5} for fid in (10.0, 20.0)]
    summary = experiments.summarize(rows)
    assert summary["a"]["fid"] == (15.0, 5.0) and summary["a"]["seeds"] == 2
    table = experiments.markdown_table(summary, {"a": "agrees"})
    assert "| a | 15.0 ± 5.0 |" in table and table.endswith("agrees |")
    assert np.isfinite(summary["a"]["kid"][1])


def test_verdict_needs_a_difference_beyond_seed_noise():
    def stats(mean, std, seeds=3):
        return {"fid": (mean, std), "seeds": seeds}

    summary = {"paper DCGAN": stats(100, 5), "worse": stats(130, 5), "noisy": stats(110, 20),
               "better": stats(70, 5), "single": stats(200, 0, seeds=1)}  # fmt: skip
    verdicts = {name: experiments.verdict(summary, name) for name in summary}
    assert verdicts == {"paper DCGAN": "reference", "worse": "worse (agrees)", "noisy": "within noise (not confirmed)",
                        "better": "better (disagrees)", "single": "one seed: no verdict"}  # fmt: skip
