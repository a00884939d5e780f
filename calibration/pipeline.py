"""The calibration pipeline: multi-start optimisation, emcee MCMC, diagnostics, profiles.

Everything works on the priors' working scale (see `calibration.priors`) and on a
`LogPosterior` (see `calibration.likelihood`) that evaluates a batch of parameter rows in
one compiled-model ensemble call. Every random choice comes from the seed passed in, so
the same seed gives the same posterior bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from innosd.calibration.likelihood import LogPosterior
from innosd.calibration.priors import (Prior, from_unconstrained, log_jacobian, log_prior, sample_prior, to_natural,
                                       to_unconstrained, to_working_rows)
from innosd.scenarios.schema import OptimiserSettings, ProfileSettings, SamplerSettings
from scipy import optimize

# Finite-difference step on the unit box (each working-scale range mapped to [0, 1]).
# The compiled model is deterministic in float64; 1e-6 of a prior range keeps rounding
# noise (~1e-12 relative) far below the gradient signal.
FD_STEP_UNIT = 1e-6
# An L-BFGS-B stop counts as converged only where the projected gradient on the unit box is at most
# this: no move of 1% of a prior range could lower -log posterior by more than 0.01. L-BFGS-B also
# reports success when a line search stops making progress (relative reduction of f below factr),
# which on model v2 happened at a projected gradient of 22 after 48 iterations: not an optimum.
CONVERGED_GRADIENT_UNIT = 1.0
# Objective value standing in for -log posterior where the model fails (non-positive or
# non-finite output inside the prior box): large, finite, so L-BFGS-B backs off.
FAILED_OBJECTIVE = 1e12
# Fallback walker ball around the point estimate, as a share of each working-scale range:
# small enough to start in the mode, large enough that the ensemble is not degenerate.
WALKER_BALL = 1e-3
# Walkers start at least this share of the prior range inside the box: the unconstrained scale
# maps a bound to infinity, and walkers started at 1e-6 of a bound (z = 13.8) were measured to
# take more than 4,000 steps to come back from that far tail (z = 4 at 2%).
WALKER_EDGE = 0.02
# Hessian step on the unit box: large enough that rounding noise (~1e-12) divided by
# step^2 stays ~1e-6, small enough to resolve curvature over a few percent of a prior range.
HESSIAN_STEP_UNIT = 1e-3
# Widest start spread of a walker along a flat direction, as a share of the prior box.
LAPLACE_MAX_SD = 0.25
# Rounds of redrawing walkers that fall outside the box before the fallback ball.
LAPLACE_ATTEMPTS = 10


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)
    evaluations: dict[str, int] = field(default_factory=dict)

    def record(self, stage: str, started: float, evaluations: int) -> None:
        self.seconds[stage] = time.perf_counter() - started
        self.evaluations[stage] = evaluations


# ----------------------------------------------------------------------------- optimisation

def _unit_map(priors: list[Prior]) -> tuple[np.ndarray, np.ndarray]:
    bounds = np.array([p.working_bounds for p in priors])
    return bounds[:, 0], bounds[:, 1] - bounds[:, 0]


def objective_with_gradient(logpost: LogPosterior, free: np.ndarray, base_unit: np.ndarray):
    """-log posterior and its forward-difference gradient on the unit box, in one ensemble call.

    `free` selects the coordinates being optimised (the others stay at `base_unit`), so the
    same function serves the full optimisation and the profiles.
    """
    low, span = _unit_map(logpost.priors)
    free_idx = np.flatnonzero(free)

    def f(u_free: np.ndarray):
        u = base_unit.copy()
        u[free_idx] = u_free
        rows = np.repeat(u[None, :], len(free_idx) + 1, axis=0)
        steps = np.where(u[free_idx] + FD_STEP_UNIT <= 1.0, FD_STEP_UNIT, -FD_STEP_UNIT)
        rows[np.arange(1, len(free_idx) + 1), free_idx] += steps
        values = -logpost(low + rows * span)
        if not np.isfinite(values[0]):
            return FAILED_OBJECTIVE, np.zeros(len(free_idx))
        grad = np.where(np.isfinite(values[1:]), (values[1:] - values[0]) / steps, 0.0)
        return float(values[0]), grad

    return f


def _minimise(logpost: LogPosterior, start_unit: np.ndarray, free: np.ndarray, max_iterations: int):
    f = objective_with_gradient(logpost, free, start_unit)
    result = optimize.minimize(f, start_unit[free], jac=True, method="L-BFGS-B",
                               bounds=[(0.0, 1.0)] * int(free.sum()),
                               options={"maxiter": max_iterations})
    best = start_unit.copy()
    best[free] = result.x
    return best, float(result.fun), result


def projected_gradient_norm(x: np.ndarray, gradient: np.ndarray) -> float:
    """Largest gradient component that could still lower the objective inside the unit box
    (L-BFGS-B's own stopping measure, pgtol): components pushing against an active bound drop out."""
    g = np.asarray(gradient, dtype=float)
    blocked = ((x <= 0.0) & (g > 0)) | ((x >= 1.0) & (g < 0))
    return float(np.max(np.abs(np.where(blocked, 0.0, g)), initial=0.0))


def optimise(logpost: LogPosterior, settings: OptimiserSettings, rng: np.random.Generator,
             defaults: np.ndarray | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Multi-start L-BFGS-B; returns the best point (working scale) and one row per start.

    Starts: the model file's values (if given) and the best `starts` of `screen` prior
    draws, which cost one batched ensemble call instead of one optimisation each.
    """
    priors = logpost.priors
    low, span = _unit_map(priors)
    screened = sample_prior(priors, max(settings.screen, settings.starts), rng)
    order = np.argsort(-logpost(screened), kind="stable")
    starts = list(screened[order[:settings.starts]])
    if defaults is not None:
        starts.insert(0, to_working_rows(priors, defaults)[0])
    rows, best, best_value = [], None, np.inf
    free = np.ones(len(priors), dtype=bool)
    for number, start in enumerate(starts):
        unit = np.clip((np.asarray(start) - low) / span, 0.0, 1.0)
        point, value, result = _minimise(logpost, unit, free, settings.max_iterations)
        gradient = projected_gradient_norm(result.x, result.jac)
        rows.append({"start": number, "from": "model file" if defaults is not None and number == 0 else "screened prior draw",
                     "neg_log_posterior": value, "iterations": int(result.nit),
                     "converged": bool(result.success) and gradient <= CONVERGED_GRADIENT_UNIT,
                     "gradient_norm": gradient,
                     "message": " ".join(str(result.message).split())})
        if value < best_value:
            best, best_value = low + point * span, value
    return best, pd.DataFrame(rows)


# ----------------------------------------------------------------------------- sampling

def _moves(kind: str):
    import emcee

    if kind == "stretch":
        return None
    # differential-evolution proposals scale better than the stretch move beyond ~10 dimensions
    return [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]


def hessian_unit(logpost: LogPosterior, centre_unit: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of -log posterior on the unit box, all points in one batch.

    The centre is moved HESSIAN_STEP_UNIT inside the box so every stencil point is valid.
    """
    low, span = _unit_map(logpost.priors)
    d, h = len(centre_unit), HESSIAN_STEP_UNIT
    u = np.clip(centre_unit, h, 1.0 - h)
    eye = np.eye(d) * h
    points = [u]
    for i in range(d):
        for j in range(i, d):
            points += [u + eye[i] + eye[j], u + eye[i] - eye[j], u - eye[i] + eye[j], u - eye[i] - eye[j]]
    values = -logpost(low + np.array(points) * span)
    hess = np.zeros((d, d))
    k = 1
    for i in range(d):
        for j in range(i, d):
            pp, pm, mp, mm = values[k:k + 4]
            hess[i, j] = hess[j, i] = (pp - pm - mp + mm) / (4 * h * h)
            k += 4
    return np.where(np.isfinite(hess), hess, 0.0)


def initial_walkers(logpost: LogPosterior, centre: np.ndarray, walkers: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Walkers drawn from a Laplace approximation at the optimum (working scale).

    Starting with roughly the posterior's spread saves the long warm-up an ensemble needs
    to expand out of a tiny ball. Curvatures are floored so no direction is wider than
    LAPLACE_MAX_SD of the prior box. A draw outside the box is reflected back into it (with the
    optimum on a bound, rejection would leave few walkers and clipping would stack them on the
    bound, linearly dependent); every walker then lies at least WALKER_EDGE inside the box (the
    unconstrained scale puts a bound at infinity). Draws with zero posterior are redrawn, and a
    tiny ball (WALKER_BALL) is the fallback if a walker cannot be placed.
    """
    priors = logpost.priors
    low, span = _unit_map(priors)
    centre_unit = (centre - low) / span
    values, vectors = np.linalg.eigh(hessian_unit(logpost, centre_unit))
    values = np.maximum(values, 1.0 / LAPLACE_MAX_SD ** 2)
    root = vectors / np.sqrt(values)  # columns: principal sds
    placed = np.empty((0, len(priors)))
    for _ in range(LAPLACE_ATTEMPTS):
        draws = _inside(centre_unit + rng.standard_normal((walkers, len(priors))) @ root.T)
        if len(draws):
            draws = draws[np.isfinite(logpost(low + draws * span))]
        placed = np.vstack([placed, draws])[:walkers]
        if len(placed) == walkers:
            break
    short = walkers - len(placed)
    ball = _inside(centre_unit + WALKER_BALL * rng.standard_normal((short, len(priors))))
    return low + np.vstack([placed, ball]) * span


def _inside(unit: np.ndarray) -> np.ndarray:
    """Unit-box rows reflected into [0, 1] and squeezed into [WALKER_EDGE, 1 - WALKER_EDGE]."""
    folded = np.abs(np.mod(unit + 1.0, 2.0) - 1.0)  # reflection at 0 and 1, any distance out
    return WALKER_EDGE + (1.0 - 2.0 * WALKER_EDGE) * folded


def unconstrained_density(logpost: LogPosterior):
    """The log posterior as a density on the unconstrained scale (see calibration.priors)."""
    priors = logpost.priors

    def density(z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(z)
        return logpost(from_unconstrained(priors, z)) + log_jacobian(priors, z)

    return density


def sample(logpost: LogPosterior, centre: np.ndarray, settings: SamplerSettings, seed: int,
           progress: bool = True):
    """emcee ensemble sampling on the unconstrained scale, walkers from a Laplace approximation
    at `centre`; returns the sampler (its chain is on the unconstrained scale: `retained_chain`
    maps it back to the working scale)."""
    import emcee

    rng = np.random.default_rng(seed)
    priors = logpost.priors
    start = initial_walkers(logpost, centre, settings.walkers, rng)
    sampler = emcee.EnsembleSampler(settings.walkers, len(priors), unconstrained_density(logpost),
                                    vectorize=True, moves=_moves(settings.moves))
    # emcee draws proposals from its own RandomState: seed it, or reruns differ
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(to_unconstrained(priors, start), settings.steps, progress=progress,
                     progress_kwargs={"desc": "innosd calibrate: MCMC", "unit": " steps"})
    return sampler


def retained_chain(sampler, settings: SamplerSettings, priors: list[Prior]) -> np.ndarray:
    """Posterior draws after warm-up and thinning, shape (walkers, draws, d), working scale."""
    chain = sampler.get_chain()[settings.burn::settings.thin]  # (draws, walkers, d), unconstrained
    working = from_unconstrained(priors, chain.reshape(-1, chain.shape[-1])).reshape(chain.shape)
    return np.swapaxes(working, 0, 1)


def retained_log_prob(sampler, settings: SamplerSettings, priors: list[Prior]) -> np.ndarray:
    """Log posterior on the working scale (the sampling scale's Jacobian taken off) of the kept draws."""
    chain = sampler.get_chain()[settings.burn::settings.thin]
    jacobian = log_jacobian(priors, chain.reshape(-1, chain.shape[-1])).reshape(chain.shape[:2])
    return np.swapaxes(sampler.get_log_prob()[settings.burn::settings.thin] - jacobian, 0, 1)


def inert_parameters(logpost: LogPosterior, points: np.ndarray) -> list[int]:
    """Parameters that change no observed model value: at each row of `points` (working scale),
    moving one parameter to its lower and to its upper bound leaves every simulated observation
    bit-for-bit the same (e.g. a constant that acts only after the calibration window).

    Their posterior is exactly their prior, independent of the rest, so they are drawn from
    the prior instead of being sampled."""
    priors = logpost.priors
    points = np.atleast_2d(points)
    inert = []
    for j, prior in enumerate(priors):
        if prior.role != "constant":  # an error term changes the likelihood, never the model values
            continue
        rows = []
        for point in points:
            for bound in prior.working_bounds:
                row = point.copy()
                row[j] = bound
                rows.append(row)
        predicted = logpost.predict(np.vstack([points, np.array(rows)]))
        base, moved = predicted[:len(points)], predicted[len(points):].reshape(len(points), 2, -1)
        if np.array_equal(np.repeat(base[:, None, :], 2, axis=1), moved, equal_nan=True):
            inert.append(j)
    return inert


# ----------------------------------------------------------------------------- profiles

def profile_grid(priors: list[Prior], j: int, flat: np.ndarray, points: int) -> np.ndarray:
    """Working-scale grid for parameter j: the posterior 1-99% range widened by half on each side,
    clipped to the prior box (wide enough to see the profile rise where the data pin it down)."""
    lo, hi = priors[j].working_bounds
    q01, q99 = np.quantile(flat[:, j], [0.01, 0.99])
    pad = 0.5 * (q99 - q01)
    return np.linspace(max(lo, q01 - pad), min(hi, q99 + pad), points)


def profiles(logpost: LogPosterior, best: np.ndarray, flat: np.ndarray, flat_log_prob: np.ndarray,
             settings: ProfileSettings) -> pd.DataFrame:
    """Profile -log posterior: parameter j fixed on a grid, every other one re-optimised.

    Each grid point starts from the best posterior draw in its grid cell (or the optimum if
    the cell is empty) and is polished by at most `settings.max_iterations` L-BFGS-B steps:
    the MCMC has already explored the neighbourhood, so a short polish suffices.
    """
    priors = logpost.priors
    low, span = _unit_map(priors)
    names = [p.name for p in priors]
    rows = []
    for name in settings.parameters:
        j = names.index(name)
        free = np.ones(len(priors), dtype=bool)
        free[j] = False
        grid = profile_grid(priors, j, flat, settings.points)
        half_cell = 0.5 * (grid[1] - grid[0]) if len(grid) > 1 else np.inf
        for value in grid:
            cell = np.flatnonzero(np.abs(flat[:, j] - value) <= half_cell)
            start = flat[cell[np.argmax(flat_log_prob[cell])]].copy() if cell.size else best.copy()
            start[j] = value
            _, objective, _ = _minimise(logpost, (start - low) / span, free, settings.max_iterations)
            rows.append({"parameter": name, "value": float(to_natural([priors[j]], np.array([[value]]))[0, 0]),
                         "neg_log_posterior": objective})
    return pd.DataFrame(rows, columns=["parameter", "value", "neg_log_posterior"])


# ----------------------------------------------------------------------------- diagnostics

def diagnostics(chain: np.ndarray, names: list[str]) -> pd.DataFrame:
    """ArviZ R-hat and bulk/tail ESS per parameter (each walker counted as a chain)."""
    import warnings

    import arviz as az

    with warnings.catch_warnings():  # "more chains than draws" is expected: walkers are the chains
        warnings.simplefilter("ignore", UserWarning)
        data = az.convert_to_dataset({n: chain[:, :, j] for j, n in enumerate(names)})
    with np.errstate(divide="ignore", invalid="ignore"):  # a chain that never moved: R-hat inf or NaN, not converged
        rhat, bulk, tail = az.rhat(data), az.ess(data, method="bulk"), az.ess(data, method="tail")
    return pd.DataFrame({"parameter": names, "rhat": [float(rhat[n]) for n in names],
                         "ess_bulk": [float(bulk[n]) for n in names],
                         "ess_tail": [float(tail[n]) for n in names]})


# ----------------------------------------------------------------------------- sampler choice

@dataclass
class Draws:
    """What either sampler hands the workflow: kept draws on the working scale and their diagnostics."""
    chain: np.ndarray           # (chains or walkers, draws, d), working scale
    log_prob: np.ndarray        # (chains, draws): log posterior on the working scale
    acceptance: np.ndarray      # per chain (walker)
    autocorr: np.ndarray        # integrated autocorrelation time per parameter, in `autocorr_unit`
    autocorr_unit: str
    log_evidence: float | None = None  # log p(data) where the sampler estimates it (SMC)
    info: dict = field(default_factory=dict)


# SMC cloud's effective-sample-size target per tempering stage, and its random-walk steps per stage:
# 0.5 is the common choice (Jasra et al. 2011; PyMC's SMC), and 2-40 steps bracket what the
# acceptance-driven rule (smc.MOVE_PROBABILITY) asked for on the default calibration (16-25).
SMC_ESS_FRACTION = 0.5
SMC_MIN_STEPS, SMC_MAX_STEPS = 2, 40


def draw(logpost: LogPosterior, centre: np.ndarray, settings: SamplerSettings, seed: int,
         progress: bool = True) -> Draws:
    """Sample the posterior with `settings.method`: "emcee" (ensemble from a Laplace start at `centre`)
    or "smc_hmc" (tempered SMC from the prior, then independent HMC chains; see calibration.smc)."""
    priors = logpost.priors
    if settings.method == "emcee":
        sampler = sample(logpost, centre, settings, seed, progress=progress)
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN where a walker never moved
            autocorr = np.asarray(sampler.get_autocorr_time(tol=0, discard=settings.burn))
        return Draws(retained_chain(sampler, settings, priors), retained_log_prob(sampler, settings, priors),
                     np.asarray(sampler.acceptance_fraction), autocorr, "steps",
                     info={"method": "emcee", "walkers": settings.walkers, "steps": settings.steps})
    return smc_hmc(logpost, settings, seed, progress)


def smc_hmc(logpost: LogPosterior, settings: SamplerSettings, seed: int, progress: bool = True) -> Draws:
    import emcee
    from innosd.calibration import smc

    priors = logpost.priors
    rng = np.random.default_rng([seed, 6])
    density = unconstrained_density(logpost)

    def parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        working = from_unconstrained(priors, z)
        total = logpost(working)
        prior = log_prior(priors, working)
        return prior + log_jacobian(priors, z), total - prior

    start = to_unconstrained(priors, sample_prior(priors, settings.particles, rng))
    cloud = smc.tempered_smc(parts, start, smc.SMCSettings(settings.particles, SMC_ESS_FRACTION,
                                                           SMC_MIN_STEPS, SMC_MAX_STEPS), rng)
    starts = cloud.particles[rng.choice(len(cloud.particles), settings.chains, replace=False)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=settings.iterations, desc="innosd calibrate: HMC", unit=" iterations")
    try:
        out = smc.hmc_chains(density, starts, cloud.particles.mean(axis=0), cloud.cholesky, settings.warmup,
                             settings.iterations, settings.trajectory, rng, bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    z = out.chain.reshape(-1, out.chain.shape[-1])
    chain = from_unconstrained(priors, z).reshape(out.chain.shape)
    log_prob = out.log_prob - log_jacobian(priors, z).reshape(out.log_prob.shape)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where a chain never moved
        autocorr = emcee.autocorr.integrated_time(np.swapaxes(out.chain, 0, 1), tol=0)
    info = {"method": "smc_hmc", "particles": settings.particles, "stages": len(cloud.betas) - 1,
            "smc_steps": int(sum(cloud.steps)), "chains": settings.chains, "iterations": settings.iterations,
            "warmup": settings.warmup, **out.extra}
    return Draws(chain, log_prob, out.acceptance, np.asarray(autocorr), "iterations", cloud.log_evidence, info)
