"""Run-folder I/O: results with units and provenance, target attainment, atomic writes.

A run folder is written into a hidden temporary sibling and renamed into place only when
complete, so an interrupted or failed run never leaves a half-written folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from model.errors import InnosdError

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("innosd", "numpy", "scipy", "pandas", "xarray", "pysd", "numba", "hydra-core", "matplotlib", "netCDF4",
            "SALib", "dask", "distributed")
CONTROL_VARIABLES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
# Year-end of year Y is the model state at t = Y + 1 (model brief section 1); saved times
# are exact binary fractions, so this tolerance only guards float formatting.
TIME_MATCH_TOLERANCE = 1e-9


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def provenance(config: dict, model_file: Path) -> dict[str, str]:
    """Attributes every output carries: config, git commit, versions, model hash, time."""
    return {
        "config": json.dumps(config, ensure_ascii=False, sort_keys=True),
        "git_commit": git_commit(),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "model_file": model_file.name,
        "model_sha256": file_sha256(model_file),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def to_dataset(frame: pd.DataFrame, units: dict[str, str], comments: dict[str, str],
               constants: set[str], attrs: dict[str, str]) -> xr.Dataset:
    """Every time-varying variable as a data variable over `time`, units as attributes."""
    keep = [c for c in frame.columns if c not in constants and c not in CONTROL_VARIABLES]
    data = {
        name: xr.Variable("time", frame[name].to_numpy(dtype=float),
                          attrs={"units": units.get(name, ""), "long_name": name,
                                 "description": comments.get(name, "")})
        for name in keep
    }
    ds = xr.Dataset(data, coords={"time": ("time", frame.index.to_numpy(dtype=float), {"units": "Year"})})
    ds.attrs.update(attrs)
    return ds


def value_at_year_end(ds: xr.Dataset, variable: str, year: int) -> float:
    """The model's year-end value of `year` (its state at t = year + 1), NaN if not saved."""
    times = ds["time"].to_numpy()
    hit = np.flatnonzero(np.abs(times - (year + 1)) < TIME_MATCH_TOLERANCE)
    return float(ds[variable].to_numpy()[hit[0]]) if hit.size and variable in ds else float("nan")


def target_attainment(ds: xr.Dataset, targets: pd.DataFrame) -> pd.DataFrame:
    """Every plan target with the projected value in its year and whether it is met."""
    rows = []
    for t in targets.itertuples(index=False):
        variable = t.model_variable if isinstance(t.model_variable, str) else ""
        modelled = bool(variable) and t.region == "Guangzhou" and variable in ds
        projected = value_at_year_end(ds, variable, int(t.year)) if modelled else float("nan")
        if not modelled:
            met = "not modelled"
        elif np.isnan(projected):
            met = "outside run"
        else:
            met = str(projected >= t.value if t.direction == "at_least" else projected <= t.value)
        rows.append({"indicator": t.indicator, "year": int(t.year), "region": t.region, "target": t.value,
                     "direction": t.direction, "unit": t.unit, "model_variable": variable,
                     "projected": projected, "met": met, "plan": t.plan, "source": t.source})
    return pd.DataFrame(rows)


class OutputExistsError(InnosdError, FileExistsError):
    """The run folder to write already exists (e.g. two runs of one scenario in the same second)."""


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise OutputExistsError(f"output folder already exists: {final}; nothing was overwritten "
                                "(runs named by the second: wait a second or choose another output_dir)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
        # mkdtemp makes the folder private (0700); the finished folder gets the permissions
        # any folder the user creates would get, so colleagues can read shared outputs
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
