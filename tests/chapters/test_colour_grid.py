"""The depth-four grid: the 2B budget rule, the training order, exact resume of a run, its film."""

import json

import numpy as np
import pytest

from dcgan_keras.chapters import colour_grid as grid


def _results(curves, pilot_steps=8):
    """A results file holding pilot runs whose mean FID curve is ``curves`` (seeds as rows)."""
    runs = [{"variant": grid.PAPER.name, "seed": seed, "steps": pilot_steps,
             "curve": [{"step": (i + 1) * pilot_steps // len(fids), "fid": fid} for i, fid in enumerate(fids)]}
            for seed, fids in enumerate(curves)]
    return {"config": {"pilot_steps": pilot_steps}, "runs": runs}


def test_the_budget_is_the_smallest_b_at_which_2b_gains_little_from_then_on(monkeypatch):
    monkeypatch.setattr(grid, "PILOT_SEEDS", (0, 1))
    # Means at steps 1..8: 200, 100, 60, 50, 49, 48, 47.5, 47. B=1: -50%; B=2: -50%; B=3: -20%; B=4: -6%.
    curves = [[210, 90, 65, 45, 50, 46, 47, 48], [190, 110, 55, 55, 48, 50, 48, 46]]
    steps, changes = grid.budget(_results(curves))
    assert changes[4] == pytest.approx((47 - 50) / 50)
    assert steps is None  # -6% at B=4 is more than 5%: no candidate up to half the pilot passes
    flatter = [[210, 90, 65, 49, 50, 46, 47, 48], [190, 110, 55, 49, 48, 50, 48, 46]]
    assert grid.budget(_results(flatter))[0] == 4  # 49 -> 47: -4%
    # An early plateau that the curve later leaves does not count: B=1 passes, B=2 and B=3 do not.
    early = [[100, 100, 60, 50, 50, 50, 50, 50]] * 2
    steps, changes = grid.budget(_results(early))
    assert abs(changes[1]) <= grid.TOLERANCE and steps == 4
    assert grid.budget(_results(curves[:1]))[0] is None  # the pilot is not finished


def test_runs_train_in_the_order_that_gives_whole_rows_first():
    results = {"config": {"pilot_steps": 12}, "runs": []}
    todo = grid.missing(results)
    assert [(v.name, s, n) for v, s, n in todo] == [(grid.PAPER.name, s, 12) for s in grid.PILOT_SEEDS]
    results["runs"] = [{"variant": grid.PAPER.name, "seed": s, "steps": 12} for s in grid.PILOT_SEEDS]
    todo = grid.missing(results, steps=6)
    reference = [s for v, s, n in todo if v is grid.PAPER]
    assert reference == [s for s in grid.SEEDS if s not in grid.PILOT_SEEDS]  # the pilot's runs serve at B
    others = [(v, s) for v, s, n in todo if v is not grid.PAPER]
    first_seeds = [v for v, s in others[: len(grid.VARIANTS) - 1]]
    assert first_seeds == list(grid.VARIANTS[1:]) and all(s == grid.SEEDS[0] for _, s in others[: len(first_seeds)])
    assert {n for _, _, n in todo} == {6}


def test_a_row_at_the_budget_is_the_runs_checkpoint_there():
    run = {"variant": "v", "seed": 3, "steps": 4, "curve": [{"step": 2, "fid": 9.0}, {"step": 4, "fid": 7.0}]}
    assert grid.at_budget(run, 2) == {"variant": "v", "seed": 3, "step": 2, "fid": 9.0}


class _Evaluator:
    """Scores without a network: enough for the plumbing, and fast."""

    default_num_images = 32

    def scores(self, images):
        assert images.shape == (32, 64, 64, 3) and np.isfinite(images).all()
        return {"fid": float(images.std()), "kid": 0.0, "classes": 1, "kl": 0.0, "colours": 0.5, "shares": [1.0]}


@pytest.mark.slow
@pytest.mark.long
def test_a_killed_run_resumes_exactly_and_films_its_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(grid, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(grid, "CHECK_EVERY", 2)
    measure = grid.Measures(_Evaluator())
    whole = grid.train_run(grid.PAPER, 0, 4, width=2, measure=measure, films=tmp_path / "whole")
    (tmp_path / "cache").rename(tmp_path / "whole-cache")
    grid.train_run(grid.PAPER, 0, 2, width=2, measure=measure, films=tmp_path / "halves")  # stopped at step 2
    resumed = grid.train_run(grid.PAPER, 0, 4, width=2, measure=measure, films=tmp_path / "halves")
    def strip(curve):
        return [{k: v for k, v in c.items() if k != "seconds"} for c in curve]

    assert [c["step"] for c in whole["curve"]] == [2, 4]
    assert strip(resumed["curve"]) == strip(whole["curve"])
    frames = grid.read_film(grid.film_path(grid.PAPER, 0, tmp_path / "halves"), 2)
    assert len(frames) == 2 and frames[0].shape == (grid.FILM_SAMPLES, 64, 64, 3)
    # The film is a JPEG: the resumed run's frames match the uninterrupted run's up to compression.
    again = grid.read_film(grid.film_path(grid.PAPER, 0, tmp_path / "whole"), 2)
    assert np.abs(frames[1].astype(int) - again[1].astype(int)).max() == 0


def test_films_of_another_width_go_to_their_own_folder():
    assert grid.films_folder() == grid.FILMS
    assert grid.films_folder(8) != grid.FILMS
    assert grid.films_folder(8).parent == grid.FILMS.parent
    assert grid.films_folder(8) != grid.films_folder(32)


def test_verdicts_count_distinct_claims_the_control_left_out():
    from dcgan_keras.chapters import ablation

    compared = {v.name: {"verdict": "supported"} for v in grid.VARIANTS[1:]}
    verdicts = ablation.claim_verdicts(grid.VARIANTS, compared)
    stages = [v.name for v in grid.VARIANTS if "stages" in v.generator]
    assert len(stages) == 2 and any(names == stages for _, names in verdicts.values())  # one claim, two rows
    assert not any("He init" in name for _, names in verdicts.values() for name in names)
    assert len(verdicts) == len(grid.VARIANTS) - 3  # the reference, the control and the second stage row
    compared[stages[1]] = {"verdict": "not visible at this scale"}
    assert ("mixed", stages) in ablation.claim_verdicts(grid.VARIANTS, compared).values()


@pytest.mark.parametrize("argv, message", [
    (["--width", "0"], "--width and --workers must be at least 1."),
    (["--pilot-steps", "3000"], "--pilot-steps must be a positive multiple of 2000, so that half of it is a "
                                "checkpoint; got 3000."),
    (["--pilot-steps", "0"], "--pilot-steps must be a positive multiple of 2000"),
])
def test_bad_options_get_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        grid.main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}") and error.count("\n") == 1


def test_a_results_file_of_another_pilot_length_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"config": grid.config(8, 12000), "machine": {}, "runs": []}))
    with pytest.raises(grid.UsageError, match="pass --results NEW.json"):
        grid.read_results(path, grid.config(8, 24000))
    assert grid.read_results(path, grid.config(8, 12000))["runs"] == []


def test_the_curves_plot_draws_every_seed_their_mean_and_the_budget_lines():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = _results([[300.0, 50.0, 40.0, 41.0], [280.0, 60.0, 44.0, 42.0]], pilot_steps=8)
    figure, ax = plt.subplots()
    grid.plot_curves(ax, results, budget_steps=4)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["seed 0", "seed 1", "mean of 2", "B = 4", "2B = 8"]
    np.testing.assert_allclose(lines[2].get_ydata(), [290.0, 55.0, 42.0, 41.5])
    np.testing.assert_array_equal(lines[0].get_xdata(), [2, 4, 6, 8])
    plt.close(figure)


def test_the_pilot_report_prints_every_seed_the_mean_the_best_and_the_rule(tmp_path, capsys):
    curves = [[300.0, 50.0, 40.0, 41.0], [280.0, 60.0, 44.0, 42.0],
              [290.0, 55.0, 42.0, 40.0], [310.0, 45.0, 38.0, 41.0]]  # means 295, 52.5, 41, 41
    results = _results(curves, pilot_steps=8)
    results["config"]["width"] = 8
    lines = grid.pilot_report(results).splitlines()
    assert lines[1].split() == ["step", "seed", "0", "seed", "1", "seed", "2", "seed", "3", "mean"]
    assert lines[2].split() == ["2", "300.0", "280.0", "290.0", "310.0", "295.0"]
    assert lines[-3] == "best mean FID 41.0 at 6 steps"
    assert lines[-2] == "2B rule (mean FID at 2B against B): B=2: -82%, B=4: -22%"
    assert lines[-1] == "budget: none, no candidate B passes the 2B rule"
    partial = _results(curves[:2], pilot_steps=8)
    partial["config"]["width"] = 8
    assert grid.pilot_report(partial).splitlines()[-1] == "budget: none yet (2 pilot seeds to go)"
    flat = _results([[50.0, 40.0, 40.0, 40.5]] * 4, pilot_steps=8)
    flat["config"]["width"] = 8
    assert grid.pilot_report(flat).splitlines()[-1] == "budget: 4 steps"
    assert grid.pilot_report({"config": {"pilot_steps": 8}, "runs": []}) == "No pilot seed has finished yet."
    path = tmp_path / "pilot.json"
    path.write_text(json.dumps(results))
    grid.main(["--report", "--results", str(path)])
    assert capsys.readouterr().out.splitlines() == lines
    with pytest.raises(SystemExit):
        grid.main(["--report", "--results", str(tmp_path / "missing.json")])
    assert capsys.readouterr().err == (f"error: {tmp_path / 'missing.json'} does not exist; pass --results with a "
                                       "colour grid's results file.\n")
