"""dcgan_keras.chapters.colour_runs: the variants, the He control, the tables and the committed copy."""

import json

import keras
import numpy as np
import pytest

from dcgan_keras.chapters import colour_runs as cr
from dcgan_keras.models import build_generator


def _pre_activation_stds(generator, z):
    """The std of each layer's output just before its ReLU (or tanh), in order."""
    names = [layer.name for layer in generator.layers if layer.name in ("project", "to_image")
             or layer.name.startswith("up_") and "_" not in layer.name[3:]]
    probe = keras.Model(generator.input, [generator.get_layer(name).output for name in names])
    return [float(np.std(output)) for output in probe(z)]


def test_variance_preserving_init_keeps_the_signal_that_the_paper_init_shrinks():
    z = np.random.default_rng(0).normal(size=(64, 100)).astype("float32")
    paper = build_generator(image_shape=(64, 64, 3), width=8, seed=0, batch_norm=False)
    he = cr.variance_preserving(build_generator(image_shape=(64, 64, 3), width=8, seed=0, batch_norm=False))
    paper_stds, he_stds = _pre_activation_stds(paper, z), _pre_activation_stds(he, z)
    # Without BatchNorm, N(0, 0.02) shrinks the signal over 1000x in four layers; He keeps each within 3x of 1.
    assert paper_stds[-1] < 1e-3 * paper_stds[0]
    assert all(0.3 < std < 3.0 for std in he_stds), he_stds
    kernel = he.get_layer("project").kernel
    assert float(np.std(kernel)) == pytest.approx(np.sqrt(2 / 100), rel=0.05)


@pytest.mark.parametrize("variant", cr.VARIANTS, ids=lambda v: v.slug)
def test_every_variant_builds_the_four_stage_64x64x3_layout(variant):
    gan = cr.build_variant(variant, seed=0, width=4)
    assert gan.generator.output_shape == (None, 64, 64, 3) and gan.discriminator.input_shape == (None, 64, 64, 3)
    assert gan.generator.get_layer("to_image").kernel_size == (variant.kernel_size,) * 2
    has_bn = any("bn" in layer.name for layer in gan.generator.layers)
    assert has_bn == variant.generator.get("batch_norm", True)


def test_tiled_z_starts_with_less_position_than_the_dense_projection():
    z = np.random.default_rng(0).normal(size=(1, 100)).astype("float32")
    for projection, distinct in ((True, 16), ("tile", 9)):
        generator = build_generator(image_shape=(64, 64, 3), width=4, seed=0, projection=projection)
        grid = np.asarray(keras.Model(generator.input, generator.get_layer("project").output)(z))[0]
        assert len(np.unique(grid.reshape(16, -1).round(6), axis=0)) == distinct


def _rows(fids):
    return [{"variant": name, "seed": seed, **{key: value for key in cr.KEYS}}
            for name, values in fids.items() for seed, value in enumerate(values)]


def test_comparisons_pair_seeds_and_correct_for_every_comparison():
    fids = {cr.PAPER.name: [100.0, 110.0, 120.0], "G without BatchNorm": [300.0, 330.0, 310.0],
            "G without BatchNorm, He init": [101.0, 108.0, 121.0], "kernel 4 (G and D)": [90.0, 100.0, 115.0],
            "G with tiled z, no Dense": [100.0, 111.0, 119.0]}  # fmt: skip
    rows = [{**row, "fid": fids[row["variant"]][row["seed"]]} for row in _rows(fids)]
    result = cr.comparisons(rows)
    assert result["G without BatchNorm"][3] == "supported" and result["G without BatchNorm"][0] == pytest.approx(203.3, abs=0.1)
    assert result["G without BatchNorm, He init"][3] == "not visible at this scale"
    assert result["kernel 4 (G and D)"][3] == "no prediction"
    summary = cr.summarize(rows)
    assert summary[cr.PAPER.name]["fid"] == pytest.approx((110.0, 10 / np.sqrt(3))) and summary[cr.PAPER.name]["seeds"] == 3
    assert "| paper DCGAN | 3 | 110 ± 5.8 |" in cr.markdown_table(summary)


def test_the_committed_results_and_default_run_are_complete():
    files = cr.default_run(fast=True)
    assert all(path.is_file() for path in files.values()), files
    history, evaluations = cr.history_and_scores(files)
    assert len(history["d_loss"]) == 36 and [e["epoch"] for e in evaluations] == [9, 18, 27, 36]
    committed = json.loads((cr.ASSETS / "emoji_experiments.json").read_text())
    assert {row["variant"] for row in committed["rows"]} == {variant.name for variant in cr.VARIANTS}
    assert all(len([r for r in committed["rows"] if r["variant"] == v.name]) >= 3 for v in cr.VARIANTS)
    assert {"threshold", "duplicates", "checkerboard"} <= set(committed["real"])


@pytest.mark.slow
def test_a_run_is_trained_once_and_scored(tmp_path, monkeypatch):
    from dcgan_keras.chapters import cached_runs

    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    evaluator = cr.EmojiEvaluator(num_subsets=2)
    row = cr.run(cr.PAPER, seed=0, evaluator=evaluator, threshold=0.27, epochs=1, width=4)
    assert row["steps"] == cr.STEPS_PER_EPOCH and 0.0 <= row["duplicates"] <= 1.0 and row["fid"] > 0
    assert cr.run(cr.PAPER, seed=0, evaluator=evaluator, threshold=0.27, epochs=1, width=4) == row  # cached
