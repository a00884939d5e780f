"""Priors of the calibrated constants: parse, check, evaluate and sample.

Every prior lives on a *working scale*: `linear` (the constant itself) or `log` (its
natural logarithm). Sampling and optimisation happen on that scale, so a log-normal prior
is simply a (truncated) normal on log x and a log-uniform prior a uniform on log x; no
Jacobian is needed and scale parameters spanning a factor of ten mix as well as rates.

Kinds (all truncated to the stated `lower`/`upper`, which every prior must have so the
optimiser has a box and the sampler never leaves the model's declared range):

- `uniform`     lower, upper
- `loguniform`  lower, upper (> 0)
- `normal`      mean, sd
- `lognormal`   median, sigma (sd of log x)

Pure functions on plain dicts; no Hydra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from innosd.errors import ConfigError, closest

PRIOR_KINDS = {
    "uniform": ("lower", "upper"),
    "loguniform": ("lower", "upper"),
    "normal": ("mean", "sd", "lower", "upper"),
    "lognormal": ("median", "sigma", "lower", "upper"),
}
PRIOR_KEYS = ("prior", "mean", "sd", "median", "sigma", "lower", "upper", "units", "source")


@dataclass(frozen=True)
class Prior:
    """A truncated prior on one model constant, defined on its working scale."""

    name: str            # model constant name as in the .mdl
    kind: str
    lower: float         # natural units
    upper: float
    location: float      # working scale: mean (normal kinds) or lower bound (uniform kinds)
    spread: float        # working scale: sd (normal kinds) or width (uniform kinds)
    source: str
    units: str = ""

    @property
    def log_scale(self) -> bool:
        return self.kind in ("loguniform", "lognormal")

    @property
    def working_bounds(self) -> tuple[float, float]:
        return (to_working(self, self.lower), to_working(self, self.upper))

    def describe(self) -> str:
        """The prior as one short string for tables: 'lognormal(median=62.8, sigma=0.3) [30, 130]'."""
        if self.kind == "normal":
            body = f"normal(mean={self.location:g}, sd={self.spread:g})"
        elif self.kind == "lognormal":
            body = f"lognormal(median={math.exp(self.location):g}, sigma={self.spread:g})"
        else:
            body = self.kind
        return f"{body} [{self.lower:g}, {self.upper:g}]"


def to_working(prior: Prior, value):
    return np.log(value) if prior.log_scale else np.asarray(value, dtype=float) * 1.0


def from_working(prior: Prior, value):
    return np.exp(value) if prior.log_scale else np.asarray(value, dtype=float) * 1.0


def _number(spec: dict, key: str, where: str) -> float:
    if key not in spec:
        raise ConfigError(f"{where}: missing `{key}` (a {spec.get('prior')} prior needs "
                          f"{', '.join(PRIOR_KINDS[spec['prior']])})")
    try:
        value = float(spec[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.{key}: {spec[key]!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}.{key}: {value!r} is not finite")
    return value


def parse_prior(name: str, spec: dict, where: str, declared_range: tuple[float, float],
                units: str = "") -> Prior:
    """One prior from its config mapping; a one-line ConfigError naming `where` on any defect.

    `declared_range` is the constant's range in the model file: a prior may not reach
    outside it (the model is not meant to run there).
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping with `prior`, `lower`, `upper`, `source`")
    unknown = [k for k in spec if k not in PRIOR_KEYS]
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key{closest(str(unknown[0]), PRIOR_KEYS)}; "
                          f"valid keys: {', '.join(PRIOR_KEYS)}")
    kind = spec.get("prior")
    if kind not in PRIOR_KINDS:
        raise ConfigError(f"{where}.prior: unknown prior {kind!r}{closest(str(kind), PRIOR_KINDS)}; "
                          f"valid priors: {', '.join(PRIOR_KINDS)}")
    if not str(spec.get("source") or "").strip():
        raise ConfigError(f"{where}.source: every prior needs its source or reasoning")
    lower, upper = _number(spec, "lower", where), _number(spec, "upper", where)
    if not lower < upper:
        raise ConfigError(f"{where}: lower bound {lower:g} is not below upper bound {upper:g}")
    lo_model, hi_model = declared_range
    if lower < lo_model or upper > hi_model:
        raise ConfigError(f"{where}: bounds [{lower:g}, {upper:g}] reach outside the declared range "
                          f"of {name!r} in the model file [{lo_model:g}, {hi_model:g}]")
    if kind in ("loguniform", "lognormal") and lower <= 0:
        raise ConfigError(f"{where}.lower: a {kind} prior needs a positive lower bound, got {lower:g}")
    if kind == "uniform":
        location, spread = lower, upper - lower
    elif kind == "loguniform":
        location, spread = math.log(lower), math.log(upper) - math.log(lower)
    elif kind == "normal":
        location, spread = _number(spec, "mean", where), _number(spec, "sd", where)
    else:
        median = _number(spec, "median", where)
        if median <= 0:
            raise ConfigError(f"{where}.median: must be positive, got {median:g}")
        location, spread = math.log(median), _number(spec, "sigma", where)
    if kind in ("normal", "lognormal"):
        if spread <= 0:
            raise ConfigError(f"{where}: the prior's spread must be positive, got {spread:g}")
        centre = location if kind == "normal" else math.exp(location)
        if not lower <= centre <= upper:
            raise ConfigError(f"{where}: the prior's centre {centre:g} lies outside its bounds "
                              f"[{lower:g}, {upper:g}]")
    return Prior(name, kind, lower, upper, location, spread, str(spec["source"]).strip(), units)


def log_prior(priors: list[Prior], working: np.ndarray) -> np.ndarray:
    """Log density (up to a constant) of rows of working-scale values; -inf outside the box.

    `working` has shape (n, d); returns shape (n,).
    """
    working = np.atleast_2d(working)
    total = np.zeros(len(working))
    for j, prior in enumerate(priors):
        lo, hi = prior.working_bounds
        column = working[:, j]
        inside = (column >= lo) & (column <= hi)
        total = np.where(inside, total, -np.inf)
        if prior.kind in ("normal", "lognormal"):
            total = total - 0.5 * ((column - prior.location) / prior.spread) ** 2
    return total


def sample_prior(priors: list[Prior], n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` independent draws on the working scale, shape (n, d)."""
    columns = []
    for prior in priors:
        lo, hi = prior.working_bounds
        if prior.kind in ("uniform", "loguniform"):
            columns.append(rng.uniform(lo, hi, size=n))
        else:
            a, b = (lo - prior.location) / prior.spread, (hi - prior.location) / prior.spread
            columns.append(stats.truncnorm.rvs(a, b, loc=prior.location, scale=prior.spread,
                                               size=n, random_state=rng))
    return np.column_stack(columns) if columns else np.empty((n, 0))


def to_natural(priors: list[Prior], working: np.ndarray) -> np.ndarray:
    """Working-scale rows -> model-constant values, same shape."""
    working = np.atleast_2d(working)
    return np.column_stack([from_working(p, working[:, j]) for j, p in enumerate(priors)])


def to_working_rows(priors: list[Prior], natural: np.ndarray) -> np.ndarray:
    natural = np.atleast_2d(natural)
    return np.column_stack([to_working(p, natural[:, j]) for j, p in enumerate(priors)])
