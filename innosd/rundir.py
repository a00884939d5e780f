"""The run-folder contract: every folder innosd writes (run, sweep, experiment, calibration,
validation, report) is written through here.

A folder is written into a hidden temporary sibling and renamed into place only when
complete, so an interrupted or failed command never leaves a half-written folder; every
folder records its config, git commit, package versions and model hash.

Imports nothing of the project but `innosd.errors` (the bottom layer).
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

from innosd.errors import InnosdError

# the source checkout (for the git commit of a run); not a checkout when installed from a wheel
SOURCE_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("innosd", "numpy", "scipy", "pandas", "xarray", "pysd", "numba", "hydra-core", "matplotlib", "netCDF4",
            "SALib", "dask", "distributed")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(SOURCE_ROOT), "status", "--porcelain", "--untracked-files=no"],
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
