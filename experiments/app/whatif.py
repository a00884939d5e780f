"""The what-if page's engine, without any web code: lever settings in, the posterior ensemble,
its fan-chart quantiles, target probabilities and the cost of the mix out.

    engine = WhatIf(params="calibrated", draws=200, seed=0)
    outcome = engine.evaluate({"talent": {"change": 2.0, "start": 2017, "ramp_years": 3}})
    outcome.attainment                  # as `innosd run +experiment=attainment` writes it
    engine.save_scenario("my_mix", "why", levers)   # scenarios/scenario/my_mix.yaml

Everything goes through the code `innosd run` uses, so the page shows the numbers a run
writes: the base config is composed once by Hydra (`scenarios.build`), a lever mix is checked
by `build.scenario_config` (declared ranges: a value outside them is refused here, whatever
the browser sent), the parameter table is `ensemble.run_table` over the posterior draws
`ensemble.posterior_draws` chose (same seed, same draws), the runs are
`ensemble.YearEndTask` (the compiled ensemble) and the tables `experiments.projections`'.
Cost is `experiments.policy`'s cost model (the fiscal flows plus each moved lever's unit
costs, scenarios/levers.yaml), against the baseline with the same draws.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from innosd.calibration.data import load_observations, load_targets
from innosd.errors import ConfigError, ModelError
from innosd.experiments import ensemble as ens
from innosd.experiments import projections as proj
from innosd.experiments.policy import OutlayTask, base_time_step, cost_terms, lever_cost, uncosted_levers
from innosd.model import MODEL_FILE
from innosd.model.indicators import Indicator, model_indicators
from innosd.model.info import LEVER_SUFFIXES, Constant, ModelInfo, lever_constant, lever_names, model_info
from innosd.model.results import year_end_time
from innosd.rundir import atomic_write_text
from innosd.scenarios import CONFIG_DIR, build
from innosd.scenarios.levers import LeverDoc, lever_docs
from innosd.scenarios.schema import LEVER_FIELDS, RunConfig, WorldUncertainty

# A scenario is chosen by its file name on the command line (`scenario=NAME`): letters,
# digits, '_' and '-', starting with a letter or digit; no dots or path separators.
SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
PAGE_SCENARIO = "whatif"  # the label of the page's own mix in its tables
BASELINE = "baseline"


@dataclass(frozen=True)
class LeverControl:
    """One setting of one lever as the page shows it: the model constant behind it."""

    lever: str
    setting: str          # change | start | ramp_years
    constant: Constant    # default (the baseline value), units, declared range, meaning


def lever_controls(info: ModelInfo) -> dict[str, dict[str, LeverControl]]:
    """Every lever of the model (`info`'s naming rule) -> its three settings."""
    return {lever: {setting: LeverControl(lever, setting, info.constants[lever_constant(lever, setting)])
                    for setting in LEVER_FIELDS}
            for lever in lever_names(info)}


def moved_levers(levers: dict[str, dict[str, float]], info: ModelInfo) -> dict[str, dict[str, float]]:
    """The levers whose `change` differs from the model file's (start and ramp alone move nothing)."""
    return {lever: values for lever, values in levers.items()
            if float(values.get("change", info.constants[lever_constant(lever)].default))
            != info.constants[lever_constant(lever)].default}


@dataclass
class Outcome:
    """What one evaluation of a lever mix gives the page."""

    levers: dict[str, dict[str, float]]
    ensemble: xr.Dataset          # (scenario=[whatif], draw, time), year-end values
    projections: pd.DataFrame     # projections.csv's columns
    attainment: pd.DataFrame      # attainment.csv's columns
    joint: pd.DataFrame           # joint_attainment.csv's: per plan year, all its official targets at once
    cost_draws: np.ndarray | None  # extra cost per draw against the baseline (100 million yuan); None: nothing moved
    uncosted: list[str]           # moved levers without a cost model (they count nothing)

    @property
    def draws(self) -> int:
        return int(self.ensemble.sizes["draw"])

    @property
    def cost(self) -> tuple[float, float] | None:
        """(mean, Monte Carlo standard error) of the extra outlay; None if no costed lever moved."""
        if self.cost_draws is None:
            return None
        return float(self.cost_draws.mean()), float(self.cost_draws.std(ddof=1) / math.sqrt(len(self.cost_draws))
                                                    if len(self.cost_draws) > 1 else 0.0)


class WhatIf:
    """One page's model, parameter set and draws; evaluates lever mixes against the baseline."""

    def __init__(self, params: str = "calibrated", draws: int = 200, seed: int = 0,
                 config_dir: Path = CONFIG_DIR, world: str = "sample"):
        self.config_dir = Path(config_dir)
        self.info = model_info(MODEL_FILE)
        # world: sample (one outside-world draw beside each posterior draw, as `innosd run`) or
        # central (held at the model file's values): the schema checks the choice
        self.base: RunConfig = build.compose_run_config(
            [f"scenario={BASELINE}", f"params={params}", f"uncertainty.draws={int(draws)}", f"run.seed={int(seed)}",
             f"uncertainty.world={world}", "run.progress=false"], self.info, self.config_dir)
        self.controls = lever_controls(self.info)
        self.posterior = ens.posterior_draws(self.base)  # None: the parameter set has no draws (one run)
        self.observations = load_observations()
        self.targets = proj.modelled_targets(load_targets())
        self.indicators: list[Indicator] = model_indicators(self.observations, self.targets)
        self.columns = sorted({i.model_variable for i in self.indicators} | set(self.targets["model_variable"]))
        first = min([ens.FIRST_YEAR, *self.targets["year"].astype(int)])
        self.times = ens.year_end_times(first, ens.LAST_YEAR)
        policy = yaml.safe_load((self.config_dir / "experiment" / "policy_search.yaml").read_text(encoding="utf-8"))
        # policy_search's window: from its cost_from to its cost_to (null: the last plan year)
        self.cost_years = (int(policy["cost_from"]), int(policy.get("cost_to") or self.targets["year"].max()))
        self.lever_docs: dict[str, LeverDoc] = lever_docs(self.info)
        self.cost_columns = tuple(cost_terms(lever_names(self.info), self.lever_docs))  # every term any mix uses
        self._base_table = ens.fill_defaults(ens.run_table(self.base, self.posterior))
        self._baseline_integrals = self._integrals(self._base_table)  # the cost's reference
        self.baseline = self.evaluate({})

    # ------------------------------------------------------------------ settings

    @property
    def parameter_set(self) -> str:
        return self.base.parameter_set.name

    @property
    def seed(self) -> int:
        return int(self.base.run.seed)

    @property
    def world_mode(self) -> str:
        return str(self.base.uncertainty.world)

    def world_assumptions(self) -> list[tuple[str, WorldUncertainty]]:
        """The outside world's named uncertainties (scenarios/world/), as the runs draw them."""
        return sorted(self.base.world.uncertainties.items())

    def scenario_config(self, levers: dict[str, dict[str, float]], name: str = PAGE_SCENARIO,
                        description: str = "what-if page") -> RunConfig:
        """The base config with this lever mix; ranges checked (ConfigError names lever, value, range)."""
        scenario = build.scenario_config({"name": name, "description": description, "levers": levers}, self.info)
        return dataclasses.replace(self.base, scenario=scenario, name=name)

    # ------------------------------------------------------------------ runs

    def _table(self, config: RunConfig) -> pd.DataFrame:
        """`ensemble.run_table` of the mix: the baseline's table with the lever constants set
        (a lever is a choice, never a posterior draw, so this is exactly run_table's result)."""
        table = self._base_table.copy()
        for constant, value in build.model_parameters(config).items():
            if is_lever_setting(constant):
                table[constant] = float(value)
        return table

    def evaluate(self, levers: dict[str, dict[str, float]], indicators: list[str] | None = None) -> Outcome:
        """Run the mix over the draws; the tables `innosd run +experiment=attainment` writes.

        `indicators`: ids whose projections (fan charts) are wanted (default: all)."""
        config = self.scenario_config(levers)
        table = self._table(config)
        task = ens.YearEndTask(str(MODEL_FILE), tuple(self.columns), tuple(float(t) for t in self.times))
        values = task(table)
        if not np.isfinite(values).all():
            run, column, _ = np.argwhere(~np.isfinite(values))[0]
            raise ModelError(f"the model gave non-finite {self.columns[column]!r} in draw {int(run)} for this "
                             "lever mix; move the levers back towards the baseline")
        ds = ens.ensemble_dataset(values, [PAGE_SCENARIO], len(table), self.columns, self.times, self.info.units,
                                  {"parameter_set": self.parameter_set, "seed": str(self.seed)})
        wanted = self.indicators if indicators is None else [i for i in self.indicators if i.id in set(indicators)]
        projections = proj.projections_table(ds, wanted) if wanted else pd.DataFrame(columns=proj.PROJECTION_COLUMNS)
        attainment = proj.attainment_table(ds, self.targets)
        joint = proj.joint_attainment_table(ds, self.targets)
        moved = list(moved_levers({lv: dataclasses.asdict(s) for lv, s in config.scenario.levers.items()}, self.info))
        return Outcome(levers, ds, projections, attainment, joint, self._extra_cost(moved, table),
                       uncosted_levers(moved, self.lever_docs))

    def _integrals(self, table: pd.DataFrame) -> np.ndarray:
        """(draw, cost column) time integrals over the cost window (policy.OutlayTask)."""
        start, stop = self.cost_years
        task = OutlayTask(str(MODEL_FILE), (), (), self.cost_columns, float(start), float(year_end_time(stop)),
                          base_time_step(self.base, self.info))
        return task(table)

    def _extra_cost(self, moved: list[str], table: pd.DataFrame) -> np.ndarray | None:
        """Cost per draw against the baseline (policy.lever_cost of the extra integrals); None if nothing moved."""
        if not moved:
            return None
        terms = cost_terms(moved, self.lever_docs)
        extra = self._integrals(table) - self._baseline_integrals
        return np.array([lever_cost(dict(zip(self.cost_columns, row)), terms) for row in extra])

    # ------------------------------------------------------------------ saving

    def scenario_folder(self) -> Path:
        return self.config_dir / "scenario"

    def command_for(self, name: str) -> str:
        """The command that reproduces the page's numbers for a saved scenario."""
        return (f"innosd run +experiment=attainment experiment.scenarios=[{name}] params={self.parameter_set} "
                f"uncertainty.draws={int(self.base.uncertainty.draws)} run.seed={self.seed}"
                + ("" if self.world_mode == "sample" else f" uncertainty.world={self.world_mode}"))

    def scenario_yaml(self, name: str, description: str, levers: dict[str, dict[str, float]]) -> str:
        """The scenario file's text: the moved levers with every setting (start and ramp as shown)."""
        check_scenario_name(name)
        if not description.strip():
            raise ConfigError("description: say what the scenario is (one sentence at least)")
        moved = moved_levers(levers, self.info)
        self.scenario_config(moved, name, description)  # the ranges, as `innosd run` will check them
        body = {"name": name, "description": description.strip(),
                "levers": {lever: {f: _number(values[f]) for f in LEVER_FIELDS if f in values}
                           for lever, values in moved.items()}}
        header = (f"# Saved from the what-if page (innosd app): parameter set {self.parameter_set}, "
                  f"{int(self.base.uncertainty.draws)} draws, seed {self.seed}.\n"
                  f"# Reproduce its numbers: {self.command_for(name)}\n")
        return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)

    def save_scenario(self, name: str, description: str, levers: dict[str, dict[str, float]],
                      overwrite: bool = False) -> Path:
        """Write scenarios/scenario/NAME.yaml atomically; refuse an existing file unless `overwrite`."""
        text = self.scenario_yaml(name, description, levers)
        folder = self.scenario_folder().resolve()
        path = (folder / f"{name}.yaml").resolve()
        if path.parent != folder:  # the name check makes this impossible; keep it as the last guard
            raise ConfigError(f"scenario name {name!r} would write outside {folder}")
        if path.exists() and not overwrite:
            raise ConfigError(f"scenario {name!r} exists ({path}); confirm overwriting it or choose another name")
        atomic_write_text(path, text)
        return path


def is_lever_setting(constant: str) -> bool:
    """Whether a model constant is one of a lever's settings (the naming rule of model.info)."""
    return any(constant.endswith(" " + suffix) for suffix in LEVER_SUFFIXES.values())


def check_scenario_name(name: str) -> str:
    if not SCENARIO_NAME.fullmatch(name or ""):
        raise ConfigError(f"scenario name {name!r}: use letters, digits, '_' or '-' (starting with a letter or "
                          "digit, at most 64 characters); no spaces, dots or path separators")
    return name


def _number(value: Any) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() else number


__all__ = ["LeverControl", "Outcome", "WhatIf", "check_scenario_name", "lever_controls", "moved_levers"]
