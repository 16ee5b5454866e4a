"""The experiment variants change one thing each; runs are cached and summarised."""

import json
import os

import keras
import pytest

from dcgan_keras.chapters import ablation, cached_runs, experiments
from dcgan_keras.errors import UsageError
from dcgan_keras.evaluate import SCORE_KEYS, MnistEvaluator


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
    assert "BatchNormalization" not in layer_classes(
        build(experiments.by_name("g-without-batchnorm"), width=4).generator)
    assert build(experiments.by_name("g-with-clipped-linear-output"), width=4).generator.layers[-1].name == "hard_tanh"
    tanh_inside = layer_classes(build(experiments.by_name("g-with-tanh-inside"), width=4).generator)
    assert "ReLU" not in tanh_inside and "ReLU" in layer_classes(build(experiments.PAPER, width=4).generator)
    assert len(build(experiments.by_name("g-with-no-stage--one-layer"), width=4).generator.layers) == 4
    tiled = build(experiments.by_name("g-with-tiled-z--no-dense"), width=4).generator
    assert "Dense" not in layer_classes(tiled) and "Dense" in layer_classes(build(experiments.PAPER, width=4).generator)
    with pytest.raises(ValueError, match="Choose from"):
        experiments.by_name("no such thing")


def test_a_sigmoid_variant_trains_on_unit_range_data():
    sigmoid = ablation.Variant("G with sigmoid output", "", generator={"output_activation": "sigmoid"})
    images = experiments.training_images(sigmoid)
    assert images.min() == 0.0 and images.max() == 1.0
    assert experiments.training_images(experiments.PAPER).min() == -1.0


@pytest.mark.long  # trains and scores a variant: run by pytest -m long
def test_runs_are_cached_and_the_reference_records_its_curve(tmp_path, monkeypatch):
    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")  # train here, with the small evaluator, not in a worker
    monkeypatch.setattr(experiments, "CURVE_EVERY", 2)
    evaluator = MnistEvaluator(num_subsets=2, subset_size=100)
    paper = experiments.run(experiments.PAPER, 0, steps=4, width=4, evaluator=evaluator, num_images=100)
    assert [point[0] for point in paper["curve"]] == [2, 4] and paper["curve"][-1][1] == pytest.approx(paper["fid"])
    variant = experiments.by_name("g-with-tanh-inside")
    first = experiments.run(variant, 0, steps=4, width=4, evaluator=evaluator, num_images=100)
    assert "curve" not in first and first["steps"] == 4 and first["width"] == 4
    assert first == experiments.run(variant, 0, steps=4, width=4, evaluator=evaluator, num_images=100)  # read back
    assert set(SCORE_KEYS) - {"colours"} <= set(first)
    assert isinstance(experiments.load_run(variant, 0, steps=4, width=4), keras.Model)
    experiments._model_path(variant, 0, 4, 4).unlink()  # the weights deleted, the scores kept: trained again
    again = experiments.run(variant, 0, steps=4, width=4, evaluator=evaluator, num_images=100)
    assert again["fid"] == pytest.approx(first["fid"], rel=1e-4)
    assert isinstance(experiments.load_run(variant, 0, steps=4, width=4), keras.Model)


def test_the_grid_adds_each_run_to_the_results_file_and_resumes(tmp_path, monkeypatch):
    trained = []

    def fake_run(variant, seed, steps, width, num_images):
        trained.append((variant.name, seed))
        return {"variant": variant.name, "seed": seed, "fid": 100.0 + seed, "classes": 10, "seconds": 1.0}

    monkeypatch.setattr(experiments, "run", fake_run)
    path, conf = tmp_path / "results.json", experiments.config(steps=4, width=4)
    variants = experiments.VARIANTS[:2]
    experiments.run_grid(path, variants, range(2), conf, log=lambda line: None)
    assert trained == [(variants[0].name, 0), (variants[0].name, 1), (variants[1].name, 0), (variants[1].name, 1)]
    results = json.loads(path.read_text())
    assert results["config"] == conf and len(results["rows"]) == 4 and "CPU" in results["machine"]
    experiments.run_grid(path, variants, range(3), conf, log=lambda line: None)  # one more seed: two new runs
    assert trained[4:] == [(variants[0].name, 2), (variants[1].name, 2)]
    assert [row["seed"] for row in json.loads(path.read_text())["rows"]] == [0, 1, 2, 0, 1, 2]  # table order
    order = experiments.missing({"rows": []}, experiments.VARIANTS[:3], range(3))
    g, he = "g-without-batchnorm", "g-without-batchnorm--he-init"
    # The reference first, then one seed of every row, then row by row.
    assert [(v.slug, s) for v, s in order] == [("paper-dcgan", 0), ("paper-dcgan", 1), ("paper-dcgan", 2),
                                                (g, 0), (he, 0), (g, 1), (g, 2), (he, 1), (he, 2)]
    with pytest.raises(UsageError, match="holds runs of .* --results NEW.json"):
        experiments.run_grid(path, variants, range(2), experiments.config(steps=8, width=4), log=lambda line: None)


def test_plateau_is_the_gain_over_the_last_quarter():
    steps = [500, 1000, 1500, 2000]
    assert experiments.plateaued(steps, [300.0, 150.0, 110.0, 100.0]) == (pytest.approx(10 / 110), True)
    gain, flat = experiments.plateaued(steps, [300.0, 200.0, 150.0, 100.0])
    assert gain == pytest.approx(1 / 3) and not flat


def test_reference_curve_is_the_mean_over_seeds():
    rows = [{"variant": experiments.PAPER.name, "seed": s, "curve": [[500, 200.0 + s, 1.0], [1000, 100.0 + 3 * s, 1.0]]}
            for s in range(2)] + [{"variant": "other", "seed": 0}]
    steps, means, errors = experiments.reference_curve({"rows": rows})
    assert list(steps) == [500, 1000] and list(means) == [200.5, 101.5] and errors[1] == pytest.approx(1.5)


def test_the_committed_results_are_one_config_and_the_readme_table_is_made_from_them():
    results = experiments.read_results()
    assert results["config"] == experiments.config()
    counts = {}
    for row in results["rows"]:
        counts[row["variant"]] = counts.get(row["variant"], 0) + 1
        assert (row["steps"] == experiments.STEPS and row["width"] == experiments.WIDTH
                and row["seed"] in experiments.SEEDS)
    assert (set(counts) <= {v.name for v in experiments.VARIANTS}
            and all(n <= len(experiments.SEEDS) for n in counts.values()))
    assert all("curve" in row for row in results["rows"] if row["variant"] == experiments.PAPER.name)
    if counts.get(experiments.PAPER.name) == len(experiments.SEEDS):
        steps, fids, _ = experiments.reference_curve(results)
        assert steps[-1] == experiments.STEPS and experiments.plateaued(steps, fids)[1], (
            "the budget is short of the plateau")
    assert experiments.readme_section(results) in experiments.README.read_text(), (
        "run: python -m dcgan_keras.chapters.experiments --readme")


def test_update_readme_replaces_only_the_marked_section(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "readme_section",
                        lambda results: f"{experiments.README_START}\nnew\n{experiments.README_END}")
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{experiments.README_START}\nold\n{experiments.README_END}\nafter\n")
    experiments.update_readme({}, readme)
    assert readme.read_text() == f"before\n{experiments.README_START}\nnew\n{experiments.README_END}\nafter\n"
    readme.write_text("no markers")
    with pytest.raises(UsageError, match="markers"):
        experiments.update_readme({}, readme)


def test_pilot_keeps_the_reference_curves_past_the_budget(monkeypatch):
    calls = []

    def fake_run(variant, seed, steps, width, curve_every):
        calls.append((variant.name, seed, steps, width, curve_every))
        return {"seed": seed, "steps": steps, "fid": 50.0, "curve": [[1000, 60.0, 1.0]]}

    monkeypatch.setattr(experiments, "run", fake_run)
    results = experiments.pilot({"config": experiments.config(), "rows": []}, log=lambda line: None)
    steps, every, width = experiments.PILOT_STEPS, experiments.PILOT_EVERY, experiments.WIDTH
    assert calls == [(experiments.PAPER.name, seed, steps, width, every) for seed in experiments.PILOT_SEEDS]
    assert results["pilot"][-1] == {"seed": experiments.PILOT_SEEDS[-1], "steps": steps, "curve": [[1000, 60.0, 1.0]]}
    assert steps >= 2 * experiments.STEPS  # the pilot looks well past the budget it justifies


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers must be at least 1, got 0."),
    (["--variants", "no-such-variant"], "No variant 'no-such-variant'. Choose from: paper-dcgan,"),
])
def test_bad_input_is_one_line(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as stopped:
        experiments.main([*argv, "--results", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1


def test_readme_only_reports_and_never_trains(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"config": experiments.config(), "rows": [], "machine": "m"}))
    monkeypatch.setattr(experiments, "run", lambda *a, **k: pytest.fail("--readme must not train"))
    written = []
    monkeypatch.setattr(experiments, "update_readme", written.append)
    experiments.main(["--readme", "--results", str(path)])
    assert written == [json.loads(path.read_text())]


def test_seeds_per_variant_counts_every_row_of_the_grid_including_those_not_begun():
    paper, other = experiments.VARIANTS[0].name, experiments.VARIANTS[1].name
    counts = experiments.seeds_per_variant(
        {"rows": [{"variant": paper, "seed": s} for s in range(3)] + [{"variant": other, "seed": 0}]})
    assert list(counts) == [v.name for v in experiments.VARIANTS]
    assert counts[paper] == 3 and counts[other] == 1 and sum(counts.values()) == 4


def test_weights_trains_only_the_runs_notebook_05_loads_that_the_cache_lacks(tmp_path, monkeypatch, capsys):
    runs = experiments.notebook_runs()
    assert [(v.name, s) for v, s in runs[:len(experiments.VARIANTS)]] == [(v.name, 0) for v in experiments.VARIANTS]
    assert [(v.name, s) for v, s in runs[len(experiments.VARIANTS):]] == [(experiments.PAPER.name, s)
                                                                          for s in experiments.SEEDS[1:]]
    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    have = experiments._model_path(experiments.PAPER, 0, 4, 4)
    have.parent.mkdir(parents=True)
    have.write_bytes(b"")  # already trained: left alone
    trained = []

    def fake_run(variant, seed, steps, width, num_images):
        trained.append((variant.name, seed, steps, width))
        return {"variant": variant.name, "seed": seed, "fid": 50.0, "seconds": 1.0}

    monkeypatch.setattr(experiments, "run", fake_run)
    results = tmp_path / "r.json"
    experiments.main(["--weights", "--steps", "4", "--width", "4", "--results", str(results)])
    assert trained == [(v.name, s, 4, 4) for v, s in runs[1:]]
    assert capsys.readouterr().out.startswith(f"{len(runs) - 1} of notebook 05's {len(runs)} runs to train")
    assert not results.exists()  # the results file is not touched


def test_a_run_missing_from_the_cache_is_one_line_that_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    with pytest.raises(UsageError, match=r"No trained 'paper DCGAN' seed 3 \(12,000 steps, width 16\) in the run "
                                         r"cache\. Train the runs notebook 05 loads with `python -m "
                                         r"dcgan_keras\.chapters\.experiments --weights --workers 2`\."):
        experiments.load_run(experiments.PAPER, 3)


def test_a_process_on_several_threads_trains_each_run_in_a_one_thread_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(cached_runs, "CACHE", tmp_path)
    sent = []
    monkeypatch.setattr(experiments, "_in_a_worker", lambda variant, seed, conf: sent.append((variant, seed, conf))
                        or {"fid": 1.0})
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    assert experiments.run(experiments.PAPER, 3, steps=4, width=4, num_images=100) == {"fid": 1.0}
    assert sent == [(experiments.PAPER, 3, {"steps": 4, "width": 4, "num_images": 100, "curve_every": None})]
    with experiments._one_thread_per_process():  # what the worker inherits
        assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
