"""Rewrite the baseline snapshot, tests/baseline/snapshot.csv: THE only way to change it.

    python tests/baseline/regenerate.py

What it records: every model indicator of the data files (calibration/data observations.csv
and targets.csv, the Guangzhou rows with a model variable) at year end of 2016, 2020, 2025
and 2035, for every scenario in scenarios/scenario/*.yaml, as the deterministic point
estimate of the shipped parameter set (scenarios/params/calibrated.yaml via the root config's
default; uncertainty.mode=none), produced by `innosd run -m 'scenario=glob(*)'`.

When to run it: only after a deliberate change that is meant to move the model's numbers
(the .mdl, a recalibrated parameter set, a scenario YAML, a new indicator or scenario, a
fix in the pipeline that changes results). Never to make tests/baseline/test_baseline.py
pass without knowing why it failed: first read its drift report. The script prints how
many values changed and the largest changes, so the diff can be reviewed.

Every commit that regenerates the snapshot must say why in its message (which change
moved which indicators, and by about how much).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

# Run as a file, Python puts tests/baseline/ on sys.path, not the checkout that holds the
# `tests` package; the snapshot module is shared with the test, so put the checkout first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from innosd.calibration.data import load_observations, load_targets
from innosd.model.indicators import model_indicators

from tests.baseline.snapshot import (
    SNAPSHOT_FILE,
    compare,
    current_values,
    read_snapshot,
    scenario_names,
    write_snapshot,
)

# How many changed values to list on the console (the full diff is `git diff` of the CSV).
SHOWN_CHANGES = 20


def indicator_table() -> pd.DataFrame:
    """The indicators the snapshot covers: every one the data files map to a model variable."""
    indicators = model_indicators(load_observations(), load_targets())
    return pd.DataFrame([{"indicator": i.id, "model_variable": i.model_variable, "unit": i.unit}
                         for i in indicators])


def main() -> int:
    table = current_values(indicator_table())
    missing = sorted(set(scenario_names()) - set(table["scenario"]))
    if missing:
        print(f"regenerate: the run produced no results for scenario(s) {', '.join(missing)}", file=sys.stderr)
        return 1
    unknown = table[table["value"].isna()]
    if not unknown.empty:
        print("regenerate: these indicators have no value in the runs (model variable missing?): "
              + ", ".join(sorted(set(unknown["indicator"] + " (" + unknown["model_variable"] + ")"))),
              file=sys.stderr)
        return 1
    if SNAPSHOT_FILE.exists():
        changes = compare(read_snapshot(), table)
        print(f"regenerate: {len(changes)} of {len(table)} values differ from the previous snapshot")
        for line in changes[:SHOWN_CHANGES]:
            print(f"  {line}")
        if len(changes) > SHOWN_CHANGES:
            print(f"  ... and {len(changes) - SHOWN_CHANGES} more (git diff {SNAPSHOT_FILE.name})")
    write_snapshot(table)
    print(f"regenerate: wrote {len(table)} values ({table['scenario'].nunique()} scenarios x "
          f"{table['indicator'].nunique()} indicators x {table['year'].nunique()} years) to {SNAPSHOT_FILE}; "
          "say why in the commit message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
