"""The simulation backend behind scenario runs: model metadata and one call to run.

Scenario code talks to this module only, so the backend (PySD, the reference, or the
compiled Numba core) is a choice, not a rewrite. Everything here takes plain Python
values, never a Hydra config.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from innosd.model import MODEL_FILE

from innosd.errors import ModelError

BACKENDS = ("pysd", "numba")


@dataclass(frozen=True)
class Constant:
    """A model constant a config may set: its default, units and declared range."""

    name: str
    default: float
    units: str
    lower: float
    upper: float
    comment: str


@dataclass(frozen=True)
class ModelInfo:
    """What scenario code needs to know about a model file."""

    path: Path
    constants: dict[str, Constant]
    units: dict[str, str]  # every variable -> its units string
    stocks: tuple[str, ...]
    comments: dict[str, str]


@functools.lru_cache(maxsize=8)
def _pysd_model(path: str):
    import pysd  # heavy import, only when a run needs it

    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pysd.read_vensim(path)
        except Exception as err:  # PySD raises many types; the user needs the file and the reason
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(f"{path}: cannot be read by PySD: {first}") from None


def _limit(value: float, fallback: float) -> float:
    return fallback if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _constant(name, default, units, limits, comment) -> Constant:
    lower, upper = (list(limits or []) + [None, None])[:2]
    return Constant(name, float(default), str(units or ""), _limit(lower, -math.inf),
                    _limit(upper, math.inf), str(comment or ""))


@functools.lru_cache(maxsize=8)
def model_info(path: str | Path = MODEL_FILE, backend: str = "numba") -> ModelInfo:
    """Constants (defaults, units, ranges), units of every variable and the stocks.

    backend="numba" reads the compiled model's metadata (cached on disk: no PySD import,
    nothing written next to the model file); backend="pysd" asks PySD (the reference)."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    if backend == "pysd":
        return _model_info_pysd(str(path))
    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path}")
    from innosd.model import compile_model

    compiled = compile_model(path)
    # PySD's order (sorted names), plus its built-in 'Time' in the units of TIME STEP
    variables = sorted(compiled.variables + [_time_variable(compiled.variables)],
                       key=lambda v: v["name"])
    comments = {v["name"]: str(v["comment"] or "") for v in variables}
    # only unsubscripted constants, as a scenario sets them by name
    constants = {p["name"]: _constant(p["name"], p["default"], p["units"], p["limits"],
                                      comments.get(p["variable"], p["doc"]))
                 for p in sorted(compiled._params, key=lambda p: p["name"])
                 if not p["element"]}
    units = {v["name"]: str(v["units"] or "") for v in variables}
    stocks = tuple(v["name"] for v in variables if v["stock"])
    return ModelInfo(Path(path), constants, units, stocks, comments)


def _time_variable(variables: list[dict]) -> dict:
    step = next((v for v in variables if v["name"].upper() == "TIME STEP"), {})
    return dict(name="Time", units=step.get("units", ""), comment="Current time of the model.",
                stock=False, limits=[None, None])


def _model_info_pysd(path: str) -> ModelInfo:
    model = _pysd_model(path)
    doc = model.doc
    constants: dict[str, Constant] = {}
    for row in doc.itertuples(index=False):
        if row.Type != "Constant" or row.Subscripts:
            continue
        try:
            default = float(model[row._1])
        except (TypeError, ValueError):
            continue
        limits = row.Limits if isinstance(row.Limits, tuple) else (None, None)
        constants[row._0] = _constant(row._0, default, row.Units, limits, row.Comment)
    units = {r._0: str(r.Units or "") for r in doc.itertuples(index=False)}
    stocks = tuple(r._0 for r in doc.itertuples(index=False) if r.Subtype == "Integ")
    comments = {r._0: str(r.Comment or "") for r in doc.itertuples(index=False)}
    return ModelInfo(Path(path), constants, units, stocks, comments)


def run_model(params: dict[str, float] | None = None, *, path: str | Path = MODEL_FILE,
              backend: str = "pysd", return_columns: list[str] | None = None) -> pd.DataFrame:
    """One simulation: a DataFrame indexed by time at SAVEPER, columns named as in the file."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    params = dict(params or {})
    if backend == "numba":
        from innosd.model import compile_model

        return compile_model(path).run(params=params, return_columns=return_columns)
    model = _pysd_model(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = model.run(params=params, return_columns=return_columns)
    # PySD keeps set values between runs of one object: restore defaults for the next caller
    model.reload()
    return frame
