"""dcgan_keras.chapters.colour_runs: the variants, the He control, the tables and the committed copy."""

import json

import keras
import numpy as np
import pytest

from dcgan_keras.chapters import colour_runs as cr
from dcgan_keras.models import build_generator


@pytest.mark.parametrize("variant", cr.VARIANTS, ids=lambda v: v.slug)
def test_every_variant_builds_the_four_stage_64x64x3_layout(variant):
    gan = cr.build_variant(variant, seed=0, width=4)
    assert gan.generator.output_shape == (None, 64, 64, 3) and gan.discriminator.input_shape == (None, 64, 64, 3)
    assert gan.generator.get_layer("to_image").kernel_size == (variant.generator.get("kernel_size", 5),) * 2
    has_bn = any("bn" in layer.name for layer in gan.generator.layers)
    assert has_bn == variant.generator.get("batch_norm", True)


def test_tiled_z_starts_with_less_position_than_the_dense_projection():
    z = np.random.default_rng(0).normal(size=(1, 100)).astype("float32")
    for projection, distinct in ((True, 16), ("tile", 9)):
        generator = build_generator(image_shape=(64, 64, 3), width=4, seed=0, projection=projection)
        grid = np.asarray(keras.Model(generator.input, generator.get_layer("project").output)(z))[0]
        assert len(np.unique(grid.reshape(16, -1).round(6), axis=0)) == distinct


def test_the_tables_are_the_shared_ablation_tables():
    rows = [{"variant": name, "seed": seed, **{key: 1.0 + seed for key in cr.KEYS}}
            for name in (cr.PAPER.name, "G without BatchNorm") for seed in range(3)]
    summary = cr.summarize(rows)
    assert (summary[cr.PAPER.name]["fid"] == pytest.approx((2.0, 1 / np.sqrt(3)))
            and summary[cr.PAPER.name]["seeds"] == 3)
    assert "| paper DCGAN | 3 | 2.00 ± 0.58 |" in cr.markdown_table(summary)
    assert cr.comparisons(rows)["G without BatchNorm"]["verdict"] == "too few seeds (3)"  # the standard is 5


def test_the_committed_results_and_default_run_are_complete():
    files = cr.default_run(fast=True)
    assert all(path.is_file() for path in files.values()), files
    history, evaluations = cr.history_and_scores(files)
    assert len(history["d_loss"]) == 36 and [e["epoch"] for e in evaluations] == [9, 18, 27, 36]
    assert history["epoch"] == list(range(1, 37))  # counted from 1, as quality.json and the grids are
    committed = json.loads((cr.ASSETS / "emoji_experiments.json").read_text())
    assert {row["variant"] for row in committed["rows"]} == {variant.name for variant in cr.VARIANTS}
    assert all(len([r for r in committed["rows"] if r["variant"] == v.name]) >= 3 for v in cr.VARIANTS)
    assert {"threshold", "duplicates", "checkerboard"} <= set(committed["real"])


@pytest.mark.long
@pytest.mark.slow
def test_a_run_is_trained_once_and_scored(tmp_path, monkeypatch):
    from dcgan_keras.chapters import cached_runs

    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    evaluator = cr.EmojiEvaluator(num_subsets=2)
    row = cr.run(cr.PAPER, seed=0, evaluator=evaluator, threshold=0.27, epochs=1, width=4)
    assert row["steps"] == cr.STEPS_PER_EPOCH and 0.0 <= row["duplicates"] <= 1.0 and row["fid"] > 0
    assert cr.run(cr.PAPER, seed=0, evaluator=evaluator, threshold=0.27, epochs=1, width=4) == row  # cached
