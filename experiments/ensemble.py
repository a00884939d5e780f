"""Ensembles: parameter tables (posterior draws x scenario levers) and their year-end values.

Everything here takes plain values (a `RunConfig` dataclass, DataFrames), never a Hydra
config. A table has one row per model run and one column per constant the run sets; the
compiled core fills the other constants with their model-file defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from innosd.experiments.dask_exec import ExecSettings, discard_chunks, run_chunked
from innosd.model import MODEL_FILE
from innosd.model.info import lever_constants, model_info, resolve_constant
from innosd.model.results import time_index, year_end_time, year_of_time

from innosd.errors import ConfigError, DataError, ModelError
from innosd.scenarios import build
from innosd.scenarios.schema import RunConfig

FIRST_YEAR, LAST_YEAR = 2013, 2035
KEY_YEARS = (2020, 2025, 2035)


def resolve_mode(config: RunConfig) -> str:
    """`posterior` or `none`: auto means posterior exactly when the parameter set has draws."""
    mode = config.uncertainty.mode
    has_draws = bool(config.parameter_set.posterior_draws)
    if mode == "posterior" and not has_draws:
        raise ConfigError(f"uncertainty.mode=posterior: parameter set {config.parameter_set.name!r} has no "
                          "posterior draws; choose params=calibrated (after `innosd calibrate`) or "
                          "uncertainty.mode=none")
    return "posterior" if mode == "posterior" or (mode == "auto" and has_draws) else "none"


def posterior_draws(config: RunConfig) -> pd.DataFrame | None:
    """The configured posterior draws (rows) or None for a point-estimate run."""
    from innosd.calibration.handoff import ParameterSet, choose_draws, load_posterior_draws

    if resolve_mode(config) == "none":
        return None
    ps = config.parameter_set
    # the set's own constants (not the command line's): each needs its column of draws
    own = {name: value for name, value in config.params.items() if name not in config.fixed_params}
    handle = ParameterSet(ps.name, own, ps.statistic, ps.posterior_draws, ps.source, ps.posterior_draws_sha256)
    path = Path(ps.params_dir) / str(ps.posterior_draws)
    try:
        draws = load_posterior_draws(handle, Path(ps.params_dir))
    except DataError as err:
        raise ConfigError(f"params={ps.name}: {err}") from None
    wanted = config.uncertainty.draws
    if wanted is not None and wanted > len(draws):
        # asked for on the command line: an error (silently using fewer would record a count never
        # used); the YAML's default is an upper limit: every draw of a smaller set, recorded in
        # metadata.json (uncertainty.draws). No stderr note here: it would come before a config
        # error found later (a mistyped lever) and make that error two lines
        if any(o.lstrip("+").startswith("uncertainty.draws=") for o in config.overrides):
            raise ConfigError(f"uncertainty.draws: {wanted} draws asked for but {path} holds {len(draws)}; "
                              f"choose at most {len(draws)} (or null for all of them)")
    if wanted is not None and wanted < len(draws):
        draws = choose_draws(draws, wanted, config.run.seed, path)

    info = model_info(MODEL_FILE)
    where = f"{path}: column"
    # model-file names (the hand-off may use underscores), so fixed constants and levers are recognised
    return draws.rename(columns={c: resolve_constant(str(c), info, f"{where} {c!r}") for c in draws.columns})


def held_constants(config: RunConfig, draws: pd.DataFrame | None) -> set[str]:
    """Constants the outside world must not draw: command-line values and levers (choices, not
    uncertainties) and constants the posterior draws (better information)."""
    levers = {constant for lever in config.scenario.levers for constant in lever_constants(lever).values()}
    return set(config.fixed_params) | levers | (set(draws.columns) if draws is not None else set())


def world_inputs(config: RunConfig, draws: pd.DataFrame | None) -> pd.DataFrame:
    """The outside-world draw paired with each posterior draw (columns: uncertainty names);
    none for a point-estimate run or with `uncertainty.world=central`."""
    n = 1 if draws is None else len(draws)
    if draws is None:
        return pd.DataFrame(index=pd.RangeIndex(n, name="draw"))
    return build.world_draws(config, model_info(MODEL_FILE), n, held_constants(config, draws))


def run_table(config: RunConfig, draws: pd.DataFrame | None, world: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per draw (or one row): the parameter set, then posterior draws and their paired
    outside-world draws (`world`, default `world_inputs`), then overrides and levers."""
    base = build.model_parameters(config)
    n = 1 if draws is None else len(draws)
    table = pd.DataFrame({name: np.full(n, value, dtype=float) for name, value in base.items()})
    if draws is not None:
        held = held_constants(config, None)
        for name in draws.columns:
            if name in held:
                continue  # a command-line value or a policy lever is a choice, not an uncertainty
            table[name] = draws[name].to_numpy(dtype=float)
        world = world_inputs(config, draws) if world is None else world
        for name, values in build.world_values(config.world, world, held_constants(config, draws)).items():
            table[name] = values
    table.index = pd.RangeIndex(n, name="draw")
    return table


WORLD_PREFIX = "world_"  # ensemble.nc: coordinate `world_<name>` (draw) holds each outside-world draw


def world_coords(config: RunConfig, world: pd.DataFrame) -> dict[str, xr.Variable]:
    """The outside-world draws as coordinates along `draw`, with what they set and how drawn."""
    coords = {}
    for name in world.columns:
        u = config.world.uncertainties[name]
        coords[f"{WORLD_PREFIX}{name}"] = xr.Variable("draw", world[name].to_numpy(dtype=float), attrs={
            "units": u.unit, "constants": "; ".join(u.constants), "distribution": u.distribution,
            "lower": u.lower, "upper": u.upper, "sampling": config.world.sampling, "world": config.world.name})
    return coords


def world_table(ensemble: xr.Dataset) -> pd.DataFrame:
    """world.csv: one row per draw, one column per outside-world uncertainty (empty if held central)."""
    names = [c for c in ensemble.coords if str(c).startswith(WORLD_PREFIX)]
    table = pd.DataFrame({str(c)[len(WORLD_PREFIX):]: ensemble[c].to_numpy() for c in names},
                         index=pd.RangeIndex(ensemble.sizes["draw"], name="draw"))
    return table.reset_index()


def year_end_times(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> np.ndarray:
    return year_end_time(np.arange(first_year, last_year + 1))


@dataclass(frozen=True)
class YearEndTask:
    """Run a chunk of parameter sets; return (runs, columns, times) values at `times`."""

    model_path: str
    columns: tuple[str, ...]
    times: tuple[float, ...]

    def __call__(self, chunk: pd.DataFrame) -> np.ndarray:
        from innosd.model import compile_model

        ds = compile_model(self.model_path).run_ensemble(chunk.reset_index(drop=True),
                                                          return_columns=list(self.columns))
        idx = time_index(ds["time"].to_numpy(), self.times)
        return np.stack([ds[c].to_numpy()[:, idx] for c in self.columns], axis=1)


def exec_settings(config: RunConfig) -> ExecSettings:
    r = config.run
    return ExecSettings(str(r.scheduler), int(r.workers), int(r.chunk_size), bool(r.progress))


def chunk_cache(config: RunConfig) -> Path:
    """Finished chunks live here until the experiment's folder is written."""
    return Path(config.run.output_dir) / ".chunks"


def evaluate(table: pd.DataFrame, columns: list[str], times: np.ndarray, config: RunConfig,
             label: str) -> tuple[np.ndarray, Path]:
    """Year-end values (runs, columns, times) of a table, chunked on the configured scheduler."""
    if table.empty:
        raise ConfigError(f"{label}: nothing to run (the parameter table is empty)")
    task = YearEndTask(str(MODEL_FILE), tuple(columns), tuple(float(t) for t in times))
    values, folder = run_chunked(table, task, exec_settings(config), chunk_cache(config), label, MODEL_FILE)
    bad = ~np.isfinite(values)
    if bad.any():
        run, col, _ = np.argwhere(bad)[0]
        raise ModelError(f"{label}: non-finite {columns[col]!r} in run {int(run)} (and {int(bad.sum()) - 1} "
                         "more values); check the parameter ranges")
    return values, folder


def ensemble_dataset(values: np.ndarray, scenarios: list[str], n_draws: int, columns: list[str],
                     times: np.ndarray, units: dict[str, str], attrs: dict[str, str]) -> xr.Dataset:
    """(scenario x draw, column, time) values -> Dataset with dims (scenario, draw, time).

    `attrs` become the global attributes, with `draws` (the number of draws) added."""
    shaped = values.reshape(len(scenarios), n_draws, len(columns), len(times))
    data = {c: xr.Variable(("scenario", "draw", "time"), shaped[:, :, i, :],
                           attrs={"units": units.get(c, ""), "long_name": c})
            for i, c in enumerate(columns)}
    ds = xr.Dataset(data, coords={"scenario": scenarios, "draw": np.arange(n_draws),
                                  "time": ("time", times, {"units": "Year",
                                                           "note": "year-end values: year Y at t = Y + 1"}),
                                  "year": ("time", year_of_time(times))})
    ds.attrs.update({**attrs, "draws": str(n_draws)})
    return ds


def fill_defaults(table: pd.DataFrame) -> pd.DataFrame:
    """Columns missing in some rows of a concatenated table take the model-file default."""

    constants = model_info(MODEL_FILE).constants
    return table.fillna({c: constants[c].default for c in table.columns if c in constants})


def scenario_ensemble(configs: dict[str, RunConfig], columns: list[str], times: np.ndarray,
                      attrs: dict[str, str], label: str = "scenarios") -> tuple[xr.Dataset, Path]:
    """Every configured scenario over its draws, in one chunked evaluation.

    `configs` maps a scenario label to its config; every config must yield the same number
    of draws (the same parameter set and seed give the same draws: common random numbers,
    so scenario differences are not blurred by sampling noise).
    """

    first = next(iter(configs.values()))
    draws = {name: posterior_draws(config) for name, config in configs.items()}
    world = world_inputs(first, draws[next(iter(configs))])  # one outside world for every scenario: common draws
    tables = {name: run_table(config, draws[name], world) for name, config in configs.items()}
    counts = {len(t) for t in tables.values()}
    if len(counts) != 1:
        raise ConfigError(f"{label}: every scenario of one ensemble needs the same number of draws; got "
                          + ", ".join(f"{k}: {len(t)}" for k, t in tables.items()))
    table = fill_defaults(pd.concat(list(tables.values()), ignore_index=True))
    values, folder = evaluate(table, columns, times, first, label)
    units = model_info(MODEL_FILE).units
    ds = ensemble_dataset(values, list(tables), counts.pop(), columns, times, units,
                          {**attrs, "world": first.world.name, "world_mode": first.uncertainty.world})
    if len(world) == ds.sizes["draw"]:
        ds = ds.assign_coords(world_coords(first, world))
    return ds, folder


__all__ = ["resolve_mode", "posterior_draws", "run_table", "world_inputs", "world_table", "held_constants",
           "year_end_times", "YearEndTask", "evaluate", "ensemble_dataset", "scenario_ensemble", "discard_chunks",
           "KEY_YEARS"]


def experiment_years(years) -> list[int]:
    """`experiment.years` (one year or a list) as ints inside the simulated window; one line otherwise."""
    chosen = [int(y) for y in (years if isinstance(years, (list, tuple)) else [years])]
    if not chosen:
        raise ConfigError("experiment.years: the list is empty")
    for y in chosen:
        if not FIRST_YEAR <= y <= LAST_YEAR:
            raise ConfigError(f"experiment.years: {y} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return chosen
