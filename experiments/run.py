"""`innosd run`: scenario runs from Hydra configs, one run folder each.

    innosd run                                   the baseline (2016 policies continue)
    innosd run scenario=incubator_doubling       another scenario
    innosd run -m scenario=baseline,talent_programmes   a sweep, with a comparison figure
    innosd run -m 'scenario=glob(*)'             every scenario (the main job)
    innosd run params.hte_exit_rate=0.04         override a model constant
    innosd run scenario.levers.talent.change=3   move a lever
    innosd run --list-scenarios | --list-levers | --list-params

    innosd run params=calibrated                 the calibrated parameter set (scenarios/params/)
    innosd run +experiment=projections           every scenario over posterior draws
    innosd run +experiment=attainment            probability of each plan target per scenario
    innosd run +experiment=sensitivity           Sobol and Morris indices (SALib)
    innosd run +experiment=policy_search         cheapest lever mix reaching targets, Pareto front
    innosd run +experiment=sensitivity run.scheduler=tcp://HOST:8786   on an existing Dask cluster

Each run folder (OUTPUT_DIR/YYYY-MM-DD/HH-MM-SS_<scenario>, or
OUTPUT_DIR/multirun/YYYY-MM-DD/HH-MM-SS/<n>_<scenario> in a sweep) holds `results.nc`,
`targets.csv`, `config.yaml`, `metadata.json` and the figures; when the parameter set has
posterior draws (uncertainty.mode=auto|posterior) also `ensemble.nc`, `projections.csv`
and `attainment.csv`, and a sweep collects them across its runs. Experiments write
OUTPUT_DIR/experiments/YYYY-MM-DD/HH-MM-SS_<experiment>. Folders appear only when
complete; an interrupted ensemble resumes from its finished chunks (OUTPUT_DIR/.chunks).
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from innosd.calibration.data import load_observations, load_targets
from innosd.experiments import config as cfgmod
from innosd.experiments import ensemble as ens
from innosd.experiments import experiment as expmod
from innosd.model import MODEL_FILE
from innosd.model.backends import run_model
from innosd.model.indicators import KEY_INDICATORS, model_indicators
from innosd.model.info import lever_names, model_info
from innosd.experiments.results import target_attainment, to_dataset

from innosd.errors import ConfigError, ModelError
from innosd.rundir import atomic_directory, provenance, write_metadata


def expand_sweep(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Hydra's basic-sweeper semantics: the cartesian product of comma-separated values."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob
    from hydra.errors import HydraException

    for item in overrides:
        if "=" not in item and not item.startswith("~"):  # ~KEY deletes a key (Hydra)
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. scenario=baseline); "
                              "see `innosd run --help`")
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise ConfigError(f"override: {str(err).strip().splitlines()[0]}") from None
    choices = []
    for item, override in zip(overrides, parsed):
        if override.is_sweep_override():
            if not multirun:
                raise ConfigError(f"{item!r} is a sweep; add -m to run one job per value")
            key = item.partition("=")[0]
            if isinstance(override.value(), Glob):  # scenario=glob(*): every scenario file
                if key.lstrip("+~") != "scenario":
                    raise ConfigError(f"{item!r}: glob() sweeps only work on scenario")
                values = override.value().filter(cfgmod.available_scenarios(cfgmod.SCENARIOS_DIR))
            else:
                values = list(override.sweep_string_iterator())
            if not values:
                raise ConfigError(f"{item!r}: the sweep is empty")
            choices.append([f"{key}={v}" for v in values])
        else:
            choices.append([item])
    return [list(combo) for combo in itertools.product(*choices)] or [[]]


def simulate(config: cfgmod.RunConfig):
    """Run one configured scenario; return its results as an xarray Dataset."""
    info = model_info(MODEL_FILE)
    frame = run_model(cfgmod.model_parameters(config), backend=config.run.backend)
    bad = [c for c in frame.columns if not np.all(np.isfinite(frame[c].to_numpy(dtype=float)))]
    if bad:
        raise ModelError(f"scenario {config.scenario.name!r}: non-finite values in {bad[0]!r} "
                         f"(and {len(bad) - 1} more); check the parameter overrides")
    attrs = provenance(config.to_dict(), MODEL_FILE)
    attrs.update({"scenario": config.scenario.name, "description": config.scenario.description,
                  "backend": config.run.backend, "seed": str(config.run.seed),
                  "parameter_set": config.parameter_set.name,
                  "parameter_set_statistic": config.parameter_set.statistic,
                  "parameter_set_source": yaml.safe_dump(config.parameter_set.source, sort_keys=True).strip()})
    return to_dataset(frame, info.units, info.comments, set(info.constants), attrs)


@dataclass
class Uncertain:
    """A posterior ensemble of one or more runs: year-end values and their summary tables."""

    ensemble: object  # xr.Dataset (scenario, draw, time)
    projections: pd.DataFrame
    attainment: pd.DataFrame
    chunk_folder: Path

    def of(self, label: str) -> "Uncertain":
        return Uncertain(self.ensemble.sel(scenario=[label]), self.projections[self.projections["scenario"] == label],
                         self.attainment[self.attainment["scenario"] == label], self.chunk_folder)


def posterior_ensemble(configs: dict[str, cfgmod.RunConfig], observations, targets) -> Uncertain | None:
    """Runs over the parameter set's posterior draws, if the config asks for (or allows) them."""
    if any(ens.resolve_mode(c) == "none" for c in configs.values()):
        return None
    indicators = model_indicators(observations, targets)
    ds, projections, attainment, folder = expmod.scenario_projection_tables(
        configs, indicators, expmod.proj.modelled_targets(targets), ens.FIRST_YEAR, ens.LAST_YEAR, "posterior")
    return Uncertain(ds, projections, attainment, folder)


def write_uncertain(folder: Path, uncertain: Uncertain | None) -> None:
    if uncertain is not None:
        uncertain.ensemble.to_netcdf(folder / "ensemble.nc")
        uncertain.projections.to_csv(folder / "projections.csv", index=False)
        uncertain.attainment.to_csv(folder / "attainment.csv", index=False)


def write_run(folder: Path, config: cfgmod.RunConfig, ds, observations, targets,
              uncertain: Uncertain | None = None) -> Path:
    """Write one complete run folder atomically."""
    with atomic_directory(folder) as tmp:
        ds.to_netcdf(tmp / "results.nc")
        target_attainment(ds, targets).to_csv(tmp / "targets.csv", index=False)
        write_uncertain(tmp, uncertain)
        write_metadata(tmp, "run", seed=int(config.run.seed), config=config.to_dict(), recorded=ds.attrs, extra={
            "scenario": ds.attrs["scenario"], "backend": ds.attrs["backend"],
            "parameter_set": {"name": config.parameter_set.name, "statistic": config.parameter_set.statistic,
                              "source": config.parameter_set.source},
            "uncertainty": ({"mode": "posterior", "draws": int(uncertain.ensemble.sizes["draw"])}
                            if uncertain is not None else {"mode": "none"})})
        if config.run.figures:
            from innosd.figures.plots import key_indicators_figure, save_figure

            save_figure(key_indicators_figure({config.scenario.name: ds}, observations, targets,
                                              language=config.figures.language), tmp / "key_indicators")
    return folder


def comparison_table(runs: dict[str, "object"], years=(2020, 2025, 2035)) -> pd.DataFrame:
    """Key indicators at 2020/2025/2035 for every run of a sweep (rows: run x indicator)."""
    from innosd.figures.plots import year_end_series

    rows = []
    for name, ds in runs.items():
        for ind in KEY_INDICATORS:
            series = year_end_series(ds, ind.model_variable)
            rows.append({"run": name, "indicator": ind.id, "model_variable": ind.model_variable,
                         **{str(y): float(series.get(y, np.nan)) for y in years}})
    return pd.DataFrame(rows)


def _listing(flag: str) -> str:
    info = model_info(MODEL_FILE)
    if flag == "--list-scenarios":
        return "\n".join(cfgmod.available_scenarios())
    if flag == "--list-levers":
        return "\n".join(lever_names(info))
    return "\n".join(f"{c.name.replace(' ', '_')}\t{c.default:g}\t[{c.lower:g}, {c.upper:g}]\t{c.units}"
                     for c in info.constants.values())


def main(argv: list[str]) -> int:
    flags = {a for a in argv if a.startswith("-")}
    if flags & {"-h", "--help"}:
        print(__doc__.strip())
        return 0
    for flag in ("--list-scenarios", "--list-levers", "--list-params"):
        if flag in flags:
            print(_listing(flag))
            return 0
    multirun = bool(flags & {"-m", "--multirun"})
    unknown = flags - {"-m", "--multirun"}
    if unknown:
        raise ConfigError(f"unknown option {sorted(unknown)[0]!r}; valid options: -m/--multirun, "
                          "--list-scenarios, --list-levers, --list-params, --help")
    overrides = [a for a in argv if not a.startswith("-")]
    jobs = expand_sweep(overrides, multirun)
    info = model_info(MODEL_FILE)
    config_dir = cfgmod.SCENARIOS_DIR  # read at call time: tests point it at a copy
    configs = [cfgmod.compose_run_config(job, info, config_dir) for job in jobs]  # validate all before running any
    observations, targets = load_observations(), load_targets()
    stamp = dt.datetime.now()
    root = Path(configs[0].run.output_dir)
    if any(c.experiment is not None for c in configs):
        return run_experiments(jobs, configs, info, observations, targets, stamp, multirun, argv, config_dir)
    if not multirun:
        config = configs[0]
        folder = root / stamp.strftime("%Y-%m-%d") / f"{stamp.strftime('%H-%M-%S')}_{config.scenario.name}"
        uncertain = posterior_ensemble({config.scenario.name: config}, observations, targets)
        write_run(folder, config, simulate(config), observations, targets, uncertain)
        if uncertain is not None:
            ens.discard_chunks(uncertain.chunk_folder)
        print(f"innosd run: {config.scenario.name} -> {folder}")
        report(folder, config)
        return 0
    sweep_dir = root / "multirun" / stamp.strftime("%Y-%m-%d") / stamp.strftime("%H-%M-%S")
    runs = {}
    labels = [sweep_label(job, config, configs, jobs) for job, config in zip(jobs, configs)]
    uncertain = posterior_ensemble(dict(zip(labels, configs)), observations, targets)
    with atomic_directory(sweep_dir) as tmp:
        for number, (label, config) in enumerate(zip(labels, configs)):
            ds = simulate(config)
            write_run(tmp / f"{number}_{config.scenario.name}", config, ds, observations, targets,
                      uncertain.of(label) if uncertain is not None else None)
            runs[label] = ds
            print(f"innosd run: [{number + 1}/{len(jobs)}] {label}", file=sys.stderr)
        comparison_table(runs).to_csv(tmp / "comparison.csv", index=False)
        write_sweep_provenance(tmp, jobs, labels, configs, argv)
        write_uncertain(tmp, uncertain)  # projections/attainment of every run in one table each
        if uncertain is not None and configs[0].run.figures:
            language = configs[0].figures.language
            expmod.draw_figure("projection_fans", tmp / "projection_fans", uncertain.projections, observations,
                               targets, language=language)
            expmod.draw_figure("attainment_heatmap", tmp / "attainment_heatmap", uncertain.attainment,
                               language=language)
        if configs[0].run.figures:
            from innosd.figures.plots import key_indicators_figure, save_figure

            save_figure(key_indicators_figure(runs, observations, targets, language=configs[0].figures.language),
                        tmp / "comparison")
    if uncertain is not None:
        ens.discard_chunks(uncertain.chunk_folder)
    print(f"innosd run: {len(jobs)} runs -> {sweep_dir}")
    report(sweep_dir, configs[0], validate=True)
    return 0


def write_validation(out: Path, config: cfgmod.RunConfig) -> None:
    """The validation battery on the project model with the run's parameter set."""
    from innosd.experiments import validate as valmod

    results, details, resolved = valmod.run_battery(MODEL_FILE, config.parameter_set.name, valmod.DEFAULT_DRAWS,
                                                    int(config.run.seed), Path(config.parameter_set.params_dir))
    valmod.write_folder(out, results, details, resolved, MODEL_FILE, int(config.run.seed), ["(innosd run)"])
    from innosd.model.validation import FAIL, WARN

    print(f"innosd run: validation battery: {sum(r.result == FAIL for r in results)} fail, "
          f"{sum(r.result == WARN for r in results)} warn -> {out}", file=sys.stderr)


def write_sweep_provenance(folder: Path, jobs: list[list[str]], labels: list[str],
                           configs: list[cfgmod.RunConfig], argv: list[str]) -> None:
    """The sweep folder records its jobs and provenance like every run folder does."""
    command = "innosd run " + " ".join(argv)
    write_metadata(folder, "sweep", seed=int(configs[0].run.seed), command=command, model_file=MODEL_FILE,
                   config={"command": command,
                           "jobs": [{"label": label, "overrides": job, "folder": f"{n}_{c.scenario.name}"}
                                    for n, (label, job, c) in enumerate(zip(labels, jobs, configs))]})


def report(folder: Path, config: cfgmod.RunConfig, validate: bool = False) -> None:
    """End a run with the report a planner opens (rebuild it any time with `innosd report`).

    With `validate`, the model validation battery runs first, with the sweep's parameter set,
    into `folder/validation/`, so the report says how far the model behind the numbers has
    been tested (the main job does this; single runs stay quick).
    """
    if not config.run.figures:
        return
    from innosd.figures.report import build_report

    if validate:
        write_validation(folder / "validation", config)

    built = build_report([folder], language=config.figures.language)
    print(f"innosd run: report -> {built / 'report.html'}")


def sweep_label(job: list[str], config: cfgmod.RunConfig, configs: list[cfgmod.RunConfig],
                jobs: list[list[str]] | None = None) -> str:
    """The scenario name, or with the swept overrides when scenario names repeat.

    Only overrides that differ between the sweep's jobs name a run: `run.output_dir=...`,
    shared by every job, says nothing about which run a row belongs to.
    """
    if len({c.scenario.name for c in configs}) == len(configs):
        return config.scenario.name
    shared = set.intersection(*(set(j) for j in jobs)) if jobs else set()
    swept = [o for o in job if not o.startswith("scenario=") and o not in shared]
    return f"{config.scenario.name} [{' '.join(swept)}]"


def run_experiments(jobs, configs, info, observations, targets, stamp, multirun: bool, argv,
                    config_dir: Path = cfgmod.SCENARIOS_DIR) -> int:
    """`+experiment=NAME`: one experiment folder per job (a sweep puts them side by side)."""
    root = Path(configs[0].run.output_dir) / "experiments" / stamp.strftime("%Y-%m-%d")
    for number, (job, config) in enumerate(zip(jobs, configs)):
        if config.experiment is None:
            raise ConfigError(f"job {' '.join(job)!r} has no experiment; sweep experiment settings, "
                              "not the experiment group itself")
        name = expmod.experiment_name(config)
        suffix = f"_{number}" if multirun else ""
        folder = root / f"{stamp.strftime('%H-%M-%S')}_{name}{suffix}"
        ctx = expmod.Context(config, tuple(job), info, observations, targets, config_dir)
        with atomic_directory(folder) as tmp:
            written = expmod.runner(name)(ctx, tmp)
            expmod.write_common(tmp, config, written, "innosd run " + " ".join(argv))
        for chunk_folder in written.chunk_folders:
            ens.discard_chunks(chunk_folder)
        print(f"innosd run: experiment {name} -> {folder}")
        report(folder, config)
    return 0
