"""Tier 4: the outside world as named uncertainties (scenarios/world/*.yaml): it composes and
maps to model constants, its draws are reproducible for a seed and follow their declared
distributions, holding it central leaves the posterior ensemble as it was, a bad world file
gives one line naming the file and key, and the variance shares of a band are proper shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from innosd.calibration.data import load_observations, load_targets
from innosd.experiments import bands
from innosd.experiments import ensemble as ens
from innosd.model import MODEL_FILE
from innosd.model.indicators import model_indicators
from innosd.model.info import model_info
from innosd.scenarios import build
from tests.config_copy import scenarios_with_draws

from innosd.errors import ConfigError

N_DRAWS = 64
# Shares of a full ANOVA grid add to one up to float rounding of the sums of squares.
SHARE_SUM_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def info():
    return model_info(MODEL_FILE)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    """scenarios/ with a small calibrated parameter set (draws of two free constants)."""
    rng = np.random.default_rng(3)
    draws = pd.DataFrame({"hte exit rate": rng.uniform(0.03, 0.07, 80),
                          "tech firm birth base": rng.normal(14000, 1500, 80)})
    return scenarios_with_draws(tmp_path_factory, draws, {"run_dir": "test", "seed": 0})


def compose(config_dir, info, *overrides):
    return build.compose_run_config(["params=calibrated", f"uncertainty.draws={N_DRAWS}", *overrides], info,
                                    config_dir)


def test_every_uncertainty_maps_to_model_constants_with_sources(info):
    config = build.compose_run_config([], info)
    assert set(config.world.uncertainties) >= {"gdp_growth", "population_growth", "cost_per_fte_growth",
                                               "price_growth"}
    for name, u in config.world.uncertainties.items():
        assert all(c in info.constants for c in u.constants), name
        central = build.central_value(u, config.params, info)
        assert u.lower <= central <= u.upper and u.source.strip() and u.quote.strip()


def test_draws_are_reproducible_for_a_seed_and_change_with_it(config_dir, info):
    config = compose(config_dir, info)
    first, again = build.world_draws(config, info, N_DRAWS), build.world_draws(config, info, N_DRAWS)
    pd.testing.assert_frame_equal(first, again)
    other = build.world_draws(compose(config_dir, info, "run.seed=1"), info, N_DRAWS)
    assert not np.allclose(first.to_numpy(), other.to_numpy())
    for name, u in config.world.uncertainties.items():
        values = first[name].to_numpy()
        assert values.min() >= u.lower and values.max() <= u.upper
        # a Latin hypercube puts exactly one draw in each of N equal-probability strata
        strata = np.floor(np.sort(np.interp(values, *_cdf(u, build.central_value(u, config.params, info))))
                          * N_DRAWS)
        assert np.array_equal(strata, np.arange(N_DRAWS)), name


def _cdf(u, central):
    """(quantiles, probabilities) of an uncertainty's distribution: np.interp(x, *them) is its CDF."""
    probabilities = np.linspace(0, 1, 20001)
    return build.world_quantiles(u, central, probabilities), probabilities


def test_independent_sampling_is_reproducible_too(config_dir, info, tmp_path):
    config = compose(config_dir, info)
    world = build.replace(config.world, sampling="independent")
    centrals = {n: build.central_value(u, config.params, info) for n, u in world.uncertainties.items()}
    a, b = (build.world_samples(world, centrals, 10, 5) for _ in range(2))
    pd.testing.assert_frame_equal(a, b)


def test_world_draws_reach_the_table_and_leave_the_posterior_draws_as_they_were(config_dir, info):
    sampled, central = compose(config_dir, info), compose(config_dir, info, "uncertainty.world=central")
    draws = ens.posterior_draws(sampled)
    pd.testing.assert_frame_equal(draws, ens.posterior_draws(central))  # same seed, same posterior draws
    table_sampled, table_central = ens.run_table(sampled, draws), ens.run_table(central, draws)
    world = ens.world_inputs(sampled, draws)
    for name, u in sampled.world.uncertainties.items():
        for constant in u.constants:
            np.testing.assert_array_equal(table_sampled[constant].to_numpy(), world[name].to_numpy())
            assert constant not in table_central  # held central: the model file's value, as before
    for column in draws.columns:
        np.testing.assert_array_equal(table_sampled[column], table_central[column])


def test_held_central_gives_the_old_result(config_dir, info):
    """uncertainty.world=central: the ensemble of the posterior draws alone, value for value."""
    config = compose(config_dir, info, "uncertainty.world=central", "uncertainty.draws=6", "run.progress=false",
                     f"run.output_dir={config_dir.parent / 'out'}")
    columns, times = ["high tech enterprises", "gdp"], ens.year_end_times(2020, 2035)
    ds, folder = ens.scenario_ensemble({"baseline": config}, columns, times, {})
    ens.discard_chunks(folder)
    draws = ens.posterior_draws(config)
    expected, folder = ens.evaluate(draws, columns, times, config, "old")  # the table before the world existed
    ens.discard_chunks(folder)
    np.testing.assert_array_equal(ds["high tech enterprises"].to_numpy()[0], expected[:, 0, :])
    assert ens.world_table(ds).columns.tolist() == ["draw"]


def test_a_command_line_value_holds_its_uncertainty(config_dir, info):
    config = compose(config_dir, info, "params.gdp_growth_after_2016=0.05")
    draws = ens.posterior_draws(config)
    assert "gdp_growth" not in ens.world_inputs(config, draws).columns
    assert (ens.run_table(config, draws)["gdp growth after 2016"] == 0.05).all()


def write_world(config_dir, name, mutate):
    world = yaml.safe_load((config_dir / "world" / "default.yaml").read_text())
    mutate(world)
    (config_dir / "world" / f"{name}.yaml").write_text(yaml.safe_dump(world, allow_unicode=True))


@pytest.mark.parametrize("name, mutate, fragments", [
    ("bad_distribution", lambda w: w["uncertainties"]["gdp_growth"].update(distribution="triangle"),
     ["world.uncertainties.gdp_growth.distribution", "did you mean 'triangular'", "uniform, triangular, normal"]),
    ("bad_constant", lambda w: w["uncertainties"]["gdp_growth"].update(constants=["gdp growth after 2017"]),
     ["world.uncertainties.gdp_growth.constants[0]", "did you mean 'gdp growth after 2016'"]),
    ("bad_key", lambda w: w["uncertainties"]["gdp_growth"].update(mode=0.06),
     ["world.uncertainties.gdp_growth.mode: unknown key", "valid keys"]),
    ("central_outside", lambda w: w["uncertainties"]["gdp_growth"].update(lower=0.08, upper=0.09),
     ["world.uncertainties.gdp_growth", "central value", "outside"]),
    ("beyond_declared", lambda w: w["uncertainties"]["population_growth"].update(upper=0.5),
     ["world.uncertainties.population_growth", "declared range"]),
    ("bad_sampling", lambda w: w.update(sampling="sobol"), ["world.sampling", "latin_hypercube, independent"]),
    ("no_sd", lambda w: w["uncertainties"]["gdp_growth"].update(distribution="normal"),
     ["world.uncertainties.gdp_growth.sd"]),
])
def test_bad_world_file_gives_one_line_naming_file_and_key(config_dir, info, name, mutate, fragments):
    write_world(config_dir, name, mutate)
    with pytest.raises(ConfigError) as err:
        compose(config_dir, info, f"world={name}")
    message = str(err.value)
    assert "\n" not in message and f"world/{name}.yaml" in message
    for fragment in fragments:
        assert fragment in message, message


def test_unknown_world_names_the_choices(config_dir, info):
    with pytest.raises(ConfigError) as err:
        compose(config_dir, info, "world=defualt")
    assert "did you mean 'default'" in str(err.value) and "\n" not in str(err.value)


def test_uncertainty_world_setting_is_checked(config_dir, info):
    with pytest.raises(ConfigError) as err:
        compose(config_dir, info, "uncertainty.world=centre")
    assert "valid settings: sample, central" in str(err.value)


# ----------------------------------------------------------------------------- variance shares

def test_shares_of_a_known_grid():
    """y = a_i + b_j + a_i*b_j on a grid: main effects and interaction as designed."""
    a = np.array([-1.0, 0.0, 1.0])[:, None]
    b = np.array([-2.0, 2.0])[None, :]
    shares = bands.variance_shares((3 * a + b + a * b)[..., None])
    # SS_a = 2 * 9 * 2 = 36, SS_b = 3 * 4 * 2 = 24, SS_ab = sum (a b)^2 = 2 * 4 * 2 = 16
    np.testing.assert_allclose([shares[s][0] for s in bands.SHARE_COLUMNS], np.array([36, 24, 16]) / 76)


def test_shares_are_within_0_1_and_sum_to_one(config_dir, info):
    config = compose(config_dir, info, "uncertainty.decomposition=[6,5]", "run.progress=false",
                     f"run.output_dir={config_dir.parent / 'out'}")
    indicators = [i for i in model_indicators(load_observations(), load_targets())
                  if i.id in ("gdp", "high_tech_enterprises", "incubators", "rd_intensity")]
    table, folders = bands.decomposition_table({"baseline": config}, indicators, 2016, 2035, "test")
    for folder in folders:
        ens.discard_chunks(folder)
    assert set(table["parameter_draws"]) == {6} and set(table["world_draws"]) == {5}
    shares = table[bands.SHARE_COLUMNS].dropna()
    assert len(shares) > 0.5 * len(table)
    assert ((shares >= 0) & (shares <= 1)).all().all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=SHARE_SUM_TOLERANCE)
    gdp = table[(table["indicator"] == "gdp") & (table["year"] == 2030)]
    assert float(gdp["share_world"].iloc[0]) == pytest.approx(1.0)  # GDP is the outside world alone
    hte = table[(table["indicator"] == "high_tech_enterprises") & (table["year"] == 2030)]
    assert float(hte["share_parameters"].iloc[0]) > 0.5  # the firm ladder is mostly the model's parameters


def test_no_decomposition_when_the_world_is_held(config_dir, info):
    config = compose(config_dir, info, "uncertainty.world=central")
    assert bands.decomposition_table({"baseline": config}, [], 2016, 2035, "x") == (None, [])
