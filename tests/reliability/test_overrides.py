"""Strict values (issue 17, cases 3, 9, 10): every number finite and in range, every count
within its limit and the count used the count recorded, run windows validated, sweeps
without repeated jobs, experiment settings checked before any stage runs."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innosd.errors import ConfigError
from innosd.experiments import ensemble as ens
from innosd.experiments import sensitivity
from innosd.experiments.calibrate import compose_raw
from innosd.model import MODEL_FILE
from innosd.model.info import model_info
from innosd.scenarios import build, compose
from innosd.scenarios.schema import CalibrateSchema, experiment_settings, typed

INFO = model_info(MODEL_FILE)
CONTROL = {"INITIAL_TIME": 2010.0, "FINAL_TIME": 2036.0, "TIME_STEP": 0.0625, "SAVEPER": 0.25}


def config_error(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as err:
        build.compose_run_config(overrides, INFO)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("override, fragment", [
    ("params.TIME_STEP=inf", "not a finite number"),        # was an OverflowError traceback
    ("params.FINAL_TIME=3000", "at most 100"),              # was accepted: HTEs 9.8e23
    ("params.FINAL_TIME=2000", "leaves no step"),           # was a one-point run with a full report
    ("params.TIME_STEP=1e-9", "steps"),                     # 2.6e10 steps
    ("params.SAVEPER=0.01", "SAVEPER"),                     # saved more often than it steps
    ("run.output_dir=", "empty"),                           # was written into the working directory
])
def test_bad_values_are_one_line(override, fragment):
    assert fragment in config_error(["uncertainty.mode=none", override])


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**5, 10**5))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(CONTROL)), finite_or_not, min_size=1, max_size=4))
def test_any_run_window_is_checked_or_valid(window):
    overrides = ["uncertainty.mode=none", *(f"params.{k}={v!r}" for k, v in window.items())]
    try:
        config = build.compose_run_config(overrides, INFO)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    value = {**CONTROL, **{k.replace(" ", "_"): v for k, v in
                           ((c, config.params[c]) for c in config.params)}}
    start, final, step = value["INITIAL_TIME"], value["FINAL_TIME"], value["TIME_STEP"]
    assert all(math.isfinite(v) for v in value.values())
    assert step > 0 and start + step <= final <= start + build.MAX_HORIZON_YEARS


def test_more_draws_than_the_file_holds_is_refused():
    config = build.compose_run_config(["uncertainty.draws=100000"], INFO)  # the shipped set holds 1,000
    with pytest.raises(ConfigError, match="uncertainty.draws: 100000 draws asked for"):
        ens.posterior_draws(config)


def test_a_sweep_with_a_repeated_value_is_refused():
    with compose.hydra_app() as app, pytest.raises(ConfigError, match="swept twice"):
        compose.sweep_jobs(app, ["scenario=baseline,baseline"], multirun=True)


@pytest.mark.parametrize("levels", [0, 1, -2, 3])
def test_morris_levels_are_checked_before_any_stage(levels):
    raw = compose.check_yaml(compose.CONFIG_DIR / "experiment" / "sensitivity.yaml")
    settings_ = experiment_settings({**raw, "morris_levels": levels})
    with pytest.raises(ConfigError, match="experiment.morris_levels"):
        sensitivity.check_settings(settings_)


@pytest.mark.parametrize("value", ["no", "off", "n", "maybe"])
def test_handoff_write_takes_only_yaml_booleans(value):
    """Held on main before this suite (typed() is strict); kept as a regression test."""
    raw, _ = compose_raw([f"handoff.write={value}"])
    with pytest.raises(ConfigError, match="handoff.write"):
        typed(CalibrateSchema, raw, "")
