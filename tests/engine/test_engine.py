"""Engine properties: convergence order, ensemble == single runs, on-disk cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from innosd.model import compile_model

from innosd.errors import ModelError
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


def test_run_memoises_the_grid_and_selection_not_the_result(decay):
    # run() keeps one time grid per distinct control value and one column index per
    # selection (model.runtime._time_grid, _selection): another FINAL TIME gets its own
    # grid, the default comes back unchanged, and each frame owns its axes and values
    first = decay.run()
    longer = decay.run({"FINAL TIME": 2 * first.index[-1]})
    assert len(longer) == 2 * len(first) - 1
    first.index.name = "renamed"
    first.columns.name = "renamed"
    first.iloc[:, :] = -1.0
    again = decay.run()
    assert again.index.name == "time" and again.columns.name is None
    np.testing.assert_array_equal(again.index, longer.index[:len(again)])
    assert (again.to_numpy() != -1.0).all()
    assert again.columns.dtype == pd.Index(list(decay.columns)).dtype


@pytest.fixture(scope="module")
def pipeline():
    return compile_model(S.model_file("delay_pipeline"))


def test_ensemble_equals_single_runs(pipeline):
    params = pipeline.parameters
    varied = [n for n in params.index if n not in
              ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")]
    rng = np.random.default_rng(3)
    # 19 members in batches of 10: full and partial struct-of-arrays blocks (CHUNK = 8),
    # and a second batch written at an offset; the delay times vary per member, so
    # DELAY FIXED pipes of different lengths share a block
    table = pd.DataFrame({n: params.loc[n, "default"] * rng.uniform(0.8, 1.2, 19)
                          for n in varied})
    ds = pipeline.run_ensemble(table, chunk_size=10)
    assert ds.sizes == {"run": 19, "time": len(pipeline.run())}
    for i in range(len(table)):
        single = pipeline.run(table.iloc[i].to_dict())
        for col in single.columns:
            assert np.array_equal(ds[col].values[i], single[col].to_numpy()), col


def test_ensemble_rk4_and_column_selection(pipeline):
    # per-member delay time (Fractional Multiple x TIME STEP) and initial value: both
    # selected outputs (2nd-order DELAY N) depend on them, so the members must differ
    table = pd.DataFrame({"Fractional Multiple": [2.5, 4.0], "Initial Value": [6.0, 3.0]})
    cols = ["Output Second Order Delay", "Output Second Order Delay with Modified Delay Time"]
    ds = pipeline.run_ensemble(table, return_columns=cols, method="rk4")
    assert list(ds.data_vars) == cols
    for col in cols:
        assert not np.array_equal(ds[col].values[0], ds[col].values[1]), col
    for member in range(len(table)):
        single = pipeline.run(table.iloc[member].to_dict(), return_columns=cols, method="rk4")
        for col in cols:
            assert np.array_equal(ds[col].values[member], single[col].to_numpy()), (member, col)


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
    from innosd.model.compiler import driver
    monkeypatch.setenv("INNOSD_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "decay.mdl"
    shutil.copy(MODELS / "exponential_decay.mdl", f)
    first = compile_model(f)
    assert not first.from_cache
    driver._loaded.clear()                  # a new process: only the disk cache is left
    second = compile_model(f)
    assert second.from_cache
    assert second.run().equals(first.run())
    f.write_text(f.read_text().replace("decay rate =\n\t1", "decay rate =\n\t2"))
    driver._loaded.clear()
    third = compile_model(f)
    assert not third.from_cache              # changed content -> recompiled
    assert third.parameters.loc["decay rate", "default"] == 2.0


def test_cache_key_covers_every_compiler_file(tmp_path):
    """Editing any file of model/compiler/ (not only a listed few) changes the cache key;
    Numba's and Python's __pycache__ do not."""
    from innosd.model.compiler import driver
    folder = tmp_path / "compiler"
    shutil.copytree(driver.COMPILER_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    files = driver.compiler_files(folder)
    assert {f.name for f in files} >= {"ir.py", "frontend.py", "schedule.py", "codegen.py", "rt.py",
                                       "driver.py", "__init__.py"}
    original = driver.compiler_hash(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "rt._ite-1.py311.nbi").write_bytes(b"numba cache")
    assert driver.compiler_hash(folder) == original
    for f in files:
        text = f.read_bytes()
        f.write_bytes(text + b"\n# edited\n")
        assert driver.compiler_hash(folder) != original, f.name
        f.write_bytes(text)
    (folder / "new_pass.py").write_text("# a new compiler file\n")
    assert driver.compiler_hash(folder) != original


def test_unsupported_construct_names_construct_and_variable():
    with pytest.raises(ModelError, match=r"DATA from a data file.*'var 0dim'.*--backend pysd"):
        compile_model(S.model_file("data_from_other_model"))


# exp/log/pow are inlined IR (model/compiler/rt.py) so that ensembles vectorise; these
# bounds are their measured worst cases with margin, far inside the 1e-10 used against PySD
EXP_LOG_RTOL = 1e-15   # measured 2.2e-16 (exp), 3.5e-16 (log): about 1 ulp
POW_ULPS = 4.0         # exp(y log x) loses ~|y log x| ulp (the rounding of y log x is
                       # magnified by the exponential); bound: POW_ULPS * (1 + |y ln x|) ulp


def test_inlined_math_matches_libm():
    from innosd.model.compiler.rt import _exp, _log, _pow
    from numba import njit

    @njit
    def apply(x, y):
        out = np.empty((3, x.size))
        for i in range(x.size):
            out[0, i] = _exp(x[i])
            out[1, i] = _log(x[i])
            out[2, i] = _pow(x[i], y[i])
        return out

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700, 700, 20000), rng.uniform(-3, 3, 20000),
                        np.exp(rng.uniform(-700, 700, 20000))])
    y = rng.uniform(-5, 5, x.size)
    got = apply(x, y)
    with np.errstate(all="ignore"):
        ref = np.stack([np.exp(x), np.log(x), x ** y])
    pow_rtol = POW_ULPS * np.finfo(float).eps * (1.0 + np.abs(y * np.log(np.abs(x))))
    for row, rtol in ((0, EXP_LOG_RTOL), (1, EXP_LOG_RTOL), (2, pow_rtol)):
        fin = np.isfinite(ref[row]) & (np.abs(ref[row]) > 1e-300)
        with np.errstate(invalid="ignore"):  # inf - inf where ref is infinite: masked out by `fin`
            err = np.abs(got[row] - ref[row]) / np.abs(np.where(fin, ref[row], 1.0))
        assert np.all((err <= rtol)[fin]), (row, float(np.max(err[fin])))
    special = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, np.inf, -np.inf, np.nan, 1e-310,
                        800.0, -800.0])
    for a in special:
        for b in special:
            with np.errstate(all="ignore"):
                ref = np.array([np.exp(a), np.log(a), np.power(a, b)])
            got = apply(np.array([a]), np.array([b]))[:, 0]
            if a == 1e-310:
                ref[1:], got[1:] = np.round(ref[1:], 12), np.round(got[1:], 12)
            # infinities, NaNs and zeros exactly; finite values within the bounds above
            with np.errstate(all="ignore"):
                magnified = abs(b * np.log(abs(a))) if np.isfinite(b * np.log(abs(a))) else 0
            rtol = [EXP_LOG_RTOL, EXP_LOG_RTOL,
                    POW_ULPS * np.finfo(float).eps * (1.0 + magnified)]
            for k in range(3):
                np.testing.assert_allclose(abs(got[k]), abs(ref[k]), rtol=rtol[k], atol=0,
                                           err_msg=f"function {k} at {a}, {b}")


def test_lookup_forward_backward_extrapolate():
    # PySD 3.14 cannot run these three (the lookup is called without an argument), so
    # the expected values are worked out by hand from the table y = x^2 at x = 0..3
    df = compile_model(MODELS / "lookup_forms.mdl").run()
    assert list(df.index) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    expected = {
        "plain": [0, 0.5, 1, 2.5, 4, 6.5, 9, 9, 9],
        "forward": [0, 1, 1, 4, 4, 9, 9, 9, 9],
        "backward": [0, 0, 1, 1, 4, 4, 9, 9, 9],
        "extrapolated": [0, 0.5, 1, 2.5, 4, 6.5, 9, 11.5, 14],
    }
    for col, values in expected.items():
        assert df[col].tolist() == values, col


def test_vector_select_constant_actions(tmp_path):
    # hand values in the model's comments; PySD (the reference) agrees
    df = compile_model(MODELS / "vector_select.mdl").run()
    hand = {"weighted sum": 21.0, "selected min": 5.0, "selected mean": 8.0,
            "power product": 275.0, "none selected": -1.0}
    for col, value in hand.items():
        assert np.allclose(df[col], value, rtol=1e-15), col
    ref = S.pysd_model_run(MODELS / "vector_select.mdl", tmp_path)
    for col in hand:
        assert np.allclose(df[col], ref[col], rtol=1e-15), col


@pytest.mark.parametrize("folder", ["delay_fixed", "lookups", "sample_if_true"])
def test_ensemble_equals_runs_across_constructs(folder):
    # the struct-of-arrays kernel special-cases DELAY FIXED pipes, discrete states and
    # literal outputs, and cannot vectorise lookup searches: each must still give exactly
    # the single-run values; 11 members = one full block of 8 and a padded partial one
    model = compile_model(S.model_file(folder))
    params = model.parameters
    varied = [n for n in params.index if n not in
              ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")]
    rng = np.random.default_rng(7)
    table = pd.DataFrame({n: params.loc[n, "default"] * rng.uniform(0.8, 1.2, 11)
                          for n in varied}, index=range(11))
    ds = model.run_ensemble(table)
    for i in (0, 7, 8, 10):
        single = model.run(table.iloc[i].to_dict())
        for col in single.columns:
            assert np.array_equal(ds[col].values[i], single[col].to_numpy(), equal_nan=True), \
                (i, col)


def test_a_compiled_in_delay_order_cannot_be_changed_silently(tmp_path):
    # the order of a DELAY N sets how many stages the kernel has: it is compiled in, so a
    # run with another value would silently keep the old order
    f = tmp_path / "order.mdl"
    f.write_text("{UTF-8}\nout= DELAY N(1, 4, 0, stages)\n~ Dmnl\n~ |\nstages= 3\n~ Dmnl\n~ |\n"
                 "INITIAL TIME= 0\n~ Year\n~ |\nFINAL TIME= 8\n~ Year\n~ |\n"
                 "TIME STEP= 0.5\n~ Year\n~ |\nSAVEPER= 1\n~ Year\n~ |\n")
    model = compile_model(f)
    assert model.fixed_parameters == ["stages"]
    model.run({"stages": 3})  # the compiled value is fine
    with pytest.raises(ModelError, match="'stages' of order.mdl is fixed at 3"):
        model.run({"stages": 5})
    with pytest.raises(ModelError, match="fixed at 3"):
        model.run_ensemble(pd.DataFrame({"stages": [3, 4]}))


def test_batched_transcendentals_are_bit_identical(tmp_path):
    # the single-run kernel computes independent pow/exp/log calls eight at a time
    # (model.compiler.codegen._batched_calls): nine independent pows (two batches), a pow
    # of pows (a later batch), an exp of a log (nested) and an exp under IF THEN ELSE
    # must give the scalar calls' values: the ensemble kernel, which does not batch,
    # agrees bit for bit, and numpy's libm to round-off
    eqs = ["x= INTEG(0.02 * x, 1.5)\n~ Dmnl\n~ |"]
    for k in range(1, 10):
        eqs += [f"c{k}= {0.5 + 0.1 * k!r}\n~ Dmnl\n~ |", f"e{k}= {0.3 * k - 1.1!r}\n~ Dmnl\n~ |",
                f"y{k}= (x / c{k}) ^ e{k}\n~ Dmnl\n~ |"]
    eqs += ["w= (y1 + y2) ^ 1.5\n~ Dmnl\n~ |", "v= EXP(LN(x) * 0.3)\n~ Dmnl\n~ |",
            "u= IF THEN ELSE(Time < 5, EXP(-x), EXP(x / 10))\n~ Dmnl\n~ |",
            "INITIAL TIME= 0\n~ Year\n~ |", "FINAL TIME= 10\n~ Year\n~ |",
            "TIME STEP= 0.25\n~ Year\n~ |", "SAVEPER= 0.5\n~ Year\n~ |"]
    f = tmp_path / "powers.mdl"
    f.write_text("{UTF-8}\n" + "\n".join(eqs) + "\n")
    model = compile_model(f)
    source = Path(model._mod.__file__).read_text()
    single_run_kernel = source[:source.index("def _run_one_rk4")]
    assert "PB[16 + q] = _pow(PB[q], PB[8 + q])" in single_run_kernel
    df = model.run()
    ds = model.run_ensemble(pd.DataFrame(index=range(1)))
    for col in df.columns:
        assert np.array_equal(ds[col].values[0], df[col].to_numpy()), col
    x = df["x"].to_numpy()
    for k in range(1, 10):
        assert np.allclose(df[f"y{k}"], (x / (0.5 + 0.1 * k)) ** (0.3 * k - 1.1), rtol=1e-14)
    assert np.allclose(df["w"], (df["y1"] + df["y2"]) ** 1.5, rtol=1e-14)
    assert np.allclose(df["v"], np.exp(np.log(x) * 0.3), rtol=1e-14)
    t = df.index.to_numpy()
    assert np.allclose(df["u"], np.where(t < 5, np.exp(-x), np.exp(x / 10)), rtol=1e-14)
