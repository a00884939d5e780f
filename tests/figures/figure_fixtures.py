"""Tiny saved tables in the layouts of docs/outputs.md, shared by the figure and report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

YEARS = np.arange(2013, 2036)
SCENARIOS = ("baseline", "incubator_doubling")
INDICATORS = (("high_tech_enterprises", "high tech enterprises", "firms", 1500.0, 0.12),
              ("rd_intensity", "rd intensity", "Dmnl", 0.019, 0.03))


def make_projections(spread: float = 0.1) -> pd.DataFrame:
    """Two scenarios x two indicators, exponential growth with a widening band."""
    rows = []
    for k, scenario in enumerate(SCENARIOS):
        for indicator, variable, unit, start, growth in INDICATORS:
            for year in YEARS:
                median = start * (1 + growth * (1 + 0.3 * k)) ** (year - 2013)
                width = spread * median * (year - 2012) / len(YEARS)
                rows.append({"scenario": scenario, "indicator": indicator, "model_variable": variable, "unit": unit,
                             "year": int(year), "median": median, "p05": median - 2 * width,
                             "p25": median - width, "p75": median + width, "p95": median + 2 * width,
                             "key_year": int(year) in (2020, 2025, 2035)})
    return pd.DataFrame(rows)


def make_attainment() -> pd.DataFrame:
    rows = []
    for k, scenario in enumerate(SCENARIOS):
        for indicator, year, target in (("high_tech_enterprises", 2020, 6000), ("rd_intensity", 2020, 0.03),
                                        ("rd_intensity", 2035, 0.04)):
            rows.append({"scenario": scenario, "indicator": indicator, "model_variable": indicator.replace("_", " "),
                         "year": year, "target": target, "direction": "at_least", "unit": "firms",
                         "probability": min(1.0, 0.3 + 0.4 * k + 0.1 * (year == 2035)), "median": target,
                         "p05": target * 0.8, "p95": target * 1.2, "plan": "plan", "source": "seed"})
    return pd.DataFrame(rows)


def make_sobol() -> pd.DataFrame:
    rows = []
    for output in ("high_tech_enterprises@2020", "rd_intensity@2035"):
        for i, name in enumerate(("hte exit rate", "incubator scenario change", "rd growth", "talent share")):
            st = 0.6 / (i + 1)
            rows.append({"output": output, "input": name, "input_kind": "lever" if "scenario" in name else "parameter",
                         "S1": 0.7 * st, "S1_conf": 0.02, "ST": st, "ST_conf": 0.03})
    return pd.DataFrame(rows)


def make_morris() -> pd.DataFrame:
    sobol = make_sobol()
    return pd.DataFrame({"output": sobol["output"], "input": sobol["input"], "input_kind": sobol["input_kind"],
                         "mu_star": sobol["ST"] * 100, "mu_star_conf": 2.0, "sigma": sobol["ST"] * 30})


def make_candidates() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cost = rng.uniform(10, 200, 30)
    probability = np.clip(cost / 200 + rng.normal(0, 0.1, 30), 0, 1)
    order = np.argsort(cost)
    best = np.maximum.accumulate(probability[order])
    pareto = np.zeros(30, bool)
    pareto[order] = np.r_[True, best[1:] > best[:-1]]
    return pd.DataFrame({"incubator.change": rng.uniform(0, 1, 30), "talent.change": rng.uniform(0, 2, 30),
                         "cost_100m_yuan": cost, "probability": probability, "pareto": pareto,
                         "feasible": probability >= 0.6})


def make_response() -> pd.DataFrame:
    """response.csv of two levers x three changes x two outputs (one with a 2025 target)."""
    rows = []
    for output, unit, target, slope in (("rd_intensity@2025", "Dmnl", 0.034, 0.004),
                                        ("high_tech_enterprises@2025", "firms", np.nan, 900.0)):
        indicator, _, year = output.partition("@")
        base = 0.035 if unit == "Dmnl" else 17000.0
        for lever, effect in (("fiscal_st", 1.0), ("talent", 0.0)):
            for change in (-0.5, 0.0, 1.0):
                median = base + effect * slope * change
                rows.append({"lever": lever, "change": change, "output": output, "indicator": indicator,
                             "model_variable": indicator.replace("_", " "), "unit": unit, "year": int(year),
                             "median": median, "p05": median * 0.8, "p25": median * 0.9, "p75": median * 1.1,
                             "p95": median * 1.2, "draws": 50, "target": target,
                             "direction": "at_least" if target == target else "",
                             "status": "official" if target == target else "",
                             "probability": 0.5 + 0.3 * effect * change if target == target else np.nan,
                             "mc_se": 0.07 if target == target else np.nan})
    return pd.DataFrame(rows)


def make_fit() -> pd.DataFrame:
    rows = []
    for indicator, variable, unit, value in (("high_tech_enterprises", "high tech enterprises", "firms", 1500),
                                             ("rd_expenditure", "rd expenditure annual", "100 million yuan/Year", 292)):
        for j, year in enumerate(range(2013, 2017)):
            observed = value * 1.15 ** j
            rows.append({"indicator": indicator, "model_variable": variable, "year": year, "unit": unit,
                         "observed": observed, "median": observed * 1.03, "p05": observed * 0.9,
                         "p95": observed * 1.15, "sigma": observed * 0.05, "error_rel": 0.03,
                         "within_error": j != 2, "source": "yearbook"})
    return pd.DataFrame(rows)


PARAMETERS = ("hte exit rate", "tech firm birth rate", "rd growth")


def make_parameters() -> pd.DataFrame:
    rows = []
    for i, name in enumerate(PARAMETERS):
        rows.append({"parameter": name, "units": "1/Year", "prior": "uniform", "prior_lower": 0.0,
                     "prior_upper": 0.2, "prior_mean": 0.1, "prior_sd": 0.058, "posterior_mean": 0.05 + 0.04 * i,
                     "posterior_sd": 0.01, "p05": 0.035 + 0.04 * i, "p50": 0.05 + 0.04 * i,
                     "p95": 0.065 + 0.04 * i, "shrinkage": 0.8, "rhat": 1.01, "ess_bulk": 400.0,
                     "identified": i != 2})
    return pd.DataFrame(rows)


def make_correlations() -> pd.DataFrame:
    matrix = np.array([[1.0, -0.7, 0.1], [-0.7, 1.0, 0.3], [0.1, 0.3, 1.0]])
    return pd.DataFrame(matrix, index=list(PARAMETERS), columns=list(PARAMETERS)).rename_axis("parameter")


def write_posterior_nc(path) -> None:
    import arviz as az

    rng = np.random.default_rng(1)
    posterior = {name.replace(" ", "_"): rng.normal(0.05 + 0.04 * i, 0.01, (2, 50)) for i, name in
                 enumerate(PARAMETERS)}
    az.from_dict(posterior=posterior).to_netcdf(str(path))


def make_variance_shares() -> pd.DataFrame:
    """variance_shares.csv: the outside world's share grows with the horizon."""
    rows = []
    for scenario in SCENARIOS:
        for indicator, variable, _, start, growth in INDICATORS:
            for year in YEARS:
                world = 0.6 * (year - 2013) / (YEARS[-1] - 2013)
                rows.append({"scenario": scenario, "indicator": indicator, "model_variable": variable,
                             "year": int(year), "grid_median": start * (1 + growth) ** (year - 2013),
                             "grid_sd": 0.1 * start, "share_parameters": 0.95 - world, "share_world": world,
                             "share_interaction": 0.05, "parameter_draws": 40, "world_draws": 25})
    return pd.DataFrame(rows)


WORLD_CONFIG = {"name": "default", "description": "test world", "sampling": "latin_hypercube",
                "uncertainties": {"gdp_growth": {"constants": ["gdp growth after 2016"], "unit": "1/Year",
                                                 "distribution": "triangular", "lower": 0.04, "upper": 0.085,
                                                 "source": "plan", "quote": "6%左右"}}}


def make_world(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"draw": np.arange(n), "gdp_growth": np.linspace(0.045, 0.08, n)})


def make_backtest_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(backtest_points.csv, backtest.csv) scored by the backtest's own functions on made-up draws."""
    from innosd.experiments.backtest import score_points, score_table

    points = pd.DataFrame({"indicator": ["high_tech_enterprises", "incubators", "incubators_new"],
                           "model_variable": ["high tech enterprises", "incubators", "incubators new annual"],
                           "year": [2016, 2016, 2016], "base_year": 2015, "observed": [4742.0, 192.0, 73.0],
                           "observed_base": [1919.0, 119.0, np.nan], "sigma": [0.05, 0.05, 0.1],
                           "source": "seed 002"})
    rng = np.random.default_rng(1)
    levels = np.array([4500.0, 180.0, 60.0]) * np.exp(0.1 * rng.standard_normal((200, 3)))
    base = np.array([1900.0, 120.0, 40.0]) * np.ones((200, 3))
    predictive = levels * np.exp(points["sigma"].to_numpy() * rng.standard_normal(levels.shape))
    scored = score_points(points, levels, base, predictive, 0.9)
    return scored, score_table(scored)
