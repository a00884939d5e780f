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

import functools
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
    role: str = "constant"   # "constant" (a model constant), "sigma" (an estimated error sd), "nu" (Student-t dof)
    target: str = ""         # the indicator an estimated sigma belongs to

    @property
    def log_scale(self) -> bool:
        return self.kind in ("loguniform", "lognormal")

    @functools.cached_property
    def working_bounds(self) -> tuple[float, float]:  # cached: the sampler asks at every step
        return (float(to_working(self, self.lower)), float(to_working(self, self.upper)))

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


def _columns(priors: list[Prior]) -> dict[str, np.ndarray]:
    return _columns_cached(tuple(priors))


@functools.lru_cache(maxsize=64)
def _columns_cached(priors: tuple[Prior, ...]) -> dict[str, np.ndarray]:
    """The priors as arrays (one entry per parameter): log_prior and to_natural run at every
    sampler step, so they work on whole rows instead of looping over parameters."""
    bounds = np.array([p.working_bounds for p in priors], dtype=float).reshape(-1, 2)
    return {"low": bounds[:, 0], "high": bounds[:, 1], "location": np.array([p.location for p in priors], dtype=float),
            "spread": np.array([p.spread for p in priors], dtype=float),
            "normal": np.array([p.kind in ("normal", "lognormal") for p in priors], dtype=bool),
            "log": np.array([p.log_scale for p in priors], dtype=bool)}


def log_prior(priors: list[Prior], working: np.ndarray) -> np.ndarray:
    """Log density (up to a constant) of rows of working-scale values; -inf outside the box.

    `working` has shape (n, d); returns shape (n,).
    """
    working = np.atleast_2d(working)
    c = _columns(priors)
    inside = np.all((working >= c["low"]) & (working <= c["high"]), axis=1)
    quadratic = np.where(c["normal"], ((working - c["location"]) / c["spread"]) ** 2, 0.0)
    return np.where(inside, -0.5 * quadratic.sum(axis=1), -np.inf)


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
    if not priors:
        return working.copy()
    log = _columns(priors)["log"]
    return np.where(log, np.exp(np.where(log, working, 0.0)), working)


def to_working_rows(priors: list[Prior], natural: np.ndarray) -> np.ndarray:
    natural = np.atleast_2d(natural)
    return np.column_stack([to_working(p, natural[:, j]) for j, p in enumerate(priors)])


# ----------------------------------------------------------------------------- the sampling scale
# The sampler moves on an unconstrained scale: z = logit((v - lo) / (hi - lo)) where v is the
# working value, or its logarithm for a positive constant with a linear prior (v in [lo, hi]).
# Proposals never leave the box (none is wasted); a posterior that piles up at a bound becomes a
# tail the ensemble can follow instead of a wall it bounces off; and products of positive
# constants (a Bass market potential times its innovation coefficient, a level times a share)
# become sums, so the ridges they leave in the posterior become straighter.
# The density on z carries the Jacobian |dw/dz| = (hi - lo) s (1 - s) [times w on the log scale].

def _box(priors: list[Prior]) -> tuple[np.ndarray, np.ndarray]:
    c = _columns(priors)
    return c["low"], c["high"] - c["low"]


def _sampling_box(priors: list[Prior]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = _columns(priors)
    logged = ~c["log"] & (c["low"] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(logged, np.log(np.where(logged, c["low"], 1.0)), c["low"])
        high = np.where(logged, np.log(np.where(logged, c["high"], 1.0)), c["high"])
    return logged, low, high - low


def to_unconstrained(priors: list[Prior], working: np.ndarray) -> np.ndarray:
    """Working-scale rows -> the sampler's unconstrained scale (rows on a bound map to +-inf)."""
    logged, low, span = _sampling_box(priors)
    working = np.atleast_2d(working)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(logged, np.log(np.where(logged, working, 1.0)), working)
        unit = (v - low) / span
        return np.log(unit) - np.log1p(-unit)


def from_unconstrained(priors: list[Prior], z: np.ndarray) -> np.ndarray:
    """Unconstrained rows -> working scale, strictly inside the prior box for finite z."""
    logged, low, span = _sampling_box(priors)
    v = low + span * _sigmoid(np.atleast_2d(z))
    return np.where(logged, np.exp(np.where(logged, v, 0.0)), v)


def log_jacobian(priors: list[Prior], z: np.ndarray) -> np.ndarray:
    """log |dw/dz| summed over parameters, shape (n,)."""
    logged, low, span = _sampling_box(priors)
    z = np.atleast_2d(z)
    # log s + log(1 - s) = -softplus(-z) - softplus(z), stable for large |z|
    log_unit = np.log(span) - np.logaddexp(0.0, -z) - np.logaddexp(0.0, z)
    v = low + span * _sigmoid(z)
    return np.sum(log_unit + np.where(logged, v, 0.0), axis=1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))
