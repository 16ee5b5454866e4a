"""dcgan_keras.chapters.ablation: the shared variants, the He control, and verdicts from seed-level rows."""

import math

import keras
import numpy as np
import pytest

from dcgan_keras.chapters import ablation
from dcgan_keras.models import build_generator

PAPER = ablation.reference()
WORSE = ablation.Variant("worse", "a change the chapter says hurts", generator={"batch_norm": False})
NOISY = ablation.Variant("noisy", "a change lost in the seeds' noise", generator={"stages": 1})
BETTER = ablation.Variant("better", "a change the chapter says hurts, that helps", discriminator={"activation": "relu"})
SILENT = ablation.Variant("silent", "predicts nothing about FID", predicts={"checkerboard": -1})
VARIANTS = (PAPER, WORSE, NOISY, BETTER, SILENT)


def _pre_activation_stds(generator, z):
    """The std of each layer's output just before its ReLU (or tanh), in order."""
    names = [layer.name for layer in generator.layers if layer.name in ("project", "to_image")
             or layer.name.startswith("up_") and "_" not in layer.name[3:]]
    probe = keras.Model(generator.input, [generator.get_layer(name).output for name in names])
    return [float(np.std(output)) for output in probe(z)]


def test_variance_preserving_init_keeps_the_signal_that_the_paper_init_shrinks():
    z = np.random.default_rng(0).normal(size=(64, 100)).astype("float32")
    paper = build_generator(image_shape=(64, 64, 3), width=8, seed=0, batch_norm=False)
    he = ablation.variance_preserving(build_generator(image_shape=(64, 64, 3), width=8, seed=0, batch_norm=False))
    paper_stds, he_stds = _pre_activation_stds(paper, z), _pre_activation_stds(he, z)
    # Without BatchNorm, N(0, 0.02) shrinks the signal over 1000x in four layers; He keeps each within 3x of 1.
    assert paper_stds[-1] < 1e-3 * paper_stds[0]
    assert all(0.3 < std < 3.0 for std in he_stds), he_stds
    kernel = he.get_layer("project").kernel
    assert float(np.std(kernel)) == pytest.approx(np.sqrt(2 / 100), rel=0.05)


def test_build_variant_applies_each_kind_of_change():
    one_layer = ablation.Variant("one layer", "", one_layer_generator=True)
    adam = ablation.Variant("adam", "", adam_defaults=True)
    assert len(ablation.build_variant(one_layer, (28, 28, 1), width=4).generator.layers) == 4
    assert float(ablation.build_variant(adam, (28, 28, 1), width=4).g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(ablation.build_variant(PAPER, (28, 28, 1), width=4).g_optimizer.learning_rate) == pytest.approx(2e-4)
    assert ablation.Variant("s", "", generator={"output_activation": "sigmoid"}).sigmoid and not PAPER.sigmoid
    with pytest.raises(ValueError, match="Choose from: paper-dcgan, worse"):
        ablation.by_name(VARIANTS, "nothing")


def _rows(fids):
    return [{"variant": name, "seed": seed, "fid": value} for name, values in fids.items()
            for seed, value in enumerate(values)]


FIDS = {PAPER.name: [100.0, 104.0, 98.0, 102.0, 101.0], "worse": [150.0, 160.0, 155.0, 149.0, 158.0],
        "noisy": [90.0, 130.0, 110.0, 95.0, 125.0], "better": [80.0, 83.0, 79.0, 81.0, 84.0],
        "silent": [100.0, 101.0, 99.0, 103.0, 102.0]}


def test_comparisons_give_welch_intervals_and_holm_corrected_verdicts():
    result = ablation.comparisons(_rows(FIDS), VARIANTS)
    assert {name: test["verdict"] for name, test in result.items()} == {
        "worse": "supported", "noisy": "not visible at this scale", "better": "contradicted", "silent": "no prediction"}
    worse = result["worse"]
    assert worse["difference"] == pytest.approx(53.4) and worse["low"] < 53.4 < worse["high"]
    # Holm multiplies the smallest p by the family's size (4) and never lowers a larger one below it.
    ordered = sorted(result.values(), key=lambda test: test["p"])
    assert ordered[0]["holm_p"] == pytest.approx(min(1.0, 4 * ordered[0]["p"]))
    assert all(a["holm_p"] <= b["holm_p"] for a, b in zip(ordered, ordered[1:]))
    assert all(test["holm_p"] >= test["p"] for test in result.values())


def test_every_interval_excludes_zero_exactly_when_its_verdict_rejects():
    rng = np.random.default_rng(0)
    for _ in range(20):  # random grids: some rows far from the reference, some near, some identical in mean
        fids = {PAPER.name: list(100 + rng.normal(0, 3, 5))}
        for name, shift in zip(("worse", "noisy", "better", "silent"), rng.normal(0, 6, 4)):
            fids[name] = list(100 + shift + rng.normal(0, rng.uniform(1, 8), 5))
        for test in ablation.comparisons(_rows(fids), VARIANTS).values():
            excludes_zero = test["low"] > 0 or test["high"] < 0
            assert excludes_zero == (test["holm_p"] < 0.05), test


def test_the_family_is_fixed_so_a_verdict_stands_as_the_grid_fills():
    # Only "worse" has its 5 seeds: the other 3 rows still count in the family, at p = 1.
    fids = {PAPER.name: FIDS[PAPER.name], "worse": FIDS["worse"], "noisy": [120.0, 100.0, 90.0]}
    result = ablation.comparisons(_rows(fids), VARIANTS)
    assert set(result) == {"worse", "noisy"}  # a row with one seed has no interval
    assert result["worse"]["holm_p"] == pytest.approx(min(1.0, 4 * result["worse"]["p"]))
    assert result["worse"]["verdict"] == "supported"
    assert math.isnan(result["noisy"]["holm_p"]) and result["noisy"]["verdict"] == "too few seeds (3)"
    # Filling in the rest of the grid never takes the verdict back.
    assert ablation.comparisons(_rows(FIDS), VARIANTS)["worse"]["holm_p"] <= result["worse"]["holm_p"]
    four = {PAPER.name: FIDS[PAPER.name], "worse": FIDS["worse"][:4]}
    assert ablation.comparisons(_rows(four), VARIANTS)["worse"]["verdict"] == "too few seeds (4)"
    assert ablation.comparisons(_rows(four), VARIANTS, min_seeds=4)["worse"]["verdict"] == "supported"
    assert ablation.comparisons(_rows({PAPER.name: [100.0]}), VARIANTS) == {}


def test_summary_and_table_show_mean_and_standard_error():
    rows = _rows({PAPER.name: [10.0, 20.0], "worse": [50.0, 70.0], "noisy": [33.0]})
    summary = ablation.summarize(rows, ["fid"])
    assert summary[PAPER.name]["fid"] == pytest.approx((15.0, 5.0)) and summary[PAPER.name]["seeds"] == 2
    assert summary["noisy"]["seeds"] == 1 and math.isnan(summary["noisy"]["fid"][1])
    table = ablation.markdown_table(summary, ["fid"], ablation.comparisons(rows, VARIANTS, min_seeds=2))
    lines = table.splitlines()
    assert lines[2].startswith("| paper DCGAN | 2 | 15.0 ± 5.0 |") and lines[2].endswith("reference |")
    assert lines[3].startswith("| worse | 2 | 60 ± 10 | +45 [") and lines[3].endswith("|")
    assert lines[4] == "| noisy | 1 | 33 |  |  |  | too few seeds |"
    assert ablation.markdown_table(summary, ["fid"]).splitlines()[0] == "| variant | seeds | FID ↓ |"
    # The error to 2 significant figures, the mean to the same place.
    assert [ablation._cell(*pair) for pair in [(66.1, 2.25), (0.2283, 0.00466), (711.0, 50.3), (10.0, 0.0)]] == [
        "66.1 ± 2.2", "0.2283 ± 0.0047", "711 ± 50", "10 ± 0"]


def test_draw_sheet_shows_each_variant_with_a_run_at_the_seed(tmp_path):
    generator = build_generator(image_shape=(28, 28, 1), width=4, seed=0)
    rows = [{"variant": PAPER.name, "seed": 0, "fid": 10.0}, {"variant": "worse", "seed": 1, "fid": 20.0}]
    drawn = []
    path = ablation.draw_sheet(tmp_path / "sheets" / "s.png", VARIANTS, rows,
                               lambda v: drawn.append(v.name) or generator)
    assert path.is_file() and drawn == [PAPER.name]  # "worse" has no seed-0 run, the rest none at all


def test_claim_verdicts_count_each_claim_once_and_leave_out_controls():
    paper = ablation.reference()
    one = ablation.Variant("one stage", "stages help")
    none = ablation.Variant("no stage", "stages help")
    control = ablation.Variant("He init", "control: the initial scale?", control=True)
    other = ablation.Variant("ReLU in D", "LeakyReLU helps")
    variants = (paper, one, none, control, other)
    compared = {name: {"verdict": word} for name, word in [("one stage", "supported"), ("no stage", "supported"),
                                                          ("He init", "supported"),
                                                          ("ReLU in D", "not visible at this scale")]}
    assert ablation.claim_verdicts(variants, compared) == {
        "stages help": ("supported", ["one stage", "no stage"]),
        "LeakyReLU helps": ("not visible at this scale", ["ReLU in D"])}
    # Two rows of one claim that disagree make it "mixed"; a claim with a row not yet compared is left out.
    compared["no stage"]["verdict"] = "not visible at this scale"
    assert ablation.claim_verdicts(variants, compared)["stages help"][0] == "mixed"
    del compared["ReLU in D"]
    assert "LeakyReLU helps" not in ablation.claim_verdicts(variants, compared)


def test_describe_names_the_interval_at_its_holm_level():
    test = {"difference": 23.94, "low": 11.7, "high": 36.2, "level": 0.99375, "holm_p": 0.00075,
            "verdict": "supported"}
    assert ablation.describe(test) == ("FID minus the paper's +23.9, interval at its Holm level (99.38%) "
                                       "[+11.7, +36.2], Holm p 0.00075: supported")
