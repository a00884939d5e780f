"""Tier 1: the SMC + HMC sampler (calibration.smc) on targets with known answers, no model.

Conjugate Gaussian prior x likelihood: posterior mean, sd and the evidence p(data) are exact,
so the SMC cloud, its evidence estimate and the HMC chains can each be checked against them."""

import numpy as np
import pytest
from innosd.calibration import smc

# Tolerances, named: Monte Carlo error of a mean from ~1,000 effective draws is ~0.03 sd; 0.15 sd
# leaves room for SMC's genealogy. The evidence estimate's sd is ~0.1 for these clouds.
MEAN_TOL_SD = 0.15
SD_TOL_REL = 0.15
LOG_EVIDENCE_TOL = 0.3
RHAT_TOL = 1.02

D = 10
PRIOR_SD = 3.0
# likelihood: x ~ N(mu, Sigma) with a correlated Sigma (a ridge: correlation 0.9 between neighbours)
SIGMA = 0.5 ** 2 * (0.9 ** np.abs(np.subtract.outer(np.arange(D), np.arange(D))))
MU = np.linspace(-1.0, 2.0, D)


def _gaussian_parts(z):
    z = np.atleast_2d(z)
    prior = -0.5 * np.sum((z / PRIOR_SD) ** 2, axis=1) - D * np.log(PRIOR_SD * np.sqrt(2 * np.pi))
    resid = z - MU
    inv = np.linalg.inv(SIGMA)
    loglik = (-0.5 * np.einsum("ij,jk,ik->i", resid, inv, resid)
              - 0.5 * np.linalg.slogdet(2 * np.pi * SIGMA)[1])
    return prior, loglik


def _exact():
    prior_cov = PRIOR_SD ** 2 * np.eye(D)
    post_cov = np.linalg.inv(np.linalg.inv(prior_cov) + np.linalg.inv(SIGMA))
    post_mean = post_cov @ np.linalg.inv(SIGMA) @ MU
    # evidence: "data" MU under N(0, prior_cov + SIGMA)
    total = prior_cov + SIGMA
    log_evidence = (-0.5 * MU @ np.linalg.solve(total, MU) - 0.5 * np.linalg.slogdet(2 * np.pi * total)[1])
    return post_mean, np.sqrt(np.diag(post_cov)), log_evidence


def _cloud(seed):
    rng = np.random.default_rng(seed)
    start = PRIOR_SD * rng.standard_normal((800, D))
    return smc.tempered_smc(_gaussian_parts, start, smc.SMCSettings(800, 0.5, 2, 30), rng)


def _density(z):
    prior, loglik = _gaussian_parts(z)
    return prior + loglik


def test_smc_recovers_a_gaussian_posterior_and_its_evidence():
    mean, sd, log_evidence = _exact()
    cloud = _cloud(0)
    assert cloud.betas[0] == 0.0 and cloud.betas[-1] == 1.0 and len(cloud.betas) > 2
    assert np.all(np.abs(cloud.particles.mean(axis=0) - mean) < MEAN_TOL_SD * sd)
    assert np.all(np.abs(cloud.particles.std(axis=0) / sd - 1) < SD_TOL_REL)
    assert abs(cloud.log_evidence - log_evidence) < LOG_EVIDENCE_TOL


def test_hmc_chains_from_the_cloud_recover_the_posterior_with_rhat_near_one():
    import arviz as az

    mean, sd, _ = _exact()
    cloud = _cloud(1)
    rng = np.random.default_rng(2)
    out = smc.hmc_chains(_density, cloud.particles[:4], cloud.particles.mean(axis=0), cloud.cholesky,
                         warmup=30, iterations=400, trajectory=2.0, rng=rng)
    assert out.chain.shape == (4, 400, D)
    flat = out.chain.reshape(-1, D)
    assert np.all(np.abs(flat.mean(axis=0) - mean) < MEAN_TOL_SD * sd)
    assert np.all(np.abs(flat.std(axis=0) / sd - 1) < SD_TOL_REL)
    rhat = az.rhat(az.convert_to_dataset({"x": out.chain}))["x"].to_numpy()
    assert np.all(rhat < RHAT_TOL)
    assert 0.5 < out.acceptance.mean() < 0.99


def test_hmc_is_not_fooled_by_a_wrong_start_scale():
    """Chains started far out in one tail come back: the mean is still recovered (a sampler that
    ignored the density would keep the start)."""
    mean, sd, _ = _exact()
    rng = np.random.default_rng(3)
    starts = mean + 4 * sd * np.ones((4, D))
    out = smc.hmc_chains(_density, starts, mean, np.diag(sd), warmup=40, iterations=300, trajectory=2.0, rng=rng)
    assert np.all(np.abs(out.chain[:, 50:].reshape(-1, D).mean(axis=0) - mean) < 2 * MEAN_TOL_SD * sd)


def test_same_seed_same_draws():
    a, b = _cloud(5), _cloud(5)
    assert np.array_equal(a.particles, b.particles) and a.log_evidence == b.log_evidence
    runs = [smc.hmc_chains(_density, a.particles[:2], a.particles.mean(axis=0), a.cholesky, 5, 20, 1.0,
                           np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(runs[0].chain, runs[1].chain)


def test_next_beta_keeps_the_effective_sample_size():
    loglik = np.random.default_rng(0).normal(-100, 30, size=2000)
    beta = smc.next_beta(0.0, loglik, 0.5)
    assert 0 < beta < 1
    assert smc.effective_fraction(beta * loglik) == pytest.approx(0.5, abs=1e-3)
    assert smc.next_beta(0.0, np.zeros(10), 0.5) == 1.0  # a flat likelihood: straight to the posterior
