"""Tier 2: each new sector of model v2 on its own (Homer 2012: partial-model tests before
coupling). A sector's inputs from the rest of the model are held constant by setting the
constants that couple it (an elasticity of 0, a growth rate of 0), and the test asks what
the sector's own structure must do: converge under its bound, never exceed what feeds it,
and keep its accounting.

Everything runs on the compiled core with the model file's own values unless a test sets
them; tolerances are named below."""

from __future__ import annotations

import numpy as np
import pytest
from innosd.model import MODEL_FILE
from innosd.model.backends import run_model
from innosd.model.info import model_info
from innosd.scenarios import build, compose

# The firm population with every outside input frozen settles within a few years of the
# young stage and the exit hazards (slowest time constant about 1 / 0.04 = 25 y); over the
# last five years of the run it may still drift by this much.
SETTLED_DRIFT = 0.05
# With a frozen economy the HTE stock still creeps up while the ex-HTE stock fills (time
# constant of decades); its growth over 2031-2035 must stay below this yearly rate.
HTE_LATE_GROWTH = 0.03
# Counts of firms and carriers; anything below this is float noise of the Euler steps.
COUNT_TOLERANCE = 1e-6
# Money flows (亿 yuan/Year) summed in different orders.
MONEY_TOLERANCE = 1e-9

# Everything that couples the firm population to the rest of the model, held constant: no
# real growth, no price growth, births independent of R&D staff, VC and talent, no
# maker-space start-ups (the economy and the inputs of 2016 for ever).
FROZEN_WORLD = {
    "gdp growth after 2016": 0.0, "gdp growth 2021 to 2025 plan": 0.0, "price growth": 0.0,
    "birth elasticity rd personnel": 0.0, "birth elasticity vc": 0.0, "birth elasticity talent": 0.0,
    "startups per maker space": 0.0,
}
POPULATION = ["ladder firms", "tech firm carrying capacity", "tech firm births", "tech firm density",
              "high tech enterprises", "eligible tech firms", "young tech firms", "established tech firms"]


def _at(frame, variable, year):
    """Value at model time `year` (the year-end of year - 1)."""
    return float(frame[variable].loc[year])


@pytest.fixture(scope="module")
def frozen_population():
    return run_model(FROZEN_WORLD, backend="numba", return_columns=POPULATION)


def test_population_settles_below_its_carrying_capacity(frozen_population):
    """With a constant economy and constant inputs, density-dependent founding and exits
    bring the firm population to an equilibrium below the carrying capacity."""
    f = frozen_population
    assert (f["tech firm density"] < 1).all()
    late = f["ladder firms"].loc[2030:2036]
    assert late.max() / late.min() - 1 < SETTLED_DRIFT, late.to_dict()


def test_hte_count_is_bounded_when_the_economy_stops_growing(frozen_population):
    """The eligible pool is fed by maturing firms of a bounded population, so certified HTEs
    converge: their growth slows from decade to decade (the ex-HTE stock, with its slow route
    back, is the slowest part) instead of following an ever-growing firm stock as before."""
    hte = frozen_population["high tech enterprises"]
    early = np.log(_at(frozen_population, "high tech enterprises", 2026) / _at(frozen_population, "high tech enterprises", 2021)) / 5
    late = np.log(_at(frozen_population, "high tech enterprises", 2036) / _at(frozen_population, "high tech enterprises", 2031)) / 5
    assert late < early and late < HTE_LATE_GROWTH, (early, late)
    assert (hte < frozen_population["ladder firms"]).all()


def test_more_capacity_more_firms_fewer_when_founding_is_more_crowded():
    """The capacity and the density elasticity act in the direction organisational ecology says."""
    base = run_model(FROZEN_WORLD, backend="numba", return_columns=POPULATION)
    more = run_model({**FROZEN_WORLD, "tech firm capacity per real gdp": 18.0}, backend="numba", return_columns=POPULATION)
    crowded = run_model({**FROZEN_WORLD, "birth density elasticity": 3.0}, backend="numba", return_columns=POPULATION)
    assert _at(more, "ladder firms", 2036) > _at(base, "ladder firms", 2036)
    assert _at(crowded, "ladder firms", 2036) < _at(base, "ladder firms", 2036)


def test_young_firms_exit_faster_than_established_ones():
    info = model_info(MODEL_FILE)
    young = info.constants["young tech firm exit rate base"].default
    established = info.constants["established tech firm exit rate base"].default
    assert young > established > 0


def test_only_established_firms_become_eligible():
    """No established firms and none arriving (no young firm matures, no incubatee graduates,
    no eligible or ex-HTE firm falls back): nothing enters the eligible pool from the tech
    firms, so the eligible stock only drains (young firms cannot qualify)."""
    f = run_model({"young firm share 2010": 1.0, "young firm stage years": 1e6, "ex hte requalification rate": 0.0,
                   "hte threshold reclassification share 2016": 0.0, "incubation seeking share": 0.0,
                   "incubated firms initial": 0.0, "hte eligibility loss rate": 0.0, "ex hte eligibility loss rate": 0.0},
                  backend="numba", return_columns=["firm maturations", "established tech firms", "eligible tech firms"])
    # a young stage of 1e6 years still lets ~ young firms / 1e6 mature: a few hundredths of a
    # firm a year, against about a thousand with the file's values
    assert np.abs(f["firm maturations"].to_numpy()).max() < 0.1
    assert _at(f, "eligible tech firms", 2036) < _at(f, "eligible tech firms", 2010)


# ------------------------------------------------------------------ carriers

@pytest.fixture(scope="module")
def scenario_runs():
    info = model_info(MODEL_FILE)
    columns = ["incubators", "national incubators", "incubation occupancy", "maker spaces", "maker space occupancy",
               "fiscal st expenditure", "fiscal st public rd allocation", "rd post subsidy paid",
               "fiscal st enterprise rd grants", "fiscal st non rd programmes", "post subsidy budget coverage",
               "post subsidy rate", "post subsidy rate effective", "tech contract turnover", "tech contracts registered",
               "tech contract value per contract", "tech contract turnover outbound", "credit risk pool credit",
               "credit line", "credit risk pool"]
    runs = {}
    for name in compose.options("scenario"):
        config = build.compose_run_config([f"scenario={name}"], info)
        runs[name] = run_model(build.model_parameters(config), backend="numba", return_columns=columns)
    return runs


def test_national_tier_never_exceeds_the_incubators(scenario_runs):
    for name, f in scenario_runs.items():
        assert (f["national incubators"] <= f["incubators"] + COUNT_TOLERANCE).all(), name


def test_carriers_stay_near_the_occupancy_operators_plan_for(scenario_runs):
    """Operators build on demand and close on vacancy: once the 2015-2016 build-up is over,
    carriers are never so many that occupancy falls far below what operators plan for."""
    info = model_info(MODEL_FILE)
    incubator_target = info.constants["incubator target occupancy"].default
    maker_target = info.constants["maker space target occupancy"].default
    for name, f in scenario_runs.items():
        late = f.loc[2018:]
        assert late["incubation occupancy"].min() > 0.5 * incubator_target, name
        assert late["maker space occupancy"].min() > 0.5 * maker_target, name


def test_maker_spaces_alone_follow_their_demand():
    """Maker-space sector on its own (births frozen at a constant level by a frozen world):
    twice the seeking share, about twice the spaces, since operators build to demand."""
    base = run_model(FROZEN_WORLD, backend="numba", return_columns=["maker spaces", "maker space demand"])
    double = run_model({**FROZEN_WORLD, "maker space seeking share": 1.0}, backend="numba",
                       return_columns=["maker spaces", "maker space demand"])
    ratio = _at(double, "maker spaces", 2036) / _at(base, "maker spaces", 2036)
    demand_ratio = _at(double, "maker space demand", 2036) / _at(base, "maker space demand", 2036)
    assert ratio == pytest.approx(demand_ratio, rel=0.15)


# ------------------------------------------------------------------ R&D money, technology market, finance

def test_fiscal_allocations_sum_to_the_budget(scenario_runs):
    for name, f in scenario_runs.items():
        parts = (f["fiscal st public rd allocation"] + f["rd post subsidy paid"] + f["fiscal st enterprise rd grants"]
                 + f["fiscal st non rd programmes"])
        assert np.allclose(parts, f["fiscal st expenditure"], rtol=0, atol=MONEY_TOLERANCE), name
        for part in ("fiscal st public rd allocation", "fiscal st enterprise rd grants", "fiscal st non rd programmes"):
            assert (f[part] >= -MONEY_TOLERANCE).all(), (name, part)


def test_effective_subsidy_is_the_rate_scaled_by_budget_coverage(scenario_runs):
    f = scenario_runs["baseline"]
    assert np.allclose(f["post subsidy rate effective"], f["post subsidy rate"] * f["post subsidy budget coverage"])
    assert (f["post subsidy rate effective"] <= f["post subsidy rate"] + 1e-12).all()
    assert f["post subsidy budget coverage"].loc[2025:].max() < 1  # the budget line binds in the long run


def test_turnover_is_contracts_times_value_and_outbound_is_part_of_it(scenario_runs):
    for name, f in scenario_runs.items():
        assert np.allclose(f["tech contract turnover"], f["tech contracts registered"] * f["tech contract value per contract"])
        assert (f["tech contract turnover outbound"] <= f["tech contract turnover"] + MONEY_TOLERANCE).all(), name


def test_loans_never_exceed_long_the_line_the_pool_supports(scenario_runs):
    """Banks lend up to the credit line; after a year of adjustment loans stay within it
    (up to the loans defaults take out of the pool before the next top-up)."""
    for name, f in scenario_runs.items():
        late = f.loc[2018:]
        assert (late["credit risk pool credit"] <= 1.05 * late["credit line"] + MONEY_TOLERANCE).all(), name
