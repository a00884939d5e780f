"""Observations that enter the fit, the log-normal error model, and the log posterior.

An observation is one (indicator, year): rows of `observations.csv` that repeat the same
figure (mirrors of one document, or variants such as 4,742 / 4,740 / 4,739 HTEs) are
combined into their median, because mirrors are not independent measurements and the
variants differ by far less than any stated error (model brief 6.3).

Error model, per indicator k:  log y_obs ~ Normal(log y_model, sigma_k^2), sigma_k stated
in the calibration config with its reason. Rows marked `use: check` are compared in
`fit.csv` but do not enter the likelihood (e.g. R&D intensity repeats R&D expenditure
divided by the exogenous GDP).

The model is evaluated through `CompiledModel.run_ensemble` on a whole batch of parameter
rows at once (every emcee walker of a half-step is one call), asking only for the
observed variables and stopping the run at the end of the last observed year.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from innosd.calibration.priors import Prior, log_prior, to_natural
from innosd.model.results import year_end_index, year_end_time

from innosd.errors import ConfigError, ModelError, closest

USES = ("likelihood", "check")
OBSERVATION_KEYS = ("sigma", "use", "years", "check_years", "reason")


@dataclass(frozen=True)
class ObservationSet:
    """One row per (indicator, year) that the calibration compares with the model."""

    table: pd.DataFrame  # indicator, model_variable, year, unit, observed, sigma, in_likelihood, source, reason

    @property
    def variables(self) -> list[str]:
        return sorted(set(self.table["model_variable"]))

    @property
    def pairs(self) -> list[tuple[str, int]]:
        return list(zip(self.table["model_variable"], self.table["year"].astype(int)))

    @property
    def last_year(self) -> int:
        return int(self.table["year"].max())

    @property
    def likelihood_mask(self) -> np.ndarray:
        return self.table["in_likelihood"].to_numpy(dtype=bool)


def select_observations(observations: pd.DataFrame, spec: dict, window: tuple[int, int],
                        model_columns: list[str]) -> ObservationSet:
    """The configured observation rows, one per (indicator, year), with their sigma.

    `spec` maps indicator id -> {sigma, use, years?, check_years?, reason}. Errors name the config key.
    """
    if not spec:
        raise ConfigError("calibration.observations: no indicators configured")
    first, last = window
    if first > last:
        raise ConfigError(f"calibration.window: first year {first} is after last year {last}")
    known = sorted(set(observations["indicator"]))
    rows = []
    for indicator, setting in spec.items():
        where = f"calibration.observations.{indicator}"
        if indicator not in known:
            raise ConfigError(f"{where}: no indicator {indicator!r} in observations.csv"
                              f"{closest(str(indicator), known)}")
        if not isinstance(setting, dict):
            raise ConfigError(f"{where}: expected a mapping with sigma, use, reason")
        picked = observations[observations["indicator"] == indicator]
        variable = next((v for v in picked["model_variable"] if v), "")
        if not variable:
            raise ConfigError(f"{where}: observation has no model variable in observations.csv "
                              "(column model_variable is empty), so the model cannot be compared with it")
        if variable not in model_columns:
            raise ConfigError(f"{where}: model variable {variable!r} is not in the model"
                              f"{closest(variable, model_columns)}")
        unknown = [k for k in setting if k not in OBSERVATION_KEYS]
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown key{closest(str(unknown[0]), OBSERVATION_KEYS)}; "
                              f"valid keys: {', '.join(OBSERVATION_KEYS)}")
        use = setting.get("use", "likelihood")
        if use not in USES:
            raise ConfigError(f"{where}.use: {use!r} is not one of {', '.join(USES)}")
        try:
            sigma = float(setting.get("sigma"))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.sigma: {setting.get('sigma')!r} is not a number "
                              "(the log-normal error of this indicator)") from None
        if not 0 < sigma < 5:
            raise ConfigError(f"{where}.sigma: {sigma:g} is not a plausible log-scale error (0 < sigma < 5)")
        if not str(setting.get("reason") or "").strip():
            raise ConfigError(f"{where}.reason: state why sigma is {sigma:g}")
        years = setting.get("years")
        # years compared in fit.csv but kept out of the likelihood (e.g. a value derived from others)
        check_years = {int(y) for y in setting.get("check_years") or []}
        picked = picked[picked["year"].between(first, last)]
        if years is not None:
            picked = picked[picked["year"].isin([int(y) for y in years])]
        if picked.empty:
            raise ConfigError(f"{where}: no rows in {first}-{last}"
                              + (f" for years {list(years)}" if years is not None else ""))
        for year, group in picked.groupby("year"):
            values = group["value"].to_numpy(dtype=float)
            if np.any(values <= 0):
                raise ConfigError(f"{where}: year {year} has a non-positive value; "
                                  "the log-normal error model needs positive figures")
            rows.append({"indicator": indicator, "model_variable": variable, "year": int(year),
                         "unit": group["unit"].iloc[0], "observed": float(np.median(values)),
                         "sigma": sigma, "in_likelihood": use == "likelihood" and int(year) not in check_years,
                         "source": " || ".join(dict.fromkeys(group["source"])),
                         "reason": str(setting["reason"]).strip()})
    table = pd.DataFrame(rows).sort_values(["indicator", "year"], kind="stable").reset_index(drop=True)
    if not table["in_likelihood"].any():
        raise ConfigError("calibration.observations: every indicator is `use: check`; "
                          "at least one must enter the likelihood")
    return ObservationSet(table)


def observation_simulator(model, names: list[str], observations: ObservationSet,
                          fixed: dict[str, float] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function: parameter rows (n, len(names)), natural units -> model values at every
    observation, shape (n, n_obs).

    Names, outputs and the time grid are resolved once (`CompiledModel.ensemble_evaluator`);
    each call is one compiled ensemble run that ends at 1 January after the last observed year.
    """
    settings = dict(fixed or {})
    settings["FINAL TIME"] = year_end_time(observations.last_year)
    evaluator = model.ensemble_evaluator(list(names), observations.variables, settings)
    table = observations.table
    column = year_end_index(evaluator.times, table["year"].to_numpy(), missing="nan")
    if (column < 0).any():
        year = int(table["year"].to_numpy()[column < 0][0])
        raise ModelError(f"observation year {year}: its year end (t = {year_end_time(year):g}) is not a "
                         "saved time of the model run (check calibration.window against INITIAL TIME)")
    row_of = dict(zip(observations.variables, evaluator.positions))
    rows = np.array([row_of[v] for v in table["model_variable"]])

    def simulate(natural: np.ndarray) -> np.ndarray:
        result = evaluator.evaluate(np.atleast_2d(natural))  # (columns, n, times)
        return result[rows, :, column].T

    return simulate


def simulate_observations(model, names: list[str], natural: np.ndarray, observations: ObservationSet,
                          fixed: dict[str, float] | None = None) -> np.ndarray:
    """Model values at every observation for each parameter row: shape (n_rows, n_obs)."""
    return observation_simulator(model, names, observations, fixed)(natural)


def log_likelihood(predicted: np.ndarray, observations: ObservationSet) -> np.ndarray:
    """Gaussian log-likelihood of log observations (up to a constant), shape (n_rows,).

    A non-positive or non-finite model value has likelihood zero (-inf).
    """
    mask = observations.likelihood_mask
    observed = observations.table["observed"].to_numpy()[mask]
    sigma = observations.table["sigma"].to_numpy()[mask]
    values = np.atleast_2d(predicted)[:, mask]
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = (np.log(values) - np.log(observed)) / sigma
    total = -0.5 * np.sum(residual ** 2, axis=1)
    bad = ~np.all(np.isfinite(values) & (values > 0), axis=1)
    return np.where(bad | ~np.isfinite(total), -np.inf, total)


class LogPosterior:
    """Vectorised log posterior on the working scale; counts model evaluations.

    Call with an (n, d) array (emcee `vectorize=True` passes a batch of walkers); rows
    outside the prior box are not simulated.
    """

    def __init__(self, model, priors: list[Prior], observations: ObservationSet,
                 fixed: dict[str, float] | None = None):
        self.model = model
        self.priors = priors
        self.names = [p.name for p in priors]
        self.observations = observations
        self.fixed = dict(fixed or {})
        self.evaluations = 0
        self._simulate = observation_simulator(model, self.names, observations, self.fixed)

    def predict(self, working: np.ndarray) -> np.ndarray:
        working = np.atleast_2d(working)
        self.evaluations += len(working)
        return self._simulate(to_natural(self.priors, working))

    def __call__(self, working: np.ndarray) -> np.ndarray:
        working = np.atleast_2d(np.asarray(working, dtype=float))
        lp = log_prior(self.priors, working)
        inside = np.isfinite(lp)
        if inside.any():
            lp[inside] += log_likelihood(self.predict(working[inside]), self.observations)
        return lp
