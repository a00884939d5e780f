"""Loops That Matter (innosd.model.loops, `innosd loops`): scores against hand-worked values and
the literature's dominance shift of S-shaped growth, loop enumeration, the command's folder."""

from __future__ import annotations

import json
from itertools import permutations
from math import log
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from innosd.experiments import cli
from innosd.model import loops as L

MODELS = Path(__file__).parent / "models"
LOGISTIC = MODELS / "logistic_growth.mdl"      # r = 0.1, K = 1000, P0 = 10, TIME STEP 1/16
ONE_LOOP = MODELS / "one_loop_driver.mdl"      # the hand-worked model (see its comment)

# The analytic inflection of dP/dt = rP(1 - P/K) is at t* = ln((K - P0)/P0)/r = 45.95 years.
# The run is Euler with TIME STEP 1/16: its P crosses K/2 between 46.0 and 46.0625 (Euler lags the
# exact curve by ~0.1 year at r = 0.1), and a score over [t-dt, t] sees the crossing one step
# later, so the simulated switch may sit up to 0.1 + 2 steps after t*: 0.25 year covers it.
SWITCH_TOLERANCE_YEARS = 0.25
# Exact identities hold to round-off (a few ulps through a handful of operations).
ROUND_OFF = 1e-9


@pytest.fixture(scope="module")
def logistic():
    return L.analyse(LOGISTIC)


def test_one_loop_scores_match_the_hand_worked_values():
    a = L.analyse(ONE_LOOP)
    assert list(a.loops["variables"]) == ["stock -> inflow -> stock"] and list(a.loops["polarity"]) == ["R"]
    s = a.scores.set_index("time")
    # t = 1: stock 100 -> 110, multiplier 1 -> 1.5, inflow 10 -> 16.5, the stock's share 0.1*1*10 = 1
    assert s.loc[1.0, "loop_score"] == pytest.approx(1 / 6.5, rel=ROUND_OFF)
    # t = 2: stock 110 -> 126.5, multiplier 1.5 -> 2, inflow 16.5 -> 25.3, share 0.1*1.5*16.5
    assert s.loc[2.0, "loop_score"] == pytest.approx(0.1 * 1.5 * 16.5 / (25.3 - 16.5), rel=ROUND_OFF)
    # the only loop acting on its stock explains all of its behaviour
    assert np.allclose(s["relative_score"], 1.0)


def test_s_shaped_growth_switches_from_reinforcing_to_balancing_at_the_inflection(logistic):
    loops = logistic.loops.set_index("loop_id")
    assert loops.loc["R1", "variables"] == "population -> births -> population"
    assert loops.loc["B1", "variables"] == "population -> deaths -> population"
    wide = logistic.scores.pivot(index="time", columns="loop_id", values="relative_score")
    t = wide.index.to_numpy()
    balancing_dominant = wide["B1"].abs().to_numpy() > wide["R1"].abs().to_numpy()
    switch = t[np.argmax(balancing_dominant)]
    inflection = log((1000 - 10) / 10) / 0.1
    assert abs(switch - inflection) < SWITCH_TOLERANCE_YEARS
    assert not balancing_dominant[t < switch].any() and balancing_dominant[t >= switch].all()  # one switch
    weights = L.resolve_variables(logistic, ["population"], LOGISTIC.name)["population"]
    periods = L.summary(L.dominance(logistic, L.variable_shares(logistic, weights)))
    assert list(periods["loop_id"]) == ["R1", "B1"] and periods["start"].iloc[1] == switch


def test_s_shaped_growth_relative_scores_follow_the_closed_form(logistic):
    """births = rP, deaths = rP^2/K: over a step the deaths change by r(P+P')(P'-P)/K and the
    births by r(P'-P), so the reinforcing loop's relative score is exactly 1/(1 + (P + P')/K)
    (-> 1/3 as P -> K, Schoenberg et al. 2020's population example)."""
    _, _, traj = L.simulate(LOGISTIC)
    P = traj.X[traj.rows["S0"]]
    expected = 1 / (1 + (P[:-1] + P[1:]) / 1000)
    wide = logistic.scores.pivot(index="time", columns="loop_id", values="relative_score")
    assert np.allclose(wide["R1"].to_numpy(), expected, rtol=ROUND_OFF, atol=0)
    assert np.allclose(wide["B1"].to_numpy(), expected - 1, rtol=0, atol=ROUND_OFF)


def test_johnson_enumerates_every_elementary_cycle():
    nodes = ["a", "b", "c", "d"]
    complete = {v: [w for w in nodes if w != v] for v in nodes}
    cycles = L.elementary_loops(nodes, complete)
    # cycles of a complete digraph on 4 nodes: C(4,2)*1! + C(4,3)*2! + C(4,4)*3! = 6 + 8 + 6
    assert len(cycles) == len(set(cycles)) == 20
    brute = {L._canonical(p[:k], {n: i for i, n in enumerate(nodes)})
             for k in (2, 3, 4) for p in permutations(nodes, k)}
    assert set(cycles) == brute
    assert L.elementary_loops(["x", "y"], {"x": ["x", "y"], "y": []}) == [("x",)]  # a self-loop
    with pytest.raises(L.TooManyLoops):
        L.elementary_loops(nodes, complete, limit=19)


def test_strongest_path_search_finds_the_loop_carrying_the_strongest_links():
    nodes = ["S0", "A0", "A1"]
    succ = {"S0": ["A0", "A1"], "A0": ["S0"], "A1": ["S0"]}
    weights = {("S0", "A0"): 2.0, ("A0", "S0"): 1.0, ("S0", "A1"): 0.5, ("A1", "S0"): 0.0}
    assert L.strongest_path_loops(nodes, succ, weights, ["S0"]) == {("S0", "A0")}  # the 0 link is inactive


def test_loops_command_writes_the_folder_and_its_figure(tmp_path, capsys):
    out = tmp_path / "loops"
    assert cli.main(["loops", str(LOGISTIC), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "R1" in printed and "population -> births -> population" in printed
    for name in ("loops.csv", "loop_scores.csv", "variables.csv", "variable_scores.csv", "dominance.csv",
                 "dominance_periods.csv",
                 "loops_population.png", "loops_population.svg", "config.yaml", "metadata.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "loops" and meta["variables"] == ["population"] and meta["method"] == "exhaustive"
    periods = pd.read_csv(out / "dominance_periods.csv")
    assert list(periods["loop_id"]) == ["R1", "B1"]
    # a model without sectors: families are the stocks a loop passes through, and its polarity
    families = pd.read_csv(out / "loop_families.csv").set_index("family")
    assert sorted(zip(families["groups"], families["polarity"])) == [("population", "B"), ("population", "R")]
    assert (out / "loop_families.png").is_file()
    # each family's yearly share is the mean over the year's steps of its loops' shares
    shares = pd.read_csv(out / "family_shares.csv")
    steps = pd.read_csv(out / "variable_scores.csv")
    r1 = steps[steps["loop_id"] == "R1"]
    first_year = r1[(r1["time"] > 0) & (r1["time"] <= 1)]["share"].mean()
    reinforcing = families.index[families["polarity"] == "R"][0]
    got = shares[(shares["family"] == reinforcing) & (shares["year"] == 0)]["share"].iloc[0]
    assert got == pytest.approx(first_year, rel=ROUND_OFF)
    # the compact loops.csv names the loops without their graph nodes; --all-loops lists every one with them
    assert "nodes" not in pd.read_csv(out / "loops.csv").columns
    assert cli.main(["loops", str(LOGISTIC), "--out", str(tmp_path / "all"), "--all-loops"]) == 0
    assert "nodes" in pd.read_csv(tmp_path / "all" / "loops.csv").columns


def test_annual_means_put_a_step_in_the_year_of_its_interval():
    """A score at step time t is of the change over (t - dt, t]: t = 1.0 closes year 0."""
    times = np.array([0.5, 1.0, 1.5, 2.0])  # dt 0.5: intervals (0, 0.5], (0.5, 1], (1, 1.5], (1.5, 2]
    years, means = L.annual_means(times, np.array([[1.0, 3.0, 10.0, 20.0]]))
    assert list(years) == [0, 1] and list(means[0]) == [2.0, 15.0]


def test_every_loop_is_in_one_family_of_its_groups_and_polarity():
    from innosd.experiments.loops import sector_groups
    from innosd.model import MODEL_FILE
    from innosd.model.abstract import norm

    a = L.analyse(MODELS / "two_partitions.mdl")
    table, index = L.families(a, {"fast": "A", "slow": "B"})  # every other variable is its own group
    assert table["loops"].sum() == len(a.loops) and len(index) == len(a.loops)
    for row, loop in zip(index, a.loops.itertuples()):
        assert L.FAMILY_POLARITY[loop.polarity] == table.at[row, "polarity"]
        assert ("A" in table.at[row, "groups"].split(" + ")) == ("fast" in loop.variables.split(" -> "))
    # the project model's groups are its .mdl sectors
    groups = sector_groups(MODEL_FILE)
    assert {"Firm ladder", "Incubation", "RD money"} <= set(groups.values())
    assert groups[norm("national incubators")] == "Incubation"


@pytest.mark.parametrize("argv, message", [
    (["--vars", "populaton"], "did you mean 'population'"),
    (["--draws", "2"], "have no posterior draws"),
    (["--draws", "two"], "--draws: 'two' is not a whole number"),
    (["--vars", "growth rate"], "constants have no loops"),
    (["--set", "growth rat=0.2"], "did you mean 'growth rate'"),
])
def test_loops_command_one_line_errors(tmp_path, argv, message, capsys):
    assert cli.main(["loops", str(LOGISTIC), "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_loops_command_refuses_a_missing_model(tmp_path, capsys):
    assert cli.main(["loops", str(tmp_path / "nope.mdl")]) == 2
    err = capsys.readouterr().err
    assert "model file not found" in err and err.count("\n") == 1


@pytest.mark.slow
def test_project_model_loops_of_the_hte_stock(tmp_path):
    """The project model (~300 varying slots, ~18k loops): every loop scored; in each loop
    group the |relative scores| add up to 1 wherever a loop is active."""
    out = tmp_path / "loops"
    assert cli.main(["loops", "--params", "model_defaults", "--vars", "high tech enterprises,rd intensity",
                     "--out", str(out)]) == 0
    variables = pd.read_csv(out / "variables.csv").set_index("variable")
    assert str(variables.loc["high tech enterprises", "loops_through_variable"]).strip()
    # the folder stays small: loops.csv names the loops its tables use (the enumeration: --all-loops)
    assert (out / "loops.csv").stat().st_size < 300_000
    families = pd.read_csv(out / "loop_families.csv")
    assert len(families) < 100 and families["loops"].sum() > 10_000  # ~18k loops in a few dozen families
    scores = pd.read_csv(out / "loop_scores.csv")  # other+/other- hold the signed sums of the rest
    total = scores.assign(a=scores["relative_score"].abs()).groupby(["time", "partition"])["a"].sum()
    assert np.allclose(total[total > 0], 1.0)


def test_a_variable_on_no_loop_is_driven_through_each_stock_by_its_share_of_the_change():
    a = L.analyse(MODELS / "two_partitions.mdl")
    weights = L.resolve_variables(a, ["total"], "two_partitions.mdl")["total"]
    _, _, traj = L.simulate(MODELS / "two_partitions.mdl")
    d_fast = np.diff(traj.X[traj.rows["S0"]])
    d_slow = np.diff(traj.X[traj.rows["S1"]])
    by_label = {a.graph.labels[e]: w for e, w in weights.items()}
    assert sorted(by_label) == ["fast", "slow"]  # through the fast stock and the slow one
    assert np.allclose(by_label["fast"], np.abs(d_fast) / (np.abs(d_fast) + np.abs(d_slow)), rtol=ROUND_OFF)
    shares = L.variable_shares(a, weights)
    assert np.allclose(np.abs(shares).sum(axis=0), 1.0)
    assert (shares < 0).all()  # both loops are balancing
