"""The calibration -> runs hand-off files: round trip, deterministic subsampling, bad input."""

import pandas as pd
import pytest
from innosd.calibration.handoff import ParameterSet, load_parameter_set, load_posterior_draws, write_parameter_set

from innosd.errors import DataError


@pytest.fixture()
def written(tmp_path):
    draws = pd.DataFrame({"hte exit rate": [0.04, 0.05, 0.06, 0.07], "rd per hte": [0.02, 0.03, 0.04, 0.05]})
    write_parameter_set(ParameterSet("calibrated", {"hte exit rate": 0.055}, "posterior median",
                                     source={"seed": 0}), draws, tmp_path)
    return tmp_path, draws


def test_round_trip_keeps_values_and_source(written):
    folder, draws = written
    ps = load_parameter_set("calibrated", folder)
    assert ps.params == {"hte exit rate": 0.055} and ps.source == {"seed": 0}
    pd.testing.assert_frame_equal(load_posterior_draws(ps, folder).reset_index(drop=True), draws)


def test_same_seed_same_draws_and_no_reuse(written):
    folder, _ = written
    ps = load_parameter_set("calibrated", folder)
    first, again = (load_posterior_draws(ps, folder, n=3, seed=7) for _ in range(2))
    pd.testing.assert_frame_equal(first, again)
    assert first["hte exit rate"].is_unique  # drawn without replacement
    with pytest.raises(DataError, match="4"):
        load_posterior_draws(ps, folder, n=5)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_is_one_line(written, seed):
    folder, _ = written
    with pytest.raises(DataError, match="non-negative integer"):
        load_posterior_draws(load_parameter_set("calibrated", folder), folder, n=2, seed=seed)


def test_unknown_set_names_the_valid_ones(written):
    folder, _ = written
    with pytest.raises(DataError, match="valid sets: calibrated"):
        load_parameter_set("calibratd", folder)
