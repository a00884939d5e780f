"""The schema of every innosd config: types and required fields here, values in YAML.

Each settings dataclass below declares what a section of `scenarios/*.yaml` holds (run,
scenario and levers, uncertainty, figures, the parameter set, each experiment, the
calibration). None carries a default value: the values live in the YAML files only, so
code and YAML cannot drift apart. The dataclasses are registered in Hydra's ConfigStore
(group `schema`) so Hydra tools can list and compose them.

One check, `typed(schema, raw, key)`, turns a composed mapping into its dataclass:
unknown keys, missing keys and values of the wrong type become one-line `ConfigError`s
naming the key and the valid choices; a dataclass's own `check(key)` then tests its
values (e.g. `run.seed` non-negative). Checks that need the model (lever and constant
names, declared ranges) are in `innosd.scenarios.build`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from hydra.core.config_store import ConfigStore

from innosd.errors import ConfigError, closest
from innosd.model.backends import BACKENDS  # run.backend: the PySD reference or the compiled core
from innosd.model.info import LEVER_SUFFIXES
UNCERTAINTY_MODES = ("auto", "none", "posterior")
WORLD_MODES = ("sample", "central")          # uncertainty.world: draw the outside world, or hold it central
WORLD_SAMPLING = ("latin_hypercube", "independent")
WORLD_DISTRIBUTIONS = ("uniform", "triangular", "normal")
SCHEDULERS = ("local", "cluster")    # or a Dask scheduler address tcp://HOST:PORT
EXPERIMENTS = ("projections", "attainment", "sensitivity", "policy_search", "discovery", "response")
LEVER_FIELDS = tuple(LEVER_SUFFIXES)  # a lever's settings: change, start, ramp_years


# ----------------------------------------------------------------------------- the one check

def _type_name(kind: Any) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(kind, str(kind))


def _optional(kind: Any) -> tuple[bool, Any]:
    """(allows None, the inner type) of `X | None` / `Optional[X]`."""
    if typing.get_origin(kind) in (Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) < len(typing.get_args(kind)):
            return True, args[0] if len(args) == 1 else Union[tuple(args)]
    return False, kind


def _value(kind: Any, value: Any, key: str) -> Any:
    """`value` as `kind`, or a one-line ConfigError naming `key`."""
    nullable, kind = _optional(kind)
    if value is None:
        if nullable or kind is Any:
            return None
        raise ConfigError(f"{key}: null is not allowed here; expected {_type_name(kind)}")
    if kind is Any:
        return value
    if dataclasses.is_dataclass(kind):
        return typed(kind, value, key)
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}"
                              f"{closest(str(value), map(str, choices))}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        _, item = typing.get_args(kind)
        return {str(k): _value(item, v, f"{key}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = typing.get_args(kind)[0]
        return origin(_value(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: {value!r} is not true or false")
        return value
    if kind in (int, float):
        try:
            if isinstance(value, bool) or (kind is int and float(value) != int(value)):
                raise ValueError
            return kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}: {value!r} is not {_type_name(kind)}") from None
    if kind is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__}")
        return str(value)
    raise TypeError(f"schema type {kind!r} of {key} is not supported by typed()")  # a bug, not user input


def typed(schema: type, raw: Any, key: str):
    """Build the dataclass `schema` from a mapping (a composed config section).

    Unknown keys, missing keys and values of the wrong type give a one-line ConfigError
    naming `key.field` and the valid keys; then `schema.check(instance, key)` (if defined)
    tests the values."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{key or 'config'}: expected a mapping, got {type(raw).__name__}")
    prefix = f"{key}." if key else ""  # key "": the root of a config file
    hints = typing.get_type_hints(schema)
    fields = [f for f in dataclasses.fields(schema) if f.init]
    names = [f.name for f in fields]
    for name in raw:
        if name not in names:
            raise ConfigError(f"{prefix}{name}: unknown key{closest(str(name), names)}; valid keys: "
                              + ", ".join(f"{prefix}{n}" for n in names))
    values = {}
    for f in fields:
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if f.name not in raw:
            if has_default:
                continue
            raise ConfigError(f"{prefix}{f.name}: missing; every {key or 'config'} needs it (see scenarios/*.yaml)")
        values[f.name] = _value(hints[f.name], raw[f.name], f"{prefix}{f.name}")
    instance = schema(**values)
    check = getattr(instance, "check", None)
    if check is not None:
        check(key)
    return instance


def _positive_int(value: int, key: str) -> None:
    if value < 1:
        raise ConfigError(f"{key}: {value!r} is not a positive integer")


# ----------------------------------------------------------------------------- innosd run

@dataclass(frozen=True)
class LeverSetting:
    """A policy lever's time profile: relative `change` from `start`, reached after
    `ramp_years`; a field left out keeps the model file's value (no change, 2017, 1 year)."""

    change: Optional[float] = None
    start: Optional[float] = None
    ramp_years: Optional[float] = None


@dataclass(frozen=True)
class ScenarioConfig:
    name: str
    description: str
    levers: dict[str, LeverSetting]

    def check(self, key: str) -> None:
        if not self.name.strip() or not self.description.strip():
            raise ConfigError(f"{key}: every scenario needs a `name` and a `description`")


@dataclass(frozen=True)
class RunSettings:
    backend: str
    output_dir: str
    seed: int
    figures: bool
    scheduler: str            # local | cluster | tcp://HOST:PORT (see experiments.dask_exec)
    workers: int              # worker processes of `scheduler=cluster`
    chunk_size: int           # parameter sets per chunk (one task, one resumable file)
    progress: bool            # tqdm progress bars on stderr

    def check(self, key: str) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"{key}.backend: unknown backend {self.backend!r}{closest(self.backend, BACKENDS)}; "
                              f"valid backends: {', '.join(BACKENDS)}")
        if self.seed < 0:  # numpy's generators take non-negative seeds only
            raise ConfigError(f"{key}.seed: {self.seed!r} is not a non-negative integer")
        if not self.output_dir.strip():  # an empty one would write into the working directory (or /)
            raise ConfigError(f"{key}.output_dir: empty; name a folder (e.g. {key}.output_dir=outputs)")
        _positive_int(self.workers, f"{key}.workers")
        _positive_int(self.chunk_size, f"{key}.chunk_size")
        check_scheduler(self.scheduler, f"{key}.scheduler")


def check_scheduler(scheduler: str, key: str) -> None:
    """`run.scheduler` of experiments and calibrations: local, cluster or a Dask scheduler address."""
    if scheduler not in SCHEDULERS and not re.fullmatch(r"(tcp|tls|inproc|ucx)://\S+", scheduler):
        raise ConfigError(f"{key}: {scheduler!r} is neither {' nor '.join(SCHEDULERS)} "
                          "nor a scheduler address like tcp://HOST:8786")


@dataclass(frozen=True)
class FigureSettings:
    language: str             # en or zh, for every figure label and the report


@dataclass(frozen=True)
class UncertaintySettings:
    """`mode`: none (point estimate), posterior (draws, error if none) or auto (posterior if
    the parameter set has draws); `draws`: how many posterior draws (null: all of them);
    `world`: sample (one outside-world draw beside each posterior draw) or central (the
    outside world held at the model file's values)."""

    mode: str
    draws: Optional[int]
    world: str
    decomposition: Optional[list[int]]  # [posterior draws, world draws] of the variance-share grid; null: none

    def check(self, key: str) -> None:
        if self.mode not in UNCERTAINTY_MODES:
            raise ConfigError(f"{key}.mode: unknown mode {self.mode!r}{closest(self.mode, UNCERTAINTY_MODES)}; "
                              f"valid modes: {', '.join(UNCERTAINTY_MODES)}")
        if self.world not in WORLD_MODES:
            raise ConfigError(f"{key}.world: unknown setting {self.world!r}{closest(self.world, WORLD_MODES)}; "
                              f"valid settings: {', '.join(WORLD_MODES)}")
        if self.decomposition is not None and (len(self.decomposition) != 2 or min(self.decomposition) < 2):
            raise ConfigError(f"{key}.decomposition: {self.decomposition!r} is not [posterior draws, world draws], "
                              "each at least 2 (or null for no decomposition)")
        if self.draws is not None and self.draws < 1:
            raise ConfigError(f"{key}.draws: {self.draws!r} is not a positive integer (or null for all)")


@dataclass(frozen=True)
class WorldUncertainty:
    """One outside-world assumption (EMA's uncertainty X): the model constant(s) it sets and
    how it is drawn around its central value, the model file's value of those constants
    (where the .mdl states its source). `distribution`: uniform on [lower, upper],
    triangular with its mode at the central value, or normal (mean the central value,
    `sd`) truncated to [lower, upper]. `source`/`quote`: the evidence for the range."""

    constants: list[str]
    unit: str
    distribution: str
    lower: float
    upper: float
    source: str
    quote: str
    sd: Optional[float] = None  # normal only

    def check(self, key: str) -> None:
        if self.distribution not in WORLD_DISTRIBUTIONS:
            raise ConfigError(f"{key}.distribution: unknown distribution {self.distribution!r}"
                              f"{closest(self.distribution, WORLD_DISTRIBUTIONS)}; valid distributions: "
                              f"{', '.join(WORLD_DISTRIBUTIONS)}")
        if not self.lower < self.upper:
            raise ConfigError(f"{key}: lower {self.lower:g} is not below upper {self.upper:g}")
        if (self.distribution == "normal") != (self.sd is not None):
            raise ConfigError(f"{key}.sd: a normal distribution needs `sd` (> 0), the others take none")
        if self.sd is not None and not self.sd > 0:
            raise ConfigError(f"{key}.sd: {self.sd:g} is not positive")
        if not self.constants:
            raise ConfigError(f"{key}.constants: name at least one model constant")
        if not self.source.strip() or not self.quote.strip():
            raise ConfigError(f"{key}: every outside-world assumption needs its `source` and `quote`")


@dataclass(frozen=True)
class WorldConfig:
    """`scenarios/world/<name>.yaml`: the outside world as named uncertainties, sampled
    beside the posterior draws (`sampling`: latin_hypercube or independent draws)."""

    name: str
    description: str
    sampling: str
    uncertainties: dict[str, WorldUncertainty]

    def check(self, key: str) -> None:
        if self.sampling not in WORLD_SAMPLING:
            raise ConfigError(f"{key}.sampling: unknown sampling {self.sampling!r}"
                              f"{closest(self.sampling, WORLD_SAMPLING)}; valid choices: {', '.join(WORLD_SAMPLING)}")


@dataclass(frozen=True)
class ParameterSetInfo:
    """Which parameter set (`params/<name>.yaml`) a run used, where it came from and the
    folder it was found in (the working directory's params/ or the shipped scenarios/params)."""

    name: str
    statistic: str
    posterior_draws: Optional[str]
    source: dict[str, Any]
    posterior_draws_sha256: Optional[str] = None  # of the draws file (hand-offs since issue 17 record it)
    params_dir: str = ""      # set by the composer (where the file was found), not by YAML


@dataclass(frozen=True)
class RunSchema:
    """The composed `scenarios/config.yaml` of `innosd run` (what the YAML holds)."""

    scenario: ScenarioConfig
    params: dict[str, float]
    run: RunSettings
    parameter_set: dict[str, Any]
    uncertainty: UncertaintySettings
    figures: FigureSettings
    world: dict[str, Any]      # the `world` group; typed by WorldConfig in innosd.scenarios.build (names its file)
    experiment: Optional[dict[str, Any]] = None  # the optional `+experiment=NAME` group; typed by its schema


@dataclass(frozen=True)
class RunConfig:
    """A checked run: the YAML sections typed, plus what composition recorded."""

    scenario: ScenarioConfig
    params: dict[str, float]                # model constant name -> value (checked against the model)
    run: RunSettings
    overrides: tuple[str, ...]              # the command-line overrides this run came from
    parameter_set: ParameterSetInfo
    uncertainty: UncertaintySettings
    fixed_params: tuple[str, ...]           # constants set on the command line: never drawn
    experiment: Optional[dict[str, Any]]
    figures: FigureSettings
    name: str                               # the run's name: scenario plus what the overrides change
    world: WorldConfig                      # the outside world's uncertainties (constants: model names)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- experiments

@dataclass(frozen=True)
class ProjectionSettings:
    name: str
    scenarios: Any            # all | [scenario names]
    indicators: Any           # all | [indicator ids]
    targets: Any              # all | [indicator@year, ...]
    benchmarks: Any           # [] | [{indicator, year, value, direction}]: user targets, "benchmark (user)"
    first_year: int
    last_year: int


@dataclass(frozen=True)
class AttainmentSettings:
    name: str
    scenarios: Any            # all | [scenario names]
    targets: Any              # all | [indicator@year or indicator, ...]
    benchmarks: Any           # [] | [{indicator, year, value, direction}]: user targets, "benchmark (user)"
    first_year: int
    last_year: int


@dataclass(frozen=True)
class SensitivitySettings:
    name: str
    methods: Any              # [sobol, morris]
    outputs: Any              # indicator ids or all
    years: Any                # [year, ...]
    parameters: Any           # priors | free | [names] | {name: [lower, upper]}
    priors: str               # scenarios/calibration/<priors>.yaml
    relative_width: float     # for `free` and listed names
    levers: Any               # all | [] | [lever names]
    lever_range: Any          # [lower, upper] relative change sampled for every lever
    sobol_base_samples: int   # N (a power of 2): N * (D + 2) runs (no second order)
    morris_trajectories: int  # r: r * (D + 1) runs
    morris_levels: int


@dataclass(frozen=True)
class PolicySettings:
    name: str
    targets: Any              # [indicator@year, ...]
    required_probability: float
    levers: Any               # {lever: [min change, max change]}
    samples: int              # initial Sobol points (power of 2)
    refine_rounds: int
    refine_samples: int       # per round (power of 2)
    refine_shrink: float
    cost_from: int
    cost_to: Optional[int]    # null: the last target year


@dataclass(frozen=True)
class DiscoverySettings:
    name: str
    year: int                 # the plan-year whose official targets are scored
    scenarios: Any            # all | [scenario names]: robustness across these
    base_scenario: str        # PRIM runs this scenario with the levers sampled
    levers: Any               # {lever: [min change, max change]} sampled for PRIM
    lever_samples: int        # Sobol lever settings per posterior draw (power of 2)
    threshold: float          # PRIM: minimum density of a box
    peel_alpha: float         # PRIM: share peeled per step
    boxes: int                # PRIM: boxes to find


@dataclass(frozen=True)
class ResponseSettings:
    name: str
    levers: Any               # all | [lever names]: one curve each
    changes: Any              # [relative change, ...]: the curve's points, clipped to each lever's range
    outputs: Any              # indicator ids
    years: Any                # [year, ...]: outputs are <indicator>@<year>


EXPERIMENT_SCHEMAS = {"projections": ProjectionSettings, "attainment": AttainmentSettings,
                      "sensitivity": SensitivitySettings, "policy_search": PolicySettings,
                      "discovery": DiscoverySettings, "response": ResponseSettings}


def experiment_settings(raw: Optional[dict[str, Any]]):
    """The `experiment` section typed by the schema its `name` picks."""
    raw = dict(raw or {})
    name = str(raw.get("name", ""))
    if name not in EXPERIMENT_SCHEMAS:
        raise ConfigError(f"experiment.name: unknown experiment {name!r}{closest(name, EXPERIMENTS)}; "
                          f"valid experiments: {', '.join(EXPERIMENTS)}")
    return typed(EXPERIMENT_SCHEMAS[name], raw, "experiment")


# ----------------------------------------------------------------------------- innosd calibrate

@dataclass(frozen=True)
class OptimiserSettings:
    screen: int               # prior draws evaluated in one batch; the best `starts` seed L-BFGS-B
    starts: int               # multi-start: best screened prior draws (plus the model file's values)
    max_iterations: int


@dataclass(frozen=True)
class SamplerSettings:
    walkers: int
    steps: int
    burn: int                 # steps discarded as warm-up
    thin: int                 # keep every `thin`-th step for the posterior sample
    moves: str                # "de" (differential evolution + snooker) or "stretch"
    # method: "emcee" (the ensemble above: walkers, steps, burn, thin, moves) or "smc_hmc" (tempered
    # SMC of `particles`, then `chains` Hamiltonian chains: `warmup` + `iterations`, `trajectory`)
    method: str = "emcee"
    particles: int = 1000     # smc_hmc: SMC cloud (one batched model call per mutation step)
    chains: int = 4           # smc_hmc: independent HMC chains started at SMC particles
    warmup: int = 60          # smc_hmc: HMC iterations tuning the step size (discarded)
    iterations: int = 1000    # smc_hmc: kept HMC iterations per chain
    trajectory: float = 2.5   # smc_hmc: integration time per iteration, in posterior sds

    def check(self, key: str) -> None:
        methods = ("emcee", "smc_hmc")
        if self.method not in methods:
            raise ConfigError(f"{key}.method: {self.method!r} is not one of {', '.join(methods)}"
                              f"{closest(str(self.method), methods)}")
        for name, minimum in (("particles", 10), ("chains", 2), ("warmup", 0), ("iterations", 4)):
            if getattr(self, name) < minimum:
                raise ConfigError(f"{key}.{name}: {getattr(self, name)} is below the minimum {minimum}")
        if self.method == "smc_hmc" and self.chains > self.particles:
            raise ConfigError(f"{key}.chains: {self.chains} chains need at least as many SMC particles "
                              f"({key}.particles is {self.particles})")
        if not 0 < self.trajectory <= 20:
            raise ConfigError(f"{key}.trajectory: {self.trajectory:g} is not in (0, 20] posterior sds")


@dataclass(frozen=True)
class ProfileSettings:
    parameters: Any           # one name or a list (config); a tuple of model names once resolved
    points: int
    max_iterations: int       # L-BFGS-B polish per grid point (starts from the best draw nearby)


@dataclass(frozen=True)
class CalibrationGroup:
    """`scenarios/calibration/<name>.yaml`: priors, observations, optimiser, sampler, profiles."""

    name: str
    model: Optional[str]            # a Vensim .mdl to calibrate (null: the project model)
    observations_file: Optional[str]  # null: calibration/data/observations.csv; else a user's short-format CSV
    window: list[int]
    free: Any                       # constants made free with a uniform prior over their declared range:
                                    # a list of names, or `marked` (every constant the .mdl marks "free parameter")
    parameters: dict[str, Any]      # name -> prior spec (checked by calibration.priors)
    observations: dict[str, Any]    # indicator -> error model (checked by calibration.likelihood)
    likelihood: dict[str, Any]      # calibration-wide error model: family, nu, discrepancy (calibration.likelihood)
    optimiser: OptimiserSettings
    sampler: SamplerSettings
    profile: ProfileSettings
    fixed: dict[str, Any] = field(default_factory=dict)  # name -> source of the model file's value: constants
                                    # held at a sourced value because the data are silent (listed in summary.md)


@dataclass(frozen=True)
class CalibrateRunSettings:
    output_dir: str
    figures: bool
    progress: bool
    threads: int
    scheduler: str            # local | cluster | tcp://HOST:PORT: where the likelihood's model batches run
    workers: int              # worker processes of `scheduler=cluster`

    def check(self, key: str) -> None:
        check_scheduler(self.scheduler, f"{key}.scheduler")
        _positive_int(self.workers, f"{key}.workers")


@dataclass(frozen=True)
class HandoffSettings:
    write: bool
    name: str
    draws: int
    params_dir: Optional[str]  # the parameter sets `innosd run params=NAME` finds first (relative: to the cwd)
    allow_dirty: bool          # write the hand-off even from a checkout with uncommitted changes


@dataclass(frozen=True)
class CalibrationDataSettings:
    until_year: Optional[int]  # only observations up to this year enter (null: the window alone decides)


@dataclass(frozen=True)
class CalibrateSchema:
    """The composed `scenarios/calibrate.yaml` of `innosd calibrate`."""

    calibration: CalibrationGroup
    seed: int
    run: CalibrateRunSettings
    handoff: HandoffSettings
    data: CalibrationDataSettings


# ----------------------------------------------------------------------------- innosd backtest

@dataclass(frozen=True)
class BacktestSettings:
    """The `backtest` section of `scenarios/backtest.yaml` (the rest is calibrate.yaml's)."""

    until: int
    draws: int
    scenario: str
    world: str                # sample | central
    band: float               # central predictive band scored, e.g. 0.9
    exclude: dict[str, str]   # indicator -> why it is not scored

    def check(self, key: str) -> None:
        _positive_int(self.draws, f"{key}.draws")
        if self.world not in WORLD_MODES:
            raise ConfigError(f"{key}.world: unknown setting {self.world!r}{closest(self.world, WORLD_MODES)}; "
                              f"valid settings: {', '.join(WORLD_MODES)}")
        if not 0 < self.band < 1:
            raise ConfigError(f"{key}.band: {self.band:g} is not a probability between 0 and 1")


def register_schemas() -> None:
    """Every schema in Hydra's ConfigStore (group `schema`); compose e.g. `schema/run`."""
    store = ConfigStore.instance()
    for name, node in (("run", RunSettings), ("uncertainty", UncertaintySettings), ("figures", FigureSettings),
                       ("scenario", ScenarioConfig), ("lever", LeverSetting), ("calibrate", CalibrateSchema),
                       ("world", WorldConfig),
                       *EXPERIMENT_SCHEMAS.items()):
        store.store(group="schema", name=name, node=node)


register_schemas()
