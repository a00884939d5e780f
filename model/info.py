"""What the rest of innosd knows about a model file: constants, ranges, units, stocks, levers.

    info = model_info()                       # the project model, from the compiled metadata
    info.constants["fiscal st scenario change"].upper
    lever_names(info)                         # ['fiscal_st', 'guidance_fund', ...]
    lever_constant("fiscal_st", "start")      # 'fiscal st scenario start year'

THE naming rule for policy levers lives here and nowhere else: a lever has one id with
underscores (`fiscal_st`) and three model constants, `<lever with spaces> scenario
change`, `... scenario start year` and `... scenario ramp years`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from innosd.errors import ConfigError, ModelError, closest
from innosd.model import MODEL_FILE, compile_model
from innosd.model.backends import check_backend, pysd_model

# a lever's settings (the scenario YAML's keys) -> the suffix of the model constant
LEVER_SUFFIXES = {"change": "scenario change", "start": "scenario start year",
                  "ramp_years": "scenario ramp years"}


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


# ----------------------------------------------------------------------------- levers

def lever_constant(lever: str, setting: str = "change") -> str:
    """The model constant behind one setting ('change' | 'start' | 'ramp_years') of a lever."""
    return f"{lever.replace('_', ' ')} {LEVER_SUFFIXES[setting]}"


def lever_constants(lever: str) -> dict[str, str]:
    """Every setting of a lever -> its model constant."""
    return {setting: lever_constant(lever, setting) for setting in LEVER_SUFFIXES}


def lever_of(constant: str) -> str | None:
    """The lever id whose `change` constant this is ('fiscal st scenario change' -> 'fiscal_st')."""
    suffix = " " + LEVER_SUFFIXES["change"]
    return constant[: -len(suffix)].replace(" ", "_") if constant.endswith(suffix) else None


def lever_names(info: ModelInfo) -> list[str]:
    """Every lever of the model: its '<lever> scenario change' constants, named with underscores."""
    return sorted(lever for lever in map(lever_of, info.constants) if lever)


def resolve_constant(name: str, info: ModelInfo, key: str) -> str:
    """Map a config name (spaces or underscores) to the model's constant name."""
    for candidate in (name, name.replace("_", " ")):
        if candidate in info.constants:
            return candidate
    choices = list(info.constants)
    raise ConfigError(f"{key}: unknown model parameter {name!r}{closest(name.replace('_', ' '), choices)}; "
                      f"see `innosd run --list-params` for the {len(choices)} valid names")


# ----------------------------------------------------------------------------- model_info

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
    check_backend(backend)
    if backend == "pysd":
        return _model_info_pysd(str(path))
    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path}")
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
    model = pysd_model(path)
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


__all__ = ["Constant", "LEVER_SUFFIXES", "ModelInfo", "lever_constant", "lever_constants",
           "lever_names", "lever_of", "model_info", "resolve_constant"]
