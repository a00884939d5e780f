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
import sys
import tempfile
import warnings
from pathlib import Path

from innosd.errors import InnosdError, ModelError, closest


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


def _run_pysd(path: Path, params, columns, method):
    import pysd
    if method != "euler":
        raise InnosdError("--method rk4 needs the compiled core (--backend numba)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pysd.read_vensim(str(path)) if path.suffix.lower() == ".mdl" \
                else pysd.read_xmile(str(path))
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


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    path = Path(args.model)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    params = _parse_sets(args.sets)
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] \
        if args.columns else None
    if args.backend == "pysd":
        df = _run_pysd(path, params, columns, args.method)
    else:
        from innosd.model import compile_model
        df = compile_model(path).run(params=params, return_columns=columns,
                                     method=args.method)
    df = df.copy()
    df.index.name = "Time"
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
