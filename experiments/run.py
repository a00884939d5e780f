"""Scenario runs as Hydra jobs: one job writes one run (or experiment) folder; a sweep's
folder then collects its jobs' folders into comparison tables and a report.

`RunJob` is the task function Hydra's launcher calls (in this process with the basic
launcher, in worker processes with `hydra/launcher=joblib`): it types the composed config
(`innosd.scenarios.build`), runs the scenario over its parameter set (and posterior
draws, if any) and writes the folder Hydra assigned (`hydra.run.dir`, or
`hydra.sweep.dir/hydra.sweep.subdir`) atomically. `collect_sweep` reads the saved folders
back, so the sweep's tables are the same whichever launcher ran the jobs.

Each run folder holds `results.nc`, `targets.csv`, `levers.csv` (the levers actually used),
`config.yaml`, `metadata.json` and the figures; with posterior draws also `ensemble.nc`,
`projections.csv` and `attainment.csv`. A sweep folder adds `comparison.csv`, the
sweep-wide projections/attainment, `config.yaml` (its jobs), `metadata.json` and Hydra's
`multirun.yaml`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from innosd.calibration.data import load_observations, load_targets
from innosd.errors import InnosdError, ModelError
from innosd.experiments import bands
from innosd.experiments import ensemble as ens
from innosd.experiments import experiment as expmod
from innosd.model import MODEL_FILE
from innosd.model.backends import run_model
from innosd.model.indicators import KEY_INDICATORS, model_indicators
from innosd.model.info import model_info
from innosd.experiments.results import target_attainment, to_dataset
from innosd.figures import plots
from innosd.rundir import (JOINT_ATTAINMENT_FILE, LOOPS_DIR, VARIANCE_SHARES_FILE, WORLD_FILE, atomic_directory, check_writable,
                           provenance, write_metadata)
from innosd.scenarios import build, compose
from innosd.scenarios.schema import RunConfig


def simulate(config: RunConfig):
    """Run one configured scenario; return its results as an xarray Dataset."""
    info = model_info(MODEL_FILE)
    frame = run_model(build.model_parameters(config), backend=config.run.backend)
    bad = [c for c in frame.columns if not np.all(np.isfinite(frame[c].to_numpy(dtype=float)))]
    if bad:
        raise ModelError(f"run {config.name!r}: non-finite values in {bad[0]!r} "
                         f"(and {len(bad) - 1} more); check the parameter overrides")
    attrs = provenance(config.to_dict(), MODEL_FILE)
    attrs.update({"scenario": config.scenario.name, "run_name": config.name,
                  "description": config.scenario.description,
                  "backend": config.run.backend, "seed": str(config.run.seed),
                  "parameter_set": config.parameter_set.name,
                  "parameter_set_statistic": config.parameter_set.statistic,
                  "parameter_set_source": yaml.safe_dump(config.parameter_set.source, sort_keys=True).strip()})
    return to_dataset(frame, info.units, info.comments, set(info.constants), attrs)


@dataclass
class Uncertain:
    """A posterior ensemble of one run: its year-end values and their summary tables."""

    ensemble: xr.Dataset  # (scenario, draw, time)
    projections: pd.DataFrame
    attainment: pd.DataFrame
    joint: pd.DataFrame       # all of a plan-year's targets at once, per scenario
    chunk_folder: Path
    variance_shares: pd.DataFrame | None = None   # parameters vs outside world, per indicator and year
    grid_folders: tuple[Path, ...] = ()

    def discard_chunks(self) -> None:
        for folder in (self.chunk_folder, *self.grid_folders):
            ens.discard_chunks(folder)


def uncertainty_record(config: RunConfig, ensemble: xr.Dataset | None) -> dict:
    """metadata.json's `uncertainty`: what was drawn (posterior, outside world) and what held."""
    if ensemble is None:
        return {"mode": "none"}
    return {"mode": "posterior", "draws": int(ensemble.sizes["draw"]), "world": config.world.name,
            "world_mode": config.uncertainty.world, "world_sampling": config.world.sampling,
            "world_uncertainties": [str(c)[len(ens.WORLD_PREFIX):] for c in ensemble.coords
                                    if str(c).startswith(ens.WORLD_PREFIX)]}


def posterior_ensemble(config: RunConfig, observations, targets) -> Uncertain | None:
    """The run over the parameter set's posterior draws, if the config asks for (or allows) them."""
    if ens.resolve_mode(config) == "none":
        return None
    indicators = model_indicators(observations, targets)
    ds, projections, attainment, folder = expmod.scenario_projection_tables(
        {config.name: config}, indicators, expmod.proj.modelled_targets(targets), ens.FIRST_YEAR, ens.LAST_YEAR,
        "posterior")
    shares, grid_folders = bands.decomposition_table({config.name: config}, indicators, ens.FIRST_YEAR,
                                                     ens.LAST_YEAR, config.name)
    return Uncertain(ds, projections, attainment, expmod.joint_attainment(ds, targets), folder, shares,
                     tuple(grid_folders))


def lever_frame(config: RunConfig) -> pd.DataFrame:
    """The levers the run actually used (fields the scenario leaves out at the model's values)."""
    table = build.lever_table(config, model_info(MODEL_FILE))
    return pd.DataFrame([{"run": config.name, "lever": lever, **values} for lever, values in table.items()],
                        columns=["run", "lever", "change", "start", "ramp_years"])


def write_run(folder: Path, config: RunConfig, ds, observations, targets, uncertain: Uncertain | None = None) -> Path:
    """Write one complete run folder atomically; returns where it went (`NAME-2` if another
    run took the name in the same second)."""
    with atomic_directory(folder, unique=True) as tmp:
        ds.to_netcdf(tmp / "results.nc")
        target_attainment(ds, targets).to_csv(tmp / "targets.csv", index=False)
        lever_frame(config).to_csv(tmp / "levers.csv", index=False)
        if uncertain is not None:
            uncertain.ensemble.to_netcdf(tmp / "ensemble.nc")
            uncertain.projections.to_csv(tmp / "projections.csv", index=False)
            uncertain.attainment.to_csv(tmp / "attainment.csv", index=False)
            uncertain.joint.to_csv(tmp / JOINT_ATTAINMENT_FILE, index=False)
            ens.world_table(uncertain.ensemble).to_csv(tmp / WORLD_FILE, index=False)
            if uncertain.variance_shares is not None:
                uncertain.variance_shares.to_csv(tmp / VARIANCE_SHARES_FILE, index=False)
        write_metadata(tmp, "run", seed=int(config.run.seed), config=config.to_dict(), recorded=ds.attrs, extra={
            "scenario": ds.attrs["scenario"], "backend": ds.attrs["backend"], "run_name": config.name,
            "levers": build.lever_table(config, model_info(MODEL_FILE)),
            "parameter_set": {"name": config.parameter_set.name, "statistic": config.parameter_set.statistic,
                              "source": config.parameter_set.source},
            "uncertainty": uncertainty_record(config, None if uncertain is None else uncertain.ensemble)})
        if config.run.figures:
            plots.save_figure(plots.key_indicators_figure({config.name: ds}, observations, targets,
                                              language=config.figures.language), tmp / "key_indicators")
    return tmp.final


def vacate(folder: Path) -> None:
    """Hydra creates the job's folder before the job runs; innosd writes it atomically, so an
    empty folder Hydra made is removed first (a non-empty one is refused by atomic_directory)."""
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


@dataclass(frozen=True)
class RunJob:
    """Hydra's task function: one job's composed config -> its folder. Picklable (joblib)."""

    config_dir: str
    command: str

    def __call__(self, cfg: DictConfig) -> dict:
        """{"folder", "name", "overrides"}, or {"error": the InnosdError}: a user error travels back
        as a value (Hydra would print its own two-line report of a raised one), see `result_of`."""
        try:
            return self.write(cfg)
        except InnosdError as err:
            return {"error": err}

    def write(self, cfg: DictConfig) -> dict:
        hydra = HydraConfig.get()
        info = model_info(MODEL_FILE)
        overrides = tuple(hydra.overrides.task)
        config = build.run_config(OmegaConf.to_container(cfg, resolve=True), dict(hydra.runtime.choices),
                                  overrides, info, Path(self.config_dir))
        folder = Path(hydra.runtime.output_dir)
        check_writable(folder.parent)  # before the work, not after it
        observations, targets = load_observations(), load_targets()
        vacate(folder)
        if config.experiment is not None:
            folder = expmod.run_experiment(folder, config, overrides, info, observations, targets,
                                           Path(self.config_dir), self.command)
        else:
            uncertain = posterior_ensemble(config, observations, targets)
            folder = write_run(folder, config, simulate(config), observations, targets, uncertain)
            if uncertain is not None:
                uncertain.discard_chunks()
        return {"folder": str(folder), "name": config.name, "overrides": list(overrides)}


def result_of(job_return) -> dict:
    """A job's result; its user error raised here, in the command's process, as one line."""
    result = job_return.return_value
    if "error" in result:
        raise result["error"]
    return result


# ----------------------------------------------------------------------------- sweeps

def comparison_table(runs: dict[str, xr.Dataset], years=(2020, 2025, 2035)) -> pd.DataFrame:
    """Key indicators at 2020/2025/2035 for every run of a sweep (rows: run x indicator)."""
    rows = []
    for name, ds in runs.items():
        for ind in KEY_INDICATORS:
            series = plots.year_end_series(ds, ind.model_variable)
            rows.append({"run": name, "indicator": ind.id, "model_variable": ind.model_variable,
                         **{str(y): float(series.get(y, np.nan)) for y in years}})
    return pd.DataFrame(rows)


def sweep_labels(configs: list[RunConfig], jobs: list[list[str]]) -> list[str]:
    """Each run's name (scenario plus what its overrides change); where names repeat, the
    overrides that differ between the jobs are added so every label is unique."""
    names = [c.name for c in configs]
    if len(set(names)) == len(names):
        return names
    shared = set.intersection(*(set(j) for j in jobs))
    labels = []
    for name, job in zip(names, jobs):
        differing = [o for o in job if o not in shared]
        labels.append(f"{name} [{' '.join(differing)}]" if names.count(name) > 1 and differing else name)
    return labels


def collect_sweep(folder: Path, jobs: list[list[str]], configs: list[RunConfig], returns: list[dict],
                  command: str) -> None:
    """The sweep's own files, from the saved job folders (whichever launcher wrote them)."""
    labels = sweep_labels(configs, jobs)
    job_folders = [Path(r["folder"]) for r in returns]
    write_metadata(folder, "sweep", seed=int(configs[0].run.seed), command=command, model_file=MODEL_FILE,
                   config={"command": command,
                           "jobs": [{"label": label, "name": c.name, "overrides": job, "folder": f.name,
                                     "levers": build.lever_table(c, model_info(MODEL_FILE))}
                                    for label, job, c, f in zip(labels, jobs, configs, job_folders)]})
    if any(c.experiment is not None for c in configs):
        return  # experiment folders carry their own tables
    runs = {label: xr.load_dataset(f / "results.nc") for label, f in zip(labels, job_folders)}
    comparison_table(runs).to_csv(folder / "comparison.csv", index=False)
    pd.concat([pd.read_csv(f / "levers.csv").assign(run=label) for label, f in zip(labels, job_folders)]) \
        .to_csv(folder / "levers.csv", index=False)
    first = configs[0]
    uncertain = [(label, f) for label, f in zip(labels, job_folders) if (f / "projections.csv").is_file()]
    if uncertain:
        tables = {}
        for table in ("projections", "attainment", "joint_attainment"):
            tables[table] = pd.concat([pd.read_csv(f / f"{table}.csv").assign(scenario=label)
                                       for label, f in uncertain if (f / f"{table}.csv").is_file()],
                                      ignore_index=True)
            tables[table].to_csv(folder / f"{table}.csv", index=False)
        shares = [pd.read_csv(f / VARIANCE_SHARES_FILE).assign(scenario=label) for label, f in uncertain
                  if (f / VARIANCE_SHARES_FILE).is_file()]
        if shares:
            pd.concat(shares, ignore_index=True).to_csv(folder / VARIANCE_SHARES_FILE, index=False)
        if (uncertain[0][1] / WORLD_FILE).is_file():  # one outside world for every run of the sweep
            (folder / WORLD_FILE).write_bytes((uncertain[0][1] / WORLD_FILE).read_bytes())
        ensembles = [xr.load_dataset(f / "ensemble.nc").assign_coords(scenario=[label]) for label, f in uncertain]
        xr.concat(ensembles, dim="scenario", combine_attrs="drop_conflicts").to_netcdf(folder / "ensemble.nc")
        if first.run.figures:
            observations, targets = load_observations(), load_targets()
            expmod.draw_figure("projection_fans", folder / "projection_fans", tables["projections"], observations,
                               targets, language=first.figures.language)
            expmod.draw_figure("attainment_heatmap", folder / "attainment_heatmap", tables["attainment"],
                               language=first.figures.language)
    if first.run.figures:
        observations, targets = load_observations(), load_targets()
        plots.save_figure(plots.key_indicators_figure(runs, observations, targets, language=first.figures.language),
                    folder / "comparison")
    print(f"innosd run: {len(jobs)} runs: {', '.join(labels)}", file=sys.stderr)


def write_validation(out: Path, config: RunConfig) -> None:
    """The validation battery on the project model with the run's parameter set."""
    from innosd.experiments import validate as valmod  # the battery is heavy; only the main sweep needs it
    from innosd.model.validation import FAIL, WARN

    results, details, resolved = valmod.run_battery(MODEL_FILE, config.parameter_set.name, valmod.DEFAULT_DRAWS,
                                                    int(config.run.seed), Path(config.parameter_set.params_dir))
    valmod.write_folder(out, results, details, resolved, MODEL_FILE, int(config.run.seed), ["(innosd run)"])
    print(f"innosd run: validation battery: {sum(r.result == FAIL for r in results)} fail, "
          f"{sum(r.result == WARN for r in results)} warn -> {out}", file=sys.stderr)


# The experiments the main job adds so its report can say at what cost, what could fail and
# what each lever alone buys (response curves: ~17,600 year-end runs, a few seconds).
PLANNER_EXPERIMENTS = ("policy_search", "discovery", "response")


def write_planner_experiments(out: Path, config: RunConfig) -> None:
    """The default policy search, scenario discovery and response curves, with the sweep's parameter set and
    draws, into `out/<experiment>/` (the report reads them as the sweep's sub-folders)."""
    info = model_info(MODEL_FILE)
    kept = [o for o in config.overrides
            if o.partition("=")[0].lstrip("+~").partition(".")[0] not in ("scenario", "experiment", "hydra")]
    observations, targets = load_observations(), load_targets()
    config_dir = compose.CONFIG_DIR  # read at call time, as the command does (tests point it at a copy)
    for name in PLANNER_EXPERIMENTS:
        overrides = [*kept, f"+experiment={name}"]
        experiment_config = build.compose_run_config(overrides, info, config_dir)
        expmod.run_experiment(out / name, experiment_config, tuple(overrides), info, observations, targets,
                              config_dir, "innosd run (main job) " + " ".join(overrides))


# Loop dominance for the report's loops section (`innosd loops` on the baseline with the sweep's
# parameter set): the key variables whose response curves it explains, repeated on a few posterior
# draws so the report can say whether the dominant loop family is the same in them. Each run is one
# LTM analysis of every loop (~18k), a few seconds; the full enumeration is `innosd loops --all-loops`.
LOOPS_VARIABLES = ("high tech enterprises", "national incubators", "rd intensity", "post subsidy rate effective")
LOOPS_DRAWS = 4


def write_loops(out: Path, config: RunConfig) -> None:
    """Loops That Matter on one baseline run (the parameter set's point estimate, the outside world
    at the model file's values) and on LOOPS_DRAWS posterior draws, into `out` (the sweep's loops/)."""
    from innosd.calibration.handoff import choose_draws
    from innosd.experiments import loops as loopmod

    params = dict(config.params)
    draws = ens.posterior_draws(config) if ens.resolve_mode(config) == "posterior" else None
    if draws is not None:
        draws = choose_draws(draws, min(LOOPS_DRAWS, len(draws)), int(config.run.seed), "posterior draws")
        draws = draws.drop(columns=[c for c in config.fixed_params if c in draws.columns])
    analysis, per_variable = loopmod.run_loops(MODEL_FILE, params, list(LOOPS_VARIABLES))
    loops_config = {"model": str(MODEL_FILE), "parameters": f"parameter set {config.parameter_set.name!r} "
                    f"({config.parameter_set.statistic})", "params": params, "scenario": "baseline",
                    "variables": list(per_variable), "draws": 0 if draws is None else len(draws),
                    "seed": int(config.run.seed), "max_enumerated_loops": loopmod.L.MAX_ENUMERATED_LOOPS,
                    "reported_loops": loopmod.L.REPORTED_LOOPS}
    loopmod.write_folder(out, analysis, per_variable, loops_config, MODEL_FILE,
                         "innosd run (main job): loops of the baseline", config.figures.language, figures=False,
                         draws=draws, seed=int(config.run.seed), partition_scores=False,
                         extra={"parameter_set": config.parameter_set.name, "scenario": "baseline"})
    print(f"innosd run: loop dominance: {analysis.n_loops} loops, {len(per_variable)} variables, "
          f"{0 if draws is None else len(draws)} posterior draws -> {out}", file=sys.stderr)


def report(folder: Path, config: RunConfig, validate: bool = False) -> None:
    """End a run with the report a planner opens (rebuild it any time with `innosd report`).

    With `validate`, the model validation battery runs first, with the sweep's parameter set,
    into `folder/validation/`, so the report says how far the model behind the numbers has
    been tested, and loop dominance into `folder/loops/`, so it can say which feedback loops
    drive the key variables (the main job does this; single runs stay quick).
    """
    if not config.run.figures:
        return
    from innosd.figures.report import build_report  # the report builder pulls in the PDF printer

    try:
        if validate:
            write_validation(folder / "validation", config)
            if ens.resolve_mode(config) == "posterior":  # probabilities need draws
                write_planner_experiments(folder, config)
            write_loops(folder / LOOPS_DIR, config)
        built = build_report([folder], language=config.figures.language)
    except (OSError, RuntimeError) as err:  # disk full, permissions, netCDF's HDF errors: the results stay
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InnosdError(f"the report could not be written ({reason}); the results are complete in {folder}; "
                          f"rebuild the report with `innosd report {folder}`") from None
    print(f"innosd run: report -> {built / 'report.html'}")
