"""The attainment tables computed with arrays equal, exactly, the row-by-row loops they
replaced (kept here as the reference): the what-if page computes them on every move, so
they were vectorised; a planner's numbers must not move by a bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from innosd.calibration.data import OFFICIAL, load_targets, target_status
from innosd.experiments import projections as proj


def reference_attainment_table(ensemble: xr.Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    """The loop over targets and scenarios as it was before the arrays (commit ea528c9)."""
    rows = []
    n = int(ensemble.sizes["draw"])
    for t in proj.modelled_targets(targets).itertuples(index=False):
        values = proj.year_values(ensemble, t.model_variable, int(t.year))
        met = proj.meets(values, float(t.value), t.direction)
        for s, scenario in enumerate(ensemble["scenario"].to_numpy()):
            v = values[s]
            known = np.isfinite(v).all()
            p = float(met[s].mean()) if known else np.nan
            low, high = proj.wilson_interval(p, n)
            rows.append({"scenario": str(scenario), "indicator": t.indicator, "model_variable": t.model_variable,
                         "year": int(t.year), "target": float(t.value), "direction": t.direction, "unit": t.unit,
                         "status": target_status(t.plan, t.note), "probability": p,
                         "mc_se": float(proj.mc_standard_error(p, n)), "ci_low": float(low), "ci_high": float(high),
                         "draws": n, "median": float(np.median(v)), "p05": float(np.quantile(v, 0.05)),
                         "p95": float(np.quantile(v, 0.95)), "plan": t.plan, "source": t.source})
    return pd.DataFrame(rows, columns=proj.ATTAINMENT_COLUMNS)


def reference_joint_table(ensemble: xr.Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    modelled = proj.modelled_targets(targets)
    modelled = modelled[[target_status(p, n) == OFFICIAL for p, n in zip(modelled["plan"], modelled["note"])]]
    n = int(ensemble.sizes["draw"])
    rows = []
    for year, group in modelled.groupby(modelled["year"].astype(int)):
        group = proj.distinct_requirements(group)
        met = proj.joint_met(ensemble, group)
        singles = [proj.meets(proj.year_values(ensemble, t.model_variable, year), float(t.value),
                              t.direction).mean(axis=1) for t in group.itertuples(index=False)]
        for s, scenario in enumerate(ensemble["scenario"].to_numpy()):
            p = float(met[s].mean())
            low, high = proj.wilson_interval(p, n)
            binding = int(np.argmin([single[s] for single in singles]))
            rows.append({"scenario": str(scenario), "year": int(year), "targets": len(group),
                         "requirements": "; ".join(proj.describe_target(t) for t in group.itertuples(index=False)),
                         "probability": p, "mc_se": float(proj.mc_standard_error(p, n)), "ci_low": float(low),
                         "ci_high": float(high), "draws": n,
                         "binding_target": proj.describe_target(group.iloc[binding]),
                         "binding_probability": float(singles[binding][s]), "warning": proj.draws_warning(n)})
    return pd.DataFrame(rows, columns=proj.JOINT_COLUMNS)


def fixture_ensemble(targets: pd.DataFrame, draws: int, missing: str | None = None) -> xr.Dataset:
    """Every modelled target's variable for three scenarios, values spread around the targets
    (so probabilities lie strictly between 0 and 1, ties included); one variable with a NaN draw."""
    rng = np.random.default_rng(11)
    modelled = proj.modelled_targets(targets)
    years = np.arange(2013, 2036)
    data = {}
    for variable, group in modelled.groupby("model_variable"):
        scale = float(group["value"].abs().max())
        values = scale * rng.uniform(0.6, 1.4, (3, draws, len(years)))
        values[0, :3, :] = scale  # exact ties with a target: >= and <= both count them
        data[variable] = (("scenario", "draw", "time"), values)
    if missing:
        data[missing][1][1, 0, :] = np.nan
    return xr.Dataset(data, coords={"scenario": ["baseline", "fiscal_doubling", "whatif"],
                                    "draw": np.arange(draws), "time": years + 1.0, "year": ("time", years)})


@pytest.fixture(scope="module")
def targets():
    table = load_targets()
    # an at-most target and a second plan with a different value for the same indicator-year
    extra = table[table["indicator"] == "rd_intensity"].head(1).assign(direction="at_most", value=0.05, year=2025)
    return pd.concat([table, extra], ignore_index=True)


@pytest.mark.parametrize("draws", [1, 37, 200])
def test_array_tables_equal_the_row_loops(targets, draws):
    ensemble = fixture_ensemble(targets, draws, missing="national incubators" if draws > 1 else None)
    new, old = proj.attainment_table(ensemble, targets), reference_attainment_table(ensemble, targets)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new["probability"].between(0, 1).any() and new["probability"].isna().sum() == (draws > 1) * (
        proj.modelled_targets(targets)["model_variable"] == "national incubators").sum()
    new, old = proj.joint_attainment_table(ensemble, targets), reference_joint_table(ensemble, targets)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert len(new) > 3


def test_no_modelled_target_gives_the_empty_table(targets):
    ensemble = fixture_ensemble(targets, 5)
    empty = targets[targets["region"] != "Guangzhou"]
    pd.testing.assert_frame_equal(proj.attainment_table(ensemble, empty), reference_attainment_table(ensemble, empty),
                                  check_dtype=False)
