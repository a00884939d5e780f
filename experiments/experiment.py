"""`innosd run +experiment=NAME`: experiment folders for projections, attainment,
sensitivity, policy search, scenario discovery and response curves.

Each experiment reads its settings from `scenarios/experiment/NAME.yaml` (the `experiment`
key of the composed config), checks them (one-line errors naming the key and the valid
choices), evaluates its parameter tables in resumable chunks (`experiments.dask_exec`)
and writes one folder atomically under OUTPUT_DIR/experiments/DATE/TIME_NAME with the
tables of `docs/outputs.md`, `config.yaml`, `metadata.json` and figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import yaml

from innosd.errors import ConfigError
from innosd.experiments import bands
from innosd.experiments import ensemble as ens
from innosd.experiments import projections as proj
from innosd.experiments.context import Context, Written, draw_figure, run_attrs, scenario_configs, scenario_names
from innosd.experiments.discovery import run_discovery
from innosd.experiments.policy import run_policy_search
from innosd.experiments.response import run_response
from innosd.experiments.sensitivity import run_sensitivity
from innosd.model import MODEL_FILE
from innosd.model.indicators import Indicator, model_indicators, select_indicators
from innosd.model.info import ModelInfo
from innosd.rundir import JOINT_ATTAINMENT_FILE, VARIANCE_SHARES_FILE, WORLD_FILE, atomic_directory, write_metadata
from innosd.scenarios.schema import RunConfig, experiment_settings

# ----------------------------------------------------------------------------- projections / attainment

def scenario_projection_tables(configs: dict[str, RunConfig], indicators: list[Indicator],
                               targets: pd.DataFrame, first_year: int, last_year: int, label: str):
    """Ensemble over every scenario -> (ensemble Dataset, projections, attainment, chunk folder)."""
    first = next(iter(configs.values()))
    mode = ens.resolve_mode(first)
    targets = proj.modelled_targets(targets)
    columns = sorted({i.model_variable for i in indicators} | set(targets["model_variable"]))
    ensemble_first = min([first_year, *targets["year"].astype(int)])  # targets may predate the window
    times = ens.year_end_times(ensemble_first, last_year)
    # the draws are read once per scenario inside scenario_ensemble, which also records their number
    ds, folder = ens.scenario_ensemble(configs, columns, times, run_attrs(first, mode), label)
    projections = proj.projections_table(ds, indicators)
    projections = projections[projections["year"].between(first_year, last_year)].reset_index(drop=True)
    attainment = proj.attainment_table(ds, targets)
    return ds, projections, attainment, folder


def joint_attainment(ds, targets: pd.DataFrame) -> pd.DataFrame:
    """Joint per plan-year table; says on stderr when the draws are too few to trust it."""
    joint = proj.joint_attainment_table(ds, targets)
    warning = proj.draws_warning(int(ds.sizes["draw"]))
    if warning:
        print(f"innosd run: warning: target attainment: {warning}", file=sys.stderr)
    return joint


def run_projections(ctx: Context, out: Path) -> Written:
    settings = experiment_settings(ctx.config.experiment)
    name = settings.name
    names = scenario_names(settings.scenarios, ctx.config_dir, "experiment.scenarios")
    available = model_indicators(ctx.observations, ctx.targets)
    targets = proj.select_targets(settings.targets, proj.with_benchmarks(ctx.targets, settings.benchmarks, available),
                                  "experiment.targets")
    if name == "attainment":  # the indicators of the chosen targets
        indicators = [i for i in available if i.id in set(targets["indicator"])]
    else:
        indicators = select_indicators(settings.indicators, available, "experiment.indicators")
    if not int(settings.first_year) <= int(settings.last_year) <= ens.LAST_YEAR:
        raise ConfigError(f"experiment.first_year/last_year: {settings.first_year}..{settings.last_year} is not a "
                          f"range of years ending by {ens.LAST_YEAR}")
    configs = scenario_configs(ctx, names)
    ds, projections, attainment, folder = scenario_projection_tables(
        configs, indicators, targets, int(settings.first_year), int(settings.last_year), name)
    ds.to_netcdf(out / "ensemble.nc")
    projections.to_csv(out / "projections.csv", index=False)
    attainment.to_csv(out / "attainment.csv", index=False)
    joint_attainment(ds, targets).to_csv(out / JOINT_ATTAINMENT_FILE, index=False)
    ens.world_table(ds).to_csv(out / WORLD_FILE, index=False)
    shares, grid_folders = None, []
    if name == "projections":  # the bands' sources; attainment reports probabilities only
        shares, grid_folders = bands.decomposition_table(configs, indicators, int(settings.first_year),
                                                         int(settings.last_year), name)
    if shares is not None:
        shares.to_csv(out / VARIANCE_SHARES_FILE, index=False)
    if ctx.config.run.figures:
        if name == "projections":
            draw_figure("projection_fans", out / "projection_fans", projections, ctx.observations, ctx.targets,
                        language=ctx.config.figures.language)
            draw_figure("scenario_difference", out / "scenario_difference", projections,
                        language=ctx.config.figures.language)
        draw_figure("attainment_heatmap", out / "attainment_heatmap", attainment,
                    language=ctx.config.figures.language)
    return Written([folder, *grid_folders], {"scenarios": names, "draws": int(ds.sizes["draw"]),
                                             "uncertainty_mode": ds.attrs["uncertainty_mode"],
                                             "world": {"name": ctx.config.world.name,
                                                       "mode": ctx.config.uncertainty.world,
                                                       "sampling": ctx.config.world.sampling}})


RUNNERS = {"projections": run_projections, "attainment": run_projections, "sensitivity": run_sensitivity,
           "policy_search": run_policy_search, "discovery": run_discovery, "response": run_response}


def run_experiment(folder: Path, config: RunConfig, overrides: tuple[str, ...], info: ModelInfo,
                   observations: pd.DataFrame, targets: pd.DataFrame, config_dir: Path, command: str) -> Path:
    """`+experiment=NAME`: run it and write its folder atomically; its chunk caches go once it is in place."""
    name = experiment_settings(config.experiment).name
    ctx = Context(config, tuple(overrides), info, observations, targets, config_dir)
    with atomic_directory(folder, unique=True) as tmp:
        written = RUNNERS[name](ctx, tmp)
        write_common(tmp, config, written, command)
    for chunk_folder in written.chunk_folders:
        ens.discard_chunks(chunk_folder)
    print(f"innosd run: experiment {name} -> {tmp.final}")
    return tmp.final


def write_common(out: Path, config: RunConfig, written: Written, command: str) -> None:
    """config.yaml and metadata.json of an experiment folder."""
    ps = config.parameter_set
    write_metadata(out, "experiment", seed=int(config.run.seed), command=command, model_file=MODEL_FILE,
                   config=config.to_dict(), extra={
                       "experiment": experiment_settings(config.experiment).name,
                       "parameter_set": {"name": ps.name, "statistic": ps.statistic,
                                         "posterior_draws": ps.posterior_draws, "source": ps.source},
                       "scheduler": config.run.scheduler, **written.metadata})
