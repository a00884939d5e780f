"""A composed config -> a checked `RunConfig` -> the model constants a run sets.

The checks that need the model live here (the schema's `typed()` checks structure and
types): lever names, constant names (spaces or underscores), values inside each
constant's declared range, the scenario file's name. `model_parameters` turns a config
into the constants of one run (overrides, then the levers' time profiles); `lever_table`
is what a run records and reports as the levers it actually used.

`world_config` types and checks the outside world (scenarios/world/<name>.yaml) against the
model; `world_samples` draws it, reproducibly for a seed (Latin hypercube or independent
draws), and `world_values` maps the draws to the constants they set.

`info` is the model's metadata (`innosd.model.info.model_info`); the lever naming rule is
`innosd.model.info`'s (lever_constant, lever_names, resolve_constant).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy import stats
from scipy.stats import qmc

from innosd.errors import ConfigError, closest
from innosd.model.info import ModelInfo, lever_constant, lever_names, resolve_constant
from innosd.scenarios import CONFIG_DIR, compose
from innosd.scenarios.languages import check_language
from innosd.scenarios.schema import (
    LEVER_FIELDS,
    LeverSetting,
    ParameterSetInfo,
    RunConfig,
    RunSchema,
    ScenarioConfig,
    WorldConfig,
    WorldUncertainty,
    typed,
)

# The run window (Vensim's control constants): at least one step, a bounded horizon and
# step count, output saved at least once per horizon. 100 years is four times the model's
# 2010-2036 window (the model's loops are not meant to run for centuries: FINAL TIME=3000
# gave 9.8e23 high-tech enterprises); 400,000 steps is 100 years at 1/4096 year.
MAX_HORIZON_YEARS = 100.0
MAX_STEPS = 400_000
CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


# The outside world's draws come from their own stream of the run's seed, so choosing the
# posterior draws (`choose_draws(seed)`) is the same whether the world is sampled or held.
WORLD_STREAM = 7

def check_range(value: Any, constant_name: str, info: ModelInfo, key: str) -> float:
    const = info.constants[constant_name]
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{key}: {number!r} is not a finite number")
    if not const.lower <= number <= const.upper:
        raise ConfigError(f"{key}: {number:g} is outside the declared range of {constant_name!r} "
                          f"[{const.lower:g}, {const.upper:g}] ({const.units})")
    return number


def check_run_window(params: dict[str, float], info: ModelInfo) -> None:
    """INITIAL TIME < FINAL TIME by at least one TIME STEP, within MAX_HORIZON_YEARS and
    MAX_STEPS, SAVEPER between TIME STEP and the horizon; one line naming the constant."""
    value = {name: float(params.get(name, info.constants[name].default)) for name in CONTROL if name in info.constants}
    if len(value) < len(CONTROL):
        return  # a model without Vensim's control constants: nothing to check
    start, final, step, save = (value[name] for name in CONTROL)
    key = {name: f"params.{name.replace(' ', '_')}" for name in CONTROL}
    if step <= 0:
        raise ConfigError(f"{key['TIME STEP']}: {step:g} is not a positive step (years)")
    if final < start + step:
        raise ConfigError(f"{key['FINAL TIME']}: {final:g} leaves no step after INITIAL TIME {start:g} "
                          f"(TIME STEP {step:g}); FINAL TIME must be at least {start + step:g}")
    if final - start > MAX_HORIZON_YEARS:
        raise ConfigError(f"{key['FINAL TIME']}: {final:g} is {final - start:g} years after INITIAL TIME {start:g}; "
                          f"at most {MAX_HORIZON_YEARS:g} (up to {start + MAX_HORIZON_YEARS:g})")
    if (final - start) / step > MAX_STEPS:
        raise ConfigError(f"{key['TIME STEP']}: {step:g} makes {(final - start) / step:,.0f} steps; at most "
                          f"{MAX_STEPS:,} (TIME STEP at least {(final - start) / MAX_STEPS:g})")
    if not step <= save <= final - start:
        raise ConfigError(f"{key['SAVEPER']}: {save:g} is not between TIME STEP {step:g} and the horizon "
                          f"{final - start:g} years")


def scenario_config(raw: Any, info: ModelInfo, file_name: str | None = None) -> ScenarioConfig:
    """A scenario mapping (a scenario file's content) typed and checked against the model.

    `file_name`: the scenario file's stem; its inner `name:` must be the same (a scenario
    is chosen by file name, so a different inner name would silently relabel the run)."""
    scenario = typed(ScenarioConfig, raw, "scenario")
    if file_name is not None and scenario.name != file_name:
        raise ConfigError(f"scenario/{file_name}.yaml: name {scenario.name!r} differs from the file name; "
                          f"set `name: {file_name}` (a scenario is named by its file)")
    valid = lever_names(info)
    levers = {}
    for lever, setting in scenario.levers.items():
        key = f"scenario.levers.{lever}"
        if lever not in valid:
            raise ConfigError(f"{key}: unknown lever{closest(str(lever), valid)}; valid levers: {', '.join(valid)}")
        levers[lever] = LeverSetting(**{f: None if getattr(setting, f) is None else
                                        check_range(getattr(setting, f), lever_constant(lever, f), info, f"{key}.{f}")
                                        for f in LEVER_FIELDS})
    return ScenarioConfig(scenario.name, scenario.description.strip(), levers)


def run_name(scenario: str, overrides: tuple[str, ...] | list[str]) -> str:
    """A run is named by its scenario plus what its overrides change: levers and constants
    (`baseline+fiscal_st.change=0.5+hte_exit_rate=0.04`)."""
    changes = []
    for override in compose.parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.is_delete() or override.is_sweep_override():
            continue
        for prefix in ("scenario.levers.", "params."):
            if key.startswith(prefix):
                changes.append(f"{key[len(prefix):]}={override.get_value_element_as_str()}")
    return "+".join([scenario, *changes])



# the sweep's job folders (scenarios/config.yaml hydra.sweep.subdir) carry the run's name
OmegaConf.register_new_resolver("innosd_run_name", lambda scenario, overrides: run_name(scenario, list(overrides)),
                                replace=True)


def world_file(option: str, config_dir: Path = CONFIG_DIR) -> str:
    """The world file as a reader finds it (`scenarios/world/default.yaml` for the shipped one)."""
    path = Path(config_dir) / "world" / f"{option}.yaml"
    return f"scenarios/world/{option}.yaml" if Path(config_dir) == CONFIG_DIR else str(path)


def world_config(raw: Any, info: ModelInfo, params: dict[str, float], where: str) -> WorldConfig:
    """The `world` group typed and checked against the model: every constant exists, and its
    central value (the parameter set's or the model file's) lies inside [lower, upper] and the
    constant's declared range. Errors are one line naming `where` (the file) and the key."""
    try:
        world = typed(WorldConfig, raw, "world")
        resolved = {}
        for name, uncertainty in world.uncertainties.items():
            key = f"world.uncertainties.{name}"
            constants = [resolve_constant(str(c), info, f"{key}.constants[{i}]")
                         for i, c in enumerate(uncertainty.constants)]
            centrals = {c: float(params.get(c, info.constants[c].default)) for c in constants}
            if len(set(centrals.values())) > 1:
                raise ConfigError(f"{key}.constants: one draw sets them all, but their central values differ "
                                  f"({', '.join(f'{c} = {v:g}' for c, v in centrals.items())})")
            central = next(iter(centrals.values()))
            if not uncertainty.lower <= central <= uncertainty.upper:
                raise ConfigError(f"{key}: the central value {central:g} of {constants[0]!r} (model file) is outside "
                                  f"[lower, upper] = [{uncertainty.lower:g}, {uncertainty.upper:g}]")
            for c in constants:
                const = info.constants[c]
                if uncertainty.lower < const.lower or uncertainty.upper > const.upper:
                    raise ConfigError(f"{key}: [{uncertainty.lower:g}, {uncertainty.upper:g}] leaves the declared "
                                      f"range of {c!r} [{const.lower:g}, {const.upper:g}] ({const.units})")
            resolved[name] = replace(uncertainty, constants=constants)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return replace(world, uncertainties=resolved)


def central_value(uncertainty: WorldUncertainty, params: dict[str, float], info: ModelInfo) -> float:
    constant = uncertainty.constants[0]
    return float(params.get(constant, info.constants[constant].default))


def world_quantiles(uncertainty: WorldUncertainty, central: float, u: np.ndarray) -> np.ndarray:
    """Values of one uncertainty at probabilities `u` (the inverse of its distribution)."""
    low, high = uncertainty.lower, uncertainty.upper
    if uncertainty.distribution == "uniform":
        return low + u * (high - low)
    if uncertainty.distribution == "triangular":
        return stats.triang.ppf(u, (central - low) / (high - low), loc=low, scale=high - low)
    sd = float(uncertainty.sd)
    return stats.truncnorm.ppf(u, (low - central) / sd, (high - central) / sd, loc=central, scale=sd)


def world_samples(world: WorldConfig, centrals: dict[str, float], n: int, seed: int) -> pd.DataFrame:
    """`n` draws of every uncertainty (columns: the uncertainty names, index `draw`).

    The same world, n and seed give the same table; `centrals` maps each name to its central
    value (the mode of a triangular, the mean of a normal)."""
    names = list(world.uncertainties)
    rng = np.random.default_rng([int(seed), WORLD_STREAM])
    if not names:
        return pd.DataFrame(index=pd.RangeIndex(n, name="draw"))
    if world.sampling == "latin_hypercube":
        u = qmc.LatinHypercube(d=len(names), seed=rng).random(n)
    else:
        u = rng.random((n, len(names)))
    return pd.DataFrame({name: world_quantiles(world.uncertainties[name], centrals[name], u[:, j])
                         for j, name in enumerate(names)}, index=pd.RangeIndex(n, name="draw"))


def world_draws(config: RunConfig, info: ModelInfo, n: int, held: set[str] | frozenset = frozenset()) -> pd.DataFrame:
    """The run's outside-world draws (empty columns if `uncertainty.world=central`).

    An uncertainty whose constants are all in `held` (set on the command line, a lever, or
    drawn from the posterior) is not drawn: a choice or better information wins."""
    world = config.world
    free = {name: u for name, u in world.uncertainties.items() if not set(u.constants) <= set(held)}
    if config.uncertainty.world == "central" or not free:
        return pd.DataFrame(index=pd.RangeIndex(n, name="draw"))
    world = replace(world, uncertainties=free)
    centrals = {name: central_value(u, config.params, info) for name, u in free.items()}
    return world_samples(world, centrals, n, int(config.run.seed))


def world_values(world: WorldConfig, samples: pd.DataFrame, held: set[str] | frozenset = frozenset()
                 ) -> dict[str, np.ndarray]:
    """Constant -> drawn values, for the uncertainties in `samples` (constants in `held` kept)."""
    return {c: samples[name].to_numpy(dtype=float) for name in samples.columns
            for c in world.uncertainties[name].constants if c not in held}


def run_config(raw: dict[str, Any], choices: dict[str, Any], overrides: tuple[str, ...], info: ModelInfo,
               config_dir: Path = CONFIG_DIR) -> RunConfig:
    """Check a composed `innosd run` config against the schema and the model's declared ranges."""
    schema = typed(RunSchema, raw, "")
    scenario = scenario_config(raw["scenario"], info, choices.get("scenario"))
    params = {}
    for name, value in schema.params.items():
        constant = resolve_constant(str(name), info, f"params.{name}")
        params[constant] = check_range(value, constant, info, f"params.{name}")
    check_run_window(params, info)
    option = str(choices.get("params") or schema.parameter_set.get("name"))
    parameter_set = typed(ParameterSetInfo, {**schema.parameter_set,
                                             "params_dir": str(compose.find_parameter_set(option, config_dir))},
                          "parameter_set")
    fixed = []
    for override in compose.parse_overrides(list(overrides)):
        key = override.key_or_group
        if key.startswith("params.") and not override.is_delete():
            fixed.append(resolve_constant(key[len("params."):], info, key))

    check_language(schema.figures.language)
    world = world_config(schema.world, info, params, world_file(str(choices.get("world") or "default"), config_dir))
    return RunConfig(scenario, params, schema.run, tuple(overrides), parameter_set, schema.uncertainty, tuple(fixed),
                     schema.experiment, schema.figures, run_name(scenario.name, overrides), world)


def compose_run_config(overrides: list[str], info: ModelInfo, config_dir: Path = CONFIG_DIR) -> RunConfig:
    """Command-line overrides (no sweep) -> a checked RunConfig."""
    prepared = compose.prepare_overrides(list(overrides), "config")
    raw, choices, _ = compose.compose("config", prepared, config_dir)
    return run_config(raw, choices, tuple(prepared), info, config_dir)


def model_parameters(config: RunConfig) -> dict[str, float]:
    """The constants a run sets: parameter overrides, then the scenario's lever profiles
    (a lever field left out keeps the model file's value)."""
    values = dict(config.params)
    for lever, setting in config.scenario.levers.items():
        for field_name in LEVER_FIELDS:
            if getattr(setting, field_name) is not None:
                values[lever_constant(lever, field_name)] = float(getattr(setting, field_name))
    return values


def lever_table(config: RunConfig, info: ModelInfo) -> dict[str, dict[str, float]]:
    """Every lever the run moves with the values it actually used (model defaults filled in)."""
    values = {**{n: c.default for n, c in info.constants.items()}, **model_parameters(config)}
    return {lever: {f: float(values[lever_constant(lever, f)]) for f in LEVER_FIELDS}
            for lever in config.scenario.levers}
