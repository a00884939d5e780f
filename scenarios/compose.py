"""Hydra, in one module: the config search path, composition, sweep expansion and the app.

This is the only module that imports Hydra's compose machinery. What it adds to Hydra:

- the search path: the user's parameter sets (the working directory's `params/`, or
  `$INNOSD_PARAMS_DIR`) come first for the `params` group, then the shipped
  `scenarios/` config root. So `innosd calibrate` never writes into the installed tree and
  `innosd run params=NAME` finds the user's hand-off before the shipped one;
- one-line errors: every Hydra/OmegaConf/YAML problem becomes a `ConfigError` naming the
  key or file and the valid choices (Hydra's own messages are multi-line or name no file);
- `prepare_overrides`: command-line conveniences (`experiment=NAME` means
  `+experiment=NAME`; `params.X=V` and `scenario.levers.L.F=V` may add new keys) and
  unknown top-level keys named with a suggestion before Hydra sees them.

Sweeps are Hydra's own: `sweep_jobs` uses Hydra's override parser (glob, range, choice,
comma lists) and its basic sweeper's cartesian product; the app object runs Hydra's real
`run` / `multirun` (any launcher plugin, e.g. `hydra/launcher=joblib`), `--cfg` and `--info`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import yaml
from hydra import compose as hydra_compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra._internal.core_plugins.file_config_source import FileConfigSource
from hydra._internal.hydra import Hydra
from hydra._internal.sources_registry import SourcesRegistry
from hydra._internal.utils import create_config_search_path
from hydra.core.config_search_path import SearchPathQuery
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from innosd.errors import ConfigError, closest
from innosd.safeyaml import load_yaml
from innosd.scenarios import CONFIG_DIR
from innosd.scenarios.schema import FigureSettings, RunSettings, UncertaintySettings

# Hydra 1.3 is pinned (<1.4): its app runner (`Hydra`), file config source and basic
# sweeper are internal modules, used here and nowhere else.

USER_PARAMS_ENV = "INNOSD_PARAMS_DIR"
RUN_KEYS = ("scenario", "params", "run", "parameter_set", "uncertainty", "experiment", "figures", "world", "hydra")
CALIBRATE_KEYS = ("calibration", "seed", "run", "handoff", "data", "hydra")
BACKTEST_KEYS = ("backtest", *CALIBRATE_KEYS)
# sections whose keys are fixed: a misspelt key is named with the valid ones before Hydra refuses it
SECTIONS = {"config": {"run": RunSettings, "uncertainty": UncertaintySettings, "figures": FigureSettings}}
ADDABLE = {"config": ("params.", "scenario.levers."), "calibrate": ("calibration.",),  # may add new keys
           "backtest": ("calibration.", "backtest.exclude.")}


# ----------------------------------------------------------------------------- where configs are

def user_params_dir() -> Path:
    """The user's parameter sets: `$INNOSD_PARAMS_DIR` or `./params` (the hand-off's default)."""
    return Path(os.environ.get(USER_PARAMS_ENV) or "params").absolute()


def params_dirs(config_dir: Path = CONFIG_DIR) -> list[Path]:
    """Where `params=NAME` is looked up, first match wins: the user's folder, then the shipped one."""
    return [user_params_dir(), Path(config_dir) / "params"]


def options(group: str, config_dir: Path = CONFIG_DIR) -> list[str]:
    """The options of a config group (YAML file stems), the user's parameter sets included."""
    folders = params_dirs(config_dir) if group == "params" else [Path(config_dir) / group]
    return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})


def find_parameter_set(name: str, config_dir: Path = CONFIG_DIR) -> Path:
    """The folder holding `NAME.yaml`: the user's params/ first, then the shipped one."""
    for folder in params_dirs(config_dir):
        if (folder / f"{name}.yaml").is_file():
            return folder
    choices = options("params", config_dir)
    raise ConfigError(f"params: unknown parameter set {name!r}{closest(name, choices)}; "
                      f"valid choices: {', '.join(choices) or '(none)'}")


class UserParamsSource(FileConfigSource):
    """A config source holding only the `params` group, read from one folder of YAML files
    (the user's parameter sets; the folder need not be called params/ nor exist)."""

    @staticmethod
    def scheme() -> str:
        return "innosd-params"

    def _inner(self, config_path: str) -> Optional[str]:
        head, _, rest = config_path.strip("/").partition("/")
        return rest if head == "params" else None

    def load_config(self, config_path: str):
        return super().load_config(self._inner(config_path) or "\0missing")

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        inner = config_path.strip("/")
        return inner == "" or (inner == "params" and os.path.isdir(self.path))

    def is_config(self, config_path: str) -> bool:
        inner = self._inner(config_path)
        return bool(inner) and super().is_config(inner)

    def list(self, config_path: str, results_filter):
        if config_path.strip("/") != "params" or not os.path.isdir(self.path):
            return []
        return [f"params/{name}" for name in super().list("", results_filter)]


SourcesRegistry.instance().register(UserParamsSource)
# A failing job is reported by innosd as one line; without a handler Hydra's "Error executing
# job ..." record would reach Python's last-resort stderr handler as a second line.
logging.getLogger("hydra").addHandler(logging.NullHandler())
# `hydra.run.dir` (scenarios/config.yaml): experiment folders go under OUTPUT_DIR/experiments/
OmegaConf.register_new_resolver("innosd_kind", lambda experiment: "experiments/" if experiment else "", replace=True)


# ----------------------------------------------------------------------------- errors and YAML

def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@contextlib.contextmanager
def one_line_errors(prefix: str = "config") -> Iterator[None]:
    """Hydra/OmegaConf/YAML problems -> ConfigError(prefix: first line)."""
    try:
        yield
    except (HydraException, OmegaConfBaseException, ValueError, yaml.YAMLError) as err:
        raise ConfigError(f"{prefix}: {first_line(err)}") from None


def check_yaml(path: Path) -> Any:
    """Parse a YAML file with innosd's limits (size, UTF-8, depth, aliases, duplicate keys);
    a bad one is one line naming the file, line and column (Hydra then reads a checked file)."""
    return load_yaml(Path(path), ConfigError)


def check_mapping_file(path: Path) -> None:
    loaded = check_yaml(path)
    if loaded is not None and not isinstance(loaded, dict):  # Hydra would raise a bare OSError
        raise ConfigError(f"{path}: expected a YAML mapping of keys at the top level, got {type(loaded).__name__}")


# ----------------------------------------------------------------------------- overrides

def parse_overrides(overrides: list[str], config_loader=None):
    try:
        with one_line_errors("override"):
            return OverridesParser.create(config_loader=config_loader).parse_overrides(list(overrides))
    except ConfigError as err:
        spaced = next((o for o in overrides if " " in o.partition("=")[2].strip("'\"")), None)
        if spaced is None:
            raise
        key, _, value = spaced.partition("=")
        raise ConfigError(f"override {spaced!r}: a value with spaces must be quoted for Hydra, "
                          f"e.g. {key}=\"'{value}'\" ({err})") from None


def prepare_overrides(overrides: list[str], config_name: str = "config") -> list[str]:
    """Check top-level keys (one line with a suggestion) and apply the command-line conveniences."""
    keys = {"config": RUN_KEYS, "calibrate": CALIBRATE_KEYS, "backtest": BACKTEST_KEYS}[config_name]
    prepared = []
    for item, override in zip(overrides, parse_overrides(overrides)):
        key = override.key_or_group
        section = key.partition(".")[0].partition("/")[0]
        if section not in keys:
            raise ConfigError(f"{key}: unknown key{closest(section, keys)}; valid top-level keys: "
                              f"{', '.join(k for k in keys if k != 'hydra')} (and Hydra's hydra.*)")
        leaf = key.partition(".")[2]
        schema = SECTIONS.get(config_name, {}).get(section)
        if schema is not None and leaf and leaf not in schema.__dataclass_fields__:
            allowed = list(schema.__dataclass_fields__)
            raise ConfigError(f"{key}: unknown key{closest(leaf, allowed)}; valid keys: "
                              + ", ".join(f"{section}.{k}" for k in allowed))
        bare = item.lstrip("+~")
        if config_name == "config" and key == "experiment" and not (override.is_add() or override.is_force_add() or override.is_delete()):
            item = f"+{item}"  # the group has no default: `experiment=NAME` means `+experiment=NAME`
        elif key.startswith(ADDABLE[config_name]) and not item.startswith(("+", "~")):
            item = f"++{bare}"  # a new constant, lever or prior needs no '+'; typed() names a misspelt one
        prepared.append(item)
    return prepared


def is_sweep(overrides: list[str]) -> bool:
    return any(o.is_sweep_override() for o in parse_overrides(overrides))


def quote(value: str) -> str:
    """A value (e.g. a path) as a quoted Hydra override value."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# ----------------------------------------------------------------------------- the Hydra app

def search_path(config_dir: Path):
    path = create_config_search_path(f"file://{Path(config_dir).absolute()}")
    path.prepend(provider="innosd-user-params", path=f"{UserParamsSource.scheme()}://{user_params_dir()}",
                 anchor=SearchPathQuery(provider="main"))
    return path


@contextlib.contextmanager
def hydra_app(config_dir: Path = CONFIG_DIR) -> Iterator[Hydra]:
    """Hydra's app object (the one `@hydra.main` builds) over innosd's search path."""
    GlobalHydra.instance().clear()
    with one_line_errors():
        app = Hydra.create_main_hydra2(task_name="innosd", config_search_path=search_path(Path(config_dir)))
    try:
        yield app
    finally:
        GlobalHydra.instance().clear()


def _check_files(config_name: str, job: list[str], config_dir: Path) -> None:
    """Group options exist (one line with suggestions) and every YAML file parses."""
    defaults = {"config": {"scenario": "baseline", "world": "default"},
                "calibrate": {"calibration": "default"}, "backtest": {"calibration": "backtest"}}[config_name]
    chosen = dict(defaults)
    for override in parse_overrides(job):
        key = override.key_or_group
        if key in ("scenario", "params", "experiment", "calibration", "world") and not override.is_delete():
            chosen[key] = override.get_value_element_as_str()
    files = [Path(config_dir) / f"{config_name}.yaml"]
    for group, option in chosen.items():
        valid = options(group, config_dir)
        if option not in valid:
            what = {"params": "parameter set", "calibration": "calibration config"}.get(group, group)
            raise ConfigError(f"{group}: unknown {what} {option!r}{closest(option, valid)}; "
                              f"valid {'scenarios' if group == 'scenario' else 'choices'}: {', '.join(valid) or '(none)'}")
        folder = find_parameter_set(option, config_dir) if group == "params" else Path(config_dir) / group
        files.append(folder / f"{option}.yaml")
    for path in files:
        check_mapping_file(path)


def compose(config_name: str, job: list[str], config_dir: Path = CONFIG_DIR) -> tuple[dict, dict, DictConfig]:
    """One job's config -> (plain dict without `hydra`, the option chosen per group, Hydra's node).

    `job` holds prepared overrides without sweeps. Inside a running Hydra job the running
    app composes (a job must not tear down its own Hydra); otherwise a fresh one does."""
    _check_files(config_name, job, config_dir)
    if is_sweep(job):
        sweep = next(o.input_line for o in parse_overrides(job) if o.is_sweep_override())
        raise ConfigError(f"{sweep!r} is a sweep; add -m to run one job per value")
    with contextlib.ExitStack() as stack:
        if not GlobalHydra.instance().is_initialized():
            stack.enter_context(hydra_app(config_dir))
        with one_line_errors():
            cfg = hydra_compose(config_name=config_name, overrides=list(job), return_hydra_config=True)
            choices = dict(cfg.hydra.runtime.choices)
            hydra_node = cfg.hydra
            with open_dict(cfg):
                del cfg["hydra"]
            raw = OmegaConf.to_container(cfg, resolve=True)
    return raw, choices, hydra_node


def sweep_jobs(app: Hydra, overrides: list[str], multirun: bool) -> list[list[str]]:
    """The jobs of a command line: Hydra's basic sweeper's expansion (cartesian product of
    comma lists, glob(), range(), choice()); one job without -m."""
    if not multirun:
        if is_sweep(overrides):
            sweep = next(o.input_line for o in parse_overrides(overrides) if o.is_sweep_override())
            raise ConfigError(f"{sweep!r} is a sweep; add -m to run one job per value")
        return [list(overrides)]
    parsed = parse_overrides(overrides, app.config_loader)
    with one_line_errors("override"):
        (batch,) = BasicSweeper.split_arguments(parsed, None)
    for override in parsed:
        if override.is_sweep_override() and not list(override.sweep_string_iterator()):
            raise ConfigError(f"{override.input_line!r}: the sweep is empty")
        if override.is_sweep_override():
            values = list(override.sweep_string_iterator())
            repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if repeated is not None:  # two identical jobs would share one label and collapse the comparison
                raise ConfigError(f"{override.input_line!r}: {override.key_or_group}={repeated} is swept twice; "
                                  "list each value once")
    return [list(job) for job in batch] or [[]]


def hydra_settings(config_name: str, job: list[str], config_dir: Path = CONFIG_DIR) -> DictConfig:
    """The resolved `hydra` node of one job (run and sweep folders)."""
    return compose(config_name, job, config_dir)[2]


__all__ = ["CONFIG_DIR", "compose", "hydra_app", "sweep_jobs", "prepare_overrides", "options", "params_dirs",
           "find_parameter_set", "user_params_dir", "check_yaml", "one_line_errors", "quote", "RunMode",
           "hydra_settings"]
