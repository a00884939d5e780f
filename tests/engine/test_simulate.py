"""`innosd simulate`: CSV output and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments import cli
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
    assert cli.main(["simulate", str(S.model_file("macro_stock"))]) == 2
    err = capsys.readouterr().err
    assert "MACRO" in err and "--backend pysd" in err and err.count("\n") == 1
