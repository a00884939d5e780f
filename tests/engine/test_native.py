"""The native single-run kernel (model.compiler.native: LLVM IR emitted directly, no Numba
compile) gives the Numba kernel's results bit for bit, and every model it cannot
translate runs on the Numba kernel without anyone asking."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from innosd.model import compile_model

from innosd.errors import ModelError
from innosd.model.compiler import driver, machine
from tests.engine import sdmodels as S

MODELS = Path(__file__).parent / "models"
CONSTRUCTS = MODELS / "native_constructs.mdl"


def _both(model, params=None):
    """(native kernel output, Numba _run_one output) for one run with `params`."""
    P = model._param_vector(params).reshape(-1, 1)
    times, save, dt, _, _ = model._time_grid(P[:, 0])
    omap, cols = model._output_map(None)
    args = (times, save, dt, float(len(times) + 1), model._lx, model._ly, omap)
    outs = []
    for kernel in (model._kernel("euler", ensemble=False), model._mod._run_one):
        out = np.full((len(cols), 1, int(save.sum())), np.nan)
        kernel(P, *args, out, 0)
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def constructs():
    return compile_model(CONSTRUCTS)


def test_native_kernel_equals_the_numba_kernel_bit_for_bit(constructs):
    assert constructs.native, constructs.native_reason
    assert constructs._kernel("euler", ensemble=False) is not constructs._mod._run_one
    rng = np.random.default_rng(7)
    for params in [None] + [{"growth": g, "delay time": d, "initial stock": s}
                            for g, d, s in rng.uniform([0.5, 0.1, 1.0], [3.0, 4.0, 50.0], (3, 3))]:
        native, numba = _both(constructs, params)
        assert np.array_equal(native, numba, equal_nan=True), params


def test_native_kernel_matches_pysd(constructs, tmp_path):
    import pysd
    shutil.copy(CONSTRUCTS, tmp_path / CONSTRUCTS.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pysd.read_vensim(str(tmp_path / CONSTRUCTS.name)).run()
    problems = S.compare(constructs.run(), reference, S.PYSD_RTOL, S.PYSD_ATOL)
    assert not problems, problems[:3]


def test_native_ensemble_equals_native_single_runs(constructs):
    assert isinstance(constructs._kernel("euler", ensemble=True), machine.NativeEnsembleKernel)
    # 11 members in batches of 10: a full and a partial block of 8 lanes, a batch at an
    # offset; pipe lengths differ between the lanes of a block
    rng = np.random.default_rng(11)
    table = pd.DataFrame({"growth": rng.uniform(0.5, 3.0, 11), "delay time": rng.uniform(0.2, 4.0, 11),
                          "initial stock": rng.uniform(1.0, 50.0, 11)})
    ds = constructs.run_ensemble(table, chunk_size=10)
    for i, row in enumerate(table.to_dict("records")):
        single = constructs.run(row)
        for col in single.columns:
            assert np.array_equal(ds[col].values[i], single[col].to_numpy(), equal_nan=True), col


@pytest.mark.parametrize("name", ["lookup_forms.mdl",  # every table function: selects
                                  "variable_order.mdl"])  # DELAY N orders: a loop per lane
def test_native_kernel_equals_the_numba_kernel_on(name):
    model = compile_model(MODELS / name)
    assert model.native, model.native_reason
    native, numba = _both(model)
    assert np.array_equal(native, numba, equal_nan=True)
    ds = model.run_ensemble(pd.DataFrame(index=range(3)))
    single = model.run()
    for col in single.columns:
        assert np.array_equal(ds[col].values[2], single[col].to_numpy(), equal_nan=True), col


def test_unsupported_construct_runs_on_the_numba_kernel():
    model = compile_model(MODELS / "random_scalar.mdl")  # RANDOM: not translated
    assert not model.native
    assert model.native_reason == "function _rnd_uniform"
    assert model._kernel("euler", ensemble=False) is model._mod._run_one
    assert model._kernel("euler", ensemble=True) is model._mod.run_chunks_euler
    assert np.isfinite(model.run().to_numpy(dtype=float)).all()


def test_rk4_runs_on_the_numba_kernel(constructs):
    # the native kernel is Euler only; RK4 keeps its Numba kernel
    assert constructs._kernel("rk4", ensemble=False) is constructs._mod._run_one_rk4


def test_a_nan_delay_time_is_one_error_line(constructs):
    with pytest.raises(ModelError, match="DELAY FIXED delay time is not a number"):
        constructs.run({"delay time": float("nan")})


def test_object_code_is_rebuilt_from_the_cached_ir(tmp_path, monkeypatch):
    """A cache folder without this CPU's object file (copied from another machine)
    compiles it from the cached IR instead of falling back."""
    monkeypatch.setenv("INNOSD_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / CONSTRUCTS.name
    shutil.copy(CONSTRUCTS, f)
    first = compile_model(f)
    expected = first.run()
    obj = machine.object_file(first._folder)
    assert obj.exists()
    obj.unlink()
    driver._loaded.clear()  # a new process: only the disk cache is left
    second = compile_model(f)
    assert second.from_cache and second.native
    assert obj.exists()
    assert second.run().equals(expected)
    # a damaged object file (LLVM's loader would crash on it) is rebuilt too
    obj.write_bytes(obj.read_bytes()[:100])
    driver._loaded.clear()
    third = compile_model(f)
    assert third.native and third.run().equals(expected)
    assert machine._checked(obj) is not None


@pytest.mark.slow  # compiles the project model's Numba single-run kernel: ~8 s of CPU
def test_project_model_native_kernel_equals_the_numba_kernel_bit_for_bit():
    from innosd.model import MODEL_FILE
    model = compile_model(MODEL_FILE)
    assert model.native, model.native_reason
    native, numba = _both(model)
    assert np.array_equal(native, numba, equal_nan=True)
    # its ensemble kernel is native too (a failure to build one falls back silently):
    # the single-run kernel's batches of pow calls must not reach the member-vector one
    assert isinstance(model._kernel("euler", ensemble=True), machine.NativeEnsembleKernel)


def test_native_ensemble_uses_numbas_thread_count(constructs):
    import numba
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)  # what calibrate's run.threads=1 sets
        assert machine.threads() == 1
        table = pd.DataFrame({"growth": [0.7, 1.5, 2.9] * 6})
        ds = constructs.run_ensemble(table)
        assert np.array_equal(ds["Stock"].values[5], constructs.run({"growth": 2.9})["Stock"].to_numpy())
    finally:
        numba.set_num_threads(before)


def test_a_failed_native_ensemble_build_is_said_and_falls_back(constructs, monkeypatch):
    """The Numba kernel takes over (same numbers), with one warning naming why: a silent
    fallback once hid an emitter bug."""
    from innosd.model.compiler import machine

    def broken(*args, **kwargs):
        raise RuntimeError("simulated LLVM failure")

    m = constructs
    monkeypatch.setattr(m, "_native_chunks", None)
    monkeypatch.setattr(machine, "load_chunks", broken)
    with pytest.warns(RuntimeWarning, match="native_constructs.mdl: run_ensemble uses the Numba kernel.*simulated LLVM failure"):
        assert m._native_ensemble_kernel() is None
