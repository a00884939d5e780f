"""Projections with intervals and target attainment, from an ensemble Dataset.

The ensemble is `experiments.ensemble.ensemble_dataset`: dims (scenario, draw, time), one
variable per model variable, year-end values (year Y at t = Y + 1). Both tables follow
`docs/outputs.md`. Pure functions of their inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from typing import Any

from innosd.calibration.data import (
    BENCHMARK_PLAN,
    DIRECTIONS,
    FIRST_SCORED_YEAR,
    OFFICIAL,
    TARGET_COLUMNS,
    target_status,
)
from innosd.experiments.ensemble import KEY_YEARS, LAST_YEAR
from innosd.model.indicators import MODELLED_REGION, Indicator

from innosd.errors import ConfigError, closest

QUANTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
PROJECTION_COLUMNS = ["scenario", "indicator", "model_variable", "unit", "year", "median", "p05", "p25", "p75",
                      "p95", "key_year"]
ATTAINMENT_COLUMNS = ["scenario", "indicator", "model_variable", "year", "target", "direction", "unit", "status",
                      "probability", "mc_se", "ci_low", "ci_high", "draws", "median", "p05", "p95", "plan", "source"]
JOINT_COLUMNS = ["scenario", "year", "targets", "requirements", "probability", "mc_se", "ci_low", "ci_high", "draws",
                 "binding_target", "binding_probability", "warning"]
# Below 100 draws a share has an MC error up to 0.05 (0.5/sqrt(n)): too coarse to tell 0.8 from 0.9.
MIN_DRAWS_FOR_PROBABILITY = 100
WILSON_Z_95 = 1.959964  # two-sided 95% normal quantile


def projections_table(ensemble: xr.Dataset, indicators: list[Indicator]) -> pd.DataFrame:
    """Quantiles over draws of every indicator, scenario and year."""
    years = ensemble["year"].to_numpy()
    frames = []
    for ind in indicators:
        values = ensemble[ind.model_variable].to_numpy()  # (scenario, draw, time)
        stacked = np.quantile(values, list(QUANTILES.values()), axis=1)  # (quantile, scenario, time)
        q = dict(zip(QUANTILES, stacked))
        for s, scenario in enumerate(ensemble["scenario"].to_numpy()):
            frames.append(pd.DataFrame({
                "scenario": str(scenario), "indicator": ind.id, "model_variable": ind.model_variable,
                "unit": ind.unit, "year": years.astype(int),
                **{name: q[name][s] for name in QUANTILES}, "key_year": np.isin(years, KEY_YEARS)}))
    return pd.concat(frames, ignore_index=True)[PROJECTION_COLUMNS]


def modelled_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """Plan targets the model can answer: Guangzhou rows with a model variable, dated after the
    spin-up (a 2010 target is scored inside the model's settling years, so it is left out)."""
    has_var = targets["model_variable"].fillna("").astype(str).str.strip().ne("")
    scored = targets["year"].astype(int) >= FIRST_SCORED_YEAR
    return targets[has_var & scored & (targets["region"] == MODELLED_REGION)].reset_index(drop=True)


def target_key(row) -> str:
    return f"{row.indicator}@{int(row.year)}"


def describe_target(row) -> str:
    """'rd_personnel_fte@2020 >= 219200': the key with the requirement (plans may differ in value)."""
    return f"{target_key(row)} {'>=' if row.direction == 'at_least' else '<='} {float(row.value):g}"


def benchmark_targets(benchmarks: Any, indicators: list[Indicator], key: str = "experiment.benchmarks") -> pd.DataFrame:
    """Targets a user states in config, `[{indicator, year, value, direction}]`, as target rows
    labelled "benchmark (user)" (never "official"); one-line errors for unknown indicators."""
    by_id = {i.id: i for i in indicators}
    rows = []
    for n, spec in enumerate(benchmarks or []):
        where = f"{key}[{n}]"
        if not isinstance(spec, dict) or not {"indicator", "year", "value"} <= set(spec):
            raise ConfigError(f"{where}: give indicator, year, value (and direction: at_least | at_most), "
                              f"got {spec!r}")
        indicator = str(spec["indicator"])
        if indicator not in by_id:
            raise ConfigError(f"{where}.indicator: unknown indicator {indicator!r}{closest(indicator, by_id)}; "
                              f"valid indicators: {', '.join(sorted(by_id))}")
        direction = str(spec.get("direction", "at_least"))
        if direction not in DIRECTIONS:
            raise ConfigError(f"{where}.direction: {direction!r} is not at_least or at_most")
        try:
            year, value = int(spec["year"]), float(spec["value"])
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: year {spec['year']!r} / value {spec['value']!r} are not numbers") from None
        if not FIRST_SCORED_YEAR <= year <= LAST_YEAR:
            raise ConfigError(f"{where}.year: {year} is not within {FIRST_SCORED_YEAR}..{LAST_YEAR}")
        ind = by_id[indicator]
        rows.append({"indicator": indicator, "year": year, "value": value, "unit": ind.unit, "kind": "",
                     "model_variable": ind.model_variable, "region": MODELLED_REGION, "direction": direction,
                     "plan": BENCHMARK_PLAN, "source": f"config: {where}",
                     "quote": str(spec.get("note", "")), "note": "benchmark stated by the user, not a plan target"})
    return pd.DataFrame(rows, columns=list(TARGET_COLUMNS))


def with_benchmarks(targets: pd.DataFrame, benchmarks: Any, indicators: list[Indicator]) -> pd.DataFrame:
    extra = benchmark_targets(benchmarks, indicators)
    return pd.concat([targets, extra], ignore_index=True) if len(extra) else targets


def select_targets(names: list[str] | str, targets: pd.DataFrame, key: str) -> pd.DataFrame:
    """`all` or a list of `indicator@year` / `indicator` (every year); one-line error if unknown."""
    modelled = modelled_targets(targets)
    if names in ("all", None):
        return modelled
    keys = [target_key(r) for r in modelled.itertuples(index=False)]
    keep = np.zeros(len(modelled), dtype=bool)
    for name in names if isinstance(names, list) else [names]:
        hit = np.array([k == name or k.split("@")[0] == name for k in keys])
        if not hit.any():
            valid = sorted(set(keys))
            raise ConfigError(f"{key}: unknown target {name!r}{closest(str(name), valid)}; valid targets "
                              f"(indicator@year): {', '.join(valid)}")
        keep |= hit
    if not keep.any():
        raise ConfigError(f"{key}: the list of targets is empty")
    return modelled[keep].reset_index(drop=True)


def meets(values: np.ndarray, target: float, direction: str) -> np.ndarray:
    return values >= target if direction == "at_least" else values <= target


def year_values(ensemble: xr.Dataset, variable: str, year: int) -> np.ndarray:
    """(scenario, draw) values of `variable` at year-end `year`; NaN if outside the saved years."""
    hit = np.flatnonzero(ensemble["year"].to_numpy() == year)
    shape = (ensemble.sizes["scenario"], ensemble.sizes["draw"])
    if not hit.size or variable not in ensemble:
        return np.full(shape, np.nan)
    return ensemble[variable].to_numpy()[:, :, hit[0]]


def mc_standard_error(probability: np.ndarray | float, draws: int) -> np.ndarray | float:
    """Monte Carlo standard error of a share of `draws` independent draws: sqrt(p (1 - p) / n).

    At p = 0 or 1 this is 0, which understates what n draws can tell; `wilson_interval` gives
    the honest range there."""
    p = np.asarray(probability, dtype=float)
    return np.sqrt(p * (1.0 - p) / max(int(draws), 1))


def wilson_interval(probability: np.ndarray | float, draws: int, z: float = WILSON_Z_95):
    """95% Wilson score interval of a share (stays inside [0, 1], non-degenerate at 0 and 1)."""
    p, n = np.asarray(probability, dtype=float), max(int(draws), 1)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def draws_warning(draws: int) -> str:
    """Empty, or why `draws` posterior draws are too few for a probability to mean much."""
    if draws >= MIN_DRAWS_FOR_PROBABILITY:
        return ""
    return (f"only {draws} draws: a probability has a Monte Carlo error up to "
            f"{0.5 / np.sqrt(max(draws, 1)):.2f}; use uncertainty.draws>={MIN_DRAWS_FOR_PROBABILITY}")


def target_label(row) -> str:
    """'rd_intensity@2025 >= 0.034 [derived]': one row per distinct requirement, its status shown."""
    return f"{describe_target(row)} [{target_status(row.plan, row.note)}]"


def target_values(ensemble: xr.Dataset, targets: pd.DataFrame) -> np.ndarray:
    """(target, scenario, draw) values of each target row's variable at its year-end; NaN rows
    for a variable or year the ensemble lacks (as `year_values`)."""
    years = ensemble["year"].to_numpy()
    shape = (ensemble.sizes["scenario"], ensemble.sizes["draw"])
    cache: dict[str, np.ndarray] = {}
    out = np.full((len(targets), *shape), np.nan)
    for k, (variable, year) in enumerate(zip(targets["model_variable"], targets["year"].astype(int))):
        hit = np.flatnonzero(years == year)
        if not hit.size or variable not in ensemble:
            continue
        if variable not in cache:
            cache[variable] = ensemble[variable].to_numpy()
        out[k] = cache[variable][:, :, hit[0]]
    return out


def met_matrix(values: np.ndarray, targets: pd.DataFrame) -> np.ndarray:
    """(target, ...) booleans: each row of `values` against its target (`meets`, vectorised; NaN never meets)."""
    goal = targets["value"].to_numpy(dtype=float).reshape((-1,) + (1,) * (values.ndim - 1))
    at_least = (targets["direction"] == "at_least").to_numpy().reshape(goal.shape)
    return np.where(at_least, values >= goal, values <= goal)


def attainment_table(ensemble: xr.Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    """Per modelled target and scenario: the share of draws meeting it, its MC standard error,
    the 95% Wilson interval, the number of draws, and whether the target is official, derived
    or a user benchmark. Rows target by target, scenarios within (arrays, not a row loop: the
    what-if page computes this on every move)."""
    modelled = modelled_targets(targets)
    n = int(ensemble.sizes["draw"])
    scenarios = [str(s) for s in ensemble["scenario"].to_numpy()]
    if modelled.empty:
        return pd.DataFrame(columns=ATTAINMENT_COLUMNS)
    values = target_values(ensemble, modelled)                     # (target, scenario, draw)
    known = np.isfinite(values).all(axis=2)
    p = np.where(known, met_matrix(values, modelled).mean(axis=2), np.nan)
    low, high = wilson_interval(p, n)
    per_target = len(scenarios)

    def repeat(column: str, dtype=None) -> np.ndarray:
        return np.repeat(modelled[column].to_numpy(dtype=dtype), per_target)

    status = np.repeat(np.array([target_status(plan, note) for plan, note in zip(modelled["plan"], modelled["note"])],
                                dtype=object), per_target)
    table = pd.DataFrame({
        "scenario": np.tile(np.array(scenarios, dtype=object), len(modelled)),
        "indicator": repeat("indicator"), "model_variable": repeat("model_variable"),
        "year": np.repeat(modelled["year"].astype(int).to_numpy(), per_target),
        "target": repeat("value", float), "direction": repeat("direction"), "unit": repeat("unit"),
        "status": status, "probability": p.ravel(), "mc_se": mc_standard_error(p, n).ravel(),
        "ci_low": low.ravel(), "ci_high": high.ravel(), "draws": n,
        "median": np.median(values, axis=2).ravel(), "p05": np.quantile(values, 0.05, axis=2).ravel(),
        "p95": np.quantile(values, 0.95, axis=2).ravel(), "plan": repeat("plan"), "source": repeat("source")})
    return table[ATTAINMENT_COLUMNS]


def distinct_requirements(targets: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct requirement (several plans may state the same target)."""
    return targets.drop_duplicates(["model_variable", "year", "value", "direction"]).reset_index(drop=True)


def joint_met(ensemble: xr.Dataset, targets: pd.DataFrame) -> np.ndarray:
    """(scenario, draw): True where a draw meets every one of `targets` at once."""
    ok = np.ones((ensemble.sizes["scenario"], ensemble.sizes["draw"]), dtype=bool)
    for t in targets.itertuples(index=False):
        ok &= meets(year_values(ensemble, t.model_variable, int(t.year)), float(t.value), t.direction)
    return ok


def joint_probability(ensemble: xr.Dataset, targets: pd.DataFrame) -> np.ndarray:
    """Per scenario: share of draws that meet every one of `targets` at once."""
    return joint_met(ensemble, targets).mean(axis=1)


def joint_attainment_table(ensemble: xr.Dataset, targets: pd.DataFrame,
                           statuses: tuple[str, ...] = (OFFICIAL,)) -> pd.DataFrame:
    """Per scenario and plan-year: the probability that a draw meets ALL that year's modelled
    targets at once (official ones by default: a derived or benchmark target is not the plan's),
    with its MC standard error, Wilson interval, draws, the targets it covers and the binding
    one (the target met least often). Every target is scored once, as arrays; the loop is over
    plan-years and scenarios only (the what-if page computes this on every move)."""
    modelled = modelled_targets(targets)
    modelled = modelled[[target_status(p, n) in statuses for p, n in zip(modelled["plan"], modelled["note"])]]
    # distinct requirements (`distinct_requirements`): the year is part of the key, so one pass
    # over the whole table keeps, per year, the same first rows as a pass per year would
    modelled = distinct_requirements(modelled)
    n = int(ensemble.sizes["draw"])
    scenarios = [str(s) for s in ensemble["scenario"].to_numpy()]
    met = met_matrix(target_values(ensemble, modelled), modelled)   # (target, scenario, draw)
    singles = met.mean(axis=2)                                       # (target, scenario)
    years = modelled["year"].astype(int).to_numpy()
    described = [f"{indicator}@{int(year)} {'>=' if direction == 'at_least' else '<='} {float(value):g}"
                 for indicator, year, direction, value in zip(modelled["indicator"], years, modelled["direction"],
                                                              modelled["value"])]  # describe_target, per row
    warning = draws_warning(n)
    rows = []
    for year in np.unique(years):
        rows_of_year = np.flatnonzero(years == year)
        joint = met[rows_of_year].all(axis=0).mean(axis=1)          # (scenario,)
        binding = rows_of_year[np.argmin(singles[rows_of_year], axis=0)]  # first of equals, as np.argmin
        low, high = wilson_interval(joint, n)
        se = mc_standard_error(joint, n)
        requirements = "; ".join(described[k] for k in rows_of_year)
        for s, scenario in enumerate(scenarios):
            rows.append({"scenario": scenario, "year": int(year), "targets": len(rows_of_year),
                         "requirements": requirements, "probability": float(joint[s]), "mc_se": float(se[s]),
                         "ci_low": float(low[s]), "ci_high": float(high[s]), "draws": n,
                         "binding_target": described[binding[s]],
                         "binding_probability": float(singles[binding[s], s]), "warning": warning})
    return pd.DataFrame(rows, columns=JOINT_COLUMNS)
