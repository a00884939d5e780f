"""RANDOM functions: explicit seeds, one independent stream per call site, element and
ensemble member (model.compiler.rt._u01).  PySD draws from NumPy's global generator and
ignores the seeds, so there is no reference run: these tests check determinism, member
equality with single runs, and the distributions against their Monte Carlo error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innosd.model import compile_model

MODELS = Path(__file__).parent / "models"
N_MEMBERS = 200
# a sample mean is within 5 standard errors of the true mean except with probability 6e-7
MEAN_Z = 5.0


@pytest.fixture(scope="module", params=["random_walk.mdl", "random_scalar.mdl"])
def model(request):
    # subscripted (rolled array kernels) and scalar (struct-of-arrays ensemble kernels)
    return compile_model(MODELS / request.param)


def test_same_seed_same_numbers_other_seed_other_numbers(model):
    a, b = model.run(), model.run()
    assert np.array_equal(a.to_numpy(), b.to_numpy())
    c = model.run({"NOISE SEED": 1})
    assert (a["shock"] != c["shock"]).all()


def test_ensemble_member_equals_single_run_with_its_seed(model):
    seeds = [5, 0, 11, 3, 8, 1, 2, 9, 4, 6]  # more than one 8-member block
    ds = model.run_ensemble(pd.DataFrame({"NOISE SEED": seeds}))
    for k, seed in enumerate(seeds):
        single = model.run({"NOISE SEED": seed})
        for col in ("shock", "wait", "level" if "level" in single else "level[m2]"):
            assert np.array_equal(ds[col].values[k], single[col].to_numpy()), (seed, col)


def _draws(model, column):
    ds = model.run_ensemble(pd.DataFrame({"NOISE SEED": np.arange(N_MEMBERS)}),
                            return_columns=[column])
    return ds[column].values


def test_distributions_match_their_definitions(model):
    noise = _draws(model, "noise[m1]" if "noise[m1]" in model.columns else "noise")
    shock = _draws(model, "shock")
    wait = _draws(model, "wait")
    n = noise.size
    # uniform on [-1, 1): mean 0, sd 1/sqrt(3)
    assert noise.min() >= -1 and noise.max() < 1
    assert abs(noise.mean()) < MEAN_Z * (1 / np.sqrt(3)) / np.sqrt(n)
    assert abs(noise.std() - 1 / np.sqrt(3)) < 0.01
    # standard normal truncated to [-2, 2]: mean 0, variance 1 - 4 phi(2) / (2 Phi(2) - 1)
    assert shock.min() >= -2 and shock.max() <= 2
    sd = np.sqrt(1 - 4 * np.exp(-2) / np.sqrt(2 * np.pi) / 0.9544997361)
    assert abs(shock.mean()) < MEAN_Z * sd / np.sqrt(n)
    assert abs(shock.std() - sd) < 0.01
    # 0.5 + 2 Exp(1) truncated at 10: mean 0.5 + 2 - 9.5 e^-4.75 / (1 - e^-4.75)
    mass = 1 - np.exp(-4.75)
    mean = 0.5 + 2 - 9.5 * np.exp(-4.75) / mass
    assert wait.min() >= 0.5 and wait.max() <= 10
    assert abs(wait.mean() - mean) < MEAN_Z * 2 / np.sqrt(n)


def test_streams_are_independent_across_members_steps_and_sites(model):
    shock = _draws(model, "shock")
    wait = _draws(model, "wait")
    # correlation of independent samples: standard error 1/sqrt(n)
    limit = MEAN_Z / np.sqrt(shock.size)
    assert abs(np.corrcoef(shock.ravel(), wait.ravel())[0, 1]) < limit
    assert abs(np.corrcoef(shock[:-1].ravel(), shock[1:].ravel())[0, 1]) < limit
    assert abs(np.corrcoef(shock[:, :-1].ravel(), shock[:, 1:].ravel())[0, 1]) < limit
