"""`innosd simulate`: CSV output and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from innosd.experiments import cli

from tests.engine import sdmodels as S

DECAY = Path(__file__).parent / "models" / "exponential_decay.mdl"


def test_simulate_writes_csv(tmp_path):
    out = tmp_path / "run.csv"
    assert cli.main(["simulate", str(DECAY), "--set", "decay rate=2", "--columns",
                     "Amount,decay", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["Time", "Amount", "decay"]
    assert df["Amount"].iloc[1] == pytest.approx(0.8)


@pytest.mark.parametrize("argv, message", [
    (["--set", "decay rat=2"], "did you mean 'decay rate'"),
    (["--columns", "Amountt"], "unknown variable"),
    (["--set", "decay rate"], "NAME=VALUE"),
])
def test_simulate_one_line_errors(argv, message, capsys):
    assert cli.main(["simulate", str(DECAY), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_simulate_unsupported_construct_suggests_pysd(capsys):
    assert cli.main(["simulate", str(S.model_file("data_from_other_model"))]) == 2
    err = capsys.readouterr().err
    assert "DATA from a data file" in err and "--backend pysd" in err and err.count("\n") == 1


def _broken(tmp_path, old, new):
    f = tmp_path / "broken.mdl"
    f.write_text(DECAY.read_text().replace(old, new))
    return f


@pytest.mark.parametrize("old, new, expected", [
    # construct, variable and the line of its definition; PySD runs it, so suggest it
    ("decay rate * Amount", "decay rate * Amount + GET TIME VALUE(2, 0, 1)",
     "broken.mdl:9: unsupported construct GET TIME VALUE other than (0, offset, 0) "
     "(relative to the current time, in units of Time) in variable 'decay'; run this model "
     "with --backend pysd"),
    ("decay rate * Amount", "decay rat * Amount",
     "broken.mdl:9: decay: reference to undefined variable 'decay_rat' (did you mean "
     "'decay rate'"),
    ("decay rate * Amount", "decay",
     "broken.mdl:9: circular definition (simultaneous equations): decay -> decay"),
    ("decay rate * Amount", "decay rate * (Amount", "line 10: cannot parse"),
])
def test_malformed_or_unsupported_model_names_file_line_and_variable(tmp_path, capsys, old,
                                                                      new, expected):
    assert cli.main(["simulate", str(_broken(tmp_path, old, new))]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err


@pytest.mark.parametrize("construct, refused", [
    # no documented semantics to implement them from (simlin, xmutil and PySD have none)
    ("SINTEG(decay rate * Amount, 1, 0, 1, :NA:, :NA:, :NA:)", "SINTEG"),
    ("DELAY MATERIAL(decay rate * Amount, 2, 0, 0)", "DELAY MATERIAL"),
    # relative to the initial time (PySD: "doesn't work as Vensim docs say"), and calendar
    # measures of the simulation time (PySD: not implemented; need Vensim's date settings)
    ("GET TIME VALUE(1, 0, 0)", "GET TIME VALUE other than (0, offset, 0)"),
    ("GET TIME VALUE(0, 0, 3)", "GET TIME VALUE other than (0, offset, 0)"),
])
def test_construct_pysd_lacks_too_is_refused_without_suggesting_pysd(tmp_path, capsys,
                                                                      construct, refused):
    import warnings

    import pysd
    f = _broken(tmp_path, "decay rate * Amount", construct)
    assert cli.main(["simulate", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"broken.mdl:9: unsupported construct {refused}" in err \
        and "in variable 'decay'; PySD 3.14 does not run it either" in err, err
    # the claim in the message: PySD refuses it too
    with warnings.catch_warnings(), pytest.raises(NotImplementedError):
        warnings.simplefilter("ignore")
        pysd.read_vensim(str(f)).run()
