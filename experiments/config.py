"""Typed run configuration: the schema is here, the values are in `scenarios/*.yaml`.

Only this module and `experiments.run` import Hydra. `compose_run_config` turns a list
of command-line overrides into a validated `RunConfig`; every problem a user can make
(unknown scenario, unknown lever or parameter, value out of its declared range,
malformed YAML) becomes a one-line `ConfigError` naming the key and the valid choices.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from experiments.engine import BACKENDS, ModelInfo
from model.errors import ConfigError, closest

SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "scenarios"
LEVER_SUFFIXES = {"change": "scenario change", "start": "scenario start year", "ramp_years": "scenario ramp years"}


@dataclass(frozen=True)
class LeverSetting:
    """A policy lever's time profile: relative `change` from `start`, reached after `ramp_years`."""

    change: float = 0.0
    start: float = 2017.0
    ramp_years: float = 1.0


@dataclass(frozen=True)
class ScenarioConfig:
    name: str
    description: str
    levers: dict[str, LeverSetting] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSettings:
    backend: str = "numba"
    output_dir: str = "outputs"
    seed: int = 0
    figures: bool = True


@dataclass(frozen=True)
class RunConfig:
    scenario: ScenarioConfig
    params: dict[str, float]
    run: RunSettings
    overrides: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- names

def available_scenarios(config_dir: Path = SCENARIOS_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "scenario").glob("*.yaml"))


def lever_names(info: ModelInfo) -> list[str]:
    """Levers are the model's '<lever> scenario change' constants, named with underscores."""
    suffix = " " + LEVER_SUFFIXES["change"]
    return sorted(n[: -len(suffix)].replace(" ", "_") for n in info.constants if n.endswith(suffix))


def resolve_constant(name: str, info: ModelInfo, key: str) -> str:
    """Map a config name (spaces or underscores) to the model's constant name."""
    for candidate in (name, name.replace("_", " ")):
        if candidate in info.constants:
            return candidate
    choices = list(info.constants)
    raise ConfigError(f"{key}: unknown model parameter {name!r}{closest(name.replace('_', ' '), choices)}; "
                      f"see `innosd run --list-params` for the {len(choices)} valid names")


def check_range(value: Any, constant_name: str, info: ModelInfo, key: str) -> float:
    const = info.constants[constant_name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not a number") from None
    if number != number or not const.lower <= number <= const.upper:
        raise ConfigError(f"{key}: {number:g} is outside the declared range of {constant_name!r} "
                          f"[{const.lower:g}, {const.upper:g}] ({const.units})")
    return number


# ----------------------------------------------------------------------------- YAML

def _check_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from None


def _prepare_overrides(overrides: list[str], config_dir: Path) -> list[str]:
    """Check scenario names and YAML files; let params/levers be added as new keys."""
    prepared = []
    scenario = "baseline"
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. scenario=baseline)")
        bare = key.lstrip("+~")
        if bare == "scenario":
            scenario = value
        section, _, leaf = bare.partition(".")
        if section == "run" and leaf not in RunSettings.__dataclass_fields__:
            allowed = list(RunSettings.__dataclass_fields__)
            raise ConfigError(f"{bare}: unknown key{closest(leaf, allowed)}; valid keys: "
                              + ", ".join(f"run.{k}" for k in allowed))
        if section not in ("scenario", "params", "run"):
            raise ConfigError(f"{bare}: unknown key{closest(section, ['scenario', 'params', 'run'])}; "
                              "valid top-level keys: scenario, params, run")
        if bare.startswith(("params.", "scenario.levers.")) and not key.startswith("+"):
            item = f"++{bare}={value}"
        prepared.append(item)
    names = available_scenarios(config_dir)
    if scenario not in names:
        raise ConfigError(f"scenario: unknown scenario {scenario!r}{closest(scenario, names)}; "
                          f"valid scenarios: {', '.join(names)}")
    for path in (config_dir / "config.yaml", config_dir / "scenario" / f"{scenario}.yaml"):
        _check_yaml(path)
    return prepared


def compose_raw(overrides: list[str], config_dir: Path = SCENARIOS_DIR) -> dict[str, Any]:
    """Hydra compose -> plain dict (no validation beyond Hydra's own)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    prepared = _prepare_overrides(list(overrides), config_dir)
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = compose(config_name="config", overrides=prepared)
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"config: {first}") from None


# ----------------------------------------------------------------------------- schema

def _mapping(value: Any, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
    return value


def _unknown_keys(given: dict, allowed: list[str], key: str) -> None:
    for name in given:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}: unknown key{closest(str(name), allowed)}; valid keys: {', '.join(allowed)}")


def validate(raw: dict[str, Any], info: ModelInfo, overrides: tuple[str, ...] = ()) -> RunConfig:
    """Check a composed config against the schema and the model's declared ranges."""
    _unknown_keys(raw, ["scenario", "params", "run"], "config")
    scen = _mapping(raw.get("scenario"), "scenario")
    _unknown_keys(scen, ["name", "description", "levers"], "scenario")
    if not scen.get("name") or not scen.get("description"):
        raise ConfigError("scenario: every scenario needs a `name` and a `description`")
    valid_levers = lever_names(info)
    levers = {}
    for lever, setting in _mapping(scen.get("levers"), "scenario.levers").items():
        key = f"scenario.levers.{lever}"
        if lever not in valid_levers:
            raise ConfigError(f"{key}: unknown lever{closest(str(lever), valid_levers)}; "
                              f"valid levers: {', '.join(valid_levers)}")
        setting = _mapping(setting, key)
        _unknown_keys(setting, list(LEVER_SUFFIXES), key)
        values = {}
        for field_name, suffix in LEVER_SUFFIXES.items():
            if field_name in setting:
                values[field_name] = check_range(setting[field_name], f"{lever.replace('_', ' ')} {suffix}",
                                                 info, f"{key}.{field_name}")
        levers[lever] = LeverSetting(**values)
    params = {}
    for name, value in _mapping(raw.get("params"), "params").items():
        constant = resolve_constant(str(name), info, f"params.{name}")
        params[constant] = check_range(value, constant, info, f"params.{name}")
    settings = _mapping(raw.get("run"), "run")
    _unknown_keys(settings, list(RunSettings.__dataclass_fields__), "run")
    run = RunSettings(**settings)
    if run.backend not in BACKENDS:
        raise ConfigError(f"run.backend: unknown backend {run.backend!r}; valid backends: {', '.join(BACKENDS)}")
    if not re.fullmatch(r"-?\d+", str(run.seed)):
        raise ConfigError(f"run.seed: {run.seed!r} is not an integer")
    return RunConfig(ScenarioConfig(str(scen["name"]), str(scen["description"]).strip(), levers),
                     params, run, tuple(overrides))


def compose_run_config(overrides: list[str], info: ModelInfo, config_dir: Path = SCENARIOS_DIR) -> RunConfig:
    return validate(compose_raw(overrides, config_dir), info, tuple(overrides))


def model_parameters(config: RunConfig) -> dict[str, float]:
    """The constants a run sets: parameter overrides, then the scenario's lever profiles."""
    values = dict(config.params)
    for lever, setting in config.scenario.levers.items():
        for field_name, suffix in LEVER_SUFFIXES.items():
            values[f"{lever.replace('_', ' ')} {suffix}"] = float(getattr(setting, field_name))
    return values
