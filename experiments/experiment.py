"""`innosd run +experiment=NAME`: experiment folders for projections, attainment,
sensitivity and policy search.

Each experiment reads its settings from `scenarios/experiment/NAME.yaml` (the `experiment`
key of the composed config), checks them (one-line errors naming the key and the valid
choices), evaluates its parameter tables in resumable chunks (`experiments.dask_exec`)
and writes one folder atomically under OUTPUT_DIR/experiments/DATE/TIME_NAME with the
tables of `docs/outputs.md`, `config.yaml`, `metadata.json` and figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from innosd.experiments import config as cfgmod
from innosd.experiments import ensemble as ens
from innosd.experiments import projections as proj
from innosd.model import MODEL_FILE
from innosd.model.indicators import Indicator, model_indicators, select_indicators
from innosd.model.info import ModelInfo

from innosd.errors import ConfigError, closest
from innosd.rundir import provenance, write_metadata

EXPERIMENTS = ("projections", "attainment", "sensitivity", "policy_search")


@dataclass(frozen=True)
class Context:
    """What every experiment gets: its config, the overrides it came from, model and data."""

    config: cfgmod.RunConfig
    overrides: tuple[str, ...]
    info: ModelInfo
    observations: pd.DataFrame
    targets: pd.DataFrame
    config_dir: Path = cfgmod.SCENARIOS_DIR


@dataclass
class Written:
    """Chunk folders to delete once the experiment folder is in place, and metadata extras."""

    chunk_folders: list[Path] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def typed(schema: type, raw: dict[str, Any], key: str = "experiment"):
    """Build a settings dataclass from a mapping; unknown keys and values that are not of a
    field declared `int` or `float` -> one-line error (other fields are checked where used)."""
    fields = {f.name: f.type for f in dataclasses.fields(schema)}
    cfgmod.unknown_keys(raw, list(fields), key)
    values = dict(raw)
    for name, value in raw.items():
        kind = {"int": int, "float": float}.get(str(fields[name]))
        if kind is None:
            continue
        try:
            if isinstance(value, bool) or (kind is int and float(value) != int(value)):
                raise ValueError
            values[name] = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}.{name}: {value!r} is not {'an integer' if kind is int else 'a number'}") from None
    return schema(**values)


def experiment_name(config: cfgmod.RunConfig) -> str:
    name = str((config.experiment or {}).get("name", ""))
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment.name: unknown experiment {name!r}{closest(name, EXPERIMENTS)}; "
                          f"valid experiments: {', '.join(EXPERIMENTS)}")
    return name


def settings_of(config: cfgmod.RunConfig) -> dict[str, Any]:
    raw = dict(config.experiment or {})
    raw.pop("name", None)
    return raw


def scenario_names(value: Any, config_dir: Path, key: str) -> list[str]:
    names = cfgmod.available_scenarios(config_dir)
    if value in ("all", None):
        return names
    chosen = value if isinstance(value, list) else [value]
    for name in chosen:
        if name not in names:
            raise ConfigError(f"{key}: unknown scenario {name!r}{closest(str(name), names)}; "
                              f"valid scenarios: {', '.join(names)}")
    if not chosen:
        raise ConfigError(f"{key}: the list of scenarios is empty")
    return list(chosen)


def scenario_configs(ctx: Context, names: list[str]) -> dict[str, cfgmod.RunConfig]:
    """The experiment's overrides with each scenario in turn (common draws, same params)."""
    def keep(override: str) -> bool:
        key = override.partition("=")[0].lstrip("+~")
        return key != "scenario" and key.partition(".")[0] != "experiment"

    rest = [o for o in ctx.overrides if keep(o)]
    return {name: cfgmod.compose_run_config(rest + [f"scenario={name}"], ctx.info, ctx.config_dir)
            for name in names}


def run_attrs(config: cfgmod.RunConfig, mode: str) -> dict[str, str]:
    """Provenance plus which parameter set (and calibration run) and uncertainty were used."""
    attrs = provenance(config.to_dict(), MODEL_FILE)
    ps = config.parameter_set
    attrs.update({"parameter_set": ps.name, "parameter_set_statistic": ps.statistic,
                  "parameter_set_source": yaml.safe_dump(ps.source, sort_keys=True).strip(),
                  "uncertainty_mode": mode, "seed": str(config.run.seed)})
    return attrs


def draw_figure(function: str, stem: Path, *args, **kwargs) -> None:
    """Draw `figures.report_figures.<function>(*args, **kwargs)` and save it as `stem`."""
    from innosd.figures import report_figures
    from innosd.figures.plots import save_figure

    save_figure(getattr(report_figures, function)(*args, **kwargs), stem)


# ----------------------------------------------------------------------------- projections / attainment

@dataclass(frozen=True)
class ProjectionSettings:
    scenarios: Any = "all"
    indicators: Any = "all"
    targets: Any = "all"
    first_year: int = ens.FIRST_YEAR
    last_year: int = ens.LAST_YEAR


def scenario_projection_tables(configs: dict[str, cfgmod.RunConfig], indicators: list[Indicator],
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


def run_projections(ctx: Context, out: Path) -> Written:
    settings = typed(ProjectionSettings, settings_of(ctx.config))
    name = experiment_name(ctx.config)
    names = scenario_names(settings.scenarios, ctx.config_dir, "experiment.scenarios")
    available = model_indicators(ctx.observations, ctx.targets)
    targets = proj.select_targets(settings.targets, ctx.targets, "experiment.targets")
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
    if ctx.config.run.figures:
        if name == "projections":
            draw_figure("projection_fans", out / "projection_fans", projections, ctx.observations, ctx.targets,
                        language=ctx.config.figures.language)
            draw_figure("scenario_difference", out / "scenario_difference", projections,
                        language=ctx.config.figures.language)
        draw_figure("attainment_heatmap", out / "attainment_heatmap", attainment,
                    language=ctx.config.figures.language)
    return Written([folder], {"scenarios": names, "draws": int(ds.sizes["draw"]),
                              "uncertainty_mode": ds.attrs["uncertainty_mode"]})


def runner(name: str) -> Callable[[Context, Path], Written]:
    if name in ("projections", "attainment"):
        return run_projections
    if name == "sensitivity":
        from innosd.experiments.sensitivity import run_sensitivity

        return run_sensitivity
    from innosd.experiments.policy import run_policy_search

    return run_policy_search


def write_common(out: Path, config: cfgmod.RunConfig, written: Written, command: str) -> None:
    """config.yaml and metadata.json of an experiment folder."""
    ps = config.parameter_set
    write_metadata(out, "experiment", seed=int(config.run.seed), command=command, model_file=MODEL_FILE,
                   config=config.to_dict(), extra={
                       "experiment": experiment_name(config),
                       "parameter_set": {"name": ps.name, "statistic": ps.statistic,
                                         "posterior_draws": ps.posterior_draws, "source": ps.source},
                       "scheduler": config.run.scheduler, **written.metadata})
