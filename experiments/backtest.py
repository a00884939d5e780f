"""An out-of-sample backtest: calibrate with the observations up to a year, project, and score
the later observations of calibration/data/observations.csv (`innosd backtest`).

    compose scenarios/backtest.yaml (calibrate.yaml + the small-budget calibration/backtest.yaml,
      data.until_year = backtest.until)
    -> calibration.workflow.calibrate (the public entry point, nothing of `innosd calibrate`'s
       hand-off is written)
    -> posterior draws x one outside-world draw each (scenarios/world/), the chosen scenario
    -> for every later observation (indicator, year): the predictive band (model value times
       the calibration's log-normal observation error of that indicator) and its growth over
       the base year (the last calibration year)
    -> backtest_points.csv (every scored observation), backtest.csv (per indicator: median
       absolute error of growth over the base year, coverage of the central band), a figure,
       config.yaml and metadata.json, in one folder written atomically.

Inputs before the base year that the model takes as given (GDP up to 2016 is a constant of the
model file, an observed figure) are ex post: the backtest is conditional on them, and says so.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from innosd.calibration.data import load_observations
from innosd.calibration.likelihood import ObservationSet, predictive_draws, select_observations
from innosd.calibration.priors import to_natural
from innosd.calibration.workflow import calibrate
from innosd.errors import ConfigError, closest
from innosd.experiments import calibrate as calibrate_command
from innosd.experiments import ensemble as ens
from innosd.model import MODEL_FILE
from innosd.model.info import model_info
from innosd.model.results import year_end_index, year_end_time
from innosd.rundir import BACKTEST_FILE, BACKTEST_POINTS_FILE, WORLD_FILE, atomic_directory, provenance, write_metadata
from innosd.scenarios import build, compose
from innosd.scenarios.schema import BacktestSettings, typed
from innosd.stats import central_band

POINT_COLUMNS = ["indicator", "model_variable", "year", "base_year", "observed", "observed_base", "sigma",
                 "median", "band_low", "band_high", "covered", "model_low", "model_high", "covered_model",
                 "observed_growth", "median_growth", "growth_low", "growth_high", "abs_error_growth", "source"]
SCORE_COLUMNS = ["indicator", "model_variable", "points", "median_abs_error_growth", "coverage", "coverage_model",
                 "years", "note"]
# The random stream of the observation-error draws (the run's seed, stream 11): separate from
# the posterior thinning and the outside world, so each is the same whichever others are drawn.
OBSERVATION_ERROR_STREAM = 11
LAST_OBSERVATION_YEAR = 2100  # the data files' own upper bound (calibration/data.py)


@dataclass(frozen=True)
class BacktestConfig:
    settings: BacktestSettings
    calibration: Any           # experiments.calibrate.CalibrateConfig (its folder is the backtest's)
    raw: dict


def load_config(overrides: list[str], model) -> BacktestConfig:
    """Compose and check scenarios/backtest.yaml (one-line errors naming the key)."""
    for item in overrides:
        if "=" not in item and not item.startswith("~"):
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. backtest.until=2014)")
    prepared = compose.prepare_overrides(list(overrides), "backtest")
    raw, _, hydra = compose.compose("backtest", prepared, compose.CONFIG_DIR)
    raw = dict(raw)
    settings = typed(BacktestSettings, raw.pop("backtest"), "backtest")
    window = raw["calibration"]["window"]
    if not window[0] <= settings.until <= window[1] or settings.until != raw["data"]["until_year"]:
        raise ConfigError(f"backtest.until: {settings.until} must be a year of the calibration window "
                          f"{window[0]}-{window[1]} (calibration.window) and equal data.until_year")
    calibration = calibrate_command.validate(raw, model, load_observations(), Path(hydra.run.dir))
    known = sorted(set(load_observations()["indicator"]))
    for name in settings.exclude:
        if name not in known:
            raise ConfigError(f"backtest.exclude.{name}: no indicator {name!r} in observations.csv"
                              f"{closest(str(name), known)}")
    return BacktestConfig(settings, calibration, {**raw, "backtest": dict(settings.__dict__)})


# ----------------------------------------------------------------------------- what is scored

def later_observations(observations: pd.DataFrame, spec: dict[str, Any], likelihood: dict | None,
                       settings: BacktestSettings, model_columns) -> ObservationSet:
    """The observations after `until` of the calibration's indicators (less `exclude`), one row per
    indicator and year with its error model, as the calibration's `select_observations` builds them
    (repeated figures combined into their median), plus `observed_base`: the median observation in
    the base year `until` (NaN if that year has none)."""
    later = observations[observations["year"] > settings.until]
    scored = {k: v for k, v in spec.items() if k not in settings.exclude and k in set(later["indicator"])}
    if not scored:
        raise ConfigError(f"backtest.until: no observation after {settings.until} to score "
                          "(calibration/data/observations.csv ends in 2016)")
    chosen = select_observations(observations, scored, (settings.until + 1, LAST_OBSERVATION_YEAR),
                                 model_columns, likelihood)
    table = chosen.table.copy()
    base = observations[observations["year"] == settings.until].groupby("indicator")["value"].median()
    table["observed_base"] = table["indicator"].map(base)
    table["base_year"] = settings.until
    return replace(chosen, table=table)


def projection_table(settings: BacktestSettings, draws: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(parameter table, outside-world draws): the scenario's levers, the posterior draws, one
    outside-world draw each (the model file's values if `world: central`)."""
    info = model_info(MODEL_FILE)
    config = build.compose_run_config([f"scenario={settings.scenario}", "params=model_defaults",
                                       f"uncertainty.world={settings.world}", f"run.seed={seed}"], info)
    world = build.world_draws(config, info, len(draws), ens.held_constants(config, draws))
    return ens.run_table(config, draws, world), world


def score_points(points: pd.DataFrame, levels: np.ndarray, base_levels: np.ndarray, predictive: np.ndarray,
                 band: float) -> pd.DataFrame:
    """Fill in the bands and errors of every point from the model's values per draw.

    `levels`, `base_levels`: (draws, points) model values in the point's year and in the base
    year; `predictive`: the same draws with the calibration's observation error added
    (`calibration.likelihood.predictive_draws`)."""
    scored = points["observed_base"].notna().to_numpy()  # growth needs an observation in the base year
    with np.errstate(divide="ignore", invalid="ignore"):  # a flow that is 0 in the base year: no growth
        growth = np.where(scored, levels / np.where(scored, base_levels, 1.0) - 1, np.nan)
    out = points.copy()
    observed = out["observed"].to_numpy()
    out["median"] = np.median(predictive, axis=0)
    out["band_low"], out["band_high"] = central_band(predictive, band)
    out["model_low"], out["model_high"] = central_band(levels, band)
    out["covered"] = (out["band_low"] <= observed) & (observed <= out["band_high"])
    out["covered_model"] = (out["model_low"] <= observed) & (observed <= out["model_high"])
    out["observed_growth"] = observed / out["observed_base"] - 1
    with np.errstate(invalid="ignore"):
        out["median_growth"] = np.median(growth, axis=0)
        out["growth_low"], out["growth_high"] = central_band(growth, band)
    out["abs_error_growth"] = (out["median_growth"] - out["observed_growth"]).abs()
    return out[POINT_COLUMNS]


def score_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per indicator (and `all`): median absolute error of growth over the base year, coverage."""
    rows = []
    for (indicator, variable), group in points.groupby(["indicator", "model_variable"], sort=False):
        growth = group["abs_error_growth"].dropna()
        rows.append({"indicator": indicator, "model_variable": variable, "points": len(group),
                     "median_abs_error_growth": float(growth.median()) if len(growth) else np.nan,
                     "coverage": float(group["covered"].mean()), "coverage_model": float(group["covered_model"].mean()),
                     "years": " ".join(map(str, sorted(group["year"].unique()))),
                     "note": "" if len(growth) else "no observation in the base year: growth not scored"})
    growth = points["abs_error_growth"].dropna()
    rows.append({"indicator": "all", "model_variable": "", "points": len(points),
                 "median_abs_error_growth": float(growth.median()) if len(growth) else np.nan,
                 "coverage": float(points["covered"].mean()), "coverage_model": float(points["covered_model"].mean()),
                 "years": " ".join(map(str, sorted(points["year"].unique()))), "note": "every scored observation"})
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def with_estimated_sigmas(later: ObservationSet, result) -> ObservationSet:
    """An estimated error sd (`sigma: estimate`) at its posterior median (stated ones as they are)."""
    table = later.table.copy()
    medians = dict(zip(result.names, np.median(to_natural(result.priors, result.flat), axis=0)))
    missing = table["sigma"].isna().to_numpy()
    if missing.any():
        table.loc[missing, "sigma"] = [float(medians.get(f"sigma {i}", np.nan)) for i in table.loc[missing, "indicator"]]
    return replace(later, table=table)


def model_values(model, table: pd.DataFrame, variables: list[str], years: np.ndarray) -> dict[str, np.ndarray]:
    """variable -> (draws, len(years)) year-end values, in one ensemble call."""
    frame = table.reset_index(drop=True).copy()
    frame["FINAL TIME"] = year_end_time(int(years.max()))
    ds = model.run_ensemble(frame, return_columns=variables)
    at = year_end_index(ds["time"].to_numpy(), years, missing="raise")
    return {v: ds[v].to_numpy()[:, at] for v in variables}


# ----------------------------------------------------------------------------- the command

def run(config: BacktestConfig, model, command: str) -> Path:
    settings, cal = config.settings, config.calibration
    started = time.perf_counter()
    later = later_observations(load_observations(), cal.raw["calibration"]["observations"],
                               cal.raw["calibration"].get("likelihood"), settings, list(model.columns))
    # (before calibrating: nothing to score is a config error, not a wasted calibration)
    if cal.left_out:
        print(f"innosd backtest: no observation up to {settings.until} for {', '.join(cal.left_out)}: "
              "calibrated without them", file=sys.stderr)
    with calibrate_command.batch_runner(cal) as runner:  # run.scheduler, as for innosd calibrate
        result = calibrate(model, cal.priors, cal.observations, cal.settings,
                           calibrate_command.model_defaults(model, cal.priors), progress=cal.progress, runner=runner)
    calibrated = time.perf_counter()
    later = with_estimated_sigmas(later, result)
    points = later.table
    draws = calibrate_command.thinned_draws(result, settings.draws, cal.settings.seed)
    table, world = projection_table(settings, draws, cal.settings.seed)
    variables = sorted(set(points["model_variable"]))
    years = np.array(sorted({settings.until, *points["year"]}))
    values = model_values(model, table, variables, years)
    index = {int(y): i for i, y in enumerate(years)}
    levels = np.column_stack([values[p.model_variable][:, index[p.year]] for p in points.itertuples()])
    base = np.column_stack([values[p.model_variable][:, index[settings.until]] for p in points.itertuples()])
    rng = np.random.default_rng([int(cal.settings.seed), OBSERVATION_ERROR_STREAM])
    scored = score_points(points, levels, base, predictive_draws(levels, later, rng), settings.band)
    scores = score_table(scored)
    attrs = provenance(config.raw, MODEL_FILE)
    with atomic_directory(cal.folder) as tmp:
        scored.to_csv(tmp / BACKTEST_POINTS_FILE, index=False)
        scores.to_csv(tmp / BACKTEST_FILE, index=False)
        world.reset_index().to_csv(tmp / WORLD_FILE, index=False)
        result.fit.to_csv(tmp / "fit.csv", index=False)
        write_metadata(tmp, "backtest", seed=int(cal.settings.seed), command=command, config=config.raw,
                       recorded=attrs, extra={
                           "until": int(settings.until), "draws": int(len(draws)),
                           "world": {"name": "default", "mode": settings.world},
                           "scenario": settings.scenario, "calibration": cal.name,
                           "left_out_of_calibration": list(cal.left_out),
                           "excluded_from_scoring": dict(settings.exclude),
                           "seconds": {"calibration": round(calibrated - started, 2),
                                       "total": round(time.perf_counter() - started, 2)}})
        if cal.figures:
            from innosd.figures import uncertainty_figures  # matplotlib: only when a figure is drawn
            from innosd.figures.plots import save_figure
            save_figure(uncertainty_figures.backtest_figure(scored, settings.until), tmp / "backtest")
    overall = scores.iloc[-1]
    print(f"innosd backtest: until {settings.until}: {int(overall['points'])} later observations, median |growth "
          f"error| {overall['median_abs_error_growth']:.3f}, {settings.band:.0%} band covers "
          f"{overall['coverage']:.0%}; {time.perf_counter() - started:.1f} s -> {cal.folder}")
    return cal.folder
