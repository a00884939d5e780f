"""Tier 3: `innosd calibrate` on a user's own model and data (the README's teacup example):
synthetic readings made by the model itself (calibration/examples/teacup/make_observations.py)
are calibrated from the command line, and the 90% intervals contain the values they were made
with; bad user input gives one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from innosd.experiments.cli import main as cli_main

EXAMPLE = Path(__file__).resolve().parents[2] / "calibration" / "examples" / "teacup"
TRUTH = {"Characteristic Time": 14.0, "Room Temperature": 68.0}  # as in make_observations.py
COMMAND = ["calibrate", "calibration=model_file", f"calibration.model={EXAMPLE / 'teacup.mdl'}",
           f"calibration.observations_file={EXAMPLE / 'observations.csv'}"]


def test_teacup_recovers_the_values_its_data_were_made_with(tmp_path, capsys):
    code = cli_main([*COMMAND, f"hydra.run.dir={tmp_path / 'tea'}", "handoff.write=false", "run.progress=false",
                     "run.figures=false"])
    assert code == 0, capsys.readouterr().err
    parameters = pd.read_csv(tmp_path / "tea" / "parameters.csv").set_index("parameter")
    assert set(parameters.index) == set(TRUTH)  # both come from the .mdl's free-parameter marker
    for name, value in TRUTH.items():
        assert parameters.loc[name, "p05"] <= value <= parameters.loc[name, "p95"], parameters.loc[name]
    assert "**Converged**" in (tmp_path / "tea" / "summary.md").read_text(encoding="utf-8")
    fit = pd.read_csv(tmp_path / "tea" / "fit.csv")
    assert fit["year"].isna().all() and fit["time"].tolist() == sorted(fit["time"])  # compared at model times


@pytest.mark.parametrize("extra, message", [
    ([], None),
    (["calibration.free=[TIME_STEP]"], "declares no finite range"),
])
def test_user_model_errors_are_one_line(tmp_path, capsys, extra, message):
    if message is None:  # the group without its two paths
        code = cli_main(["calibrate", "calibration=model_file", f"run.output_dir={tmp_path}"])
        message = "calibration.model=PATH.mdl"
    else:
        code = cli_main([*COMMAND, *extra, f"run.output_dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not any(tmp_path.iterdir())


def test_user_observations_file_defects_name_the_line(tmp_path, capsys):
    bad = tmp_path / "obs.csv"
    bad.write_text("variable,time,value,sigma\nTeacup Temperature,2,hot,0.01\n", encoding="utf-8")
    code = cli_main(["calibrate", "calibration=model_file", f"calibration.model={EXAMPLE / 'teacup.mdl'}",
                     f"calibration.observations_file={bad}", f"run.output_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "line 2, column 'value'" in err
