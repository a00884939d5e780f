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
from innosd.model.backends import BACKENDS
from innosd.model.info import LEVER_SUFFIXES, ModelInfo, lever_constant, lever_names, resolve_constant
from innosd.scenarios import CONFIG_DIR

from innosd.errors import ConfigError, closest

SCENARIOS_DIR = CONFIG_DIR
TOP_LEVEL_KEYS = ("scenario", "params", "run", "parameter_set", "uncertainty", "experiment", "figures")
UNCERTAINTY_MODES = ("auto", "none", "posterior")
SCHEDULERS = ("local", "cluster")


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
    scheduler: str = "local"  # local | cluster | tcp://HOST:PORT (see experiments.dask_exec)
    workers: int = 2          # worker processes of `scheduler=cluster`
    chunk_size: int = 4096    # parameter sets per chunk (one task, one resumable file)
    progress: bool = True     # tqdm progress bars on stderr


@dataclass(frozen=True)
class FigureSettings:
    """`language`: en (default) or zh, for every figure label and the report."""

    language: str = "en"


@dataclass(frozen=True)
class ParameterSetInfo:
    """Which `scenarios/params/<name>.yaml` a run used and where it came from."""

    name: str = "model_defaults"
    statistic: str = "model file defaults"
    posterior_draws: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    params_dir: str = str(SCENARIOS_DIR / "params")


@dataclass(frozen=True)
class UncertaintySettings:
    """`mode`: none (point estimate), posterior (draws, error if none) or auto (posterior if
    the parameter set has draws); `draws`: how many posterior draws (null: all of them)."""

    mode: str = "auto"
    draws: int | None = 200


@dataclass(frozen=True)
class RunConfig:
    scenario: ScenarioConfig
    params: dict[str, float]
    run: RunSettings
    overrides: tuple[str, ...] = ()
    parameter_set: ParameterSetInfo = field(default_factory=ParameterSetInfo)
    uncertainty: UncertaintySettings = field(default_factory=UncertaintySettings)
    fixed_params: tuple[str, ...] = ()  # constants set on the command line: never drawn
    experiment: dict[str, Any] | None = None  # the `+experiment=NAME` group, checked by its module
    figures: FigureSettings = field(default_factory=FigureSettings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- names

def available_scenarios(config_dir: Path = SCENARIOS_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "scenario").glob("*.yaml"))


def available_options(group: str, config_dir: Path = SCENARIOS_DIR) -> list[str]:
    """Options of a config group (`params`, `experiment`, ...): its YAML file stems."""
    return sorted(p.stem for p in (config_dir / group).glob("*.yaml"))


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

def check_yaml(path: Path) -> Any:
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
    chosen = {}  # group -> option named on the command line
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep and not key.startswith("~"):  # ~KEY deletes a key (Hydra)
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. scenario=baseline)")
        bare = key.lstrip("+~")
        if bare == "scenario":
            scenario = value
        if bare in ("params", "experiment"):
            chosen[bare] = value
        section, _, leaf = bare.partition(".")
        for name, schema in (("run", RunSettings), ("uncertainty", UncertaintySettings),
                             ("figures", FigureSettings)):
            if section == name and leaf not in schema.__dataclass_fields__:
                allowed = list(schema.__dataclass_fields__)
                raise ConfigError(f"{bare}: unknown key{closest(leaf, allowed)}; valid keys: "
                                  + ", ".join(f"{name}.{k}" for k in allowed))
        if section not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{bare}: unknown key{closest(section, TOP_LEVEL_KEYS)}; "
                              f"valid top-level keys: {', '.join(TOP_LEVEL_KEYS)}")
        if bare == "experiment" and not key.startswith("+"):
            item = f"+{item}"  # the group has no default: `experiment=NAME` means `+experiment=NAME`
        if bare.startswith(("params.", "scenario.levers.")) and not key.startswith(("+", "~")):
            item = f"++{bare}={value}"
        prepared.append(item)
    names = available_scenarios(config_dir)
    if scenario not in names:
        raise ConfigError(f"scenario: unknown scenario {scenario!r}{closest(scenario, names)}; "
                          f"valid scenarios: {', '.join(names)}")
    files = [config_dir / "config.yaml", config_dir / "scenario" / f"{scenario}.yaml"]
    for group, option in chosen.items():
        options = available_options(group, config_dir)
        if option not in options:
            what = "parameter set" if group == "params" else group
            raise ConfigError(f"{group}: unknown {what} {option!r}{closest(option, options)}; "
                              f"valid choices: {', '.join(options) or '(none)'}")
        files.append(config_dir / group / f"{option}.yaml")
    for path in files:
        loaded = check_yaml(path)
        if loaded is not None and not isinstance(loaded, dict):  # Hydra would raise a bare OSError
            raise ConfigError(f"{path}: expected a YAML mapping of keys at the top level, got {type(loaded).__name__}")
    return prepared


def hydra_compose(config_dir: Path, config_name: str, overrides: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Hydra compose -> (plain dict, the option chosen for each config group).

    Shared by `innosd run` and `innosd calibrate`; any Hydra/OmegaConf problem becomes a
    one-line ConfigError.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
        choices = dict(cfg.hydra.runtime.choices)
        with open_dict(cfg):
            del cfg["hydra"]
        return OmegaConf.to_container(cfg, resolve=True), choices
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"config: {first}") from None


def compose_raw(overrides: list[str], config_dir: Path = SCENARIOS_DIR) -> dict[str, Any]:
    """Hydra compose of `config.yaml` -> plain dict (no validation beyond Hydra's own)."""
    raw, choices = hydra_compose(config_dir, "config", _prepare_overrides(list(overrides), config_dir))
    if "params" in choices:  # record which parameter-set file was composed
        raw["parameter_set"] = {**(raw.get("parameter_set") or {}), "option": choices["params"]}
    return raw


# ----------------------------------------------------------------------------- schema

def mapping(value: Any, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
    return value


def unknown_keys(given: dict, allowed: list[str], key: str) -> None:
    for name in given:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}: unknown key{closest(str(name), allowed)}; valid keys: {', '.join(allowed)}")


def _parameter_set(raw: dict[str, Any], config_dir: Path) -> ParameterSetInfo:
    """The chosen `params` option, read through the calibration hand-off loader."""
    from innosd.calibration.handoff import load_parameter_set

    from innosd.errors import DataError

    meta = mapping(raw.get("parameter_set"), "parameter_set")
    option = str(meta.get("option") or meta.get("name") or "model_defaults")
    params_dir = config_dir / "params"
    try:
        loaded = load_parameter_set(option, params_dir)
    except DataError as err:
        raise ConfigError(f"params: {err}") from None
    return ParameterSetInfo(loaded.name, loaded.statistic, loaded.posterior_draws, dict(loaded.source),
                            str(params_dir))


def _uncertainty(raw: dict[str, Any]) -> UncertaintySettings:
    given = mapping(raw.get("uncertainty"), "uncertainty")
    unknown_keys(given, list(UncertaintySettings.__dataclass_fields__), "uncertainty")
    settings = UncertaintySettings(**given)
    if settings.mode not in UNCERTAINTY_MODES:
        raise ConfigError(f"uncertainty.mode: unknown mode {settings.mode!r}; valid modes: "
                          f"{', '.join(UNCERTAINTY_MODES)}")
    if settings.draws is not None and (not re.fullmatch(r"\d+", str(settings.draws)) or int(settings.draws) < 1):
        raise ConfigError(f"uncertainty.draws: {settings.draws!r} is not a positive integer (or null for all)")
    return UncertaintySettings(settings.mode, None if settings.draws is None else int(settings.draws))


def _check_run_settings(run: RunSettings) -> None:
    if run.backend not in BACKENDS:
        raise ConfigError(f"run.backend: unknown backend {run.backend!r}; valid backends: {', '.join(BACKENDS)}")
    if isinstance(run.seed, bool) or not re.fullmatch(r"\d+", str(run.seed)):
        # numpy's generators take non-negative seeds only
        raise ConfigError(f"run.seed: {run.seed!r} is not a non-negative integer")
    for key in ("workers", "chunk_size"):
        value = getattr(run, key)
        if not re.fullmatch(r"\d+", str(value)) or int(value) < 1:
            raise ConfigError(f"run.{key}: {value!r} is not a positive integer")
    scheduler = str(run.scheduler)
    if scheduler not in SCHEDULERS and not re.fullmatch(r"(tcp|tls|inproc|ucx)://\S+", scheduler):
        raise ConfigError(f"run.scheduler: {scheduler!r} is neither {' nor '.join(SCHEDULERS)} "
                          "nor a scheduler address like tcp://HOST:8786")


def _fixed_params(overrides: tuple[str, ...], info: ModelInfo) -> tuple[str, ...]:
    """Constants the user set on the command line: posterior draws must not overwrite them."""
    fixed = []
    for item in overrides:
        key = item.partition("=")[0].lstrip("+~")
        if key.startswith("params."):
            fixed.append(resolve_constant(key[len("params."):], info, key))
    return tuple(fixed)


def validate(raw: dict[str, Any], info: ModelInfo, overrides: tuple[str, ...] = (),
             config_dir: Path = SCENARIOS_DIR) -> RunConfig:
    """Check a composed config against the schema and the model's declared ranges."""
    unknown_keys(raw, list(TOP_LEVEL_KEYS), "config")
    scen = mapping(raw.get("scenario"), "scenario")
    unknown_keys(scen, ["name", "description", "levers"], "scenario")
    if not scen.get("name") or not scen.get("description"):
        raise ConfigError("scenario: every scenario needs a `name` and a `description`")
    valid_levers = lever_names(info)
    levers = {}
    for lever, setting in mapping(scen.get("levers"), "scenario.levers").items():
        key = f"scenario.levers.{lever}"
        if lever not in valid_levers:
            raise ConfigError(f"{key}: unknown lever{closest(str(lever), valid_levers)}; "
                              f"valid levers: {', '.join(valid_levers)}")
        setting = mapping(setting, key)
        unknown_keys(setting, list(LEVER_SUFFIXES), key)
        values = {}
        for field_name in LEVER_SUFFIXES:
            if field_name in setting:
                values[field_name] = check_range(setting[field_name], lever_constant(lever, field_name),
                                                 info, f"{key}.{field_name}")
        levers[lever] = LeverSetting(**values)
    params = {}
    for name, value in mapping(raw.get("params"), "params").items():
        constant = resolve_constant(str(name), info, f"params.{name}")
        params[constant] = check_range(value, constant, info, f"params.{name}")
    settings = mapping(raw.get("run"), "run")
    unknown_keys(settings, list(RunSettings.__dataclass_fields__), "run")
    run = RunSettings(**settings)
    _check_run_settings(run)
    experiment = raw.get("experiment")
    if experiment is not None:
        experiment = mapping(experiment, "experiment")
    return RunConfig(ScenarioConfig(str(scen["name"]), str(scen["description"]).strip(), levers),
                     params, run, tuple(overrides), _parameter_set(raw, Path(config_dir)), _uncertainty(raw),
                     _fixed_params(tuple(overrides), info), experiment, _figures(raw))


def _figures(raw: dict[str, Any]) -> FigureSettings:
    from innosd.figures.labels import check_language

    settings = mapping(raw.get("figures"), "figures")
    unknown_keys(settings, list(FigureSettings.__dataclass_fields__), "figures")
    return FigureSettings(language=check_language(str(settings.get("language", "en"))))


def compose_run_config(overrides: list[str], info: ModelInfo, config_dir: Path = SCENARIOS_DIR) -> RunConfig:
    return validate(compose_raw(overrides, config_dir), info, tuple(overrides), config_dir)


def model_parameters(config: RunConfig) -> dict[str, float]:
    """The constants a run sets: parameter overrides, then the scenario's lever profiles."""
    values = dict(config.params)
    for lever, setting in config.scenario.levers.items():
        for field_name in LEVER_SUFFIXES:
            values[lever_constant(lever, field_name)] = float(getattr(setting, field_name))
    return values
