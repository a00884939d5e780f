"""Observations and plan targets: load and validate the two shipped data files.

`observations.csv` holds every 2010-2016 figure from the source documents that the model
can be compared with; `targets.csv` every quantitative plan target (benchmarks for
scenarios, never calibration data). See `calibration/data/README.md` for conventions.

Both loaders are pure: they read one CSV, check it, and return a DataFrame. Any defect
raises `innosd.errors.DataError` with one line naming the file, the 1-based line in the CSV
and the column, so a researcher editing the file by hand sees exactly what to fix.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.model.results import year_end_time

from innosd.errors import DataError, closest

DATA_DIR = Path(__file__).parent / "data"
OBSERVATIONS_PATH = DATA_DIR / "observations.csv"
TARGETS_PATH = DATA_DIR / "targets.csv"

OBSERVATION_COLUMNS = (
    "indicator", "year", "value", "unit", "kind", "model_variable", "region", "source", "quote", "note",
)
TARGET_COLUMNS = (
    "indicator", "year", "value", "unit", "kind", "model_variable", "region", "direction", "plan",
    "source", "quote", "note",
)

KINDS = frozenset({"stock", "flow", "ratio"})
"""stock: year-end level; flow: total over the year; ratio: compared at year end."""

DIRECTIONS = frozenset({"at_least", "at_most"})

# What kind of target a row is; every table and figure that shows a target shows this too.
OFFICIAL, DERIVED, BENCHMARK = "official", "derived", "benchmark (user)"
BENCHMARK_PLAN = "benchmark (user)"  # the `plan` of a target a user states in config, never a plan's
# The model starts in 2010; 2010-2012 are its spin-up (cohorts, ages, pending patents settle), so a
# target dated before the first calibration year is not scored (calibration window 2013-2016).
FIRST_SCORED_YEAR = 2013


def target_status(plan: str, note: str) -> str:
    """official (a plan's own number), derived (our arithmetic: the note says `derived:`) or benchmark (user)."""
    if str(plan) == BENCHMARK_PLAN:
        return BENCHMARK
    return DERIVED if "derived:" in str(note) else OFFICIAL

UNITS: dict[str, tuple[str, frozenset[str]]] = {
    # unit: (meaning, kinds it may carry). Flows carry "/Year", so a stock/flow mix-up
    # (brief sec.7) is caught here rather than in a fit.
    "firms": ("number of firms", frozenset({"stock"})),
    "firms/Year": ("firms entering a state over the year", frozenset({"flow"})),
    "incubators": ("number of incubators", frozenset({"stock"})),
    "incubators/Year": ("incubators added over the year", frozenset({"flow"})),
    "maker spaces": ("number of maker spaces", frozenset({"stock"})),
    "maker spaces/Year": ("maker spaces added over the year", frozenset({"flow"})),
    "institutions": ("number of labs, centres, universities, bases, clusters", frozenset({"stock"})),
    "teams": ("number of research teams", frozenset({"stock"})),
    "persons": ("headcount (people)", frozenset({"stock"})),
    "persons/Year": ("people entering over the year", frozenset({"flow"})),
    "FTE": ("full-time-equivalent person-years (万人年 x 10,000)", frozenset({"stock"})),
    "patents": ("number of patents", frozenset({"stock"})),
    "patents/Year": ("patents over the year", frozenset({"flow"})),
    "patents per 10k residents": ("patents per 10,000 residents", frozenset({"ratio"})),
    "patent applications per million residents per Year": (
        "applications over the year per 1,000,000 residents", frozenset({"ratio"})),
    "100 million yuan": ("亿元 (10^8 CNY), level at year end", frozenset({"stock"})),
    "100 million yuan/Year": ("亿元 (10^8 CNY) over the year, nominal", frozenset({"flow"})),
    "m2": ("square metres", frozenset({"stock"})),
    "Dmnl": ("dimensionless fraction (0.03 = 3%)", frozenset({"ratio"})),
}


def load_observations(path: str | Path | None = None) -> pd.DataFrame:
    """Observations (one row per figure per source); validated, `year` int, `value` float."""
    return _load(Path(path) if path is not None else OBSERVATIONS_PATH, OBSERVATION_COLUMNS)


def load_targets(path: str | Path | None = None) -> pd.DataFrame:
    """Plan targets (one row per target per plan); validated like observations plus `direction`."""
    return _load(Path(path) if path is not None else TARGETS_PATH, TARGET_COLUMNS)


def _fail(path: Path, line: int, column: str, problem: str) -> DataError:
    text = f"{path}: line {line}, column '{column}': {problem}"
    return DataError(" ".join(text.split()))  # always one line


def _short(s: str, n: int = 40) -> str:
    return repr(s if len(s) <= n else s[: n - 3] + "...")


def _load(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            try:
                header = next(reader)
            except StopIteration:
                raise _fail(path, 1, "-", "empty file, expected a header row") from None
            header = [h.strip() for h in header]
            missing = [c for c in columns if c not in header]
            if missing:
                raise _fail(path, 1, missing[0], f"required column missing (header has {', '.join(header)})")
            index = {c: header.index(c) for c in columns}
            records, lines = [], []
            start = reader.line_num + 1
            for fields in reader:
                line, start = start, reader.line_num + 1
                if not any(x.strip() for x in fields):
                    continue  # blank line
                if len(fields) != len(header):
                    raise _fail(path, line, "-", f"{len(fields)} fields, header has {len(header)} (unquoted comma?)")
                records.append({c: fields[i].strip() for c, i in index.items()})
                lines.append(line)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise DataError(f"{path}: malformed CSV ({' '.join(str(e).split())})") from None

    seen: dict[tuple[str, int, str, str], int] = {}
    for rec, line in zip(records, lines):
        required = [c for c in columns if c not in ("model_variable", "note")]
        for c in required:
            if not rec[c]:
                raise _fail(path, line, c, "empty; every row needs it")
        try:
            year = int(rec["year"])
        except ValueError:
            raise _fail(path, line, "year", f"{_short(rec['year'])} is not an integer year") from None
        if not 1990 <= year <= 2100:
            raise _fail(path, line, "year", f"{year} is outside 1990-2100")
        try:
            value = float(rec["value"].replace(",", ""))
        except ValueError:
            raise _fail(path, line, "value", f"{_short(rec['value'])} is not a number") from None
        if not math.isfinite(value):
            raise _fail(path, line, "value", f"{rec['value']!r} is not a finite number")
        kind = rec["kind"]
        if kind not in KINDS:
            raise _fail(path, line, "kind", f"{kind!r} is not one of {', '.join(sorted(KINDS))}{closest(kind, KINDS)}")
        unit = rec["unit"]
        if unit not in UNITS:
            raise _fail(path, line, "unit", f"{unit!r} is not a known unit{closest(unit, UNITS)}; known: {', '.join(UNITS)}")
        if kind not in UNITS[unit][1]:
            raise _fail(path, line, "unit", f"{unit!r} does not fit kind {kind!r} (allowed kinds: {', '.join(sorted(UNITS[unit][1]))})")
        if "direction" in rec and rec["direction"] not in DIRECTIONS:
            d = rec["direction"]
            raise _fail(path, line, "direction", f"{d!r} is not one of {', '.join(sorted(DIRECTIONS))}{closest(d, DIRECTIONS)}")
        key = (rec["indicator"], year, rec["region"], rec["source"])
        if key in seen:
            raise _fail(path, line, "indicator", f"duplicate of line {seen[key]} (same indicator, year, region and source)")
        seen[key] = line
        rec["year"], rec["value"] = year, value

    df = pd.DataFrame.from_records(records, columns=list(columns))
    df["year"] = df["year"].astype("int64")
    df["value"] = df["value"].astype("float64")
    df.attrs["path"] = str(path)
    return df


# ----------------------------------------------------------------------------- a user's own observations
# `innosd calibrate calibration=model_file calibration.model=M.mdl calibration.observations_file=F.csv`:
# the CSV needs `variable` (a model variable, as in the .mdl), `value` (> 0), `sigma` (log-scale error
# sd of that figure) and `year` (compared with the model at t = year + 1, the year-end rule of
# innosd.model.results) or `time` (compared at that model time); `source` is optional but recommended.
USER_COLUMNS = ("variable", "value", "sigma")
USER_WHEN = ("year", "time")


def load_user_observations(path: str | Path) -> pd.DataFrame:
    """A user's observation file in the short format above; one-line DataError on any defect."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: not a readable CSV ({' '.join(str(err).split())[:120]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in USER_COLUMNS if c not in frame.columns]
    when = [c for c in USER_WHEN if c in frame.columns]
    if missing or len(when) != 1:
        what = f"column {missing[0]!r} missing" if missing else "exactly one of the columns year, time needed"
        raise DataError(f"{path}: {what}; the file needs variable, value, sigma and year or time "
                        f"(header has {', '.join(frame.columns)})")
    if frame.empty:
        raise DataError(f"{path}: no observation rows")
    for column in ("value", "sigma", when[0]):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if bad.size:
            raise DataError(f"{path}: line {bad[0] + 2}, column '{column}': {frame[column].iloc[bad[0]]!r} is not a number")
        frame[column] = values.astype(float)
    if ((frame["sigma"] <= 0) | (frame["sigma"] >= 5)).any():
        line = int(np.flatnonzero((frame["sigma"] <= 0) | (frame["sigma"] >= 5))[0]) + 2
        raise DataError(f"{path}: line {line}, column 'sigma': a log-scale error must be in (0, 5)")
    year = frame["year"] if when[0] == "year" else pd.Series(np.nan, index=frame.index)
    time = pd.Series(year_end_time(year.to_numpy()), index=frame.index) if when[0] == "year" else frame["time"]
    source = frame["source"].astype(str) if "source" in frame.columns else pd.Series(str(path), index=frame.index)
    variable = frame["variable"].astype(str).str.strip()
    return pd.DataFrame({"indicator": variable, "model_variable": variable, "year": year, "time": time,
                         "value": frame["value"], "sigma": frame["sigma"], "unit": "", "source": source})
