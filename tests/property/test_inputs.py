"""Hardened inputs: random config overrides and parameter values through `innosd run`,
malformed .mdl files through `innosd simulate`, defective data files through the
loaders, and interrupted runs. The tool either works or says what is wrong in one line;
never a traceback, never a half-written folder."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import tempfile
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from innosd.calibration import data as datamod
from innosd.scenarios import CONFIG_DIR, build, compose
from innosd.experiments.cli import main as cli_main
from innosd.model import MODEL_FILE
from innosd.model.info import lever_names, model_info

from innosd.errors import DataError

# Each example runs the real command (~0.3-1 s on a loaded machine); 25 examples per
# property keep the tier around a minute.
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INFO = model_info(MODEL_FILE)
CONSTANTS = sorted(INFO.constants)
LEVERS = lever_names(INFO)
SCENARIOS = compose.options("scenario")
CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
SMALL_MODEL = Path(__file__).parents[1] / "validation" / "models" / "reality" / "incubation.mdl"


def cli(*args: str) -> tuple[int, str]:
    """Run the command; (exit code, stderr). An uncaught exception fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(list(args))
    return code, err.getvalue()


def assert_one_line_error(code: int, stderr: str, command: str) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"innosd {command}: error: "), stderr
    assert "Traceback" not in stderr


def files_under(root: Path) -> list[Path]:
    """Output files, except the ensemble resume cache OUTPUT_DIR/.chunks (finished chunks
    kept on purpose so an interrupted ensemble resumes; see experiments/run.py)."""
    return [p for p in root.rglob("*") if p.is_file() and ".chunks" not in p.relative_to(root).parts]


# ------------------------------------------------------------------ config overrides

odd_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    odd_text,
    st.sampled_from(["", "null", "[1,2]", "{a: 1}", "1e400", "-0", "true", "'0.1'", "${oops}", "a,b"]),
)
keys = st.one_of(
    st.sampled_from(CONSTANTS).map(lambda c: "params." + c.replace(" ", "_")),
    st.tuples(st.sampled_from(LEVERS), st.sampled_from(["change", "start", "ramp_years", "speed"]))
      .map(lambda t: f"scenario.levers.{t[0]}.{t[1]}"),
    st.sampled_from(["run.backend", "run.seed", "run.colour", "scenario.name", "scenario.description",
                     "params", "scenario.levers", "nonsense", "+params.new_thing", "~run.seed"]),
    odd_text.map(lambda t: "params." + t),
)
overrides = st.one_of(
    st.tuples(keys, values).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.one_of(st.sampled_from(SCENARIOS), odd_text).map(lambda s: f"scenario={s}"),
    odd_text,  # not even KEY=VALUE
)


@FAST
@given(items=st.lists(overrides, min_size=1, max_size=3))
def test_random_overrides_run_or_fail_in_one_line(items):
    with tempfile.TemporaryDirectory() as out:
        code, stderr = cli("run", *items, "run.figures=false", f"run.output_dir={out}")
        if code == 0:
            produced = {p.name for p in files_under(Path(out))}
            assert {"results.nc", "metadata.json", "config.yaml"} <= produced
        else:
            assert_one_line_error(code, stderr, "run")
            assert files_under(Path(out)) == []
        assert not list(Path(out).rglob("*.partial"))


def _in_range(name: str):
    c = INFO.constants[name]
    lower = c.lower if math.isfinite(c.lower) else min(0.0, c.default)
    upper = c.upper if math.isfinite(c.upper) else 10 * max(abs(c.default), 1.0)
    return st.floats(lower, upper, allow_nan=False)


@FAST
@given(data=st.data(), names=st.lists(st.sampled_from([c for c in CONSTANTS if c not in CONTROL]),
                                      min_size=1, max_size=4, unique=True))
def test_random_parameter_values_in_range_run_or_fail_in_one_line(data, names):
    sets = [f"params.{n.replace(' ', '_')}={data.draw(_in_range(n), label=n)!r}" for n in names]
    with tempfile.TemporaryDirectory() as out:
        code, stderr = cli("run", *sets, "run.figures=false", f"run.output_dir={out}")
        if code != 0:  # e.g. a combination that makes a variable non-finite
            assert_one_line_error(code, stderr, "run")
            assert files_under(Path(out)) == []


@FAST
@given(name=st.sampled_from([c for c in CONSTANTS if math.isfinite(INFO.constants[c].upper)]),
       excess=st.floats(1e-6, 1e6))
def test_values_above_the_declared_range_are_refused(name, excess):
    value = INFO.constants[name].upper + excess * max(1.0, abs(INFO.constants[name].upper))
    with tempfile.TemporaryDirectory() as out:
        code, stderr = cli("run", f"params.{name.replace(' ', '_')}={value!r}", "run.figures=false",
                           f"run.output_dir={out}")
        assert_one_line_error(code, stderr, "run")
        assert "outside the declared range" in stderr and name in stderr


# ------------------------------------------------------------------ malformed .mdl

SMALL_LINES = SMALL_MODEL.read_text(encoding="utf-8").splitlines(keepends=True)
EQUATION_LINES = [i for i, line in enumerate(SMALL_LINES) if " = " in line and not line.startswith("\t")]
BREAKERS = ["((", "@@", "= =", ",,", "* /", "[", ":AND: :AND:", "{", "INTEG(", "+ )"]  # never valid Vensim


@FAST
@given(line=st.sampled_from(EQUATION_LINES), breaker=st.sampled_from(BREAKERS), where=st.floats(0.55, 1.0))
def test_malformed_mdl_names_the_line_and_construct(line, breaker, where):
    text = SMALL_LINES[line]
    cut = text.index(" = ") + 3 + int(where * (len(text.rstrip()) - text.index(" = ") - 3))
    broken = SMALL_LINES[:line] + [text[:cut] + f" {breaker} " + text[cut:]] + SMALL_LINES[line + 1:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "broken.mdl"
        path.write_text("".join(broken), encoding="utf-8")
        code, stderr = cli("simulate", str(path), "--out", str(Path(folder) / "out.csv"))
        assert_one_line_error(code, stderr, "simulate")
        assert not (Path(folder) / "out.csv").exists()
        variable = text.split(" = ")[0]
        if "cannot parse" in stderr:  # a syntax error: the line and the text that fails
            assert f"line {line + 1}: cannot parse " in stderr and f"(equation of {variable!r})" in stderr
        else:  # parsed, but a construct or reference the engine rejects: named with the variable
            assert variable in stderr or variable.replace(" ", "_") in stderr, stderr


# ------------------------------------------------------------------ data files

DATA_FILES = {"observations": (datamod.OBSERVATIONS_PATH, datamod.load_observations),
              "targets": (datamod.TARGETS_PATH, datamod.load_targets)}


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> list[int]:
    """Write rows; return the 1-based file line each row starts on."""
    buffer, starts, line = io.StringIO(), [], 1
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        starts.append(line)
        before = buffer.tell()
        writer.writerow(row)
        line += buffer.getvalue()[before:].count("\n")
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return starts


@settings(max_examples=50, deadline=None)  # no simulation: a file parse, milliseconds
@given(which=st.sampled_from(sorted(DATA_FILES)), row_fraction=st.floats(0, 1, exclude_max=True),
       defect=st.sampled_from(["missing source", "blank source", "nan value", "NaN value", "inf value",
                               "duplicate row"]))
def test_defective_data_rows_are_rejected_by_line(which, row_fraction, defect):
    source_path, loader = DATA_FILES[which]
    rows = _rows(source_path)
    header, body = rows[0], rows[1:]
    k = int(row_fraction * len(body))
    row = list(body[k])
    column = {"missing source": "source", "blank source": "source"}.get(defect, "value")
    if defect == "duplicate row":
        body = body[:k + 1] + [row] + body[k + 1:]
        bad_index, column = k + 1, "indicator"
    else:
        row[header.index(column)] = {"missing source": "", "blank source": "   ", "nan value": "nan",
                                     "NaN value": "NaN", "inf value": "inf"}[defect]
        body[k] = row
        bad_index = k
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source_path.name
        starts = _write(path, [header] + body)
        with pytest.raises(DataError) as err:
            loader(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert f"line {starts[bad_index + 1]}, column '{column}'" in message, message


# ------------------------------------------------------------------ interrupted runs

# Every kind of write a run folder gets; patched where `experiments.run` looks them up.
WRITERS = ["xarray.Dataset.to_netcdf", "pandas.DataFrame.to_csv", "innosd.rundir.write_json",
           "pathlib.Path.write_text", "innosd.figures.plots.save_figure"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError])
@pytest.mark.parametrize("writer", WRITERS)
def test_interrupted_run_leaves_no_folder(tmp_path, writer, interrupt):
    figures = "true" if ".figures." in writer else "false"
    with mock.patch(writer, side_effect=interrupt("interrupted while writing")) as patched:
        try:
            code, stderr = cli("run", "scenario=incubator_doubling", f"run.figures={figures}",
                               f"run.output_dir={tmp_path}")
        except OSError:
            code = None  # a disk error is not a user error: it propagates, but leaves nothing behind
    assert patched.called
    if interrupt is KeyboardInterrupt:
        assert code == 130 and "no partial output was kept" in stderr
    assert files_under(tmp_path) == [] and not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize("writer", ["pandas.DataFrame.to_csv", "pathlib.Path.write_text",
                                    "innosd.rundir.write_json"])
def test_interrupted_validation_leaves_no_folder(tmp_path, writer):
    from innosd.experiments import validate
    from innosd.model.validation import CheckResult
    results = [CheckResult("mass balance", "stocks = initial + integrated flows", "pass", "32 of 32 stocks")]
    details = {"units": pd.DataFrame({"variable": ["x"], "result": ["pass"]})}
    with mock.patch(writer, side_effect=KeyboardInterrupt), pytest.raises(KeyboardInterrupt):
        validate.write_folder(tmp_path / "validation", results, details, {"model": "m"}, MODEL_FILE, 0, [])
    assert files_under(tmp_path) == [] and not list(tmp_path.rglob("*.partial"))
    validate.write_folder(tmp_path / "validation", results, details, {"model": "m"}, MODEL_FILE, 0, [])
    assert {"validation.csv", "validation.md", "units.csv", "metadata.json"} <= {p.name for p in files_under(tmp_path)}


@settings(max_examples=50, deadline=None)
@given(which=st.sampled_from(sorted(DATA_FILES)), row_fraction=st.floats(0, 1, exclude_max=True),
       column_fraction=st.floats(0, 1, exclude_max=True), junk=odd_text)
def test_any_single_cell_edit_loads_or_names_its_line(which, row_fraction, column_fraction, junk):
    source_path, loader = DATA_FILES[which]
    rows = _rows(source_path)
    k = 1 + int(row_fraction * (len(rows) - 1))
    rows[k][int(column_fraction * len(rows[0]))] = junk
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source_path.name
        _write(path, rows)
        try:
            frame = loader(path)
        except DataError as err:
            message = str(err)
            assert "\n" not in message and str(path) in message and "line " in message
        else:
            assert len(frame) == len(rows) - 1 and frame["value"].map(math.isfinite).all()


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), odd_text,
                         st.sampled_from(["incubators", "graduations", "opening rate", "zero", "falls", "+", "-"]))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["name", "set", "expect", "variable", "is", "from", "to", "constant",
                                     "year", "sign", "reality_checks", "directional", "other"]), inner, max_size=4)),
    max_leaves=12)


near_valid = st.fixed_dictionaries({
    "reality_checks": st.lists(st.fixed_dictionaries({
        "name": yaml_scalars, "set": st.dictionaries(yaml_scalars, yaml_scalars, max_size=2),
        "expect": st.lists(st.fixed_dictionaries({"variable": yaml_scalars, "is": yaml_scalars,
                                                  "from": yaml_scalars, "to": yaml_scalars}), max_size=2)}),
        max_size=2),
    "directional": st.lists(st.fixed_dictionaries({"constant": yaml_scalars, "variable": yaml_scalars,
                                                   "year": yaml_scalars, "sign": yaml_scalars}), max_size=2)})


@settings(max_examples=50, deadline=None)
@given(document=st.one_of(yaml_values, near_valid))
def test_any_reality_check_file_loads_or_fails_in_one_line(document):
    import yaml
    from innosd.model.validation import load_reality_checks

    from innosd.errors import ModelError
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reality_checks.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        try:
            load_reality_checks(path, ["opening rate", "graduation rate"], ["incubators", "graduations"])
        except ModelError as err:
            assert "\n" not in str(err) and str(path) in str(err)


@settings(max_examples=50, deadline=None)
@given(document=st.one_of(yaml_values, st.fixed_dictionaries({
    "parameter_set": st.one_of(yaml_values, st.fixed_dictionaries({
        "name": yaml_scalars, "statistic": yaml_scalars, "posterior_draws": yaml_scalars, "source": yaml_values})),
    "params": st.one_of(yaml_values, st.dictionaries(st.sampled_from(CONSTANTS), yaml_scalars, max_size=3))})))
def test_any_parameter_set_file_loads_or_fails_in_one_line(document):
    import yaml
    from innosd.calibration.handoff import load_parameter_set
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "candidate.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        try:
            loaded = load_parameter_set("candidate", Path(folder))
        except DataError as err:
            assert "\n" not in str(err) and "candidate.yaml" in str(err)
        else:
            assert all(math.isfinite(v) for v in loaded.params.values())


lever_setting = st.fixed_dictionaries({"change": yaml_scalars, "start": yaml_scalars, "ramp_years": yaml_scalars})
scenario_documents = st.one_of(yaml_values, st.fixed_dictionaries({
    "name": yaml_scalars, "description": yaml_scalars,
    "levers": st.one_of(yaml_values, st.dictionaries(st.sampled_from(LEVERS + ["bogus"]),
                                                     st.one_of(lever_setting, yaml_values), max_size=3))}))


@pytest.fixture(scope="module")
def scenarios_copy(tmp_path_factory):
    import shutil
    root = tmp_path_factory.mktemp("config") / "scenarios"
    shutil.copytree(CONFIG_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=scenario_documents)
def test_any_scenario_file_composes_or_fails_in_one_line(scenarios_copy, document):
    import yaml

    from innosd.errors import ConfigError
    (scenarios_copy / "scenario" / "fuzz.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        build.compose_run_config(["scenario=fuzz"], INFO, config_dir=scenarios_copy)
    except ConfigError as err:
        assert "\n" not in str(err)
