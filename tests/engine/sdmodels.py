"""Shared helpers for the engine tests: the in-repo copy of the SD test models.

Tests read ONLY `tests/sd-test-models/tests` (MIT licensed, copied into the repo).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SUITE = Path(__file__).resolve().parents[1] / "sd-test-models" / "tests"

# Canonical outputs carry as few as 5 significant digits (lookups_with_expr: "0.19993"),
# i.e. up to 5e-5 relative rounding; 1e-4 covers that and nothing semantic.
CANONICAL_RTOL = 1e-4
# absolute floor, relative to each column's largest magnitude, for values near zero
# (exp: Vensim prints -0.100003 where the exact value is -0.1)
CANONICAL_ATOL = 1e-4
# The compiled core and PySD do the same float64 arithmetic in nearly the same order.
PYSD_RTOL = 1e-10
# values this small are zero in a 6-digit text file (pi: sin(pi) = 1.2e-16 vs "0")
ZERO_FLOOR = 1e-12
PYSD_ATOL = 1e-12
# PySD solves ALLOCATE AVAILABLE's priority level by scipy's least_squares to its default
# tolerances, the compiled core by bisection to adjacent doubles: seen 3.5e-7 (PySD) where
# the root gives 6e-14, i.e. 4.7e-10 of that column's largest value; 1e-9 covers solver
# tolerance and nothing else (every other column agrees to 1.4e-12)
PYSD_ATOL_OF = {"allocate_available": 1e-9}


def folders() -> list[str]:
    return sorted(p.name for p in SUITE.iterdir() if p.is_dir())


# folders with several models whose output.tab belongs to one of them (its README says so):
# get_time_value's README: "test_get_time_value_simple.mdl currently used simple model"
# (the other holds calendar measures for a future output)
MODEL_OF = {"get_time_value": "test_get_time_value_simple.mdl"}
# folders whose DATA variables read another run's output, given with the model (Vensim: at
# run time; PySD: read_vensim(data_files=...)); data_from_other_model's README: "The
# conversion of data.vdf to tab file is provided to be able to simulate"
DATA_FILES_OF = {"data_from_other_model": ["data.tab"]}


def data_files(folder: str, root: Path = SUITE) -> list[Path]:
    return [Path(root) / folder / f for f in DATA_FILES_OF.get(folder, [])]


def model_file(folder: str) -> Path | None:
    d = SUITE / folder
    if folder in MODEL_OF:
        return d / MODEL_OF[folder]
    # extensions in any case: the suite's case_sensitive_extension folder holds teacup-upper.MDL
    for suffix in (".mdl", ".xmile"):
        files = sorted((f for f in d.iterdir() if f.suffix.lower() == suffix),
                       key=lambda f: (not f.name.startswith("test_"), f.name))
        if files:
            return files[0]
    return None


def canonical(folder: str) -> pd.DataFrame | None:
    d = SUITE / folder
    for name, reader in (("output.csv", pd.read_csv), ("output.tab", pd.read_table)):
        f = d / name
        if f.exists():
            try:
                df = reader(f, encoding="utf-8")
            except UnicodeDecodeError:
                df = reader(f, encoding="latin-1")
            if "Time" not in df.columns and df.columns[0] not in ("Time", "time"):
                df = reader(f).set_index(df.columns[0]).T.reset_index()
                df = df.rename(columns={"index": "Time"})
            df = df.rename(columns={df.columns[0]: "Time"}).set_index("Time")
            df.columns = [str(c).strip().strip('"') for c in df.columns]
            df.index = pd.to_numeric(df.index, errors="coerce").astype(float)
            return df[~np.isnan(df.index)]
    return None


def pysd_run(folder: str, tmpdir: Path) -> pd.DataFrame:
    """PySD's run() of the folder's model, translated in a scratch copy (not in the repo)."""
    import pysd
    dst = Path(tmpdir) / folder
    if not dst.exists():
        shutil.copytree(SUITE / folder, dst)
    f = dst / model_file(folder).name
    extra = {"data_files": [str(p) for p in data_files(folder, Path(tmpdir))]} \
        if folder in DATA_FILES_OF else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pysd.read_vensim(str(f), **extra) if f.suffix.lower() == ".mdl" \
            else pysd.read_xmile(str(f), **extra)
        return m.run()


def pysd_model_run(model: Path, tmpdir: Path) -> pd.DataFrame:
    """PySD's run() of one model file, translated in a scratch copy."""
    import pysd
    dst = Path(tmpdir) / model.name
    shutil.copy(model, dst)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.read_vensim(str(dst)).run()


def compare(actual: pd.DataFrame, expected: pd.DataFrame, rtol: float, atol: float):
    """Column names and times shared by both; returns a list of mismatch descriptions."""
    cols = [c for c in expected.columns if c in actual.columns]
    times = [t for t in expected.index if np.any(np.isclose(actual.index, t, rtol=0, atol=1e-9))]
    problems = []
    if not cols:
        return ["no shared columns"]
    a = actual.reindex(index=actual.index[[int(np.argmin(np.abs(actual.index - t)))
                                           for t in times]], columns=cols)
    e = expected.loc[times, cols]
    for c in cols:
        av = pd.to_numeric(a[c], errors="coerce").to_numpy(dtype=float)
        ev = pd.to_numeric(e[c], errors="coerce").to_numpy(dtype=float)
        # Vensim writes constants at the first time only (NaN after): nothing to compare
        scale = np.nanmax(np.abs(ev)) if np.isfinite(ev).any() else 1.0
        ok = np.isclose(av, ev, rtol=rtol, atol=atol * scale + ZERO_FLOOR, equal_nan=True) \
            | np.isnan(ev)
        if not ok.all():
            i = int(np.argmin(ok))
            problems.append(f"{c!r} at t={times[i]}: {av[i]!r} != {ev[i]!r}")
    return problems
