"""The one hand-off from calibration to scenario runs: `scenarios/params/`.

`innosd calibrate` writes, and `innosd run` reads, two files:

- `scenarios/params/<name>.yaml` — a Hydra config of group `params` (package `_global_`)::

      # @package _global_
      parameter_set:
        name: calibrated
        statistic: posterior median          # what the values in `params` are
        posterior_draws: calibrated_draws.csv  # thinned posterior sample, beside this file
        posterior_draws_sha256: 9f2c...      # of that file: a reader verifies the pair belongs together
        source:                              # which calibration run produced it
          run_dir: outputs/calibration/2026-11-22/10-00-00_default
          git_commit: 3d2c405...             # refused from a -dirty tree unless handoff.allow_dirty
          created: 2026-11-22T10:00:00+00:00
          seed: 0
          convergence: {converged: true, rhat_max: 1.004, ess_bulk_min: 812, ...}
          fixed: {rd depreciation rate: 0.15, ...}  # calibration.fixed: held at sourced values
      params:
        hte exit rate: 0.05                  # model constant names as in the .mdl
        ...

- `scenarios/params/<name>_draws.csv` — one row per posterior draw, column `draw` then
  one column per calibrated constant (names as in the .mdl).

The two files are one unit: `write_parameter_set` writes both under unique temporary names
while holding an exclusive lock (`.<name>.lock` beside them), so two concurrent hand-offs
into one folder are serialised and the last one leaves a matching pair; the YAML records the
draws file's sha256, so a reader that catches a hand-off between its two renames, or a
draws file replaced by hand, gets a one-line error instead of mixed results.

This module only reads and writes those files; it knows nothing of Hydra.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from innosd.scenarios import CONFIG_DIR

from innosd.errors import ConfigError, DataError, expect_mapping
from innosd.rundir import check_file_name
from innosd.safeyaml import load_yaml

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
    posterior_draws_sha256: str | None = None  # of the draws file, when the hand-off recorded it


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
    raw = expect_mapping(load_yaml(path, DataError), f"{path}: (top level)", DataError)
    meta = expect_mapping(raw.get("parameter_set"), f"{path}: parameter_set", DataError)
    if "params" not in raw:
        raise DataError(f"{path}: key 'params' is missing (the constants of the set; `params: {{}}` for none)")
    params = {str(k): _finite(v, f"{path}: params.{k}")
              for k, v in expect_mapping(raw.get("params"), f"{path}: params", DataError).items()}
    draws = meta.get("posterior_draws")
    if draws is not None:
        if not isinstance(draws, str):
            raise DataError(f"{path}: parameter_set.posterior_draws: expected a file name, got {draws!r}")
        check_file_name(draws, f"{path}: parameter_set.posterior_draws", "a file beside it", DataError)
    digest = meta.get("posterior_draws_sha256")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        raise DataError(f"{path}: parameter_set.posterior_draws_sha256: expected a sha256 hex digest, got {digest!r}")
    source = expect_mapping(meta.get("source"), f"{path}: parameter_set.source", DataError)
    return ParameterSet(name=str(meta.get("name", name)), params=params,
                        statistic=str(meta.get("statistic", "model file defaults")),
                        posterior_draws=draws, source=dict(source), posterior_draws_sha256=digest)


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
    check_file_name(parameter_set.posterior_draws, f"parameter set {parameter_set.name!r}: posterior_draws",
                    "a file beside it", DataError)
    path = Path(params_dir) / parameter_set.posterior_draws
    if not path.is_file():
        raise DataError(f"{path}: posterior draws file named by parameter set "
                        f"{parameter_set.name!r} does not exist")
    data = path.read_bytes()  # read once: the checksum and the table are of the same bytes
    if parameter_set.posterior_draws_sha256 and hashlib.sha256(data).hexdigest() != parameter_set.posterior_draws_sha256:
        raise DataError(f"{path}: does not match the sha256 its parameter set {parameter_set.name!r} recorded "
                        "(replaced since, or a hand-off was being written); re-run, or re-run the hand-off")
    draws = draws_table(data, path)
    # names as in the .mdl or with underscores for its spaces, on either side
    missing = sorted({str(k).replace("_", " ") for k in parameter_set.params}
                     - {str(c).replace("_", " ") for c in draws.columns})
    if missing:
        raise DataError(f"{path}: no column for {missing[0]!r} (and {len(missing) - 1} more) of parameter set "
                        f"{parameter_set.name!r}; every constant of the set needs its draws")
    if n is not None:
        return choose_draws(draws, n, seed, path)
    return draws.reset_index(drop=True).rename_axis("draw")


def draws_table(data: bytes, path: Path) -> pd.DataFrame:
    """A draws CSV checked column by column: rectangular, numeric, finite, at least one row."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: unreadable draws CSV: {err}") from None
    ragged = next((i for i, row in enumerate(rows[1:], start=2) if row and len(row) != len(rows[0])), None)
    if ragged is not None:  # pandas would quietly shift such a row into the index
        raise DataError(f"{path}: unreadable draws CSV: line {ragged} has {len(rows[ragged - 1])} fields, "
                        f"the header {len(rows[0])}")
    try:
        draws = pd.read_csv(io.BytesIO(data), encoding="utf-8", index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(f"{path}: unreadable draws CSV: {str(err).strip().splitlines()[0]}") from None
    if "draw" in draws.columns:
        draws = draws.set_index("draw")
    if draws.empty:
        raise DataError(f"{path}: no posterior draws")
    for column in draws.columns:
        values = pd.to_numeric(draws[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise DataError(f"{path}: column {column!r}, row {int(bad[0]) + 1}: {draws[column].iloc[bad[0]]!r} is "
                            "not a finite number")
        draws[column] = values
    return draws


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
    path = params_dir / f"{parameter_set.name}.yaml"
    with handoff_lock(params_dir, parameter_set.name), contextlib.ExitStack() as temporaries:
        if draws is not None:
            table = draws.reset_index(drop=True)
            table.insert(0, "draw", range(len(table)))
            data = table.to_csv(index=False).encode("utf-8")
            meta["posterior_draws_sha256"] = hashlib.sha256(data).hexdigest()
            draws_tmp = _temporary(params_dir, draws_name, data, temporaries)
        body = yaml.safe_dump({"parameter_set": meta,
                               "params": {k: float(v) for k, v in parameter_set.params.items()}},
                              sort_keys=False, allow_unicode=True)
        yaml_tmp = _temporary(params_dir, path.name, (HEADER + body).encode("utf-8"), temporaries)
        if draws is not None:  # draws first: a reader holding the old YAML sees a checksum mismatch
            os.replace(draws_tmp, params_dir / draws_name)
        os.replace(yaml_tmp, path)
    return path


@contextlib.contextmanager
def handoff_lock(params_dir: Path, name: str) -> Iterator[None]:
    """An exclusive lock on the hand-off `name` in `params_dir` (released when the process ends)."""
    with open(Path(params_dir) / f".{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _temporary(folder: Path, name: str, data: bytes, cleanup: contextlib.ExitStack) -> str:
    """`data` in a uniquely named hidden file beside `name` (removed by `cleanup` unless renamed)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    cleanup.callback(lambda: os.path.exists(tmp) and os.unlink(tmp))
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a hand-off is read by colleagues
    return tmp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
