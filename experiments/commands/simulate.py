"""`innosd simulate MODEL`: run any Vensim/XMILE model once and write a CSV.

    innosd simulate model/guangzhou_innovation.mdl --set "HTE pass rate=0.3" --out run.csv
    innosd simulate some.mdl --columns "Stock A,Flow A" --method rk4
    innosd simulate some.mdl --backend pysd          # the reference implementation

The CSV's first column is `Time`, then the variables by their names in the model file.
Without --out it goes to stdout; with --out it is written to a temporary file and
renamed, so a half-written file never appears.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from innosd.errors import InnosdError, ModelError, closest
from innosd.safeyaml import decode_utf8


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="innosd simulate", description=__doc__.split("\n")[0])
    p.add_argument("model", help="Vensim .mdl or XMILE model file")
    p.add_argument("--backend", choices=("numba", "pysd"), default="numba",
                   help="numba: the compiled core (default); pysd: the reference")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set a constant (repeatable); names as in the model file")
    p.add_argument("--columns", help="comma-separated variables to write (default: all)")
    p.add_argument("--out", help="output CSV file (default: stdout)")
    p.add_argument("--method", choices=("euler", "rk4"), default="euler",
                   help="integration method (compiled core only; Vensim uses euler)")
    p.add_argument("--data", dest="data_files", action="append", default=[], metavar="FILE",
                   help="a .tab/.csv (another run's output) holding the values of the model's "
                        "DATA variables defined without GET XLS/DIRECT (repeatable)")
    return p


def _parse_sets(sets: list[str]) -> dict[str, float]:
    params = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InnosdError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            raise InnosdError(f"--set {name.strip()}: {value!r} is not a number") from None
    return params


def _run_pysd(path: Path, params, columns, method, data_files=()):
    if method != "euler":
        raise InnosdError("--method rk4 needs the compiled core (--backend numba)")
    # PySD writes its translation (MODEL.py) beside the model file: translate a private copy,
    # so a user's own MODEL.py next to their model is never replaced
    with tempfile.TemporaryDirectory(prefix="innosd-pysd-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        return _run_pysd_copy(copy, path, params, columns, data_files)


def _run_pysd_copy(copy: Path, path: Path, params, columns, data_files=()):
    import pysd
    extra = {"data_files": [str(Path(f).resolve()) for f in data_files]} if data_files else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pysd.read_vensim(str(copy), **extra) if path.suffix.lower() == ".mdl" \
                else pysd.read_xmile(str(copy), **extra)
        except Exception as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelError(f"{path}: cannot be read by PySD: {first}") from None
        names = {n for n in model.namespace} | set(model.namespace.values())
        for name in list(params) + list(columns or []):
            base = name.split("[")[0]
            if base not in names:
                raise ModelError(f"unknown variable {name!r} in {path.name}"
                                 + closest(name, list(model.namespace)))
        try:
            return model.run(params=params or None, return_columns=columns)
        except Exception as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelError(f"{path.name}: PySD run failed: {first}") from None


def check_results(df, path: Path) -> None:
    """Vensim's floating-point checks: a run with fewer than two saved times, or a value that
    is not finite (a division by zero, an overflow), is an error naming the variable and time."""
    if len(df) < 2:
        raise ModelError(f"{path.name}: the run saved {len(df)} time(s); FINAL TIME must be at least one "
                         "TIME STEP (and SAVEPER) after INITIAL TIME")
    values = df.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ModelError(f"{path.name}: {df.columns[col]!r} is {values[row, col]} at time {df.index[row]:g} "
                         f"(a division by zero or an overflow; {int(bad.sum())} non-finite values in all)")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    path = Path(args.model)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if args.out is not None and Path(args.out).resolve() == path.resolve():
        raise InnosdError(f"--out {args.out} is the model file itself; choose another file for the CSV")
    if args.out is not None and Path(args.out).is_dir():
        raise InnosdError(f"--out {args.out} is a folder; name the CSV file to write")
    decode_utf8(path.read_bytes(), str(path), ModelError)  # invalid bytes named, never dropped silently
    params = _parse_sets(args.sets)
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] \
        if args.columns else None
    if args.backend == "pysd":
        df = _run_pysd(path, params, columns, args.method, args.data_files)
    else:
        from innosd.model import compile_model
        df = compile_model(path, data_files=args.data_files).run(
            params=params, return_columns=columns, method=args.method)
    df = df.copy()
    df.index.name = "Time"
    check_results(df, path)
    if args.out is None:
        df.to_csv(sys.stdout)
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            df.to_csv(fh)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {out} ({len(df)} times x {df.shape[1]} variables)", file=sys.stderr)
    return 0
