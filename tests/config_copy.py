"""A copy of scenarios/ whose `calibrated` parameter set is a small set of draws written through
the hand-off API: tests that need posterior draws compose against it instead of the shipped,
1,000-draw hand-off (fast, and independent of the last recalibration)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from innosd.calibration.handoff import ParameterSet, write_parameter_set
from innosd.scenarios import CONFIG_DIR


def scenarios_with_draws(tmp_path_factory, draws: pd.DataFrame, source: dict) -> Path:
    """scenarios/ copied to a temporary folder, its calibrated set replaced by `draws` (median as values)."""
    root = tmp_path_factory.mktemp("cfg") / "scenarios"
    shutil.copytree(CONFIG_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for stale in (root / "params").glob("calibrated*"):
        stale.unlink()
    write_parameter_set(ParameterSet("calibrated", draws.median().to_dict(), "posterior median", None, source),
                        draws, root / "params")
    return root
