"""Results as data: the run Dataset with units, year-end values and target attainment.

Writing folders (atomic, with provenance) is `innosd.rundir`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from innosd.model.results import value_at_year_end

CONTROL_VARIABLES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


def to_dataset(frame: pd.DataFrame, units: dict[str, str], comments: dict[str, str],
               constants: set[str], attrs: dict[str, str]) -> xr.Dataset:
    """Every time-varying variable as a data variable over `time`, units as attributes."""
    keep = [c for c in frame.columns if c not in constants and c not in CONTROL_VARIABLES]
    data = {
        name: xr.Variable("time", frame[name].to_numpy(dtype=float),
                          attrs={"units": units.get(name, ""), "long_name": name,
                                 "description": comments.get(name, "")})
        for name in keep
    }
    ds = xr.Dataset(data, coords={"time": ("time", frame.index.to_numpy(dtype=float), {"units": "Year"})})
    ds.attrs.update(attrs)
    return ds


def target_attainment(ds: xr.Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    """Every plan target with the projected value in its year and whether it is met."""
    rows = []
    for t in targets.itertuples(index=False):
        variable = t.model_variable if isinstance(t.model_variable, str) else ""
        modelled = bool(variable) and t.region == "Guangzhou" and variable in ds
        projected = value_at_year_end(ds, variable, int(t.year)) if modelled else float("nan")
        if not modelled:
            met = "not modelled"
        elif np.isnan(projected):
            met = "outside run"
        else:
            met = str(projected >= t.value if t.direction == "at_least" else projected <= t.value)
        rows.append({"indicator": t.indicator, "year": int(t.year), "region": t.region, "target": t.value,
                     "direction": t.direction, "unit": t.unit, "model_variable": variable,
                     "projected": projected, "met": met, "plan": t.plan, "source": t.source})
    return pd.DataFrame(rows)


