"""The one hand-off from calibration to scenario runs: `scenarios/params/`.

`innosd calibrate` writes, and `innosd run` reads, two files:

- `scenarios/params/<name>.yaml` — a Hydra config of group `params` (package `_global_`)::

      # @package _global_
      parameter_set:
        name: calibrated
        statistic: posterior median          # what the values in `params` are
        posterior_draws: calibrated_draws.csv  # thinned posterior sample, beside this file
        source:                              # which calibration run produced it
          run_dir: outputs/calibration/2026-11-22/10-00-00_default
          git_commit: 3d2c405...             # refused from a -dirty tree unless handoff.allow_dirty
          created: 2026-11-22T10:00:00+00:00
          seed: 0
          convergence: {converged: true, rhat_max: 1.004, ess_bulk_min: 812, ...}
      params:
        hte exit rate: 0.05                  # model constant names as in the .mdl
        ...

- `scenarios/params/<name>_draws.csv` — one row per posterior draw, column `draw` then
  one column per calibrated constant (names as in the .mdl).

This module only reads and writes those files; it knows nothing of Hydra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from innosd.scenarios import CONFIG_DIR

from innosd.errors import ConfigError, DataError, expect_mapping

PARAMS_DIR = CONFIG_DIR / "params"
HEADER = "# @package _global_\n"


@dataclass(frozen=True)
class ParameterSet:
    """A named set of model constants and where it came from."""

    name: str
    params: dict[str, float]
    statistic: str = "model file defaults"
    posterior_draws: str | None = None  # file name relative to the YAML's folder
    source: dict[str, Any] = field(default_factory=dict)


def _finite(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{where}: {number!r} is not finite")
    return number


def load_parameter_set(name: str, params_dir: Path = PARAMS_DIR) -> ParameterSet:
    """Read `params_dir/<name>.yaml`; a clear one-line error for a missing or malformed file."""
    path = Path(params_dir) / f"{name}.yaml"
    if not path.is_file():
        choices = sorted(p.stem for p in Path(params_dir).glob("*.yaml"))
        raise DataError(f"{path}: no such parameter set; valid sets: {', '.join(choices) or '(none)'}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise DataError(f"{path}: malformed YAML: {str(err).splitlines()[0]}") from None
    raw = expect_mapping(raw, f"{path}: (top level)", DataError)
    meta = expect_mapping(raw.get("parameter_set"), f"{path}: parameter_set", DataError)
    params = {str(k): _finite(v, f"{path}: params.{k}")
              for k, v in expect_mapping(raw.get("params"), f"{path}: params", DataError).items()}
    draws = meta.get("posterior_draws")
    if draws is not None and not isinstance(draws, str):
        raise DataError(f"{path}: parameter_set.posterior_draws: expected a file name, got {draws!r}")
    source = expect_mapping(meta.get("source"), f"{path}: parameter_set.source", DataError)
    return ParameterSet(name=str(meta.get("name", name)), params=params,
                        statistic=str(meta.get("statistic", "model file defaults")),
                        posterior_draws=draws, source=dict(source))


def load_posterior_draws(parameter_set: ParameterSet, params_dir: Path = PARAMS_DIR,
                         n: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The parameter set's posterior sample (rows = draws, columns = constants).

    With `n` smaller than the sample, draws `n` rows without replacement using `seed`, so
    the same seed always gives the same draws; with `n` larger, an error (silently reusing
    draws would understate the spread).
    """
    if not parameter_set.posterior_draws:
        raise DataError(f"parameter set {parameter_set.name!r} has no posterior draws "
                        "(it is a point estimate); use uncertainty=none or a calibrated set")
    path = Path(params_dir) / parameter_set.posterior_draws
    if not path.is_file():
        raise DataError(f"{path}: posterior draws file named by parameter set "
                        f"{parameter_set.name!r} does not exist")
    draws = pd.read_csv(path)
    if "draw" in draws.columns:
        draws = draws.set_index("draw")
    if draws.empty:
        raise DataError(f"{path}: no posterior draws")
    bad = [c for c in draws.columns if not np.all(np.isfinite(draws[c].to_numpy(dtype=float)))]
    if bad:
        raise DataError(f"{path}: column {bad[0]!r} has non-finite values")
    if n is not None:
        return choose_draws(draws, n, seed, path)
    return draws.reset_index(drop=True).rename_axis("draw")


def choose_draws(draws: pd.DataFrame, n: int, seed: int, where: Path | str) -> pd.DataFrame:
    """`n` rows of `draws` without replacement, chosen by `seed`, in their original order.

    The same seed always gives the same rows; `n` larger than the sample is an error
    naming `where` (silently reusing draws would understate the spread).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed {seed!r} for choosing posterior draws must be a non-negative integer")
    if n > len(draws):
        raise DataError(f"{where}: {n} draws asked for but the file holds {len(draws)}")
    rows = np.sort(np.random.default_rng(seed).choice(len(draws), size=n, replace=False))
    return draws.iloc[rows].reset_index(drop=True).rename_axis("draw")


def refuse_dirty_tree(git_commit: str, allow_dirty: bool) -> None:
    """A hand-off names the commit that produced it; from a modified checkout that commit does
    not describe the code that ran, so refuse (one line, before any work) unless the user says
    `handoff.allow_dirty=true`. Untracked files do not count (innosd.rundir.git_commit)."""
    if git_commit.endswith("-dirty") and not allow_dirty:
        raise ConfigError(f"handoff: the git checkout has uncommitted changes ({git_commit}), so the hand-off "
                          "could not name the code that produced it; commit first, or set "
                          "handoff.allow_dirty=true (recorded in the hand-off), or handoff.write=false")


def write_parameter_set(parameter_set: ParameterSet, draws: pd.DataFrame | None, params_dir: Path) -> Path:
    """Write `<name>.yaml` (and `<name>_draws.csv`) atomically; returns the YAML path.

    `params_dir` has no default: a hand-off goes where the user's config says (`./params`
    by default, see `innosd calibrate`), never silently into the installed package."""
    params_dir = Path(params_dir)
    params_dir.mkdir(parents=True, exist_ok=True)
    draws_name = f"{parameter_set.name}_draws.csv" if draws is not None else None
    meta = {"name": parameter_set.name, "statistic": parameter_set.statistic,
            "posterior_draws": draws_name, "source": parameter_set.source}
    body = yaml.safe_dump({"parameter_set": meta,
                           "params": {k: float(v) for k, v in parameter_set.params.items()}},
                          sort_keys=False, allow_unicode=True)
    path = params_dir / f"{parameter_set.name}.yaml"
    if draws is not None:
        tmp = params_dir / f".{draws_name}.tmp"
        table = draws.reset_index(drop=True)
        table.insert(0, "draw", range(len(table)))
        table.to_csv(tmp, index=False)
        tmp.replace(params_dir / draws_name)
    tmp = params_dir / f".{path.name}.tmp"
    tmp.write_text(HEADER + body, encoding="utf-8")
    tmp.replace(path)
    return path
