"""The calibration's result tables (columns as in docs/outputs.md) and identifiability.

Shrinkage and correlations are computed on the priors' working scale (log for log-scale
priors): a scale known to within a factor is better described by the spread of its log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from innosd.calibration.likelihood import ObservationSet
from innosd.calibration.priors import Prior, to_natural
from innosd.stats import BAND_LEVEL, central_band

# A parameter counts as pinned down by the data alone when they remove at least half of
# its prior variance (posterior sd <= 0.71 prior sd): Betancourt's posterior contraction.
IDENTIFIED_SHRINKAGE = 0.5
# Two parameters are reported as moving together when their posterior correlation
# exceeds this in absolute value (|r| = 0.6: over a third of one's variance tracks the other).
COMBINATION_CORRELATION = 0.6
# A direction of the joint posterior (prior-standardised) counts as pinned down when its
# sd is at most half the prior's: the data identify that combination.
COMBINATION_SD_RATIO = 0.5
# Loadings below this share of a direction's largest loading are left out of its label.
LOADING_SHARE = 0.3
# "Within the stated error": the observation lies within two of its log-normal sigmas of
# the posterior median (the ~95% band of the error model).
WITHIN_ERROR_SIGMAS = 2.0
# Bound piling (see bound_piling): the outer 5% of a prior's working range holding at least
# 10% of the posterior and twice the prior's share there.
BOUND_EDGE = 0.05
BOUND_MASS = 0.10
BOUND_RATIO = 2.0


def fit_table(observations: ObservationSet, predicted: np.ndarray, replicated: np.ndarray,
              scale: np.ndarray) -> pd.DataFrame:
    """Every configured observation against the posterior.

    `median`: the model's posterior median; `p05`, `p95`: the posterior predictive band (model
    value times observation error: where a new measurement would fall); `model_p05`, `model_p95`:
    the model's own values without observation error. `sigma`: the log-scale error used (posterior median if estimated)."""
    table = observations.table
    median = np.median(predicted, axis=0)
    p05, p95 = central_band(replicated, BAND_LEVEL)  # BAND_LEVEL is 0.90: the p05/p95 columns
    m05, m95 = central_band(predicted, BAND_LEVEL)
    observed = table["observed"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_error = np.abs(np.log(median / observed))
    return pd.DataFrame({
        "indicator": table["indicator"], "model_variable": table["model_variable"], "year": table["year"],
        "time": table["time"], "unit": table["unit"], "observed": observed, "median": median, "p05": p05, "p95": p95,
        "model_p05": m05, "model_p95": m95, "sigma": scale, "error": table["error"],
        "error_rel": median / observed - 1.0,
        "within_error": log_error <= WITHIN_ERROR_SIGMAS * scale,
        "in_band": (observed >= p05) & (observed <= p95),
        "source": table["source"], "in_likelihood": table["in_likelihood"], "derived": table["derived"],
    })


def parameter_table(priors: list[Prior], prior_working: np.ndarray, flat_working: np.ndarray,
                    diag: pd.DataFrame) -> pd.DataFrame:
    """Prior and posterior summaries per parameter, shrinkage and the identified flag."""
    prior_nat, post_nat = to_natural(priors, prior_working), to_natural(priors, flat_working)
    shrinkage = 1.0 - flat_working.var(axis=0) / prior_working.var(axis=0)
    q = np.quantile(post_nat, [0.05, 0.5, 0.95], axis=0)
    diag = diag.set_index("parameter")
    return pd.DataFrame({
        "parameter": [p.name for p in priors], "units": [p.units for p in priors],
        "prior": [p.describe() for p in priors],
        "prior_lower": [p.lower for p in priors], "prior_upper": [p.upper for p in priors],
        "prior_mean": prior_nat.mean(axis=0), "prior_sd": prior_nat.std(axis=0),
        "posterior_mean": post_nat.mean(axis=0), "posterior_sd": post_nat.std(axis=0),
        "p05": q[0], "p50": q[1], "p95": q[2], "shrinkage": shrinkage,
        "rhat": [diag.loc[p.name, "rhat"] for p in priors],
        "ess_bulk": [diag.loc[p.name, "ess_bulk"] for p in priors],
        "ess_tail": [diag.loc[p.name, "ess_tail"] for p in priors],
        "identified": shrinkage >= IDENTIFIED_SHRINKAGE,
        "at_bound": bound_piling(priors, prior_working, flat_working),
    })


def bound_piling(priors: list[Prior], prior_working: np.ndarray, flat_working: np.ndarray) -> list[str]:
    """'lower' / 'upper' where the posterior piles up at that prior bound, else ''.

    Piling: at least BOUND_MASS of the posterior lies in the outer BOUND_EDGE of the prior's
    working range on that side, and at least BOUND_RATIO times what the prior puts there: the
    data push against the bound, so the bound, not the data, sets that end of the interval."""
    flags = []
    for j, prior in enumerate(priors):
        lo, hi = prior.working_bounds
        edge = BOUND_EDGE * (hi - lo)
        found = ""
        for side, post, pri in (("lower", flat_working[:, j] <= lo + edge, prior_working[:, j] <= lo + edge),
                                ("upper", flat_working[:, j] >= hi - edge, prior_working[:, j] >= hi - edge)):
            if post.mean() >= BOUND_MASS and post.mean() >= BOUND_RATIO * max(pri.mean(), 1e-12):
                found = side
        flags.append(found)
    return flags


def correlation_table(priors: list[Prior], flat_working: np.ndarray) -> pd.DataFrame:
    names = [p.name for p in priors]
    return pd.DataFrame(np.corrcoef(flat_working, rowvar=False), index=pd.Index(names, name="parameter"),
                        columns=names)


def strong_pairs(correlations: pd.DataFrame) -> list[tuple[str, str, float]]:
    """Parameter pairs whose posterior correlation exceeds COMBINATION_CORRELATION, strongest first."""
    names = list(correlations.columns)
    pairs = [(names[i], names[j], float(correlations.iloc[i, j]))
             for i in range(len(names)) for j in range(i + 1, len(names))
             if abs(correlations.iloc[i, j]) >= COMBINATION_CORRELATION]
    return sorted(pairs, key=lambda t: -abs(t[2]))


def pinned_combinations(priors: list[Prior], prior_working: np.ndarray, flat_working: np.ndarray,
                        parameters: pd.DataFrame) -> list[tuple[float, str]]:
    """Directions of the posterior that the data narrow although no single parameter is pinned.

    The posterior is standardised by the prior sd of each parameter; eigen-directions of its
    covariance with sd <= COMBINATION_SD_RATIO are identified combinations. Directions made
    of one already-identified parameter are skipped. Returns (sd ratio, label) pairs.
    """
    scale = prior_working.std(axis=0)
    centred = (flat_working - flat_working.mean(axis=0)) / scale
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    identified = set(parameters.loc[parameters["identified"], "parameter"])
    found = []
    for value, vector in zip(values, vectors.T):
        sd_ratio = float(np.sqrt(max(value, 0.0)))
        if sd_ratio > COMBINATION_SD_RATIO:
            break
        keep = np.flatnonzero(np.abs(vector) >= LOADING_SHARE * np.abs(vector).max())
        members = [priors[k].name for k in keep]
        if len(members) < 2 or set(members) <= identified:
            continue
        order = keep[np.argsort(-np.abs(vector[keep]))]
        label = " ".join(f"{'+' if vector[k] > 0 else '-'}{abs(vector[k]):.2f}*{_scaled(priors[k])}"
                         for k in order)
        found.append((sd_ratio, label))
    return found


def _scaled(prior: Prior) -> str:
    return f"log({prior.name})" if prior.log_scale else f"[{prior.name}]"
