"""The validation battery: the project model passes it (so CI fails if it stops
passing), the units algebra catches a wrong equation and names the term, a violated
reality check fails the battery, and the mass-balance check catches a leak."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from innosd.experiments.cli import main as cli_main
from innosd.model import validation as V
from innosd.model.units import DMNL, Units, check_model_units, parse_units

from innosd.errors import ModelError

MODELS = Path(__file__).parent / "models"
TESTS = ["dimensional consistency", "mass balance", "extreme conditions", "reality checks",
         "integration error", "behaviour reproduction", "sensitivity of conclusions"]


def _table(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "validation.csv").set_index("test")


# ------------------------------------------------------------------ the project model

def test_project_model_passes_the_battery(tmp_path, capsys):
    out = tmp_path / "validation"
    assert cli_main(["validate", "--out", str(out)]) == 0
    table = _table(out)
    assert list(table.index) == TESTS
    assert set(table["result"]) <= {V.PASS, V.WARN}
    for test in ("mass balance", "reality checks", "integration error"):
        assert table.loc[test, "result"] == V.PASS, table.loc[test, "evidence"]
    assert "| test | checks | result | evidence |" in (out / "validation.md").read_text()
    meta = json.loads((out / "metadata.json").read_text())
    assert {"git_commit", "package_versions", "model_sha256", "seed", "command"} <= set(meta)
    assert (out / "config.yaml").is_file() and (out / "fit_statistics.csv").is_file()
    printed = capsys.readouterr()
    assert "| mass balance |" in printed.out and str(out) in printed.err


def test_conclusions_use_posterior_draws_when_they_exist(tmp_path):
    from innosd.calibration.handoff import ParameterSet, write_parameter_set
    rng = np.random.default_rng(0)
    draws = pd.DataFrame({"tech firm birth base": rng.normal(14000, 1000, 30),
                          "rd adjustment time": rng.uniform(3, 6, 30)})
    write_parameter_set(ParameterSet("calibrated", {"tech firm birth base": 14000.0, "rd adjustment time": 4.46},
                                     "posterior median"), draws, tmp_path / "params")
    out = tmp_path / "validation"
    assert cli_main(["validate", "--out", str(out), "--params-dir", str(tmp_path / "params"),
                     "--draws", "20"]) == 0
    row = _table(out).loc["sensitivity of conclusions"]
    assert "20 posterior draws of 'calibrated'" in row["evidence"]
    conclusions = pd.read_csv(out / "conclusions.csv")
    assert len(conclusions) > 0 and conclusions["agreement"].between(0, 1).all()
    assert "parameter set 'calibrated'" in _table(out).loc["behaviour reproduction", "evidence"]


def test_existing_output_folder_is_a_one_line_error(tmp_path, capsys):
    assert cli_main(["validate", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "\n" not in err


# ------------------------------------------------------------------ units algebra

@pytest.mark.parametrize("text, expected", [
    ("Dmnl", DMNL),
    ("1/Year", Units.base("Year") ** -1),
    ("firm/(Year*space)", Units.base("firm") / (Units.base("Year") * Units.base("space"))),
    ("100 million yuan/Year", Units.base("100 million yuan") / Units.base("Year")),
    ("m^2", Units.base("m") ** 2),
    ("Years", Units.base("Year")),
])
def test_unit_strings_parse(text, expected):
    assert parse_units(text) == expected


def test_malformed_unit_string_is_a_model_error():
    with pytest.raises(ModelError, match="firm/"):
        parse_units("firm/")


# The control variables every tiny test model ends with (one year, quarter-year steps).
CONTROL_SECTION = """INITIAL TIME = 0
\t~\tYear
\t~\tStart.
\t|
FINAL TIME = 1
\t~\tYear
\t~\tEnd.
\t|
TIME STEP = 0.25
\t~\tYear
\t~\tStep.
\t|
SAVEPER = TIME STEP
\t~\tYear
\t~\tOutput.
\t|
"""

WRONG_UNITS = """{UTF-8}
firms = INTEG(births - exits, 100)
\t~\tfirm
\t~\tStock.
\t|
births = birth rate * firms
\t~\tfirm/Year
\t~\tConsistent.
\t|
birth rate = 0.1
\t~\t1/Year
\t~\tRate.
\t|
exits = births + firms
\t~\tfirm/Year
\t~\tWrong: adds a stock to a flow.
\t|
leak = firms
\t~\tfirm/Year
\t~\tWrong: a stock declared as a flow.
\t|
growth = firms ^ birth rate
\t~\tfirm
\t~\tWrong: the exponent has units.
\t|
per year = firms / 3
\t~\tfirm/Year
\t~\tOnly consistent if 3 is in Year.
\t|
""" + CONTROL_SECTION


def test_wrong_units_fail_and_name_the_first_bad_term(tmp_path):
    path = tmp_path / "wrong_units.mdl"
    path.write_text(WRONG_UNITS)
    by_name = {e.variable: e for e in check_model_units(path)}
    assert by_name["births"].result == "pass" and by_name["firms"].result == "pass"
    assert by_name["exits"].result == "fail"
    assert "term `firms` has units firm, expected firm/Year" in by_name["exits"].problem
    assert by_name["leak"].result == "fail" and "`firms` has units firm" in by_name["leak"].problem
    assert by_name["growth"].result == "fail" and "`birth rate`" in by_name["growth"].problem
    assert by_name["per year"].result == "warn" and "`firms / 3`" in by_name["per year"].problem
    assert V.units_check(list(by_name.values())).result == V.FAIL


def test_project_model_has_no_units_errors():
    from innosd.model import MODEL_FILE
    results = check_model_units(MODEL_FILE)
    assert len(results) > 200
    assert not [e for e in results if e.result == "fail"]


# ------------------------------------------------------------------ reality checks

def test_violated_reality_check_fails_the_battery(tmp_path, capsys):
    model_dir = tmp_path / "model"
    shutil.copytree(MODELS / "reality", model_dir)
    out = tmp_path / "validation"
    assert cli_main(["validate", str(model_dir / "incubation.mdl"), "--out", str(out)]) == 1
    table = _table(out)
    assert table.loc["reality checks", "result"] == V.FAIL
    assert "zero incubators -> no graduates: graduations max |value|" in table.loc["reality checks", "evidence"]
    assert table.loc["dimensional consistency", "result"] == V.PASS
    assert table.loc["extreme conditions", "result"] == V.PASS  # its directional expectation holds
    assert "fail" in capsys.readouterr().err


def test_reality_check_file_errors_name_the_key(tmp_path):
    path = tmp_path / "reality_checks.yaml"
    path.write_text("reality_checks:\n  - name: x\n    set: {opening rat: 0}\n"
                    "    expect: [{variable: graduations, is: zero, from: 0, to: 1}]\n")
    with pytest.raises(ModelError) as err:
        V.load_reality_checks(path, ["opening rate"], ["graduations"])
    assert "reality_checks[0].set" in str(err.value) and "did you mean 'opening rate'" in str(err.value)
    path.write_text("reality_checks:\n  - name: x\n    expect: [{variable: graduations, is: rises, from: 0, to: 1}]\n")
    with pytest.raises(ModelError, match=r"expect\[0\]\.is: 'rises' is not one of"):
        V.load_reality_checks(path, ["opening rate"], ["graduations"])


def test_expectations_can_fail():
    times = np.arange(0, 3.0, 0.5)
    run = pd.DataFrame({"x": [0, 0, 1e-3, 0, 0, 0], "y": [5, 4, 4.5, 3, 2, 1]}, index=times)
    base = pd.DataFrame({"x": [0.0] * 6, "y": [5, 4, 4, 4, 4, 4]}, index=times)
    assert not V.expectation_holds(V.Expectation("x", "zero", 0, 3), run, base)[0]
    assert V.expectation_holds(V.Expectation("y", "falls", 0, 3), run, base)[0]
    assert not V.expectation_holds(V.Expectation("y", "not_increasing", 0, 3), run, base)[0]
    assert not V.expectation_holds(V.Expectation("y", "below_baseline", 0.5, 3), run, base)[0]
    assert V.expectation_holds(V.Expectation("y", "below_baseline", 1.5, 3), run, base)[0]


# ------------------------------------------------------------------ mass balance, fit

def test_mass_balance_catches_a_leak():
    from innosd.model import compile_model
    from innosd.model.abstract import parse
    path = MODELS / "reality" / "incubation.mdl"
    frame = compile_model(path).run({"SAVEPER": 0.25})
    flows = V.stock_flows(parse(path))
    assert V.mass_balance_check(V.mass_balance_errors(frame, flows, 0.25)).result == V.PASS
    leaky = frame.copy()
    leaky.loc[leaky.index[10]:, "incubated firms"] += 0.01  # firms appearing from nowhere
    check = V.mass_balance_check(V.mass_balance_errors(leaky, flows, 0.25))
    assert check.result == V.FAIL and "out of balance: incubated firms" in check.evidence


def test_theil_components_sum_to_one_and_attribute_bias():
    observed = np.array([10.0, 12.0, 15.0, 19.0])
    parts = V.theil_decomposition(observed + 2.0, observed)
    assert parts["U_M"] == pytest.approx(1.0) and parts["U_S"] == pytest.approx(0.0, abs=1e-12)
    noisy = V.theil_decomposition(observed * 1.3 + np.array([1, -1, 2, 0]), observed)
    assert noisy["U_M"] + noisy["U_S"] + noisy["U_C"] == pytest.approx(1.0)
    assert V.mape([11, 9], [10, 10]) == pytest.approx(0.1)


def test_ranking_agreement_counts_sign_flips():
    assert V.ranking_agreement(2.0, [1.0, 3.0, -0.5, 4.0]) == pytest.approx(0.75)


@pytest.mark.parametrize("args, fragment", [
    (["--colour", "red"], "unrecognized arguments"),
    (["no/such/model.mdl"], "model file not found"),
    (["--draws", "0"], "--draws must be at least 1"),
    (["--draws", "many"], "invalid int value"),
    (["--params", "nosuchset"], "no such parameter set"),
])
def test_bad_arguments_are_one_line_errors(args, fragment, tmp_path, capsys):
    assert cli_main(["validate", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


BUILTINS = """{UTF-8}
firms = INTEG(births, 100)
\t~\tfirm
\t~\tStock.
\t|
births = 10
\t~\tfirm/Year
\t~\tFlow.
\t|
smoothed births = SMOOTH(births, adjustment time)
\t~\tfirm/Year
\t~\tConsistent: the smoothing time is in Year.
\t|
adjustment time = 2
\t~\tYear
\t~\tTime constant.
\t|
bad smooth = SMOOTH(births, firms)
\t~\tfirm/Year
\t~\tWrong: a smoothing time in firms.
\t|
delayed births = DELAY FIXED(births, 1, births)
\t~\tfirm/Year
\t~\tConsistent: the delay time 1 takes Year.
\t|
bad delay = DELAY FIXED(births, 1, firms)
\t~\tfirm/Year
\t~\tWrong: the initial value is a stock.
\t|
effect lookup((0,1),(1,2))
\t~\tDmnl
\t~\tA lookup.
\t|
effect = effect lookup(firms / 100)
\t~\tDmnl
\t~\tConsistent only if 100 is in firm: a number carries units.
\t|
bad effect = effect lookup(firms / firm scale * adjustment time)
\t~\tDmnl
\t~\tWrong: the lookup input is in Year.
\t|
firm scale = 100
\t~\tfirm
\t~\tScale.
\t|
capped = MIN(births, IF THEN ELSE(firms > 50, births, 0))
\t~\tfirm/Year
\t~\tConsistent: both branches and MIN in firm/Year; 0 takes any units.
\t|
bad capped = MAX(births, firms)
\t~\tfirm/Year
\t~\tWrong: MAX of a flow and a stock.
\t|
""" + CONTROL_SECTION


def test_builtins_follow_their_units_rules(tmp_path):
    path = tmp_path / "builtins.mdl"
    path.write_text(BUILTINS)
    by_name = {e.variable: e for e in check_model_units(path)}
    for ok in ("firms", "smoothed births", "delayed births", "capped", "effect lookup"):
        assert by_name[ok].result == "pass", by_name[ok]
    assert by_name["effect"].result == "warn"
    assert "`firms` has units firm, expected Year (a smoothing time is in Year)" in by_name["bad smooth"].problem
    assert "`firms` has units firm, expected firm/Year" in by_name["bad delay"].problem
    assert "expected Dmnl (a lookup takes a Dmnl input)" in by_name["bad effect"].problem
    assert "`firms` has units firm, expected firm/Year (the arguments of MAX" in by_name["bad capped"].problem
    assert {by_name[b].result for b in ("bad smooth", "bad delay", "bad effect", "bad capped")} == {"fail"}


def test_scenario_agreements_read_the_ensemble_layout():
    # point runs: baseline 10, A 12 (material), B 10.000001 (immaterial); then 4 draws of each
    values = np.array([10, 12, 10.000001,  9, 10, 11, 12,  10, 12, 10, 13,  9, 10, 11, 12])
    rows = V.scenario_agreements(values, ["baseline", "A", "B"], 4, material=1e-3)
    assert rows == [("A", 2.0, 0.75)]  # A - baseline per draw: +1, +2, -1, +1


def test_reality_check_evidence_shows_what_held_or_only_what_was_violated():
    expect = (V.Expectation("x", "zero", 0, 1),)
    a, b = V.RealityCheck("a", "", {}, expect), V.RealityCheck("b", "", {}, expect)
    held = V.reality_checks_check([(a, [(True, "x max 0")])], "f.yaml")
    assert held.result == V.PASS and held.evidence == "1/1 checks hold (f.yaml): a: x max 0"
    broken = V.reality_checks_check([(a, [(True, "x max 0")]), (b, [(False, "x max 3")])], "f.yaml")
    assert broken.result == V.FAIL and broken.evidence == "1/2 checks hold (f.yaml); violated: b: x max 3"
