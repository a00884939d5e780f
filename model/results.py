"""The one year-end rule: calendar year Y is reported as the model state at t = Y + 1.

The model's time is in years with t = Y at 1 January of year Y, so the value "for 2025"
(a stock at the end of 2025) is the state at t = 2026 (model brief section 1). Every
module that turns model times into calendar years, or years into times, calls this one:

    year_end_time(2025)                  -> 2026.0
    year_of_time(2026.0)                 -> 2025 (and 2025.5 -> 2025: year Y covers (Y, Y + 1])
    year_end_index(ds["time"], [2020])   -> positions of the year ends in the saved times
    year_end(ds, [2020, 2025])           -> the Dataset / DataArray / frame at those year ends,
                                            indexed by `year`
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from innosd.errors import ModelError

YEAR_END_OFFSET = 1.0  # year Y ends at t = Y + 1
# Saved times are exact binary fractions of the TIME STEP (or integers), so matching a
# year end only has to absorb float formatting, never a real offset.
TIME_MATCH_TOLERANCE = 1e-9
MISSING_CHOICES = ("raise", "nan", "drop")


def year_end_time(years):
    """The model time at which calendar year(s) `years` end: Y + 1 (a float or an array)."""
    if np.ndim(years) == 0:
        return float(years) + YEAR_END_OFFSET
    return np.asarray(years, dtype=float) + YEAR_END_OFFSET


def year_of_time(times):
    """The calendar year a model time belongs to: year Y covers (Y, Y + 1], so a whole
    time Y + 1 is the end of year Y and a time inside year Y (e.g. Y + 0.5) is year Y.
    An int, or an int array."""
    year = np.ceil(np.asarray(times, dtype=float) - TIME_MATCH_TOLERANCE) - YEAR_END_OFFSET
    return int(year) if np.ndim(times) == 0 else year.astype(int)


def saved_years(times) -> np.ndarray:
    """Every calendar year whose year end is one of the saved `times`, in time order."""
    times = np.asarray(times, dtype=float)
    whole = np.abs(times - np.rint(times)) < TIME_MATCH_TOLERANCE
    return year_of_time(times[whole])


def time_index(times, wanted, missing: str = "raise", what: str = "time") -> np.ndarray:
    """Positions of the model times `wanted` among the saved `times` (-1 where not saved
    with missing='nan'/'drop'; a one-line ModelError with missing='raise')."""
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing={missing!r}; choose one of {', '.join(MISSING_CHOICES)}")
    times = np.asarray(times, dtype=float)
    wanted = np.atleast_1d(np.asarray(wanted, dtype=float))
    match = np.abs(times[None, :] - wanted[:, None]) < TIME_MATCH_TOLERANCE
    found = match.any(axis=1)
    index = np.where(found, match.argmax(axis=1), -1)
    if missing == "raise" and not found.all():
        t = float(wanted[~found][0])
        span = f"{times[0]:g}..{times[-1]:g}" if times.size else "none"
        raise ModelError(f"{what} {t:g} is not a saved time of the model run (saved {span}; "
                         "check SAVEPER and the run's INITIAL/FINAL TIME)")
    return index


def year_end_index(times, years, missing: str = "raise") -> np.ndarray:
    """Positions of the year ends of `years` among the saved `times` (see time_index)."""
    years = np.atleast_1d(np.asarray(years))
    index = time_index(times, year_end_time(years), "nan" if missing == "raise" else missing)
    if missing == "raise" and (index < 0).any():
        year = int(years[index < 0][0])
        times = np.asarray(times, dtype=float)
        span = f"{times[0]:g}..{times[-1]:g}" if times.size else "none"
        raise ModelError(f"year {year}: its year end (t = {year_end_time(year):g}) is not a "
                         f"saved time of the model run (saved {span})")
    return index


def year_end(data, years=None, missing: str = "raise"):
    """`data` at the year ends of `years` (default: every year whose end is saved), with
    `time` replaced by a `year` axis.

    data: an xarray Dataset/DataArray with a `time` dimension, or a pandas DataFrame/Series
    indexed by time (as `CompiledModel.run` returns). missing: 'raise' (one-line error),
    'nan' (NaN where a year end is not saved) or 'drop' (leave those years out)."""
    is_xarray = isinstance(data, (xr.Dataset, xr.DataArray))
    if not is_xarray and not isinstance(data, (pd.DataFrame, pd.Series)):
        raise TypeError(f"year_end: expected an xarray or pandas object indexed by time, "
                        f"got {type(data).__name__}")
    times = data["time"].to_numpy() if is_xarray else data.index.to_numpy(dtype=float)
    years = saved_years(times) if years is None else np.atleast_1d(np.asarray(years)).astype(int)
    index = year_end_index(times, years, missing)
    if missing == "drop":
        years, index = years[index >= 0], index[index >= 0]
    if is_xarray:
        picked = data.isel(time=np.maximum(index, 0))
        if (index < 0).any():
            picked = picked.where(xr.DataArray(index >= 0, dims="time"))
        return picked.assign_coords(year=("time", years)).swap_dims(time="year").drop_vars("time")
    picked = data.iloc[np.maximum(index, 0)].copy()
    if (index < 0).any():
        picked[index < 0] = np.nan
    picked.index = pd.Index(years, name="year")
    return picked


def value_at_year_end(data, variable: str, year: int) -> float:
    """One variable's year-end value of one year; NaN if the variable or the year end is
    not saved (a target outside the run is reported, not an error)."""
    if variable not in (data.data_vars if isinstance(data, xr.Dataset) else data.columns):
        return float("nan")
    return float(np.asarray(year_end(data[variable], [year], missing="nan"))[0])
