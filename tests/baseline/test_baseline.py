"""Tier 4: the baseline snapshot. Every scenario, run through `innosd run` as a user runs it,
still gives the key indicators recorded in tests/baseline/snapshot.csv (2016/2020/2025/2035).

A failure lists every drifted value. If the change was meant (model, parameter set,
scenario, pipeline), run `python tests/baseline/regenerate.py` and say why in the commit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.baseline.snapshot import (
    ABSOLUTE_TOLERANCE,
    RELATIVE_TOLERANCE,
    SNAPSHOT_YEARS,
    compare,
    current_values,
    read_snapshot,
    scenario_names,
)

# Drift lines to show in a failure message; the rest are counted.
SHOWN_DRIFTS = 15


@pytest.fixture(scope="module")
def snapshot():
    return read_snapshot()


@pytest.fixture(scope="module")
def current(snapshot):
    indicators = snapshot[["indicator", "model_variable", "unit"]].drop_duplicates("indicator")
    return current_values(indicators)


def test_snapshot_covers_every_scenario_and_year(snapshot):
    assert sorted(snapshot["scenario"].unique()) == scenario_names(), \
        "a scenario was added or removed: run python tests/baseline/regenerate.py"
    assert sorted(snapshot["year"].unique()) == list(SNAPSHOT_YEARS)
    assert np.isfinite(snapshot["value"]).all()
    # every scenario has every indicator in every year: nothing silently dropped
    assert len(snapshot) == snapshot["scenario"].nunique() * snapshot["indicator"].nunique() * len(SNAPSHOT_YEARS)


def test_every_scenario_matches_the_snapshot(snapshot, current):
    drifts = compare(snapshot, current)
    more = f"\n... and {len(drifts) - SHOWN_DRIFTS} more" if len(drifts) > SHOWN_DRIFTS else ""
    assert not drifts, (f"{len(drifts)} of {len(snapshot)} snapshot values drifted beyond "
                        f"rtol={RELATIVE_TOLERANCE:g}, atol={ABSOLUTE_TOLERANCE:g}; if the change is meant, run "
                        "python tests/baseline/regenerate.py and say why in the commit:\n"
                        + "\n".join(drifts[:SHOWN_DRIFTS]) + more)


def test_policy_scenarios_differ_from_baseline(current):
    """The snapshot would not notice levers that stopped reaching the model if every
    scenario equalled the baseline: each policy scenario must move some indicator."""
    values = current.set_index(["scenario", "indicator", "year"])["value"]
    baseline = values.xs("baseline", level="scenario")
    for scenario in set(current["scenario"]) - {"baseline"}:
        policy = values.xs(scenario, level="scenario")
        assert not np.allclose(policy, baseline.loc[policy.index], rtol=RELATIVE_TOLERANCE), scenario


# The comparison itself must be able to fail: a value moved just beyond the tolerance, a
# NaN, a missing and an extra row are reported; a move well inside the tolerance is not.

def test_compare_reports_a_value_beyond_the_tolerance(snapshot):
    perturbed = snapshot.copy()
    row = perturbed.index[len(perturbed) // 2]
    perturbed.loc[row, "value"] *= 1 + 10 * RELATIVE_TOLERANCE
    drifts = compare(snapshot, perturbed)
    assert len(drifts) == 1
    assert snapshot.loc[row, "scenario"] in drifts[0] and str(snapshot.loc[row, "year"]) in drifts[0]


def test_compare_accepts_a_value_inside_the_tolerance(snapshot):
    nudged = snapshot.copy()
    nudged["value"] *= 1 + 0.1 * RELATIVE_TOLERANCE
    assert compare(snapshot, nudged) == []


def test_compare_reports_nan_missing_and_extra_rows(snapshot):
    changed = snapshot.copy()
    changed.loc[changed.index[0], "value"] = np.nan
    extra = changed.iloc[[1]].assign(scenario="new_scenario")
    changed = changed.drop(index=changed.index[2])
    drifts = compare(snapshot, pd.concat([changed, extra]))
    assert len(drifts) == 3
    assert any("not a number" in d for d in drifts)
    assert any("not produced by the run" in d for d in drifts)
    assert any("new_scenario" in d and "not in the snapshot" in d for d in drifts)
