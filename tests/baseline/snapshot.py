"""The baseline snapshot: what it holds, how it is produced, how two snapshots are compared.

Both the test (test_baseline.py) and the one script that rewrites the file (regenerate.py)
use these functions, so the values the test checks are produced exactly as they were
recorded: through the public command line, `innosd run -m 'scenario=glob(*)'
uncertainty.mode=none run.figures=false`, i.e. the whole scenario pipeline (compose,
parameter set, levers, compiled core, run folder) and not a shortcut into the engine.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from innosd.model.results import value_at_year_end

import innosd.scenarios
from innosd.rundir import RESULTS_FILE, read_folder

SNAPSHOT_FILE = Path(__file__).with_name("snapshot.csv")
SCENARIO_DIR = Path(innosd.scenarios.__file__).parent / "scenario"
# 2016: the end of the calibration data; 2020, 2025, 2035: the plan years the report highlights
SNAPSHOT_YEARS = (2016, 2020, 2025, 2035)
COLUMNS = ["scenario", "indicator", "model_variable", "unit", "year", "value"]
# The compiled core is deterministic (same parameters -> the same floating-point operations),
# so only a genuine model, parameter-set or pipeline change moves a value by more than this;
# 1e-6 rather than exact equality leaves room for another CPU's libm / LLVM vectorisation.
RELATIVE_TOLERANCE = 1e-6
# Values that are zero in the snapshot (a flow that has not started) may come back as
# round-off (~1e-15 of the flows, which are O(1) or larger); they are still zero.
ABSOLUTE_TOLERANCE = 1e-9


def scenario_names() -> list[str]:
    """Every scenario a planner can run: one per scenarios/scenario/*.yaml."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def run_every_scenario(output_dir: Path) -> dict[str, xr.Dataset]:
    """Run every scenario through the `innosd` command (a child process, as a user would)
    and return each run folder's results.nc by scenario name."""
    command = [str(Path(sysconfig.get_path("scripts")) / "innosd"), "run", "-m", "scenario=glob(*)",
               "uncertainty.mode=none", "run.figures=false", f"run.output_dir={output_dir}"]
    done = subprocess.run(command, cwd=output_dir, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    folders = [read_folder(results.parent) for results in sorted(output_dir.rglob(RESULTS_FILE))]
    return {folder.scenario: folder.dataset(RESULTS_FILE) for folder in folders}


def snapshot_rows(runs: dict[str, xr.Dataset], indicators: pd.DataFrame) -> pd.DataFrame:
    """The snapshot table: every (scenario, indicator, year) of `indicators` (columns
    indicator, model_variable, unit) read from the runs at year end. A variable the model
    no longer has gives NaN, which `compare` reports."""
    rows = [{"scenario": scenario, "indicator": ind.indicator, "model_variable": ind.model_variable,
             "unit": ind.unit, "year": year,
             "value": value_at_year_end(ds, ind.model_variable, year) if ind.model_variable in ds else np.nan}
            for scenario, ds in sorted(runs.items())
            for ind in indicators.itertuples(index=False)
            for year in SNAPSHOT_YEARS]
    return pd.DataFrame(rows, columns=COLUMNS)


def current_values(indicators: pd.DataFrame) -> pd.DataFrame:
    """The snapshot table as the code and the model produce it now."""
    with tempfile.TemporaryDirectory(prefix="innosd-baseline-") as tmp:
        return snapshot_rows(run_every_scenario(Path(tmp)), indicators)


def read_snapshot(path: Path = SNAPSHOT_FILE) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"scenario": str, "indicator": str, "model_variable": str, "unit": str,
                                    "year": int, "value": float}, keep_default_na=False, na_values=["nan", "NaN"])


def write_snapshot(table: pd.DataFrame, path: Path = SNAPSHOT_FILE) -> None:
    # 17 significant digits: a float64 read back is the same float64
    table[COLUMNS].to_csv(path, index=False, float_format="%.17g", lineterminator="\n")


def compare(expected: pd.DataFrame, actual: pd.DataFrame, rtol: float = RELATIVE_TOLERANCE,
            atol: float = ABSOLUTE_TOLERANCE) -> list[str]:
    """One line per difference: a value that drifted beyond |a - e| <= atol + rtol |e|, is
    NaN, or a (scenario, indicator, year) present in only one of the two tables."""
    key = ["scenario", "indicator", "year"]
    merged = expected[key + ["model_variable", "value"]].merge(
        actual[key + ["value"]], on=key, how="outer", suffixes=("_expected", "_actual"), indicator="presence")
    problems = []
    for row in merged.itertuples(index=False):
        where = f"{row.scenario} / {row.indicator} ({row.model_variable}) / {row.year}"
        if row.presence == "left_only":
            problems.append(f"{where}: in the snapshot, not produced by the run")
        elif row.presence == "right_only":
            problems.append(f"{row.scenario} / {row.indicator} / {row.year}: produced by the run, not in the snapshot")
        elif not (np.isfinite(row.value_expected) and np.isfinite(row.value_actual)):
            problems.append(f"{where}: snapshot {row.value_expected!r}, now {row.value_actual!r} (not a number)")
        elif abs(row.value_actual - row.value_expected) > atol + rtol * abs(row.value_expected):
            relative = abs(row.value_actual - row.value_expected) / max(abs(row.value_expected), atol)
            problems.append(f"{where}: snapshot {row.value_expected:.10g}, now {row.value_actual:.10g} "
                            f"(relative change {relative:.2e} > {rtol:g})")
    return problems

