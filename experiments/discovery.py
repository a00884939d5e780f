"""Scenario discovery and robustness: which uncertainties make a plan-year's targets fail,
and how robust each scenario is across them.

- PRIM (the EMA Workbench's `ema_workbench.analysis.prim`, the field's reference
  implementation, rather than a PRIM of our own): over the posterior draws (what calibration
  left uncertain; outside-world assumptions too, once the parameter table carries them) and
  the levers, sampled over `experiment.levers`, run on scenario `experiment.base_scenario`.
  The cases of interest are the runs that MISS at least one of the year's official targets;
  each box lists its limits on the inputs it restricts, its coverage (share of all misses
  inside the box) and density (share of runs inside the box that miss).
- Robustness per scenario over the same posterior draws (common random numbers): the
  satisficing share (draws meeting every target = the joint probability, with its MC
  error) and the regret of its margin (the worst target's relative margin, value/target - 1
  for an at-least target) against the best scenario in the same draw (Savage's minimax regret).

Pure functions (`margin`, `robustness_table`, `prim_boxes`) behind the experiment runner.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.experiments import ensemble as ens
from innosd.experiments import projections as proj
from innosd.experiments.context import Context, Written, draw_figure, run_attrs, scenario_configs, scenario_names
from innosd.experiments.policy import candidate_table, lever_box, sobol_points
from innosd.model.info import lever_of
from innosd.model.results import year_end_time

from innosd.calibration.data import OFFICIAL, target_status
from innosd.errors import ConfigError
from innosd.rundir import PRIM_BOXES_FILE, ROBUSTNESS_FILE
from innosd.scenarios.schema import experiment_settings

PRIM_COLUMNS = ["box", "input", "input_kind", "lower", "upper", "coverage", "density", "mass", "cases", "runs",
                "restricted"]
# A box restricting more inputs than this is no longer a statement a planner can act on
# (PRIM over ~40 inputs peels a little off many of them); Bryant & Lempert (2010) favour few.
MAX_RESTRICTED_INPUTS = 4
ROBUSTNESS_COLUMNS = ["scenario", "year", "satisficing", "mc_se", "draws", "margin_median", "mean_regret",
                      "p90_regret", "max_regret"]


def _ema_prim():
    """The EMA Workbench's PRIM module; its import warns about optional parallel back-ends we do not use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    return prim


def year_targets(targets: pd.DataFrame, year: int) -> pd.DataFrame:
    """The official modelled targets of one plan-year, one row per distinct requirement."""
    modelled = proj.modelled_targets(targets)
    rows = modelled[(modelled["year"].astype(int) == year)
                    & np.array([target_status(p, n) == OFFICIAL for p, n in zip(modelled["plan"], modelled["note"])])]
    if rows.empty:
        raise ConfigError(f"experiment.year: no official modelled target in {year}; years with one: "
                          f"{', '.join(map(str, sorted(set(modelled['year'].astype(int)))))}")
    return proj.distinct_requirements(rows)


def margin(values: np.ndarray, targets: pd.DataFrame) -> np.ndarray:
    """The worst target's relative margin per run: value/target - 1 (at least) or 1 - value/target
    (at most); >= 0 exactly when every target is met. `values` is (..., target)."""
    parts = []
    for k, t in enumerate(targets.itertuples(index=False)):
        ratio = values[..., k] / float(t.value)
        parts.append(ratio - 1.0 if t.direction == "at_least" else 1.0 - ratio)
    return np.min(np.stack(parts, axis=-1), axis=-1)


def robustness_table(margins: np.ndarray, scenarios: list[str], year: int) -> pd.DataFrame:
    """(scenario, draw) margins -> satisficing share (margin >= 0) and regret against the best
    scenario of the same draw (in margin points, e.g. 0.05 = 5% of the target)."""
    draws = margins.shape[1]
    regret = margins.max(axis=0, keepdims=True) - margins
    rows = []
    for s, scenario in enumerate(scenarios):
        share = float((margins[s] >= 0).mean())
        rows.append({"scenario": scenario, "year": year, "satisficing": share,
                     "mc_se": float(proj.mc_standard_error(share, draws)), "draws": draws,
                     "margin_median": float(np.median(margins[s])), "mean_regret": float(regret[s].mean()),
                     "p90_regret": float(np.quantile(regret[s], 0.9)), "max_regret": float(regret[s].max())})
    return pd.DataFrame(rows, columns=ROBUSTNESS_COLUMNS).sort_values("mean_regret").reset_index(drop=True)


def prim_boxes(inputs: pd.DataFrame, miss: np.ndarray, kinds: dict[str, str], threshold: float,
               peel_alpha: float, n_boxes: int) -> pd.DataFrame:
    """PRIM boxes for the runs that miss: per box and restricted input its limits, coverage,
    density and mass (at the trajectory point `box_point` picks)."""
    if miss.all() or not miss.any():
        return pd.DataFrame(columns=PRIM_COLUMNS)  # nothing to separate: every run misses, or none
    prim = _ema_prim()
    rows = []
    with warnings.catch_warnings():  # the Workbench calls pandas APIs that pandas has deprecated since
        warnings.filterwarnings("ignore", module="ema_workbench")
        finder = prim.Prim(inputs.reset_index(drop=True), miss, threshold=threshold, peel_alpha=peel_alpha)
        for number in range(1, n_boxes + 1):
            box = finder.find_box()
            if box is None:
                break
            trajectory = box.peeling_trajectory
            point = box_point(trajectory, threshold)
            box.select(point)
            limits, initial = box.box_lims[point], box.box_lims[0]
            stats = trajectory.loc[point]
            for name in inputs.columns:
                lower, upper = float(limits[name].iloc[0]), float(limits[name].iloc[1])
                restricted = lower > float(initial[name].iloc[0]) or upper < float(initial[name].iloc[1])
                if restricted:
                    rows.append({"box": number, "input": name, "input_kind": kinds.get(name, "parameter"),
                                 "lower": lower, "upper": upper, "coverage": float(stats["coverage"]),
                                 "density": float(stats["density"]), "mass": float(stats["mass"]),
                                 "cases": int(stats["k"]), "runs": int(stats["n"]), "restricted": True})
    return pd.DataFrame(rows, columns=PRIM_COLUMNS)


def box_point(trajectory: pd.DataFrame, threshold: float) -> int:
    """The point of a peeling trajectory a planner can read: among the points restricting at
    most MAX_RESTRICTED_INPUTS inputs, the highest coverage with density >= threshold, else the
    densest of them (its density is reported as it is)."""
    readable = trajectory[trajectory["res_dim"] <= MAX_RESTRICTED_INPUTS]
    dense = readable[readable["density"] >= threshold]
    if len(dense):
        return int(dense["coverage"].idxmax())
    return int(readable["density"].idxmax())


def varying_inputs(table: pd.DataFrame) -> pd.DataFrame:
    """The columns of a run table that differ between runs: the uncertainties and sampled levers,
    named with underscores (levers by their id)."""
    varying = [c for c in table.columns if table[c].nunique() > 1]
    return table[varying].rename(columns=lambda c: lever_of(c) or c.replace(" ", "_"))


def run_discovery(ctx: Context, out: Path) -> Written:
    settings = experiment_settings(ctx.config.experiment)
    year = int(settings.year)
    targets = year_targets(ctx.targets, year)
    columns = list(dict.fromkeys(targets["model_variable"]))
    times = np.array([year_end_time(year)])
    # robustness: every chosen scenario over the same posterior draws
    names = scenario_names(settings.scenarios, ctx.config_dir, "experiment.scenarios")
    configs = scenario_configs(ctx, names)
    first = next(iter(configs.values()))
    ds, folder_scenarios = ens.scenario_ensemble(configs, columns, times, run_attrs(first, ens.resolve_mode(first)),
                                                 "discovery scenarios")
    values = np.stack([ds[t.model_variable].to_numpy()[:, :, 0] for t in targets.itertuples(index=False)], axis=-1)
    robustness = robustness_table(margin(values, targets), list(ds["scenario"].to_numpy()), year)
    robustness.to_csv(out / ROBUSTNESS_FILE, index=False)
    # PRIM: the base scenario over posterior draws x sampled lever settings
    base_config = scenario_configs(ctx, [str(settings.base_scenario)])[str(settings.base_scenario)]
    box = lever_box(settings.levers, ctx.info)
    settings_array = sobol_points(box, int(settings.lever_samples), int(ctx.config.run.seed))
    base = ens.run_table(base_config, ens.posterior_draws(base_config))
    table = ens.fill_defaults(candidate_table(base, list(box), settings_array))
    runs, folder_prim = ens.evaluate(table, columns, times, base_config, "discovery prim")
    miss = margin(runs[:, :, 0], targets) < 0
    inputs = varying_inputs(table)
    kinds = {lever: "lever" for lever in box}
    boxes = prim_boxes(inputs, miss, kinds, float(settings.threshold), float(settings.peel_alpha),
                       int(settings.boxes))
    boxes.to_csv(out / PRIM_BOXES_FILE, index=False)
    if ctx.config.run.figures and len(boxes):
        draw_figure("prim_box_limits", out / "prim_boxes", boxes, inputs.agg(["min", "max"]).T,
                    language=ctx.config.figures.language)
    return Written([folder_scenarios, folder_prim], {
        "scenarios": names, "year": year, "draws": int(ds.sizes["draw"]),
        "targets": [proj.describe_target(t) for t in targets.itertuples(index=False)],
        "prim": {"base_scenario": str(settings.base_scenario), "runs": int(len(table)),
                 "misses": int(miss.sum()), "inputs": list(inputs.columns), "threshold": float(settings.threshold),
                 "package": "ema_workbench.analysis.prim"},
        "regret": "margin of the best scenario in the same draw minus this scenario's margin"})
