"""Projections with intervals and target attainment, from an ensemble Dataset.

The ensemble is `experiments.ensemble.ensemble_dataset`: dims (scenario, draw, time), one
variable per model variable, year-end values (year Y at t = Y + 1). Both tables follow
`docs/outputs.md`. Pure functions of their inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from innosd.experiments.ensemble import KEY_YEARS
from innosd.model.indicators import Indicator

from innosd.errors import ConfigError, closest

QUANTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
PROJECTION_COLUMNS = ["scenario", "indicator", "model_variable", "unit", "year", "median", "p05", "p25", "p75",
                      "p95", "key_year"]
ATTAINMENT_COLUMNS = ["scenario", "indicator", "model_variable", "year", "target", "direction", "unit",
                      "probability", "median", "p05", "p95", "plan", "source"]


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
    """Plan targets the model can answer: Guangzhou rows with a model variable."""
    has_var = targets["model_variable"].fillna("").astype(str).str.strip().ne("")
    return targets[has_var & (targets["region"] == "Guangzhou")].reset_index(drop=True)


def target_key(row) -> str:
    return f"{row.indicator}@{int(row.year)}"


def describe_target(row) -> str:
    """'rd_personnel_fte@2020 >= 219200': the key with the requirement (plans may differ in value)."""
    return f"{target_key(row)} {'>=' if row.direction == 'at_least' else '<='} {float(row.value):g}"


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


def attainment_table(ensemble: xr.Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    """Probability (share of draws) of meeting every modelled target, per scenario."""
    rows = []
    for t in modelled_targets(targets).itertuples(index=False):
        values = year_values(ensemble, t.model_variable, int(t.year))
        met = meets(values, float(t.value), t.direction)
        for s, scenario in enumerate(ensemble["scenario"].to_numpy()):
            v = values[s]
            known = np.isfinite(v).all()
            rows.append({"scenario": str(scenario), "indicator": t.indicator, "model_variable": t.model_variable,
                         "year": int(t.year), "target": float(t.value), "direction": t.direction, "unit": t.unit,
                         "probability": float(met[s].mean()) if known else np.nan,
                         "median": float(np.median(v)), "p05": float(np.quantile(v, 0.05)),
                         "p95": float(np.quantile(v, 0.95)), "plan": t.plan, "source": t.source})
    return pd.DataFrame(rows, columns=ATTAINMENT_COLUMNS)


def joint_probability(ensemble: xr.Dataset, targets: pd.DataFrame) -> np.ndarray:
    """Per scenario: share of draws that meet every one of `targets` at once."""
    ok = np.ones((ensemble.sizes["scenario"], ensemble.sizes["draw"]), dtype=bool)
    for t in targets.itertuples(index=False):
        ok &= meets(year_values(ensemble, t.model_variable, int(t.year)), float(t.value), t.direction)
    return ok.mean(axis=1)
