"""The report's inputs: the saved folders given (and a sweep's run folders), read through
`innosd.rundir` only, and the tables the sections draw, concatenated across folders.

A deterministic run (results.nc + targets.csv, no ensemble) is turned into projection and
attainment rows (the value as median, probability 1 or 0), so a plain `innosd run` gets
the same sections as an ensemble; ensembles take precedence for a scenario both cover.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from innosd.figures.plots import FIRST_YEAR, HIGHLIGHT_YEARS, LAST_YEAR, year_end_series
from innosd.model.indicators import KEY_INDICATORS

from innosd import rundir
from innosd.errors import ConfigError, DataError
from innosd.rundir import RunFolder

# (table, the columns that identify a row): a scenario shown from two folders is shown once
PROJECTION_KEYS = ["scenario", "indicator", "year"]
ATTAINMENT_KEYS = ["scenario", "indicator", "year", "target"]
# tables read as they are from every folder that has them
PLAIN_TABLES = {"projections": rundir.PROJECTIONS_FILE, "attainment": rundir.ATTAINMENT_FILE,
                "sobol": rundir.SOBOL_FILE, "morris": rundir.MORRIS_FILE, "parameters": rundir.PARAMETERS_FILE,
                "validation": rundir.VALIDATION_CSV_FILE, "candidates": rundir.POLICY_CANDIDATES_FILE,
                "joint": rundir.JOINT_ATTAINMENT_FILE, "robustness": rundir.ROBUSTNESS_FILE,
                "prim_boxes": rundir.PRIM_BOXES_FILE, "response": rundir.RESPONSE_FILE,
                "variance_shares": rundir.VARIANCE_SHARES_FILE, "backtest": rundir.BACKTEST_FILE,
                "backtest_points": rundir.BACKTEST_POINTS_FILE}
# a sweep's table repeats its runs' tables: shown once per row identity
VARIANCE_SHARES_KEYS = ["scenario", "indicator", "year"]


@dataclass(frozen=True)
class LeftOut:
    """Rows of a table not shown because their scenario came first from another folder."""

    rows: int
    sources: list[Path]


@dataclass
class Inputs:
    """Everything the report draws, gathered from the folders (tables concatenated)."""

    folders: list[RunFolder]
    projections: pd.DataFrame | None = None
    attainment: pd.DataFrame | None = None
    sobol: pd.DataFrame | None = None
    morris: pd.DataFrame | None = None
    candidates: pd.DataFrame | None = None
    policy_best: str | None = None
    policy_summary: dict | None = None
    joint: pd.DataFrame | None = None          # all of a plan-year's targets at once, per scenario
    robustness: pd.DataFrame | None = None
    prim_boxes: pd.DataFrame | None = None
    response: pd.DataFrame | None = None          # response curves (response.csv)
    fit: pd.DataFrame | None = None
    parameters: pd.DataFrame | None = None
    correlations: pd.DataFrame | None = None
    posterior_nc: Path | None = None
    calibration_summary: str | None = None
    validation_md: str | None = None
    validation: pd.DataFrame | None = None
    variance_shares: pd.DataFrame | None = None   # parameters vs outside world (variance_shares.csv)
    world: pd.DataFrame | None = None             # the outside-world draws of the first folder with them
    world_config: dict | None = None              # that folder's `world` config (the uncertainties)
    backtest: pd.DataFrame | None = None
    backtest_points: pd.DataFrame | None = None
    backtest_folder: RunFolder | None = None
    loops_folder: RunFolder | None = None         # loop dominance (`innosd loops`, the main job's loops/)
    sources: dict[str, list[Path]] = field(default_factory=dict)  # table -> folders it came from
    left_out: dict[str, LeftOut] = field(default_factory=dict)    # table -> rows not shown and why


def discover(run_dirs: list[Path]) -> list[RunFolder]:
    """The given folders and, for a sweep, its run sub-folders; one-line error if none is one."""
    found: list[RunFolder] = []
    seen: set[Path] = set()
    for given in map(Path, run_dirs):
        if not given.is_dir():
            raise ConfigError(f"{given}: no such run folder; give folders written by innosd run/calibrate/validate "
                              "(e.g. outputs/multirun/DATE/TIME)")
        folder = rundir.read_folder(given)
        children = folder.subfolders()
        if not rundir.is_output_folder(given) and not children:
            raise DataError(f"{given}: not an innosd output folder (none of {', '.join(rundir.KNOWN_FILES)} "
                            "in it or in its sub-folders)")
        for candidate in ([folder] if rundir.is_output_folder(given) else []) + children:
            if candidate.path.resolve() not in seen:
                seen.add(candidate.path.resolve())
                found.append(candidate)
    return found


def default_language(folders: list[RunFolder]) -> str:
    """`figures.language` from the first run's config, if the run recorded one; else English."""
    for f in folders:
        figures = f.config.get("figures")
        value = figures.get("language") if isinstance(figures, dict) else None
        if value:
            return str(value)
    return "en"


def deterministic_projections(folder: RunFolder, observations: pd.DataFrame) -> pd.DataFrame | None:
    """Projections of a single deterministic run (results.nc): the value as median, no band."""
    if not folder.has(rundir.RESULTS_FILE):
        return None
    units = observations.drop_duplicates("indicator").set_index("indicator")["unit"]
    rows = []
    with folder.dataset(rundir.RESULTS_FILE) as ds:
        if "draw" in ds.dims:
            return None  # an ensemble writes projections.csv alongside; never summarise twice
        scenario = folder.scenario or ds.attrs.get("scenario", folder.path.name)
        for ind in KEY_INDICATORS:
            if ind.model_variable not in ds:
                continue
            series = year_end_series(ds, ind.model_variable)
            series = series[(series.index >= FIRST_YEAR) & (series.index <= LAST_YEAR)]
            for year, value in series.items():
                rows.append({"scenario": scenario, "indicator": ind.id, "model_variable": ind.model_variable,
                             "unit": units.get(ind.id, ind.unit), "year": int(year), "median": float(value),
                             "p05": float(value), "p25": float(value), "p75": float(value), "p95": float(value),
                             "key_year": int(year) in HIGHLIGHT_YEARS})
    return pd.DataFrame(rows) if rows else None


def deterministic_attainment(folder: RunFolder) -> pd.DataFrame | None:
    """targets.csv of a deterministic run as attainment rows (probability 1 = met, 0 = not met)."""
    if not folder.has(rundir.TARGETS_FILE):
        return None
    table = folder.table(rundir.TARGETS_FILE)
    if not {"met", "indicator", "year", "target"} <= set(table.columns):
        raise DataError(f"{folder.file(rundir.TARGETS_FILE)}: expected columns indicator, year, target, met "
                        "(see docs/outputs.md)")
    table = table[table["met"].astype(str).isin(("True", "False"))]
    if table.empty:
        return None
    return pd.DataFrame({
        "scenario": folder.scenario or folder.path.name, "indicator": table["indicator"],
        "model_variable": table.get("model_variable"), "year": table["year"].astype(int), "target": table["target"],
        "direction": table.get("direction"), "unit": table.get("unit"),
        "probability": (table["met"].astype(str) == "True").astype(float), "median": table.get("projected"),
        "p05": table.get("projected"), "p95": table.get("projected"), "plan": table.get("plan"),
        "source": table.get("source")})


def _concat(frames: list[pd.DataFrame], keys: list[str] | None = None) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    return table.drop_duplicates(keys, keep="first").reset_index(drop=True) if keys else table


def collect(folders: list[RunFolder], observations: pd.DataFrame) -> Inputs:
    """Read every table the report can use; ensembles take precedence over deterministic runs."""
    inputs = Inputs(folders)
    tables: dict[str, list[pd.DataFrame]] = {}

    def add(name: str, frame: pd.DataFrame | None, folder: RunFolder) -> None:
        if frame is not None and len(frame):
            tables.setdefault(name, []).append(frame)
            inputs.sources.setdefault(name, []).append(folder.path)

    for folder in folders:
        for name, file in PLAIN_TABLES.items():
            if folder.has(file):
                add(name, folder.table(file), folder)
        if folder.has(rundir.FIT_FILE) and folder.kind == "calibration":  # a validation's fit tables differ
            add("fit", folder.table(rundir.FIT_FILE), folder)
        if folder.has(rundir.CORRELATIONS_FILE) and inputs.correlations is None:
            inputs.correlations = folder.table(rundir.CORRELATIONS_FILE, index_col=0)
        if folder.has(rundir.POSTERIOR_FILE) and inputs.posterior_nc is None:
            inputs.posterior_nc = folder.file(rundir.POSTERIOR_FILE)
        if folder.has(rundir.SUMMARY_FILE) and inputs.calibration_summary is None:
            inputs.calibration_summary = folder.text(rundir.SUMMARY_FILE)
        if folder.has(rundir.VALIDATION_MD_FILE) and inputs.validation_md is None:
            inputs.validation_md = folder.text(rundir.VALIDATION_MD_FILE)
        if folder.has(rundir.POLICY_BEST_FILE) and inputs.policy_best is None:
            inputs.policy_best = folder.text(rundir.POLICY_BEST_FILE)
        if folder.has(rundir.POLICY_SUMMARY_FILE) and inputs.policy_summary is None:
            inputs.policy_summary = json.loads(folder.text(rundir.POLICY_SUMMARY_FILE))
        if folder.has(rundir.WORLD_FILE) and inputs.world is None and folder.kind != "backtest":
            inputs.world = folder.table(rundir.WORLD_FILE)
        # a sweep's config.yaml records only its jobs: the uncertainties come from a run's config
        # (every run of a sweep has the same world)
        world = folder.config.get("world")
        if isinstance(world, dict) and inputs.world_config is None and folder.kind != "backtest":
            inputs.world_config = world
        if folder.has(rundir.BACKTEST_FILE) and inputs.backtest_folder is None:
            inputs.backtest_folder = folder
        if folder.kind == "loops" and folder.has(rundir.FAMILY_SHARES_FILE) and inputs.loops_folder is None:
            inputs.loops_folder = folder
    # deterministic runs fill in scenarios that no ensemble covers
    for folder in folders:
        if not folder.has(rundir.PROJECTIONS_FILE):
            add("projections", deterministic_projections(folder, observations), folder)
        if not folder.has(rundir.ATTAINMENT_FILE):
            add("attainment", deterministic_attainment(folder), folder)
    for name, keys in (("projections", PROJECTION_KEYS), ("attainment", ATTAINMENT_KEYS)):
        kept, every = _concat(tables.get(name, []), keys), _concat(tables.get(name, []))
        setattr(inputs, name, kept)
        if kept is not None and len(every) > len(kept):
            inputs.left_out[name] = LeftOut(len(every) - len(kept), inputs.sources[name])
    inputs.sobol = _concat(tables.get("sobol", []))
    inputs.morris = _concat(tables.get("morris", []))
    inputs.candidates = _concat(tables.get("candidates", []))
    inputs.joint = _concat(tables.get("joint", []), ["scenario", "year"])
    inputs.robustness = _concat(tables.get("robustness", []), ["scenario", "year"])
    inputs.prim_boxes = _concat(tables.get("prim_boxes", []))
    inputs.response = _concat(tables.get("response", []), ["lever", "change", "output"])
    inputs.fit = _concat(tables.get("fit", []))
    inputs.parameters = _concat(tables.get("parameters", []), ["parameter"])
    inputs.validation = _concat(tables.get("validation", []))
    inputs.variance_shares = _concat(tables.get("variance_shares", []), VARIANCE_SHARES_KEYS)
    inputs.backtest = _concat(tables.get("backtest", [])[:1])  # one backtest: the first folder given
    inputs.backtest_points = _concat(tables.get("backtest_points", [])[:1])
    return inputs
