"""GET XLS / GET DIRECT CONSTANTS, DATA, LOOKUPS and SUBSCRIPT: read once, at compile time.

The values become what the rest of the compiler already handles: constants become
parameters (so ensembles can vary them, as any other constant), data series and
external lookups become lookup tables (time as x for data).  The spreadsheet/CSV cell
semantics (cell references, named ranges, "*" transposition, rows or columns of time,
missing values) are PySD's: its external-data readers (`pysd.py_backend.external`,
openpyxl/pandas underneath) are called here as a library, so the values are exactly the
ones PySD's run would use.  The files read are recorded (`files_read`) so that the
compile cache is rebuilt when one of them changes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from innosd.errors import ModelError

# Vensim DATA keywords -> the lookup reading that reproduces PySD's Data.__call__
# (values held beyond both ends; exact at the data times)
DATA_MODES = {None: "interpolate", "interpolate": "interpolate",
              "look_forward": "look_forward", "look forward": "look_forward",
              "hold_backward": "hold_backward", "hold backward": "hold_backward",
              "raw": "raw"}


def _dims(lists: list[list[str]]) -> dict[str, list[str]]:
    return {f"d{p}": list(els) for p, els in enumerate(lists)}


def forget_files() -> None:
    """Drop PySD's in-process cache of opened spreadsheets/CSVs (keyed by file name), so
    that the next compile reads a changed file afresh."""
    import sys
    module = sys.modules.get("pysd.py_backend.external")
    if module is not None:
        module.Excels.clean()


def files_read(obj, root: Path) -> list[Path]:
    return [(Path(root) / f).resolve() for f in obj.files if not str(f).startswith("?")]


def _read(obj, what: str, variable: str):
    # PySD warns about every missing cell it skips (as Vensim does); the values are the
    # ones its run uses, so the warning is its business, not a failure of ours
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj.initialize()
    except (ValueError, FileNotFoundError, KeyError, IndexError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[-1].strip()
        raise ModelError(f"{what} of variable {variable!r}: {first}") from None
    return obj.data


def _pick(data, tup) -> np.ndarray | float:
    if not tup:
        return data
    return data.sel({f"d{p}": e for p, e in enumerate(tup)})


def constants(ast, lists, final, root: Path, variable: str) -> dict[tuple, float]:
    """GET XLS/DIRECT CONSTANTS: element tuple -> value."""
    from pysd.py_backend.external import ExtConstant
    obj = ExtConstant(ast.file, ast.tab, ast.cell, _dims(lists), root, _dims(final),
                      "constants")
    data = _read(obj, "GET CONSTANTS", variable)
    import itertools
    values = {tup: float(_pick(data, tup)) for tup in itertools.product(*lists)}
    return values, files_read(obj, root)


def series(ast, lists, final, root: Path, variable: str, keyword=None):
    """GET XLS/DIRECT DATA or LOOKUPS: element tuple -> (x, y) arrays, NaN points dropped
    per element (PySD interpolates over them as if they were absent)."""
    import itertools

    from pysd.py_backend.external import ExtData, ExtLookup
    if hasattr(ast, "time_row_or_col"):
        mode = DATA_MODES.get(keyword)
        if mode is None:
            raise ModelError(f"unknown DATA keyword {keyword!r} of variable {variable!r}; "
                             f"choose one of {sorted(k for k in DATA_MODES if k)}")
        obj = ExtData(ast.file, ast.tab, ast.time_row_or_col, ast.cell, mode.replace(" ", "_"),
                      _dims(lists), root, _dims(final), "data")
        axis, what = "time", "GET DATA"
    else:
        obj = ExtLookup(ast.file, ast.tab, ast.x_row_or_col, ast.cell, _dims(lists), root,
                        _dims(final), "lookups")
        axis, what = "lookup_dim", "GET LOOKUPS"
    data = _read(obj, what, variable)
    out = {}
    for tup in itertools.product(*lists):
        one = _pick(data, tup)
        x = np.asarray(one.coords[axis].values, dtype=float)
        y = np.asarray(one.values, dtype=float).reshape(-1)
        out[tup] = (x, y)
    return out, files_read(obj, root)


def subscript(spec, root: Path) -> list[str]:
    """GET XLS/DIRECT SUBSCRIPT: the element names read from the file."""
    from pysd.py_backend.external import ExtSubscript
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ext = ExtSubscript(spec["file"], spec["tab"], spec["firstcell"],
                               spec.get("lastcell", ""), spec.get("prefix", ""), root)
    except (ValueError, FileNotFoundError, KeyError, IndexError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[-1].strip()
        raise ModelError(f"GET SUBSCRIPT: {first}") from None
    return list(ext.subscript), [(Path(root) / spec["file"]).resolve()]


def tab_data(name: str, lists, files: list[Path], variable: str, keyword=None):
    """DATA read from a data file given with the model (Vensim's run-time data, a .tab or
    .csv of another run's output): element tuple -> (time, value) arrays, by PySD's
    `pysd.py_backend.data.TabData` (the file PySD's `read_vensim(..., data_files=...)`
    reads).  NaN points are kept: PySD's Data interpolates through them to NaN."""
    import itertools

    from pysd.py_backend.data import TabData
    mode = DATA_MODES.get(keyword)
    if mode is None:
        raise ModelError(f"unknown DATA keyword {keyword!r} of variable {variable!r}; "
                         f"choose one of {sorted(k for k in DATA_MODES if k)}")
    obj = TabData(name, name.lower().replace(" ", "_"), _dims(lists), mode)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj.load_data([Path(f) for f in files])
    except (ValueError, FileNotFoundError, KeyError, IndexError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[-1].strip()
        raise ModelError(f"DATA of variable {variable!r}: {first}") from None
    out = {}
    for tup in itertools.product(*lists):
        one = _pick(obj.data, tup)
        out[tup] = (np.asarray(one.coords["time"].values, dtype=float),
                    np.asarray(one.values, dtype=float).reshape(-1))
    return out
