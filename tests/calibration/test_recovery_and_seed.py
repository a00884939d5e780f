"""Tier 3: parameter recovery on synthetic data made by the model itself; the same seed
gives the same posterior; a small end-to-end `innosd calibrate` writes the contract files
and a hand-off that `calibration.handoff` reads back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from innosd.calibration import handoff
from innosd.calibration.likelihood import ObservationSet, simulate_observations
from innosd.scenarios.schema import OptimiserSettings, ProfileSettings, SamplerSettings
from innosd.calibration.workflow import CalibrationSettings, calibrate
from innosd.experiments import calibrate as calmod
from innosd.experiments.cli import main as cli_main

from innosd.errors import ModelError

# A handful of constants, one or two per observed series, so the test is fast.
RECOVERED = ("rd spending per fte growth", "hte application rate base", "incubator build time",
             "patent propensity growth", "tech contracts 2013", "neeq market share")
# Values to recover: inside the priors but away from the model file's values and the prior
# centres, so recovery cannot come from the starting point or the prior alone.
TRUTH = {"rd spending per fte growth": 0.085, "hte application rate base": 0.035,
         "incubator build time": 1.4, "patent propensity growth": 0.12, "tech contracts 2013": 300.0,
         "neeq market share": 0.3}
SMALL = CalibrationSettings(OptimiserSettings(screen=256, starts=1, max_iterations=60),
                            SamplerSettings(walkers=32, steps=250, burn=125, thin=2, moves="de"),
                            ProfileSettings(("patent propensity growth",), points=5, max_iterations=10), seed=3)


@pytest.fixture(scope="module")
def default_config():
    config, model = calmod.load_config([])
    return config, model


def _subset(config, names):
    return [p for p in config.priors if p.name in names]


def test_recovers_known_parameters_from_synthetic_data(default_config):
    config, model = default_config
    priors = _subset(config, RECOVERED)
    truth = np.array([[TRUTH[p.name] for p in priors]])
    synthetic = config.observations.table.copy()
    synthetic["observed"] = simulate_observations(model, [p.name for p in priors], truth, config.observations)[0]
    result = calibrate(model, priors, ObservationSet(synthetic), SMALL, progress=False)
    table = result.parameters.set_index("parameter")
    identified = table[table["identified"]]
    assert len(identified) >= 4, table[["shrinkage"]]
    for name, row in identified.iterrows():
        assert row.p05 <= TRUTH[name] <= row.p95, (name, TRUTH[name], row.p05, row.p95)
    # the fit to model-made data is close: every likelihood observation within its error
    assert result.fit.loc[result.fit["in_likelihood"], "within_error"].all()
    assert not result.profiles.empty


def test_observation_before_the_run_is_a_model_error_not_a_wrong_value(default_config):
    config, model = default_config
    early = config.observations.table.copy()
    early.loc[0, ["year", "time"]] = 2005, 2006.0  # INITIAL TIME is 2010: year end 2006 is never saved
    with pytest.raises(ModelError, match="observation year 2005"):
        simulate_observations(model, [config.priors[0].name], np.array([[config.priors[0].lower]]),
                              ObservationSet(early))


def test_same_seed_same_posterior_other_seed_differs(default_config):
    config, model = default_config
    priors = _subset(config, RECOVERED[:3])
    quick = dataclasses.replace(SMALL, sampler=SamplerSettings(walkers=8, steps=30, burn=10, thin=1, moves="de"),
                                profile=ProfileSettings((), points=11, max_iterations=30),
                                optimiser=OptimiserSettings(screen=64, starts=1, max_iterations=5))
    first = calibrate(model, priors, config.observations, quick, progress=False)
    second = calibrate(model, priors, config.observations, quick, progress=False)
    other = calibrate(model, priors, config.observations, dataclasses.replace(quick, seed=quick.seed + 1),
                      progress=False)
    assert np.array_equal(first.chain, second.chain)
    assert np.array_equal(first.best, second.best)
    assert not np.array_equal(first.chain, other.chain)


def test_cli_writes_contract_files_and_handoff(tmp_path, capsys):
    params_dir = tmp_path / "params"
    code = cli_main(["calibrate", f"run.output_dir={tmp_path}", "run.figures=false", "run.progress=false",
                     f"handoff.params_dir={params_dir}", "handoff.draws=50", "handoff.allow_dirty=true",
                     "calibration.optimiser.screen=128", "calibration.optimiser.starts=1",
                     "calibration.optimiser.max_iterations=3", "calibration.sampler.walkers=96",
                     "calibration.sampler.steps=12", "calibration.sampler.burn=4", "calibration.sampler.thin=1",
                     "calibration.profile.points=3", "calibration.profile.max_iterations=1",
                     "calibration.profile.parameters=[rd_adjustment_time]"])
    assert code == 0, capsys.readouterr().err
    (folder,) = list((tmp_path / "calibration").glob("*/*_default"))
    fit = pd.read_csv(folder / "fit.csv")
    assert {"indicator", "model_variable", "year", "unit", "observed", "median", "p05", "p95", "sigma",
            "error_rel", "within_error", "source"} <= set(fit.columns)
    parameters = pd.read_csv(folder / "parameters.csv")
    assert list(parameters.columns[:3]) == ["parameter", "units", "prior"]
    assert {"shrinkage", "rhat", "ess_bulk", "identified"} <= set(parameters.columns)
    assert set(pd.read_csv(folder / "profiles.csv").columns) == {"parameter", "value", "neg_log_posterior"}
    correlations = pd.read_csv(folder / "correlations.csv", index_col=0)
    assert correlations.shape == (len(parameters), len(parameters))
    posterior = xr.open_dataset(folder / "posterior.nc", group="posterior")
    assert posterior.attrs["seed"] == "0" and "git_commit" in posterior.attrs and "config" in posterior.attrs
    assert set(parameters["parameter"]) <= set(posterior.data_vars)
    posterior.close()
    import arviz as az

    idata = az.from_netcdf(str(folder / "posterior.nc"))
    assert {"posterior", "prior", "posterior_predictive", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.log_likelihood["y"].shape[-1] == int(fit["in_likelihood"].sum())
    assert idata.posterior_predictive["y"].shape[-1] == len(fit)
    # the predictive band includes observation error, so it is wider than the model's own band
    assert (fit["p95"] / fit["p05"] >= fit["model_p95"] / fit["model_p05"]).mean() > 0.9
    loo = pd.read_csv(folder / "loo.csv")
    assert len(loo) == int(fit["in_likelihood"].sum()) and loo["pareto_k"].notna().all()
    text = (folder / "summary.md").read_text(encoding="utf-8")
    assert "PSIS-LOO" in text and "Check rows" in text
    assert cli_main(["calibrate", "--compare", str(folder), str(folder)]) == 0
    assert "difference B - A: +0.00" in capsys.readouterr().out
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "pin down" in summary and "optimisation + MCMC" in summary
    assert (folder / "metadata.json").is_file() and (folder / "config.yaml").is_file()
    loaded = handoff.load_parameter_set("calibrated", params_dir)
    assert loaded.statistic == "posterior median" and loaded.source["run_dir"] == str(folder)
    # the hand-off records the commit and the convergence verdict (a 12-step run is not converged)
    assert loaded.source["git_commit"] and loaded.source["convergence"]["converged"] is False
    assert "Not converged" in summary and "starts" in summary
    assert set(loaded.params) == set(parameters["parameter"])
    draws = handoff.load_posterior_draws(loaded, params_dir)
    assert len(draws) == 50 and set(draws.columns) == set(parameters["parameter"])


def test_bench_prints_measured_timings_and_writes_nothing(tmp_path, capsys):
    code = cli_main(["calibrate", "--bench", f"run.output_dir={tmp_path}", "run.progress=false",
                     "calibration.optimiser.screen=64", "calibration.optimiser.starts=1",
                     "calibration.optimiser.max_iterations=2", "calibration.sampler.walkers=96",
                     "calibration.sampler.steps=5", "calibration.sampler.burn=1"])
    out = capsys.readouterr().out
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"optimisation", "MCMC", "total"} <= set(lines)
    assert float(lines["MCMC"].split()[1]) > 0 and "model evaluations" in lines["total"]
    assert not any(tmp_path.iterdir())


def test_dirty_tree_refuses_the_handoff_before_calibrating(tmp_path, capsys, monkeypatch):
    real = calmod.provenance
    monkeypatch.setattr(calmod, "provenance", lambda *a: {**real(*a), "git_commit": "0123abc-dirty"})
    code = cli_main(["calibrate", f"run.output_dir={tmp_path}", f"handoff.params_dir={tmp_path / 'params'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "handoff.allow_dirty=true" in err
    assert not any(tmp_path.iterdir())  # refused before any work: no run folder, no hand-off


def test_constants_acting_after_the_window_are_drawn_from_their_prior(default_config):
    from innosd.calibration.likelihood import LogPosterior
    from innosd.calibration.pipeline import inert_parameters
    from innosd.calibration.priors import sample_prior

    config, model = default_config
    logpost = LogPosterior(model, config.priors, config.observations)
    inert = {config.priors[j].name for j in
             inert_parameters(logpost, sample_prior(config.priors, 2, np.random.default_rng(0)))}
    # both act only from 2017 on (the first campaign cohort expires at end-2019; the NEEQ reforms are 2017-18)
    assert {"campaign cohort renewal factor", "neeq attractiveness after reforms"} <= inert
    assert "hte application rate base" not in inert and "rd per hte" not in inert


def test_smc_hmc_sampler_writes_the_five_groups_and_the_evidence(tmp_path, capsys):
    """`calibration.sampler.method=smc_hmc` end to end on a tiny budget: same files as emcee, plus
    SMC's log evidence in posterior.nc, which --compare quotes."""
    import arviz as az

    code = cli_main(["calibrate", f"run.output_dir={tmp_path}", "run.figures=false", "run.progress=false",
                     "handoff.write=false", "calibration.optimiser.screen=64", "calibration.optimiser.starts=1",
                     "calibration.optimiser.max_iterations=2", "calibration.sampler.method=smc_hmc",
                     "calibration.sampler.particles=60", "calibration.sampler.chains=2",
                     "calibration.sampler.warmup=2", "calibration.sampler.iterations=4",
                     "calibration.sampler.trajectory=0.3", "calibration.profile.points=3",
                     "calibration.profile.max_iterations=1", "calibration.profile.parameters=[rd_adjustment_time]"])
    assert code == 0, capsys.readouterr().err
    (folder,) = list((tmp_path / "calibration").glob("*/*_default"))
    idata = az.from_netcdf(str(folder / "posterior.nc"))
    assert {"posterior", "prior", "posterior_predictive", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == 4
    assert idata.posterior.attrs["sampler"] == "smc_hmc"
    evidence = float(idata.posterior.attrs["log_evidence"])
    assert np.isfinite(evidence) and evidence < 0
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "tempered SMC" in summary and "HMC chains" in summary and "Not converged" in summary
    assert cli_main(["calibrate", "--compare", str(folder), str(folder)]) == 0
    assert f"{evidence:.3f}" in capsys.readouterr().out
