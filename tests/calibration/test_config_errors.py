"""Tier 3: the default calibration config composes; bad priors and observations give one
line naming the key (exit 2, no traceback, no folder)."""

from __future__ import annotations

import numpy as np
import yaml
import pytest
from innosd.calibration.priors import log_prior, parse_prior, sample_prior
from innosd.experiments import calibrate as calmod
from innosd.experiments.cli import main as cli_main

from innosd.errors import ConfigError


def test_default_config_composes_with_sourced_priors_and_enough_evaluations():
    config, _ = calmod.load_config([])
    assert len(config.priors) >= 10
    assert all(p.source for p in config.priors)
    assert config.observations.table["in_likelihood"].sum() >= 20
    assert set(config.observations.table["year"]) <= {2013, 2014, 2015, 2016}
    table = config.observations.table.set_index(["indicator", "year"])
    # a value derived from another row is compared (check_years) but not counted twice
    assert not table.loc[("incubators", 2015), "in_likelihood"] and table.loc[("incubators", 2016), "in_likelihood"]
    # rows repeating one figure across sources become one observation (their median)
    assert table.loc[("high_tech_enterprises", 2016), "observed"] in (4740.0, 4741.0, 4742.0)
    sampler = config.settings.sampler
    # the issue asks for >= 100,000 model evaluations; proposals outside the prior box are
    # not simulated, so the default must propose clearly more than that
    assert sampler.walkers * sampler.steps >= 200_000


def _one_line_error(capsys, argv: list[str]) -> str:
    code = cli_main(["calibrate", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_inverted_prior_bounds_give_one_line(capsys, tmp_path):
    err = _one_line_error(capsys, ["calibration.parameters.rd_public_2013.lower=300",
                                   f"run.output_dir={tmp_path}"])
    assert "calibration.parameters.rd_public_2013" in err and "not below upper bound" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("override, key", [("handoff.name=../elsewhere/x", "handoff.name"),
                                           ("calibration.name=a/b", "calibration.name")])
def test_names_that_become_paths_are_checked_before_calibrating(capsys, tmp_path, override, key):
    err = _one_line_error(capsys, [override, f"run.output_dir={tmp_path}"])
    assert f"{key}: " in err and "must be letters" in err
    assert not any(tmp_path.iterdir())


def test_one_profiled_name_without_brackets_is_a_name_not_its_letters(capsys):
    err = _one_line_error(capsys, ["calibration.profile.parameters=rd_adjustment_tim"])
    assert "calibration.profile.parameters.rd_adjustment_tim" in err and "rd adjustment time" in err
    config, _ = calmod.load_config(["calibration.profile.parameters=rd_adjustment_time"])
    assert config.settings.profile.parameters == ("rd adjustment time",)


def test_unknown_parameter_names_the_key_and_suggests(capsys):
    err = _one_line_error(capsys, ["calibration.parameters.rd_publik_2013.prior=uniform"])
    assert "rd_publik_2013" in err and "unknown model parameter" in err and "rd public 2013" in err


def test_observation_without_model_variable_gives_one_line(capsys):
    err = _one_line_error(capsys, ["calibration.observations.rd_personnel_headcount.sigma=0.05"])
    assert "calibration.observations.rd_personnel_headcount" in err and "no model variable" in err


def test_unknown_indicator_and_unknown_key(capsys):
    err = _one_line_error(capsys, ["calibration.observations.rd_expenditur.sigma=0.05"])
    assert "rd_expenditure" in err  # the suggestion
    err = _one_line_error(capsys, ["calibration.sampler.walkerz=10"])
    assert "calibration.sampler.walkerz" in err and "walkers" in err


def test_prior_outside_declared_model_range_is_refused(capsys):
    err = _one_line_error(capsys, ["calibration.parameters.patent_propensity_growth.upper=0.5"])
    assert "declared range" in err and "patent propensity growth" in err


@pytest.mark.parametrize("spec, message", [
    ({"prior": "uniform", "lower": 1, "upper": 2}, "source"),
    ({"prior": "gamma", "lower": 1, "upper": 2, "source": "x"}, "unknown prior"),
    ({"prior": "normal", "lower": 1, "upper": 2, "source": "x", "sd": 1}, "missing `mean`"),
    ({"prior": "lognormal", "median": 5, "sigma": 0.1, "lower": 1, "upper": 2, "source": "x"}, "outside its bounds"),
    ({"prior": "loguniform", "lower": 0, "upper": 2, "source": "x"}, "positive lower bound"),
])
def test_malformed_priors(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_prior("c", spec, "calibration.parameters.c", (-np.inf, np.inf))


def test_prior_density_and_sampling_respect_the_box():
    prior = parse_prior("c", {"prior": "lognormal", "median": 2, "sigma": 0.5, "lower": 1, "upper": 5,
                              "source": "test"}, "k", (0, 10))
    draws = sample_prior([prior], 5000, np.random.default_rng(0))
    assert np.all((draws >= np.log(1)) & (draws <= np.log(5)))
    # truncated normal on log x: the median of the draws is near log 2 (truncation is mild)
    assert abs(np.median(draws) - np.log(2)) < 0.05
    assert np.isneginf(log_prior([prior], np.array([[np.log(0.9)], [np.log(5.1)]]))).all()
    assert log_prior([prior], np.array([[np.log(2)]]))[0] > log_prior([prior], np.array([[np.log(4)]]))[0]


def test_hydra_deletion_removes_a_prior():
    # issue 11: `innosd calibrate '~calibration.parameters.rd_per_hte'` was refused as "not KEY=VALUE"
    full, _ = calmod.load_config([])
    config, _ = calmod.load_config(["~calibration.parameters.rd_per_hte"])
    assert "rd per hte" in {p.name for p in full.priors}
    assert {p.name for p in config.priors} == {p.name for p in full.priors} - {"rd per hte"}


def test_fixed_constants_carry_their_model_file_value_and_source_and_are_not_free(capsys):
    config, model = calmod.load_config([])
    fixed = {name: (value, source) for name, value, source in config.fixed}
    assert fixed and not set(fixed) & {p.name for p in config.priors}
    for name, (value, source) in fixed.items():
        assert value == float(model.parameters.loc[name, "default"]) and source
        assert "fixed" in str(model.parameters.loc[name, "doc"]).lower()  # the .mdl cites why and from where
    assert fixed["rd depreciation rate"][0] == 0.15
    err = _one_line_error(capsys, ["+calibration.parameters.rd_depreciation_rate.prior=uniform",
                                   "+calibration.parameters.rd_depreciation_rate.lower=0.1",
                                   "+calibration.parameters.rd_depreciation_rate.upper=0.2",
                                   "+calibration.parameters.rd_depreciation_rate.source=x"])
    assert "calibration.fixed.rd_depreciation_rate" in err and "either free or fixed" in err
    err = _one_line_error(capsys, ["+calibration.fixed.rd_publik_2013=x"])
    assert "calibration.fixed.rd_publik_2013" in err and "unknown model parameter" in err


def test_handoff_goes_under_the_working_directory_not_the_package(tmp_path, monkeypatch):
    from innosd.scenarios import CONFIG_DIR

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INNOSD_PARAMS_DIR")  # the suite points it at an empty folder (tests/conftest.py)
    config, _ = calmod.load_config([])
    assert config.params_dir == tmp_path / "params"
    assert CONFIG_DIR not in config.params_dir.parents
    config, _ = calmod.load_config([f"handoff.params_dir={tmp_path / 'elsewhere'}"])
    assert config.params_dir == tmp_path / "elsewhere"


def test_hydra_run_dir_names_the_calibration_folder_and_cfg_prints_the_config(tmp_path, capsys):
    config, _ = calmod.load_config([f"hydra.run.dir={tmp_path / 'cal'}"])
    assert config.folder == tmp_path / "cal"
    default, _ = calmod.load_config(["run.output_dir=elsewhere"])
    assert default.folder.parts[:2] == ("elsewhere", "calibration") and default.folder.name.endswith("_default")
    assert cli_main(["calibrate", "--cfg", "job", "seed=3"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["seed"] == 3 and "rd_per_hte" in printed["calibration"]["parameters"]


def test_unconstrained_scale_round_trips_and_its_jacobian_is_the_derivative():
    from innosd.calibration.priors import from_unconstrained, log_jacobian, to_unconstrained

    priors = [parse_prior("a", {"prior": "loguniform", "lower": 2, "upper": 50, "source": "t"}, "k", (0, 100)),
              parse_prior("b", {"prior": "normal", "mean": 0.5, "sd": 0.2, "lower": 0.1, "upper": 1, "source": "t"},
                          "k", (0, 1)),  # positive with a linear prior: sampled on its log
              parse_prior("c", {"prior": "uniform", "lower": -1, "upper": 1, "source": "t"}, "k", (-5, 5))]
    z = np.random.default_rng(1).normal(size=(20, 3)) * 3
    working = from_unconstrained(priors, z)
    low, high = np.array([p.working_bounds for p in priors]).T
    assert np.all((working > low) & (working < high))
    np.testing.assert_allclose(to_unconstrained(priors, working), z, rtol=1e-9, atol=1e-9)
    # d(working)/dz by central differences, parameter by parameter
    h = 1e-6
    numeric = np.zeros(len(z))
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        numeric += np.log((from_unconstrained(priors, z + step)[:, j] - from_unconstrained(priors, z - step)[:, j])
                          / (2 * h))
    np.testing.assert_allclose(log_jacobian(priors, z), numeric, rtol=1e-6, atol=1e-6)


def test_lognormal_density_is_the_normal_density_of_log_y():
    from scipy import stats
    from innosd.calibration.likelihood import pointwise_log_likelihood

    config, _ = calmod.load_config([])
    obs = config.observations
    table = obs.table
    predicted = table["observed"].to_numpy()[None, :] * 1.04
    density = pointwise_log_likelihood(predicted, obs)[0]
    rows = table[obs.likelihood_mask]
    expected = (stats.norm.logpdf(np.log(rows["observed"]), np.log(rows["observed"] * 1.04), rows["sigma"])
                - np.log(rows["observed"]))
    np.testing.assert_allclose(density, expected.to_numpy(), rtol=1e-12)


def test_student_t_and_an_estimated_sigma_from_config():
    from innosd.calibration.likelihood import LogPosterior
    from innosd.calibration.priors import sample_prior

    config, model = calmod.load_config([
        "calibration.likelihood.family=student_t", "calibration.likelihood.nu=4",
        "calibration.observations.rd_expenditure.sigma=estimate",
        "+calibration.observations.rd_expenditure.sigma_prior={prior: lognormal, median: 0.03, sigma: 0.5, "
        "lower: 0.005, upper: 0.3, source: test}"])
    roles = {p.name: p.role for p in config.priors}
    assert roles["sigma rd_expenditure"] == "sigma" and set(config.observations.table["error"]) == {"student_t"}
    logpost = LogPosterior(model, config.priors, config.observations)
    draws = sample_prior(config.priors, 4, np.random.default_rng(0))
    assert np.isfinite(logpost(draws)).all()
    # a larger error sd makes a 10% miss more likely: the estimated sigma enters the likelihood
    j = [p.name for p in config.priors].index("sigma rd_expenditure")
    low, high = draws[:1].copy(), draws[:1].copy()
    low[0, j], high[0, j] = np.log(0.006), np.log(0.2)
    assert logpost(low)[0] != logpost(high)[0]


def test_estimated_sigma_without_a_prior_is_one_line(capsys):
    err = _one_line_error(capsys, ["calibration.observations.rd_expenditure.sigma=estimate"])
    assert "calibration.observations.rd_expenditure.sigma_prior" in err
    err = _one_line_error(capsys, ["calibration.likelihood.family=student"])
    assert "student_t" in err


def test_unknown_sampler_method_gives_one_line(capsys):
    err = _one_line_error(capsys, ["calibration.sampler.method=smc_hcm"])
    assert "calibration.sampler.method" in err and "smc_hmc" in err and "emcee" in err
    err = _one_line_error(capsys, ["calibration.sampler.method=smc_hmc", "calibration.sampler.chains=1"])
    assert "calibration.sampler.chains" in err
