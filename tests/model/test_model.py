"""Tier 2: the project's model loads, runs 2010-2035 for every scenario without NaN or
negative stocks, and its stock-flow accounting closes.

Everything here runs on the compiled core (backend="numba"), the engine every command
uses; that it equals PySD, the reference, on every variable is tests/engine/test_project_model.py."""

from __future__ import annotations

import numpy as np
import pytest
from innosd.calibration.data import load_observations
from innosd.experiments.results import to_dataset
from innosd.model import MODEL_FILE, compile_model
from innosd.model.abstract import parse
from innosd.model.backends import run_model
from innosd.model.info import model_info
from innosd.model.results import value_at_year_end
from innosd.scenarios import build, compose
from innosd.model.validation import MASS_BALANCE_RELATIVE_TOLERANCE, mass_balance_errors, stock_flows

# Stocks are counts and money in the thousands; Euler round-off on the cohort pipelines is
# ~1e-12 of the flows, so anything below this is arithmetic noise, not a negative stock.
NEGATIVE_STOCK_TOLERANCE = 1e-6
# The defaults are uncalibrated (calibration is its own issue): "plausible" means every
# 2014-2016 observation the model maps is within a factor 1.6 (most are within 10%).
PLAUSIBLE_FACTOR = 1.6
TIME_STEP = 0.0625  # the model's TIME STEP (1/16 year)


@pytest.fixture(scope="module")
def info():
    return model_info(MODEL_FILE)


@pytest.fixture(scope="module")
def scenario_runs(info):
    runs = {}
    for name in compose.options("scenario"):
        config = build.compose_run_config([f"scenario={name}"], info)
        runs[name] = run_model(build.model_parameters(config), backend="numba")
    return runs


@pytest.fixture(scope="module")
def per_step_run():
    """The model-default run saved at every TIME STEP, so flows can be integrated as the model does."""
    frame = compile_model(MODEL_FILE).run({"SAVEPER": TIME_STEP})
    assert np.allclose(np.diff(frame.index.to_numpy()), TIME_STEP)
    return frame


def test_model_runs_2010_to_2035(scenario_runs):
    frame = scenario_runs["baseline"]
    assert frame.index[0] == 2010 and frame.index[-1] == 2036


@pytest.mark.parametrize("scenario", compose.options("scenario"))
def test_no_nan_and_no_negative_stocks(scenario, scenario_runs, info):
    frame = scenario_runs[scenario]
    assert np.isfinite(frame.to_numpy(dtype=float)).all()
    worst = {s: frame[s].min() for s in info.stocks if frame[s].min() < -NEGATIVE_STOCK_TOLERANCE}
    assert not worst, f"negative stocks in {scenario}: {worst}"


def test_every_variable_has_units_and_every_constant_a_comment(info):
    missing_units = [n for n, u in info.units.items() if not u and n != "Time"]
    assert not missing_units
    uncommented = [c.name for c in info.constants.values() if len(c.comment) < 10]
    assert not uncommented


def test_stock_flow_accounting_closes(info, per_step_run):
    """Every stock equals its initial value plus the Euler-integrated net flow (the
    validation battery's mass-balance check, on the compiled core's per-step run)."""
    errors = mass_balance_errors(per_step_run, stock_flows(parse(MODEL_FILE)), TIME_STEP)
    assert set(errors["stock"]) == set(info.stocks)
    assert errors["checked"].all(), errors.loc[~errors["checked"], "stock"].tolist()
    leaks = errors[~(errors["relative_error"] <= MASS_BALANCE_RELATIVE_TOLERANCE)]
    assert leaks.empty, leaks.to_dict("records")


def test_firm_ladder_conserves_firms(per_step_run):
    """Firms move between ladder stocks; only births, exits and failures change the total."""
    f, dt = per_step_run, TIME_STEP
    total = (f["tech firms"] + f["eligible tech firms"] + f["hte cultivation pool"] + f["high tech enterprises"]
             + f["ex hte firms"] + f["incubated firms"])
    net = (f["tech firm births"] - f["tech firm exits"] - f["eligible firm exits"] - f["hte closures"]
           - f["ex hte exits"] - f["incubatee failures"]).to_numpy()
    rebuilt = total.iloc[0] + np.concatenate([[0.0], np.cumsum(net[:-1] * dt)])
    assert np.allclose(rebuilt, total.to_numpy(), rtol=MASS_BALANCE_RELATIVE_TOLERANCE, atol=1e-6)


def test_hte_certificates_last_three_years():
    """With no exits, a certification batch leaves the cohorts exactly three years later."""
    info = model_info(MODEL_FILE)
    frame = run_model({"hte exit rate": 0.0}, backend="numba",
                      return_columns=["hte expiries", "hte certifications total"])
    saved = frame.index.to_numpy()
    lagged = np.interp(saved - 3.0, saved, frame["hte certifications total"].to_numpy())
    late = saved >= 2013.5
    assert np.allclose(frame["hte expiries"].to_numpy()[late], lagged[late], rtol=1e-9)
    assert "hte exit rate" in info.constants


def test_2014_2016_behaviour_is_plausible():
    """Not a calibration: the uncalibrated defaults stay near every mapped 2014-2016 figure."""
    info = model_info(MODEL_FILE)
    ds = to_dataset(run_model(backend="numba"), info.units, info.comments, set(info.constants), {})
    obs = load_observations()
    obs = obs[(obs["model_variable"] != "") & obs["year"].between(2014, 2016)]
    errors = {}
    for row in obs.itertuples(index=False):
        if row.model_variable in ds and row.region == "Guangzhou":
            model_value = value_at_year_end(ds, row.model_variable, int(row.year))
            errors[(row.indicator, row.year)] = abs(np.log(model_value / row.value))
    assert len(errors) >= 20
    assert max(errors.values()) < np.log(PLAUSIBLE_FACTOR), sorted(errors.items(), key=lambda kv: -kv[1])[:3]
