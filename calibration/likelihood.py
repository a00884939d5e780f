"""Observations that enter the fit, the log-normal error model, and the log posterior.

An observation is one (indicator, year): rows of `observations.csv` that repeat the same
figure (mirrors of one document, or variants such as 4,742 / 4,740 / 4,739 HTEs) are
combined into their median, because mirrors are not independent measurements and the
variants differ by far less than any stated error (model brief 6.3).

Error model, per indicator k:  log y_obs ~ Normal(log y_model, sigma_k^2), sigma_k stated
in the calibration config with its reason. Rows marked `use: check` are compared in
`fit.csv` but do not enter the likelihood (e.g. R&D intensity repeats R&D expenditure
divided by the exogenous GDP).

The model is evaluated through `CompiledModel.ensemble_evaluator` on a whole batch of parameter
rows at once (every emcee walker of a half-step is one call), asking only for the
observed variables and stopping the run at the end of the last observed year. A batch runner
(`BatchRunner`, e.g. innosd.experiments.dask_exec.DaskBatches for `run.scheduler`) may split each
batch across Dask workers: the batch is then an `EnsembleTask`, which a worker can rebuild.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats
from innosd.calibration.priors import Prior, log_prior, to_natural
from innosd.model import compile_model
from innosd.model.results import time_index, year_end_time

from innosd.errors import ConfigError, ModelError, closest

USES = ("likelihood", "check")
OBSERVATION_KEYS = ("sigma", "sigma_prior", "error", "nu", "use", "years", "check_years", "reason")
ERROR_FAMILIES = ("lognormal", "student_t")
LIKELIHOOD_KEYS = ("family", "nu", "nu_prior", "discrepancy")
ESTIMATE = "estimate"  # `sigma: estimate` / `nu: estimate`: a free error term with its `*_prior`


@dataclass(frozen=True)
class ObservationSet:
    """One row per (indicator, year) that the calibration compares with the model."""

    table: pd.DataFrame  # indicator, model_variable, year, unit, observed, sigma, in_likelihood, source, reason

    @property
    def variables(self) -> list[str]:
        return sorted(set(self.table["model_variable"]))

    @property
    def pairs(self) -> list[tuple[str, int]]:
        return list(zip(self.table["model_variable"], self.table["time"]))

    @property
    def last_time(self) -> float:
        """The model time of the last observation (a year Y observation is at t = Y + 1)."""
        return float(self.table["time"].max())

    @property
    def likelihood_mask(self) -> np.ndarray:
        return self.table["in_likelihood"].to_numpy(dtype=bool)

    @functools.cached_property
    def columns(self) -> dict[str, np.ndarray]:
        """The table's numeric columns as arrays, read once: the likelihood runs at every sampler
        step, and pandas column access and masking cost more than a small batch of model runs."""
        table = self.table
        mask = self.likelihood_mask
        return {"mask": mask, "sigma": table["sigma"].to_numpy(dtype=float),
                "discrepancy": table["discrepancy"].to_numpy(dtype=float),
                "indicator": table["indicator"].to_numpy(),
                "observed": table["observed"].to_numpy(dtype=float)[mask],
                "student": (table["error"].to_numpy() == "student_t")[mask],
                "nu": table["nu"].to_numpy(dtype=float)[mask]}


def likelihood_defaults(likelihood: dict | None) -> dict:
    """The calibration-wide error model: family, Student-t nu (a number or `estimate`), discrepancy."""
    settings = {"family": "lognormal", "nu": 5.0, "discrepancy": 0.0, **(likelihood or {})}
    unknown = [k for k in settings if k not in LIKELIHOOD_KEYS]
    if unknown:
        raise ConfigError(f"calibration.likelihood.{unknown[0]}: unknown key{closest(str(unknown[0]), LIKELIHOOD_KEYS)}; "
                          f"valid keys: {', '.join(LIKELIHOOD_KEYS)}")
    if settings["family"] not in ERROR_FAMILIES:
        raise ConfigError(f"calibration.likelihood.family: {settings['family']!r} is not one of "
                          f"{', '.join(ERROR_FAMILIES)}{closest(str(settings['family']), ERROR_FAMILIES)}")
    settings["nu"] = _error_number(settings["nu"], "calibration.likelihood.nu", 0.5, 1000)
    settings["discrepancy"] = _error_number(settings["discrepancy"], "calibration.likelihood.discrepancy", 0, 5)
    return settings


def _error_number(value, key: str, low: float, high: float) -> float:
    """A stated error number, or NaN for `estimate` (then a prior gives its distribution)."""
    if value == ESTIMATE:
        return float("nan")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not a number nor `{ESTIMATE}`") from None
    if not low <= number < high:
        raise ConfigError(f"{key}: {number:g} is outside [{low:g}, {high:g})")
    return number


def select_observations(observations: pd.DataFrame, spec: dict, window: tuple[int, int],
                        model_columns: list[str], likelihood: dict | None = None) -> ObservationSet:
    """The configured observation rows, one per (indicator, year), with their sigma.

    `spec` maps indicator id -> {sigma, use, years?, check_years?, reason}. Errors name the config key.
    """
    if not spec:
        raise ConfigError("calibration.observations: no indicators configured")
    first, last = window
    if first > last:
        raise ConfigError(f"calibration.window: first year {first} is after last year {last}")
    known = sorted(set(observations["indicator"]))
    defaults = likelihood_defaults(likelihood)
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
        if setting.get("sigma") == ESTIMATE:
            sigma = float("nan")
            if not isinstance(setting.get("sigma_prior"), dict):
                raise ConfigError(f"{where}.sigma_prior: `sigma: estimate` needs a prior (prior, lower, upper, source)")
        else:
            try:
                sigma = float(setting.get("sigma"))
            except (TypeError, ValueError):
                raise ConfigError(f"{where}.sigma: {setting.get('sigma')!r} is not a number nor `{ESTIMATE}` "
                                  "(the log-scale error of this indicator)") from None
            if not 0 < sigma < 5:
                raise ConfigError(f"{where}.sigma: {sigma:g} is not a plausible log-scale error (0 < sigma < 5)")
        if not str(setting.get("reason") or "").strip():
            raise ConfigError(f"{where}.reason: state why the error is what it is")
        family = setting.get("error", defaults["family"])
        if family not in ERROR_FAMILIES:
            raise ConfigError(f"{where}.error: {family!r} is not one of {', '.join(ERROR_FAMILIES)}"
                              f"{closest(str(family), ERROR_FAMILIES)}")
        nu = _error_number(setting["nu"], f"{where}.nu", 0.5, 1000) if "nu" in setting else defaults["nu"]
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
                                  "the error model is on log y and needs positive figures")
            rows.append({"indicator": indicator, "model_variable": variable, "year": int(year),
                         "unit": group["unit"].iloc[0], "observed": float(np.median(values)),
                         "sigma": sigma, "error": family, "nu": nu, "discrepancy": defaults["discrepancy"],
                         "derived": any(str(n).strip().lower().startswith("derived") for n in group["note"]),
                         "in_likelihood": use == "likelihood" and int(year) not in check_years,
                         "source": " || ".join(dict.fromkeys(group["source"])),
                         "reason": str(setting["reason"]).strip()})
    table = pd.DataFrame(rows).sort_values(["indicator", "year"], kind="stable").reset_index(drop=True)
    table["time"] = year_end_time(table["year"].to_numpy())  # the one year-end rule (innosd.model.results)
    if not table["in_likelihood"].any():
        raise ConfigError("calibration.observations: every indicator is `use: check`; "
                          "at least one must enter the likelihood")
    return ObservationSet(table)


def observations_from_columns(frame: pd.DataFrame, model_columns: list[str], likelihood: dict | None,
                              where: str) -> ObservationSet:
    """Observations of a user's own file (calibration.data.load_user_observations): one row per
    (variable, year or time) with its own sigma, all in the likelihood."""
    defaults = likelihood_defaults(likelihood)
    for variable in sorted(set(frame["model_variable"])):
        if variable not in model_columns:
            raise ConfigError(f"{where}: variable {variable!r} is not in the model{closest(variable, model_columns)}")
    if (frame["value"] <= 0).any():
        raise ConfigError(f"{where}: non-positive values; the error model is on log y and needs positive figures")
    table = pd.DataFrame({
        "indicator": frame["indicator"], "model_variable": frame["model_variable"], "year": frame["year"],
        "unit": frame["unit"], "observed": frame["value"].astype(float), "sigma": frame["sigma"].astype(float),
        "error": defaults["family"], "nu": defaults["nu"], "discrepancy": defaults["discrepancy"],
        "derived": False, "in_likelihood": True, "source": frame["source"],
        "reason": f"sigma column of {where}", "time": frame["time"].astype(float)})
    return ObservationSet(table.sort_values(["indicator", "time"], kind="stable").reset_index(drop=True))


def error_priors(spec: dict, likelihood: dict | None, parse) -> list[Prior]:
    """Priors of the estimated error terms: `sigma <indicator>` for each `sigma: estimate` and
    `student_t nu` for `likelihood.nu: estimate`. `parse(name, spec, where, range)` is parse_prior."""
    found = []
    for indicator, setting in spec.items():
        if isinstance(setting, dict) and setting.get("sigma") == ESTIMATE:
            prior = parse(f"sigma {indicator}", setting["sigma_prior"],
                          f"calibration.observations.{indicator}.sigma_prior", (0.0, 5.0))
            found.append(dataclasses.replace(prior, role="sigma", target=str(indicator)))
    settings = dict(likelihood or {})
    if settings.get("nu") == ESTIMATE:
        if not isinstance(settings.get("nu_prior"), dict):
            raise ConfigError("calibration.likelihood.nu_prior: `nu: estimate` needs a prior (prior, lower, upper, source)")
        prior = parse("student_t nu", settings["nu_prior"], "calibration.likelihood.nu_prior", (0.5, 1000.0))
        found.append(dataclasses.replace(prior, role="nu"))
    return found


@dataclass(frozen=True)
class EnsembleTask:
    """A batch of parameter rows (n, len(varied)), natural units, through the compiled model:
    values of `columns` at the saved times, shape (columns, n, times) (`ensemble_evaluator`).

    Picklable (a model path and names), so a Dask worker runs it; each process compiles (or loads
    from its cache) the model and builds the evaluator once (`_evaluator`). The worker needs this
    package and the model file at the same path, as for experiments (innosd.experiments.dask_exec)."""

    model_path: str
    varied: tuple[str, ...]
    columns: tuple[str, ...]
    fixed: tuple[tuple[str, float], ...]

    def __call__(self, natural: np.ndarray) -> np.ndarray:
        return _evaluator(self).evaluate(natural)


@functools.lru_cache(maxsize=16)
def _evaluator(task: EnsembleTask):
    return compile_model(task.model_path).ensemble_evaluator(list(task.varied), list(task.columns), dict(task.fixed))


# runner(task, rows) -> task(rows), the batch possibly split across workers; None: in this process
BatchRunner = Callable[[EnsembleTask, np.ndarray], np.ndarray]


def observation_simulator(model, names: list[str], observations: ObservationSet,
                          fixed: dict[str, float] | None = None,
                          runner: BatchRunner | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function: parameter rows (n, len(names)), natural units -> model values at every
    observation, shape (n, n_obs).

    Names, outputs and the time grid are resolved once (`CompiledModel.ensemble_evaluator`);
    each call is one compiled ensemble run that ends at 1 January after the last observed year,
    in this process or, with a `runner`, as an `EnsembleTask` on its workers (same values).
    """
    settings = dict(fixed or {})
    settings["FINAL TIME"] = observations.last_time
    evaluator = model.ensemble_evaluator(list(names), observations.variables, settings)
    evaluate = evaluator.evaluate
    if runner is not None:
        task = EnsembleTask(str(Path(model.path).resolve()), tuple(names), tuple(observations.variables),
                            tuple(sorted((str(k), float(v)) for k, v in settings.items())))
        evaluate = functools.partial(runner, task)
    table = observations.table
    column = time_index(evaluator.times, table["time"].to_numpy(), missing="nan")
    if (column < 0).any():
        row = table[column < 0].iloc[0]
        when = (f"observation year {int(row['year'])}: its year end (t = {row['time']:g})" if pd.notna(row["year"])
                else f"observation time {row['time']:g}")
        raise ModelError(f"{when} is not a saved time of the model run (check the observation times against "
                         "INITIAL TIME and SAVEPER, or calibration.window)")
    row_of = dict(zip(observations.variables, evaluator.positions))
    rows = np.array([row_of[v] for v in table["model_variable"]])

    def simulate(natural: np.ndarray) -> np.ndarray:
        result = evaluate(np.atleast_2d(natural))  # (columns, n, times)
        return result[rows, :, column].T

    return simulate


def simulate_observations(model, names: list[str], natural: np.ndarray, observations: ObservationSet,
                          fixed: dict[str, float] | None = None) -> np.ndarray:
    """Model values at every observation for each parameter row: shape (n_rows, n_obs)."""
    return observation_simulator(model, names, observations, fixed)(natural)


def error_scales(observations: ObservationSet, n: int, estimated: dict[str, np.ndarray] | None = None,
                 ) -> np.ndarray:
    """Per-row log-scale error sd of every observation, shape (n, n_obs): the stated sigma (or the
    draws of an estimated one, `estimated[indicator]` of shape (n,)) and the model discrepancy in
    quadrature."""
    columns = observations.columns
    sigma = np.repeat(columns["sigma"][None, :], n, axis=0)
    for indicator, values in (estimated or {}).items():
        sigma[:, columns["indicator"] == indicator] = np.asarray(values, dtype=float)[:, None]
    return np.sqrt(sigma ** 2 + columns["discrepancy"] ** 2)


def pointwise_log_likelihood(predicted: np.ndarray, observations: ObservationSet,
                             scales: np.ndarray | None = None, nu: np.ndarray | None = None) -> np.ndarray:
    """Log density of each likelihood observation given each row's model values, shape (n, n_lik).

    The error model is on log y: `lognormal` (Normal on log y) or `student_t` (Student-t on log y
    with `nu` degrees of freedom: heavier tails, one odd figure cannot dominate the fit). The
    density is of y itself (the -log y Jacobian is included), so LOO and evidence are comparable
    across model variants fitted to the same figures. A non-positive or non-finite model value
    has likelihood zero (-inf)."""
    predicted = np.atleast_2d(predicted)
    columns = observations.columns
    mask, observed = columns["mask"], columns["observed"]
    scale = (error_scales(observations, len(predicted)) if scales is None else scales)[:, mask]
    values = predicted[:, mask]
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = (np.log(observed) - np.log(values)) / scale
        normal = -0.5 * residual ** 2 - 0.5 * np.log(2 * np.pi)
        student = columns["student"]
        if student.any():
            dof = _degrees_of_freedom(columns["nu"], nu, values.shape)
            t_density = stats.t.logpdf(np.where(np.isfinite(residual), residual, 0.0), dof)
            normal = np.where(student, t_density, normal)
        density = normal - np.log(scale) - np.log(observed)
    bad = ~(np.isfinite(values) & (values > 0))
    return np.where(bad | ~np.isfinite(density), -np.inf, density)


def _degrees_of_freedom(stated: np.ndarray, nu: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Student-t dof per row and observation: the stated ones, or an estimated one per row."""
    if nu is None:
        return np.broadcast_to(stated, shape)
    return np.broadcast_to(np.asarray(nu, dtype=float).reshape(-1, 1), shape)


def log_likelihood(predicted: np.ndarray, observations: ObservationSet,
                   scales: np.ndarray | None = None, nu: np.ndarray | None = None) -> np.ndarray:
    """Total log-likelihood per row, shape (n,)."""
    return pointwise_log_likelihood(predicted, observations, scales, nu).sum(axis=1)


def predictive_draws(predicted: np.ndarray, observations: ObservationSet, rng: np.random.Generator,
                     scales: np.ndarray | None = None, nu: np.ndarray | None = None) -> np.ndarray:
    """Replicated observations: model value times the observation error (and discrepancy) drawn from
    the error model, shape of `predicted` (every observation, check rows too, with their stated sigma)."""
    predicted = np.atleast_2d(predicted)
    table = observations.table
    scale = error_scales(observations, len(predicted)) if scales is None else scales
    noise = rng.standard_normal(predicted.shape)
    student = (table["error"] == "student_t").to_numpy()
    if student.any():
        dof = _degrees_of_freedom(table["nu"].to_numpy(dtype=float), nu, predicted.shape)
        noise = np.where(student, rng.standard_t(np.where(student, dof, 1.0)), noise)
    with np.errstate(invalid="ignore", over="ignore"):
        return predicted * np.exp(scale * noise)


class LogPosterior:
    """Vectorised log posterior on the working scale; counts model evaluations.

    Call with an (n, d) array (emcee `vectorize=True` passes a batch of walkers); rows
    outside the prior box are not simulated. Columns are model constants, and estimated
    error terms (priors with role `sigma` or `nu`), which feed the error model only.
    """

    def __init__(self, model, priors: list[Prior], observations: ObservationSet,
                 fixed: dict[str, float] | None = None, runner: BatchRunner | None = None):
        self.model = model
        self.priors = priors
        self.names = [p.name for p in priors]
        self.observations = observations
        self.fixed = dict(fixed or {})
        self.evaluations = 0
        self.constants = [j for j, p in enumerate(priors) if p.role == "constant"]
        self._sigmas = {p.target: j for j, p in enumerate(priors) if p.role == "sigma"}
        self._nu = next((j for j, p in enumerate(priors) if p.role == "nu"), None)
        self._simulate = observation_simulator(model, [self.names[j] for j in self.constants], observations,
                                               self.fixed, runner)

    def predict(self, working: np.ndarray) -> np.ndarray:
        working = np.atleast_2d(working)
        self.evaluations += len(working)
        return self._simulate(to_natural(self.priors, working)[:, self.constants])

    def error_terms(self, working: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(log-scale error sd per row and observation, Student-t dof per row or None)."""
        natural = to_natural(self.priors, np.atleast_2d(working))
        scales = error_scales(self.observations, len(natural), {k: natural[:, j] for k, j in self._sigmas.items()})
        return scales, (natural[:, self._nu] if self._nu is not None else None)

    def pointwise(self, working: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        return pointwise_log_likelihood(predicted, self.observations, *self.error_terms(working))

    def __call__(self, working: np.ndarray) -> np.ndarray:
        working = np.atleast_2d(np.asarray(working, dtype=float))
        lp = log_prior(self.priors, working)
        inside = np.isfinite(lp)
        if inside.any():
            rows = working[inside]
            lp[inside] += log_likelihood(self.predict(rows), self.observations, *self.error_terms(rows))
        return lp
