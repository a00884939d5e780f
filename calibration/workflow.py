"""One calibration from typed inputs to result tables: the staged, seeded pipeline.

    optimise (multi-start L-BFGS-B) -> emcee from the optimum -> ArviZ diagnostics
    -> posterior predictive at every observation -> profiles -> tables

Pure with respect to files: takes a compiled model, priors and observations, returns a
`CalibrationResult`; `calibration.outputs` writes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from innosd.calibration import pipeline, tables
from innosd.calibration.likelihood import LogPosterior, ObservationSet
from innosd.calibration.priors import Prior, sample_prior, to_natural
from innosd.scenarios.schema import OptimiserSettings, ProfileSettings, SamplerSettings

# Prior summaries (mean, sd, shrinkage reference) come from this many seeded prior draws:
# Monte Carlo error of a variance ~ sqrt(2/n) = 1.4%, negligible against the shrinkage cut.
PRIOR_DRAWS = 10_000
# At most this many posterior draws are simulated for the fit intervals (one ensemble call).
PREDICTIVE_DRAWS = 4_000


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

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.priors]

    @property
    def flat(self) -> np.ndarray:
        return self.chain.reshape(-1, self.chain.shape[-1])

    def natural_draws(self) -> pd.DataFrame:
        return pd.DataFrame(to_natural(self.priors, self.flat), columns=self.names)

    def posterior_median(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, np.median(to_natural(self.priors, self.flat), axis=0))}

    def best_natural(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, to_natural(self.priors, self.best)[0])}


def calibrate(model, priors: list[Prior], observations: ObservationSet, settings: CalibrationSettings,
              defaults: np.ndarray | None = None, progress: bool = True) -> CalibrationResult:
    """Run the whole pipeline; every random choice derives from `settings.seed`."""
    seed = int(settings.seed)
    rng = np.random.default_rng(seed)
    logpost = LogPosterior(model, priors, observations)
    timings = pipeline.Timings()

    started, before = time.perf_counter(), logpost.evaluations
    best, starts = pipeline.optimise(logpost, settings.optimiser, rng, defaults)
    timings.record("optimisation", started, logpost.evaluations - before)

    started, before = time.perf_counter(), logpost.evaluations
    sampler = pipeline.sample(logpost, best, settings.sampler, seed, progress=progress)
    timings.record("mcmc", started, logpost.evaluations - before)
    chain = pipeline.retained_chain(sampler, settings.sampler)
    log_prob = pipeline.retained_log_prob(sampler, settings.sampler)
    acceptance = np.asarray(sampler.acceptance_fraction)
    # tol=0: always return the estimate; summary.md compares it with the chain length itself
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where a walker never moved
        autocorr = np.asarray(sampler.get_autocorr_time(tol=0, discard=settings.sampler.burn))
    flat = chain.reshape(-1, chain.shape[-1])
    # the sampler may find a better point than the optimiser: keep the best of both
    if log_prob.max() > -starts["neg_log_posterior"].min():
        best = flat[int(np.argmax(log_prob.reshape(-1)))]

    started, before = time.perf_counter(), logpost.evaluations
    names = [p.name for p in priors]
    diag = pipeline.diagnostics(chain, names)
    prior_draws = sample_prior(priors, PRIOR_DRAWS, np.random.default_rng([seed, 1]))
    pick = np.random.default_rng([seed, 2]).choice(len(flat), size=min(PREDICTIVE_DRAWS, len(flat)),
                                                   replace=False)
    predicted = logpost.predict(flat[np.sort(pick)])
    fit = tables.fit_table(observations, predicted)
    parameters = tables.parameter_table(priors, prior_draws, flat, diag)
    correlations = tables.correlation_table(priors, flat)
    timings.record("diagnostics", started, logpost.evaluations - before)

    started, before = time.perf_counter(), logpost.evaluations
    profiled = ProfileSettings(tuple(p for p in settings.profile.parameters if p in names),
                                        settings.profile.points, settings.profile.max_iterations)
    profile_table = pipeline.profiles(logpost, best, flat, log_prob.reshape(-1), profiled)
    timings.record("profiles", started, logpost.evaluations - before)

    return CalibrationResult(priors, observations, best, starts, chain, log_prob, prior_draws, acceptance,
                             autocorr, fit, parameters, correlations, profile_table, timings, seed)
