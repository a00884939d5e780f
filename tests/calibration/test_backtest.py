"""Tier 3: `innosd backtest` end to end with a tiny sampler budget: it calibrates on the
observations up to the year only, scores every later observation, writes its folder
atomically with metadata, and is reproducible for a seed; `data.until_year` leaves out
indicators with nothing left and keeps a misspelt one for its one-line error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from innosd.calibration.data import load_observations
from innosd.experiments import calibrate as calibrate_command
from innosd.experiments.cli import main as cli_main

# A budget that only exercises the pipeline (the shipped calibration/backtest.yaml is larger).
TINY = ["calibration.optimiser.screen=64", "calibration.optimiser.starts=1", "calibration.optimiser.max_iterations=3",
        "calibration.sampler.steps=40", "calibration.sampler.burn=20", "calibration.sampler.thin=4",
        "backtest.draws=40", "run.progress=false"]


def backtest(tmp_path, name, *extra):
    code = cli_main(["backtest", *TINY, *extra, f"hydra.run.dir={tmp_path / name}"])
    return code, tmp_path / name


@pytest.fixture(scope="module")
def until_2014(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest")
    code, folder = backtest(root, "a", "--until", "2014", "run.figures=true")
    assert code == 0
    return root, folder


def test_backtest_scores_every_later_observation(until_2014):
    _, folder = until_2014
    assert {"backtest.csv", "backtest_points.csv", "world.csv", "fit.csv", "config.yaml", "metadata.json",
            "backtest.png", "backtest.pdf", "backtest.svg"} <= {p.name for p in folder.iterdir()}
    points, scores = pd.read_csv(folder / "backtest_points.csv"), pd.read_csv(folder / "backtest.csv")
    assert set(points["year"]) == {2015, 2016} and (points["base_year"] == 2014).all()
    fit = pd.read_csv(folder / "fit.csv")
    assert fit["year"].max() <= 2014  # the calibration never saw a later figure
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["kind"] == "backtest" and meta["until"] == 2014 and meta["draws"] == 40
    assert "gdp" in meta["excluded_from_scoring"] and "gdp" not in set(points["indicator"])
    # every later observation of a scored indicator is there once
    obs = load_observations()
    later = obs[(obs["year"] > 2014) & obs["indicator"].isin(set(scores["indicator"]))]
    assert len(points) == len(later.groupby(["indicator", "year"]))
    assert ((scores["coverage"] >= 0) & (scores["coverage"] <= 1)).all()
    total = scores[scores["indicator"] == "all"].iloc[0]
    assert total["points"] == len(points) and total["coverage"] == pytest.approx(points["covered"].mean())
    growth = points.dropna(subset=["observed_growth"])
    np.testing.assert_allclose(growth["abs_error_growth"], (growth["median_growth"] - growth["observed_growth"]).abs())
    assert (points["band_low"] <= points["median"]).all() and (points["median"] <= points["band_high"]).all()
    assert len(pd.read_csv(folder / "world.csv")) == 40


def test_backtest_is_reproducible_for_a_seed(until_2014):
    root, folder = until_2014
    code, again = backtest(root, "b", "--until", "2014", "run.figures=false")
    assert code == 0
    for name in ("backtest.csv", "backtest_points.csv", "world.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(folder / name), pd.read_csv(again / name))


@pytest.mark.parametrize("override, fragment", [
    ("backtest.world=centre", "valid settings: sample, central"),
    ("backtest.exclude.gpd=typo", "did you mean 'gdp'"),
    ("backtest.band=1.5", "not a probability"),
    ("backtest.until=2009", "must be a year of the calibration window"),
])
def test_bad_backtest_config_is_one_line_and_writes_nothing(tmp_path, capsys, override, fragment):
    code, folder = backtest(tmp_path, "bad", override)
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and "\n" not in err, err
    assert not folder.exists()


def test_until_year_leaves_out_indicators_without_observations():
    obs = load_observations()
    spec = {"high_tech_enterprises": {}, "incubators_new": {}, "no_such_indicator": {}}
    kept, left_out = calibrate_command.observations_until(obs, spec, (2013, 2015))
    assert left_out == ("incubators_new",)  # 2016 only
    assert set(kept) == {"high_tech_enterprises", "no_such_indicator"}  # a typo stays, for its one-line error
