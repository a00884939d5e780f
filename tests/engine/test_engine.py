"""Engine properties: convergence order, ensemble == single runs, on-disk cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model import compile_model
from model.errors import ModelError
from tests.engine import sdmodels as S

MODELS = Path(__file__).parent / "models"


@pytest.fixture(scope="module")
def decay():
    return compile_model(MODELS / "exponential_decay.mdl")


def _error_at_final_time(model, dt, method):
    df = model.run({"TIME STEP": dt}, return_columns=["Amount"], method=method)
    return abs(df["Amount"].iloc[-1] - np.exp(-1.0))


@pytest.mark.parametrize("method, order, steps", [("euler", 1, [0.1, 0.05, 0.025]),
                                                  ("rk4", 4, [0.125, 0.0625, 0.03125])])
def test_order_of_convergence(decay, method, order, steps):
    errors = [_error_at_final_time(decay, dt, method) for dt in steps]
    observed = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # halving dt divides the error by 2**order, up to higher-order terms
    assert np.allclose(observed, order, atol=0.1), observed


def test_euler_matches_closed_form_recurrence(decay):
    # Euler on dA/dt = -A is exactly A_n = (1 - dt)^n
    df = decay.run({"TIME STEP": 0.1})
    n = np.arange(len(df))
    assert np.allclose(df["Amount"].to_numpy(), 0.9 ** n, rtol=1e-13)


@pytest.fixture(scope="module")
def pipeline():
    return compile_model(S.model_file("delay_pipeline"))


def test_ensemble_equals_single_runs(pipeline):
    params = pipeline.parameters
    varied = [n for n in params.index if n not in
              ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")]
    rng = np.random.default_rng(3)
    table = pd.DataFrame({n: params.loc[n, "default"] * rng.uniform(0.8, 1.2, 7)
                          for n in varied})
    ds = pipeline.run_ensemble(table)
    assert ds.sizes == {"run": 7, "time": len(pipeline.run())}
    for i in range(len(table)):
        single = pipeline.run(table.iloc[i].to_dict())
        for col in single.columns:
            assert np.array_equal(ds[col].values[i], single[col].to_numpy()), col


def test_ensemble_rk4_and_column_selection(pipeline):
    table = pd.DataFrame({"delay": [3.0, 4.0]}) if "delay" in pipeline.parameters.index \
        else pd.DataFrame(index=range(2))
    cols = pipeline.columns[:2]
    ds = pipeline.run_ensemble(table, return_columns=cols, method="rk4")
    assert list(ds.data_vars) == cols
    single = pipeline.run(table.iloc[1].to_dict(), return_columns=cols, method="rk4")
    assert np.array_equal(ds[cols[0]].values[1], single[cols[0]].to_numpy())


def test_unknown_names_raise_model_error(decay):
    with pytest.raises(ModelError, match="did you mean 'decay rate'"):
        decay.run({"decay rat": 1.0})
    with pytest.raises(ModelError, match="unknown variable"):
        decay.run(return_columns=["Amountt"])


def test_python_safe_names_are_accepted(decay):
    a = decay.run({"decay_rate": 2.0})
    b = decay.run({"decay rate": 2.0})
    assert a.equals(b)


def test_cache_reuse_and_invalidation(tmp_path, monkeypatch):
    from model import runtime
    monkeypatch.setenv("INNOSD_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "decay.mdl"
    shutil.copy(MODELS / "exponential_decay.mdl", f)
    first = compile_model(f)
    assert not first.from_cache
    runtime._loaded.clear()                  # a new process: only the disk cache is left
    second = compile_model(f)
    assert second.from_cache
    assert second.run().equals(first.run())
    f.write_text(f.read_text().replace("decay rate =\n\t1", "decay rate =\n\t2"))
    runtime._loaded.clear()
    third = compile_model(f)
    assert not third.from_cache              # changed content -> recompiled
    assert third.parameters.loc["decay rate", "default"] == 2.0


def test_unsupported_construct_names_construct_and_variable():
    with pytest.raises(ModelError, match=r"MACRO.*--backend pysd"):
        compile_model(S.model_file("macro_stock"))
