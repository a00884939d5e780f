"""`innosd validate` on models nobody on this project wrote: no false failures.

The model `models/minutes_saveper.mdl` is written the way community models are: time in
Minutes, units in singular and plural spellings, SAVEPER = TIME STEP, no lever or free
parameter (so the extreme-conditions check has nothing to run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from innosd.experiments.validate import check_mass_balance
from innosd.model import compile_model
from innosd.model import validation as V
from innosd.model.abstract import parse
from innosd.model.units import check_model_units, model_time_units, parse_units

MODEL = Path(__file__).parent / "models" / "minutes_saveper.mdl"
SUITE = Path(__file__).resolve().parents[1] / "sd-test-models"


@pytest.mark.parametrize("one, other", [("Minute", "Minutes"), ("Ghectare", "Ghectares"),
                                        ("Person/Minute", "Persons/Minutes"),
                                        ("Degrees Fahrenheit/Minutes", "Degrees Fahrenheit/Minute")])
def test_plural_and_singular_are_one_unit(one, other):
    assert parse_units(one) == parse_units(other)


def test_words_ending_in_ss_are_not_plurals():
    assert parse_units("Mass") != parse_units("Mas")


def test_time_unit_is_the_models_own():
    declared = {"time_step": parse_units("Minute")}
    assert model_time_units(declared) == parse_units("Minutes")
    assert model_time_units({}) == parse_units("Year")  # the project model's
    results = check_model_units(MODEL)
    assert {e.result for e in results} == {"pass"}, [e for e in results if e.result != "pass"]


def test_teacup_has_no_false_units_failure():
    # time in Minutes (TIME STEP) and "Degrees Fahrenheit/Minute" flows
    results = check_model_units(SUITE / "samples/teacup/teacup.mdl")
    assert {e.result for e in results} == {"pass"}, [e for e in results if e.result != "pass"]


def test_mass_balance_runs_when_saveper_is_time_step():
    model = compile_model(MODEL)
    result, errors = check_mass_balance(model, parse(MODEL), {})
    assert result.result == V.PASS, result.evidence
    assert len(errors) > 0


def test_extreme_conditions_with_nothing_to_run_is_not_run():
    cases = V.extreme_cases(pd.DataFrame(columns=["min", "max", "default", "kind"]))
    result = V.extreme_conditions_check(cases, [], [])
    assert result.result == V.NOT_RUN
    assert V.worst([V.PASS, V.NOT_RUN]) == V.PASS
    assert V.worst([V.NOT_RUN]) == V.NOT_RUN
    assert V.worst([V.NOT_RUN, V.FAIL]) == V.FAIL
