"""One calibration from typed inputs to result tables: the staged, seeded pipeline.

    optimise (multi-start L-BFGS-B) -> emcee from the optimum -> ArviZ diagnostics
    -> posterior predictive at every observation -> profiles -> tables

Pure with respect to files: takes a compiled model, priors and observations, returns a
`CalibrationResult`; `calibration.outputs` writes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from innosd.calibration import pipeline, tables
from innosd.calibration.likelihood import BatchRunner, LogPosterior, ObservationSet, predictive_draws
from innosd.calibration.priors import Prior, log_prior, sample_prior, to_natural, to_working_rows
from innosd.scenarios.schema import OptimiserSettings, ProfileSettings, SamplerSettings

from innosd.errors import ConfigError

# Prior summaries (mean, sd, shrinkage reference) come from this many seeded prior draws:
# Monte Carlo error of a variance ~ sqrt(2/n) = 1.4%, negligible against the shrinkage cut.
PRIOR_DRAWS = 10_000
# Prior draws (plus the model file's values) at which each free constant is moved to both of
# its bounds to find the inert ones: two points guard against a constant that happens to be
# switched off at one of them.
INERT_PROBES = 2


@dataclass(frozen=True)
class CalibrationSettings:
    optimiser: OptimiserSettings
    sampler: SamplerSettings
    profile: ProfileSettings
    seed: int = 0


@dataclass
class CalibrationResult:
    priors: list[Prior]
    observations: ObservationSet
    best: np.ndarray                 # working scale
    starts: pd.DataFrame
    chain: np.ndarray                # (walkers, draws, d), working scale
    log_prob: np.ndarray             # (walkers, draws)
    prior_draws: np.ndarray          # (PRIOR_DRAWS, d), working scale
    acceptance: np.ndarray           # per walker
    autocorr_steps: np.ndarray       # emcee integrated autocorrelation time per parameter, in steps
    fit: pd.DataFrame
    parameters: pd.DataFrame
    correlations: pd.DataFrame
    profiles: pd.DataFrame
    timings: pipeline.Timings
    seed: int
    inert: list[str] = field(default_factory=list)  # free constants no observation depends on (prior draws)
    pointwise_log_likelihood: np.ndarray | None = None  # (walkers, draws, likelihood observations)
    replicated: np.ndarray | None = None                # (walkers, draws, observations): posterior predictive
    log_evidence: float | None = None                   # log p(data) where the sampler estimates it (SMC)
    sampler_info: dict = field(default_factory=dict)    # method and its settings/tuning (summary.md)
    autocorr_unit: str = "steps"                        # of autocorr_steps: emcee steps or HMC iterations

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.priors]

    @property
    def flat(self) -> np.ndarray:
        return self.chain.reshape(-1, self.chain.shape[-1])

    def natural_draws(self) -> pd.DataFrame:
        """Posterior draws of the model constants (estimated error terms are not handed off)."""
        draws = pd.DataFrame(to_natural(self.priors, self.flat), columns=self.names)
        return draws[[p.name for p in self.priors if p.role == "constant"]]

    def posterior_median(self) -> dict[str, float]:
        return {n: float(v) for n, v in self.natural_draws().median(axis=0).items()}

    def best_natural(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, to_natural(self.priors, self.best)[0])}


def calibrate(model, priors: list[Prior], observations: ObservationSet, settings: CalibrationSettings,
              defaults: np.ndarray | None = None, progress: bool = True,
              runner: BatchRunner | None = None) -> CalibrationResult:
    """Run the whole pipeline; every random choice derives from `settings.seed`. `runner` (e.g. Dask
    workers, `run.scheduler`) evaluates the model batches; the result is the same as without it.

    Free constants that change no observed value (`pipeline.inert_parameters`) are not
    sampled: their posterior is exactly their prior, so their columns of the chain are
    independent prior draws. Everything else is optimised and sampled on the unconstrained scale."""
    seed = int(settings.seed)
    rng = np.random.default_rng(seed)
    full = LogPosterior(model, priors, observations, runner=runner)
    timings = pipeline.Timings()
    names = [p.name for p in priors]

    started = time.perf_counter()
    probes = sample_prior(priors, INERT_PROBES, np.random.default_rng([seed, 4]))
    if defaults is not None:
        probes = np.vstack([to_working_rows(priors, defaults), probes])
    inert = pipeline.inert_parameters(full, probes)
    active = [j for j in range(len(priors)) if j not in inert]
    if not active:
        raise ConfigError("calibration.parameters: no free constant changes any observed value "
                          "(check the observations and the calibration window)")
    prior_draws = sample_prior(priors, PRIOR_DRAWS, np.random.default_rng([seed, 1]))
    # an inert constant's value does not matter for the likelihood: its prior median stands in
    held = {names[j]: float(np.median(to_natural([priors[j]], prior_draws[:, [j]]))) for j in inert}
    logpost = LogPosterior(model, [priors[j] for j in active], observations, held, runner)
    timings.record("screening", started, full.evaluations)

    started, before = time.perf_counter(), logpost.evaluations
    best_active, starts = pipeline.optimise(logpost, settings.optimiser, rng,
                                            None if defaults is None else np.atleast_2d(defaults)[:, active])
    timings.record("optimisation", started, logpost.evaluations - before)

    started, before = time.perf_counter(), logpost.evaluations
    drawn = pipeline.draw(logpost, best_active, settings.sampler, seed, progress=progress)
    timings.record("mcmc", started, logpost.evaluations - before)
    chain_active, log_prob, acceptance = drawn.chain, drawn.log_prob, drawn.acceptance
    autocorr_active = drawn.autocorr
    flat_active = chain_active.reshape(-1, chain_active.shape[-1])
    # the sampler may find a better point than the optimiser: keep the best of both
    if log_prob.max() > -starts["neg_log_posterior"].min():
        best_active = flat_active[int(np.argmax(log_prob.reshape(-1)))]

    # the full chain: sampled columns, and independent prior draws for the inert ones
    walkers, draws = chain_active.shape[:2]
    chain = np.empty((walkers, draws, len(priors)))
    chain[:, :, active] = chain_active
    autocorr = np.full(len(priors), np.nan)
    autocorr[active] = autocorr_active
    best = np.empty(len(priors))
    best[active] = best_active
    if inert:
        inert_priors = [priors[j] for j in inert]
        chain[:, :, inert] = sample_prior(inert_priors, walkers * draws,
                                          np.random.default_rng([seed, 5])).reshape(walkers, draws, len(inert))
        best[inert] = to_working_rows(inert_priors, np.array([[held[names[j]] for j in inert]]))[0]
        log_prob = log_prob + log_prior(inert_priors, chain[:, :, inert].reshape(-1, len(inert))).reshape(
            walkers, draws)
    flat = chain.reshape(-1, chain.shape[-1])

    started, before = time.perf_counter(), full.evaluations
    diag = pipeline.diagnostics(chain, names)
    # every kept draw through the model once: pointwise log-likelihood (LOO) and replicated data
    predicted = full.predict(flat)
    pointwise = full.pointwise(flat, predicted)
    scales, nu = full.error_terms(flat)
    replicated = predictive_draws(predicted, observations, np.random.default_rng([seed, 2]), scales, nu)
    fit = tables.fit_table(observations, predicted, replicated, np.median(scales, axis=0))
    parameters = tables.parameter_table(priors, prior_draws, flat, diag)
    parameters["sampled"] = [j in active for j in range(len(priors))]
    correlations = tables.correlation_table(priors, flat)
    timings.record("diagnostics", started, full.evaluations - before)

    started, before = time.perf_counter(), logpost.evaluations
    active_names = [names[j] for j in active]
    profiled = ProfileSettings(tuple(p for p in settings.profile.parameters if p in active_names),
                               settings.profile.points, settings.profile.max_iterations)
    profile_table = pipeline.profiles(logpost, best_active, flat_active, log_prob.reshape(-1), profiled)
    timings.record("profiles", started, logpost.evaluations - before)

    shape = chain.shape[:2]
    return CalibrationResult(priors, observations, best, starts, chain, log_prob, prior_draws, acceptance,
                             autocorr, fit, parameters, correlations, profile_table, timings, seed,
                             [names[j] for j in inert], pointwise.reshape(*shape, -1),
                             replicated.reshape(*shape, -1), drawn.log_evidence, drawn.info,
                             drawn.autocorr_unit)
