"""The run-folder contract: every folder innosd writes (run, sweep, experiment, calibration,
validation, report) is written, described and read back through here.

- File names: the constants below (`RESULTS_FILE`, `CONFIG_FILE`, ...); docs/outputs.md
  documents their content.
- Atomic write: `atomic_directory` writes into a hidden temporary sibling renamed into
  place only when complete, so an interrupted or failed command never leaves a
  half-written folder.
- Provenance and `metadata.json`: `write_metadata` writes one schema for every folder kind
  (`COMMON_FIELDS`, `KIND_FIELDS`, `SCHEMA_VERSION`): kind, command, git commit, package versions (a
  mapping), model file and hash, seed (an integer), plus documented kind-specific keys.
  `provenance` gives the same record as string attributes for netCDF files.
- Reading back: `read_folder(path)` -> `RunFolder` (kind, metadata, config, the files and
  loaders for them); the report and the what-if page read folders only through it.

Imports nothing of the project but `innosd.errors` (the bottom layer).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import hashlib
import importlib.metadata
import json
import operator
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr
import yaml

from innosd.errors import DataError, InnosdError, expect_mapping
from innosd.safeyaml import load_yaml, read_text

# the source checkout (for the git commit of a run); not a checkout when installed from a wheel
SOURCE_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("innosd", "numpy", "scipy", "pandas", "xarray", "pysd", "numba", "hydra-core", "matplotlib", "netCDF4",
            "SALib", "dask", "distributed")

# ----------------------------------------------------------------------------- file names (docs/outputs.md)

CONFIG_FILE = "config.yaml"            # every folder but a report: the resolved config
METADATA_FILE = "metadata.json"        # every folder: the metadata schema below
RESULTS_FILE = "results.nc"            # run: the point-estimate run (time,)
TARGETS_FILE = "targets.csv"           # run: plan targets met or not by that run
ENSEMBLE_FILE = "ensemble.nc"          # run with draws, projections/attainment: (scenario, draw, time)
PROJECTIONS_FILE = "projections.csv"   # quantiles over draws per scenario, indicator, year
ATTAINMENT_FILE = "attainment.csv"     # probability of each plan target per scenario
JOINT_ATTAINMENT_FILE = "joint_attainment.csv"  # probability of meeting all of a year's targets at once
COMPARISON_FILE = "comparison.csv"     # sweep: key indicators per run
WORLD_FILE = "world.csv"               # ensembles: the outside-world draw paired with each posterior draw
VARIANCE_SHARES_FILE = "variance_shares.csv"  # ensembles: band variance split into parameters / world
BACKTEST_FILE = "backtest.csv"         # backtest: scores per indicator
BACKTEST_POINTS_FILE = "backtest_points.csv"  # backtest: every scored observation
SOBOL_FILE = "sobol.csv"               # sensitivity
MORRIS_FILE = "morris.csv"             # sensitivity
SENSITIVITY_INPUTS_FILE = "inputs.csv"  # sensitivity: the sampled boxes
POLICY_CANDIDATES_FILE = "policy_candidates.csv"  # policy search
POLICY_BEST_FILE = "policy_best.yaml"  # policy search: the cheapest feasible setting
POLICY_SUMMARY_FILE = "policy_summary.json"  # policy search: feasible or best achievable, binding target
PRIM_BOXES_FILE = "prim_boxes.csv"     # scenario discovery: PRIM boxes (coverage, density, limits)
ROBUSTNESS_FILE = "robustness.csv"     # scenario discovery: satisficing share and regret per scenario
RESPONSE_FILE = "response.csv"         # response curves: outcome quantiles per lever and change
POSTERIOR_FILE = "posterior.nc"        # calibration: ArviZ InferenceData
FIT_FILE = "fit.csv"                   # calibration: observed vs posterior
PARAMETERS_FILE = "parameters.csv"     # calibration: prior, posterior, identifiability
CORRELATIONS_FILE = "correlations.csv"  # calibration: posterior correlation matrix
PROFILES_FILE = "profiles.csv"         # calibration: profile likelihoods
SUMMARY_FILE = "summary.md"            # calibration: plain-language summary
VALIDATION_CSV_FILE = "validation.csv"  # validation: one row per test
VALIDATION_MD_FILE = "validation.md"   # validation: the same as a Markdown table
REPORT_HTML_FILE = "report.html"       # report
REPORT_PDF_FILE = "report.pdf"         # report
FIGURES_DIR = "figures"                # figures of a folder (calibration, report)
REPORT_DIR = "report"                  # the report sub-folder of a run/sweep/experiment
VALIDATION_DIR = "validation"          # the validation sub-folder of a sweep
LOOPS_DIR = "loops"                    # the loop-dominance sub-folder of the main job's sweep
LOOPS_FILE = "loops.csv"               # loops: the reported loops (every loop with --all-loops)
LOOP_FAMILIES_FILE = "loop_families.csv"  # loops: loops grouped by the sectors they cross and polarity
FAMILY_SHARES_FILE = "family_shares.csv"  # loops: each family's share in driving a key variable, per year
FAMILY_DRAWS_FILE = "family_draws.csv"    # loops: the dominant family per variable and year in posterior draws
# A folder holding any of these was written by innosd (the others come with one of them).
KNOWN_FILES = (METADATA_FILE, RESULTS_FILE, PROJECTIONS_FILE, ATTAINMENT_FILE, SOBOL_FILE, MORRIS_FILE,
               POLICY_CANDIDATES_FILE, FIT_FILE, PARAMETERS_FILE, VALIDATION_MD_FILE, VALIDATION_CSV_FILE,
               TARGETS_FILE, COMPARISON_FILE, BACKTEST_FILE)

# ----------------------------------------------------------------------------- the metadata schema

# Version 1: the first common schema (before it, run folders stored package_versions as a
# JSON string and seed as a string; such folders are read with their kind inferred).
SCHEMA_VERSION = 1
KINDS = ("run", "sweep", "experiment", "calibration", "validation", "report", "backtest", "loops")


@dataclass(frozen=True)
class MetadataField:
    """One key of metadata.json: its JSON types, whether every folder has it, what it means."""

    types: tuple[type, ...]
    required: bool
    meaning: str


_NONE = type(None)
# Every folder has these.
COMMON_FIELDS: dict[str, MetadataField] = {
    "schema_version": MetadataField((int,), True, f"version of this schema ({SCHEMA_VERSION})"),
    "kind": MetadataField((str,), True, "one of " + ", ".join(KINDS)),
    "created": MetadataField((str,), True, "when the folder was written, ISO 8601 UTC"),
    "command": MetadataField((str,), True, "the command line that wrote it"),
    "git_commit": MetadataField((str,), True, "innosd's commit (-dirty if modified), or why unknown"),
    "package_versions": MetadataField((dict,), True, "package name -> version (python, innosd, numpy, ...)"),
    "model_file": MetadataField((str, _NONE), True, "file name of the model used (null: none)"),
    "model_sha256": MetadataField((str, _NONE), True, "sha256 of that model file (null: none)"),
    "seed": MetadataField((int, _NONE), True, "seed of every random choice (null: nothing random)"),
}
# The documented keys of each kind, type-checked when present; a kind may record more.
KIND_FIELDS: dict[str, dict[str, MetadataField]] = {
    "run": {
        "scenario": MetadataField((str,), True, "the scenario's name"),
        "backend": MetadataField((str,), False, "the simulation backend"),
        "parameter_set": MetadataField((dict,), True, "name, statistic, source of the parameters"),
        "uncertainty": MetadataField((dict,), True, "mode (none/posterior) and draws"),
    },
    "sweep": {},
    "experiment": {
        "experiment": MetadataField((str,), True, "its name (projections, attainment, sensitivity, policy_search)"),
        "parameter_set": MetadataField((dict,), True, "name, statistic, posterior_draws, source"),
        "scheduler": MetadataField((str, _NONE), False, "the Dask scheduler used"),
        "scenarios": MetadataField((list,), False, "projections, attainment: the scenarios"),
        "draws": MetadataField((int,), False, "projections, attainment: posterior draws per scenario"),
        "uncertainty_mode": MetadataField((str,), False, "projections, attainment: none or posterior"),
        "runs": MetadataField((int,), False, "sensitivity, policy_search: model runs evaluated"),
    },
    "calibration": {
        "calibration": MetadataField((str,), False, "the calibration's name"),
    },
    "validation": {},
    "loops": {
        "variables": MetadataField((list,), True, "the key variables analysed"),
        "method": MetadataField((str,), True, "how loops were found: exhaustive or strongest path"),
        "loops_found": MetadataField((int,), False, "feedback loops found"),
        "families": MetadataField((int,), False, "loop families (sectors crossed x polarity)"),
        "draws": MetadataField((int,), False, "posterior draws the family analysis was repeated on"),
        "parameter_set": MetadataField((str,), False, "the parameter set of the run analysed"),
        "scenario": MetadataField((str,), False, "the scenario of the run analysed (its levers)"),
    },
    "backtest": {
        "until": MetadataField((int,), True, "last observation year the calibration saw"),
        "draws": MetadataField((int,), True, "posterior draws projected"),
        "world": MetadataField((dict,), True, "the outside world: name, mode (sample/central)"),
    },
    "report": {
        "inputs": MetadataField((list,), True, "the folders it was built from"),
        "language": MetadataField((str,), True, "en or zh"),
        "table_sources": MetadataField((dict,), False, "table -> the folders it came from"),
        "figures": MetadataField((list,), False, "the figure files"),
        "pdf": MetadataField((str,), False, "how report.pdf was made"),
    },
}


def _type_names(types: tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", dict: "a mapping", list: "a list", _NONE: "null"}
    return " or ".join(names[t] for t in types)


def _json_type(value: Any) -> type:
    if isinstance(value, bool):  # JSON true/false are not integers
        return bool
    return type(value)


def _check_fields(payload: Mapping[str, Any], fields: Mapping[str, MetadataField], source: str,
                  what: str) -> None:
    for key, spec in fields.items():
        if key not in payload:
            if spec.required:
                raise DataError(f"{source}: key {key!r} is missing ({what}: {spec.meaning}); "
                                f"schema version {SCHEMA_VERSION}, docs/outputs.md")
        elif _json_type(payload[key]) not in spec.types:
            raise DataError(f"{source}: key {key!r} is {payload[key]!r}, expected {_type_names(spec.types)} "
                            f"({what}: {spec.meaning})")


def validate_metadata(payload: Mapping[str, Any], source: str = METADATA_FILE) -> None:
    """Check `payload` against the one metadata schema; one-line DataError naming the key."""
    if not isinstance(payload, Mapping):
        raise DataError(f"{source}: expected a mapping at the top level, got {type(payload).__name__}")
    _check_fields(payload, COMMON_FIELDS, source, "every folder")
    if payload["schema_version"] != SCHEMA_VERSION:
        raise DataError(f"{source}: schema_version {payload['schema_version']} is not {SCHEMA_VERSION}, the "
                        "version this innosd reads")
    if payload["kind"] not in KINDS:
        raise DataError(f"{source}: kind {payload['kind']!r} is not one of {', '.join(KINDS)}")
    bad = next((k for k, v in payload["package_versions"].items() if not isinstance(v, str)), None)
    if bad is not None:
        raise DataError(f"{source}: package_versions[{bad!r}] is not a version string")
    _check_fields(payload, KIND_FIELDS[payload["kind"]], source, f"a {payload['kind']} folder")


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


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def provenance(config: dict, model_file: Path) -> dict[str, str]:
    """The provenance as netCDF attributes (strings only): config, git commit, versions
    (a JSON string here; a mapping in metadata.json), model hash, time."""
    return {
        "config": json.dumps(config, ensure_ascii=False, sort_keys=True),
        "git_commit": git_commit(),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "model_file": model_file.name,
        "model_sha256": file_sha256(model_file),
        "created": now_utc(),
    }


# ----------------------------------------------------------------------------- names that become paths

# The one rule for a name that becomes a file or folder name (a calibration, a hand-off, a
# draws file, a saved what-if): letters (any script), digits, '_', '-', '.', '+', '=' and ',';
# no separator, no leading '.' (hidden, or '..'), at most 120 characters.
FILE_NAME_PATTERN = re.compile(r"[^\W][\w.+=,-]{0,119}")


def check_file_name(value: Any, key: str, names: str, error: type[InnosdError] = InnosdError) -> str:
    """`value` if it is a safe single path component, else one line naming `key` and the rule."""
    name = str(value)
    if not FILE_NAME_PATTERN.fullmatch(name):
        raise error(f"{key}: {name!r} must be letters, digits, '_', '-', '.', '+', '=' or ',' in one file name "
                    f"(no '/', not starting with '.', at most 120 characters); it names {names}")
    return name


class OutputExistsError(InnosdError, FileExistsError):
    """The run folder to write already exists (and the caller asked not to pick another name)."""


class OutputWriteError(InnosdError, OSError):
    """A folder could not be written (disk full, no permission, not a directory, ...)."""


class StagingPath(type(Path())):
    """The hidden folder `atomic_directory` yields; after the block, `.final` is where it went
    (with `unique=True` perhaps `NAME-2`, ...: another run took the name in the same second)."""

    final: Path


PARTIAL_SUFFIX = ".partial"
# .NAME.<pid>.<random>.partial: the pid tells a folder of a live writer from a dead one's
_PARTIAL_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+" + re.escape(PARTIAL_SUFFIX) + "$")
LEGACY_PARTIAL_AGE_S = 24 * 3600  # a .partial folder without a pid (older innosd) is stale after a day


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale_partials(parent: Path) -> list[Path]:
    """Remove the hidden `.partial` folders in `parent` that a killed writer left (its pid is
    gone; without a pid, older than a day). Returns what was removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(parent).iterdir():
            if not (entry.name.startswith(".") and entry.name.endswith(PARTIAL_SUFFIX) and entry.is_dir()):
                continue
            match = _PARTIAL_NAME.match(entry.name)
            if match:
                stale = not _alive(int(match["pid"]))
            else:
                with contextlib.suppress(OSError):
                    stale = dt.datetime.now().timestamp() - entry.stat().st_mtime > LEGACY_PARTIAL_AGE_S
            if stale:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


def check_writable(folder: Path, what: str = "output folder") -> None:
    """Before any work: `folder` (created if needed) takes files, else one line naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".innosd-write-check."):
            pass
    except OSError as err:
        raise OutputWriteError(f"{what} {folder} cannot be written: {err.strerror or err}; "
                               "choose another (e.g. run.output_dir=DIR)") from None


def _commit(tmp: Path, final: Path, unique: bool) -> Path:
    """Rename `tmp` to `final` (or, with `unique`, the first free `final-2`, `final-3`, ...).

    rename(2) replaces an empty folder (the one Hydra makes before a job) and fails on a
    non-empty one, so two writers of one name in the same second never overwrite each other."""
    for n in range(1, 1000):
        target = final if n == 1 else final.with_name(f"{final.name}-{n}")
        try:
            os.rename(tmp, target)
            return target
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise
            if not unique:
                raise OutputExistsError(f"output folder already exists: {final}; nothing was overwritten "
                                        "(choose another output folder)") from None
    raise OutputExistsError(f"output folders {final}-2 ... {final}-999 all exist; choose another output_dir")


@contextlib.contextmanager
def atomic_directory(final: Path, unique: bool = False) -> Iterator[StagingPath]:
    """Yield a temporary directory that becomes `final` only if the block succeeds.

    `unique`: if `final` is taken when the block ends (two runs named by the same second),
    the folder becomes `final-2` (`-3`, ...) instead of failing; `.final` on the yielded
    path says where it went. Without it a taken `final` is an error before any work.
    A write that fails for the disk's or the system's reasons (full, read-only, no
    permission) is one line naming the folder; stale `.partial` folders of killed writers
    beside it are removed first."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputWriteError(f"cannot create {final.parent}: {err.strerror or err}") from None
    if not unique and final.exists():
        raise OutputExistsError(f"output folder already exists: {final}; nothing was overwritten "
                                "(choose another output folder)")
    clean_stale_partials(final.parent)
    try:
        tmp = StagingPath(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=PARTIAL_SUFFIX,
                                           dir=final.parent))
    except OSError as err:
        raise OutputWriteError(f"cannot write into {final.parent}: {err.strerror or err}") from None
    tmp.final = final
    try:
        yield tmp
        # mkdtemp makes the folder private (0700); the finished folder gets the permissions
        # any folder the user creates would get, so colleagues can read shared outputs
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        tmp.final = _commit(tmp, final, unique)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        # netCDF4 reports a full disk as RuntimeError("NetCDF: HDF error"), not as an OSError
        disk = isinstance(err, RuntimeError) and str(err).startswith("NetCDF:")
        if (isinstance(err, OSError) or disk) and not isinstance(err, InnosdError):
            err = err if isinstance(err, OSError) else OSError(str(err))
            raise OutputWriteError(f"cannot write {final}: {err.strerror or err}"
                                   + (f" ({err.filename})" if err.filename else "")
                                   + "; nothing of it was kept") from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file through a temporary file in its folder: readers see the old or the new file, never half."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide a shared scenario from colleagues
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_config(folder: Path, config: Mapping[str, Any]) -> None:
    """config.yaml: the folder's resolved config, in its own key order, readable Chinese."""
    (Path(folder) / CONFIG_FILE).write_text(yaml.safe_dump(dict(config), allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")


def default_command() -> str:
    """The command line of this process, e.g. `innosd run scenario=baseline`."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "(python)"


def write_metadata(folder: Path, kind: str, *, seed: int | None, command: str | None = None,
                   model_file: Path | None = None, config: Mapping[str, Any] | None = None,
                   recorded: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None) -> dict:
    """Write `folder/metadata.json` in the one schema (and `config.yaml` if `config` is given).

    `recorded`: provenance already written into the folder's data (`provenance()` attributes
    of its netCDF files); its git_commit, created, model_file and model_sha256 are reused so
    the files of one folder agree. `extra`: the kind's own keys (KIND_FIELDS lists the
    documented ones); they may not replace a common key. Returns the payload written.
    """
    if kind not in KINDS:
        raise ValueError(f"metadata kind {kind!r} is not one of {KINDS}")
    recorded = dict(recorded or {})
    if model_file is not None:
        model_name, model_hash = Path(model_file).name, file_sha256(Path(model_file))
    else:
        model_name, model_hash = recorded.get("model_file"), recorded.get("model_sha256")
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "kind": kind,
        "created": recorded.get("created") or now_utc(),
        "command": command if command is not None else default_command(),
        "git_commit": recorded.get("git_commit") or git_commit(),
        "package_versions": package_versions(),
        "model_file": model_name, "model_sha256": model_hash,
        "seed": None if seed is None else operator.index(seed),  # numpy integers too; never a string
    }
    clash = sorted(set(extra or {}) & set(payload))
    if clash:
        raise ValueError(f"metadata extra keys {clash} would replace common keys")
    payload.update(extra or {})
    validate_metadata(payload, str(Path(folder) / METADATA_FILE))
    if config is not None:
        write_config(folder, config)
    write_json(Path(folder) / METADATA_FILE, payload)
    return payload


# ----------------------------------------------------------------------------- reading a folder back

# what a run folder's config.yaml and metadata.json must be (docs/outputs.md)
TOP_LEVEL = "a mapping at the top level"


def read_yaml_mapping(path: Path) -> dict:
    """A YAML file whose top level is a mapping ({} if absent); one-line DataError otherwise."""
    if not path.is_file():
        return {}
    return expect_mapping(load_yaml(path, DataError), str(path), DataError, TOP_LEVEL)


def read_json_mapping(path: Path) -> dict:
    """A JSON file whose top level is a mapping ({} if absent); one-line DataError otherwise."""
    try:
        if not path.is_file():
            return {}
        return expect_mapping(json.loads(read_text(path, DataError)), str(path), DataError, TOP_LEVEL)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: malformed JSON: {err.msg} at line {err.lineno}") from None


def is_output_folder(path: Path) -> bool:
    return any((Path(path) / name).is_file() for name in KNOWN_FILES)


def _natural_key(path: Path) -> list:
    """'10_x' after '2_x': sweep sub-folders are numbered."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def infer_kind(files: set[str], metadata: Mapping[str, Any]) -> str | None:
    """The kind of a folder written before schema version 1, from the files it holds."""
    if VALIDATION_MD_FILE in files or VALIDATION_CSV_FILE in files:
        return "validation"
    if POSTERIOR_FILE in files or PARAMETERS_FILE in files or FIT_FILE in files:
        return "calibration"
    if metadata.get("experiment"):
        return "experiment"
    if RESULTS_FILE in files:
        return "run"
    if COMPARISON_FILE in files or metadata.get("kind") == "sweep":
        return "sweep"
    return None


@dataclass(frozen=True)
class RunFolder:
    """A saved folder as innosd wrote it: its kind, metadata.json, config.yaml and files.

    `kind` is one of KINDS, or None for a folder older than the schema whose files do not
    say. Loaders give one-line DataErrors for unreadable files.
    """

    path: Path
    kind: str | None
    metadata: dict
    config: dict

    @functools.cached_property
    def files(self) -> frozenset[str]:
        """Names of the files (not folders) in it, listed once."""
        return frozenset(p.name for p in self.path.iterdir() if p.is_file())

    def has(self, name: str) -> bool:
        return name in self.files

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def scenario(self) -> str | None:
        """The scenario a run folder ran (metadata, else its config)."""
        scenario = self.metadata.get("scenario")
        if not scenario and isinstance(self.config.get("scenario"), dict):
            scenario = self.config["scenario"].get("name")
        return str(scenario) if scenario else None

    def table(self, name: str, **read_csv) -> pd.DataFrame:
        """A CSV file of the folder as a DataFrame."""
        path = self.file(name)
        try:
            return pd.read_csv(path, **read_csv)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: unreadable CSV: {str(err).splitlines()[0]}") from None

    def text(self, name: str) -> str:
        return read_text(self.file(name), DataError)

    def dataset(self, name: str = RESULTS_FILE) -> xr.Dataset:
        """A netCDF file of the folder, loaded into memory (the file is closed again)."""
        path = self.file(name)
        try:
            return xr.load_dataset(path)
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: unreadable netCDF results: {str(err).splitlines()[0] if str(err) else err}") \
                from None

    def subfolders(self) -> list[RunFolder]:
        """The output folders inside it (a sweep's runs, its validation), in numbered order;
        hidden (partial) folders and the report are not outputs to read."""
        children = sorted((p for p in self.path.iterdir() if p.is_dir() and not p.name.startswith(".")
                           and p.name != REPORT_DIR and is_output_folder(p)), key=_natural_key)
        return [read_folder(p) for p in children]


def read_folder(path: Path) -> RunFolder:
    """Read a saved folder's metadata.json and config.yaml (checked against the schema when
    the folder declares a schema version; older folders are read as they are)."""
    path = Path(path)
    metadata = read_json_mapping(path / METADATA_FILE)
    config = read_yaml_mapping(path / CONFIG_FILE)
    if "schema_version" in metadata:
        validate_metadata(metadata, str(path / METADATA_FILE))
        kind = metadata["kind"]
    else:
        kind = infer_kind({p.name for p in path.iterdir() if p.is_file()}, metadata)
    return RunFolder(path, kind, metadata, config)
