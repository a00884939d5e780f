"""model.results: the one year-end rule (year Y is the state at t = Y + 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from innosd.model import compile_model
from innosd.model.results import value_at_year_end, year_end, year_end_index, year_end_time, year_of_time

from innosd.errors import ModelError

TIMES = [2015.0, 2015.5, 2016.0, 2016.5, 2017.0]


@pytest.fixture
def runs():
    values = np.arange(10.0).reshape(2, 5)
    return xr.Dataset({"stock": (("run", "time"), values)}, coords={"run": [0, 1], "time": TIMES})


def test_year_y_is_the_state_at_y_plus_one():
    assert year_end_time(2025) == 2026.0
    assert year_of_time(2026.0) == 2025
    np.testing.assert_array_equal(year_end_time([2014, 2015]), [2015.0, 2016.0])
    np.testing.assert_array_equal(year_end_index(TIMES, [2014, 2016]), [0, 4])


def test_year_end_of_a_dataset_has_a_year_axis(runs):
    picked = year_end(runs)
    assert list(picked["year"].values) == [2014, 2015, 2016]
    np.testing.assert_array_equal(picked["stock"].values, [[0, 2, 4], [5, 7, 9]])


def test_year_end_of_a_frame_is_indexed_by_year(runs):
    frame = runs.isel(run=1).to_dataframe()[["stock"]]
    picked = year_end(frame, [2015])
    assert picked.index.name == "year" and picked.loc[2015, "stock"] == 7.0


def test_missing_year_end_raise_nan_or_drop(runs):
    with pytest.raises(ModelError, match=r"year 2030: its year end \(t = 2031\) is not a saved time"):
        year_end(runs, [2030])
    assert np.isnan(year_end(runs["stock"], [2014, 2030], missing="nan").values[:, 1]).all()
    assert list(year_end(runs, [2014, 2030], missing="drop")["year"].values) == [2014]
    assert np.isnan(value_at_year_end(runs.isel(run=0), "stock", 2030))
    assert np.isnan(value_at_year_end(runs.isel(run=0), "no such variable", 2014))
    assert value_at_year_end(runs.isel(run=0), "stock", 2015) == 2.0


def test_half_year_times_are_not_year_ends():
    series = year_end(pd.Series([1.0, 2.0, 3.0], index=pd.Index([2015.5, 2016.0, 2016.5], name="time")))
    assert list(series.index) == [2015]


def test_year_of_a_time_inside_a_year_is_that_year():
    np.testing.assert_array_equal(year_of_time([2015.0, 2015.5, 2016.0]), [2014, 2015, 2015])


def test_run_ensemble_carries_the_year_coordinate():
    model = compile_model(Path(__file__).parent / "models" / "exponential_decay.mdl")
    ds = model.run_ensemble(pd.DataFrame({"decay rate": [0.5, 1.0]}))
    assert ds["year"].dims == ("time",)
    np.testing.assert_array_equal(ds["year"].values, year_of_time(ds["time"].values))
    whole = year_end(ds)
    np.testing.assert_array_equal(whole["year"].values, year_of_time(ds["time"].values[
        np.isclose(ds["time"].values, np.round(ds["time"].values))]))
