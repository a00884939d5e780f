"""The project's model: the compiled core equals PySD on every variable at every time."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from innosd.model import compile_model

MODEL = Path(__file__).resolve().parents[2] / "model" / "guangzhou_innovation.mdl"
# both backends do the same float64 operations; only evaluation order may differ
RTOL = 1e-10
ATOL = 1e-12  # for values that are exactly zero in one backend and ~1e-17 in the other
CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import pysd
    d = tmp_path_factory.mktemp("pysd_project")
    shutil.copy(MODEL, d / MODEL.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pysd.read_vensim(str(d / MODEL.name))
    return compile_model(MODEL), ref


def _random_sets(params, n=5, seed=11):
    """Constants drawn from default +-20%, clipped to their declared [min, max]
    (the full declared ranges are wide enough to overflow the model in both backends)."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n):
        values = {}
        for name, row in params.iterrows():
            if name in CONTROL or "[" in name:
                continue
            d = row["default"]
            lo, hi = sorted((d * 0.8, d * 1.2))
            if row["min"] is not None and np.isfinite(row["min"]):
                lo = max(lo, row["min"])
            if row["max"] is not None and np.isfinite(row["max"]):
                hi = min(hi, row["max"])
            values[name] = float(rng.uniform(lo, hi)) if hi > lo else d
        sets.append(values)
    return sets


@pytest.mark.parametrize("case", ["defaults"] + [f"random{i}" for i in range(5)])
def test_compiled_equals_pysd(models, case):
    compiled, ref = models
    params = {} if case == "defaults" else \
        _random_sets(compiled.parameters)[int(case[len("random"):])]
    ours = compiled.run(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # reload: PySD keeps parameters set by an earlier run()
        theirs = ref.run(params=params or None, reload=True)
    missing = set(theirs.columns) - set(ours.columns)
    assert not missing, f"columns PySD has and the compiled core lacks: {sorted(missing)[:5]}"
    assert np.allclose(ours.index, theirs.index, rtol=0, atol=1e-9)
    a = ours[list(theirs.columns)].to_numpy(dtype=float)
    b = theirs.to_numpy(dtype=float)
    ok = np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        pytest.fail(f"{theirs.columns[c]!r} at t={theirs.index[r]}: {a[r, c]!r} vs "
                    f"PySD {b[r, c]!r} ({(~ok).sum()} mismatches)")


def test_ensemble_equals_runs_on_project_model(models):
    import pandas as pd
    compiled, _ = models
    sets = _random_sets(compiled.parameters, n=3, seed=5)
    ds = compiled.run_ensemble(pd.DataFrame(sets), return_columns=compiled.stocks[:5])
    for i, p in enumerate(sets):
        single = compiled.run(p, return_columns=compiled.stocks[:5])
        for col in single.columns:
            assert np.array_equal(ds[col].values[i], single[col].to_numpy(), equal_nan=True), col
