"""The run-folder contract (innosd.rundir): one metadata.json schema for every folder kind,
written by the real commands, and a reader that gives back what was written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from innosd.experiments.cli import main as cli_main
from innosd.model import MODEL_FILE

from innosd import rundir
from innosd.errors import DataError

# the kind-specific keys each kind requires, as the commands write them
REQUIRED_EXTRA = {
    "run": {"scenario": "baseline", "parameter_set": {"name": "model_defaults"}, "uncertainty": {"mode": "none"}},
    "sweep": {},
    "experiment": {"experiment": "sensitivity", "parameter_set": {"name": "model_defaults"}, "runs": 12},
    "calibration": {"calibration": "default"},
    "validation": {},
    "report": {"inputs": ["outputs/run"], "language": "en"},
    "backtest": {"until": 2015, "draws": 200, "world": {"name": "default", "mode": "sample"}},
    "loops": {"variables": ["high tech enterprises"], "method": "exhaustive"},
}


@pytest.mark.parametrize("kind", rundir.KINDS)
def test_every_kind_round_trips_through_the_reader(tmp_path, kind):
    config = {"scenario": {"name": "baseline", "description": "广州 2016"}, "run": {"seed": 3}}
    written = rundir.write_metadata(tmp_path, kind, seed=3, command="innosd test", model_file=MODEL_FILE,
                                    config=config, extra=REQUIRED_EXTRA[kind])
    folder = rundir.read_folder(tmp_path)
    assert folder.kind == kind
    assert folder.metadata == written == json.loads((tmp_path / rundir.METADATA_FILE).read_text(encoding="utf-8"))
    assert folder.config == config  # config.yaml, Chinese text kept
    assert folder.files == {rundir.METADATA_FILE, rundir.CONFIG_FILE}
    assert written["seed"] == 3 and isinstance(written["package_versions"], dict)
    assert written["package_versions"]["numpy"] and written["schema_version"] == rundir.SCHEMA_VERSION
    assert written["model_file"] == MODEL_FILE.name and written["model_sha256"] == rundir.file_sha256(MODEL_FILE)


def test_recorded_provenance_is_reused_so_the_files_of_a_folder_agree(tmp_path):
    attrs = rundir.provenance({"a": 1}, MODEL_FILE)
    attrs["created"] = "2026-01-02T03:04:05+00:00"
    meta = rundir.write_metadata(tmp_path, "calibration", seed=0, command="x", recorded=attrs)
    assert meta["created"] == attrs["created"] and meta["git_commit"] == attrs["git_commit"]
    assert meta["model_sha256"] == attrs["model_sha256"]
    assert json.loads(attrs["package_versions"]) == meta["package_versions"]  # netCDF: a string; JSON: a mapping


@pytest.mark.parametrize("key, value, message", [
    ("seed", "0", "key 'seed' is '0', expected an integer or null"),
    ("seed", True, "key 'seed' is True, expected an integer or null"),
    ("package_versions", '{"numpy": "2.0"}', "key 'package_versions' is '{\"numpy\": \"2.0\"}', expected a mapping"),
    ("kind", "scenario run", "kind 'scenario run' is not one of run, sweep"),
    ("schema_version", 99, "schema_version 99 is not 1"),
    ("scenario", None, "key 'scenario' is None, expected a string (a run folder"),
])
def test_schema_violations_are_one_line_naming_the_key(tmp_path, key, value, message):
    meta = rundir.write_metadata(tmp_path, "run", seed=0, command="x", extra=REQUIRED_EXTRA["run"])
    meta[key] = value
    (tmp_path / rundir.METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(DataError) as err:
        rundir.read_folder(tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(tmp_path / rundir.METADATA_FILE) in str(err.value)


def test_a_missing_common_or_kind_key_is_named(tmp_path):
    meta = rundir.write_metadata(tmp_path, "report", seed=None, command="x", extra=REQUIRED_EXTRA["report"])
    for key in ("command", "language"):
        rundir.validate_metadata({**meta, key: "x"})
        with pytest.raises(DataError, match=f"key '{key}' is missing"):
            rundir.validate_metadata({k: v for k, v in meta.items() if k != key})


def test_writer_refuses_what_the_schema_forbids(tmp_path):
    with pytest.raises(TypeError):
        rundir.write_metadata(tmp_path, "sweep", seed="0", command="x")  # a seed is an integer, never text
    with pytest.raises(ValueError, match="replace common keys"):
        rundir.write_metadata(tmp_path, "sweep", seed=0, command="x", extra={"seed": 1})
    with pytest.raises(ValueError, match="kind"):
        rundir.write_metadata(tmp_path, "scenario run", seed=0, command="x")
    with pytest.raises(DataError, match="key 'scenario' is missing"):
        rundir.write_metadata(tmp_path, "run", seed=0, command="x")
    assert not list(tmp_path.iterdir())  # nothing written when the payload is refused


def test_a_folder_older_than_the_schema_is_read_with_its_kind_inferred(tmp_path):
    (tmp_path / rundir.METADATA_FILE).write_text(json.dumps({"seed": "0", "package_versions": "{}"}))
    (tmp_path / rundir.RESULTS_FILE).write_bytes(b"")
    assert rundir.read_folder(tmp_path).kind == "run"
    (tmp_path / rundir.VALIDATION_MD_FILE).write_text("# v\n")
    assert rundir.read_folder(tmp_path).kind == "validation"  # validation folders also hold fit tables
    empty = tmp_path / "empty"
    empty.mkdir()
    assert rundir.read_folder(empty).kind is None


def test_loaders_give_one_line_errors(tmp_path):
    (tmp_path / rundir.RESULTS_FILE).write_bytes(b"not netCDF")
    (tmp_path / rundir.TARGETS_FILE).write_bytes(b"")
    folder = rundir.read_folder(tmp_path)
    with pytest.raises(DataError, match="results.nc: unreadable netCDF results"):
        folder.dataset()
    with pytest.raises(DataError, match="targets.csv: unreadable CSV"):
        folder.table(rundir.TARGETS_FILE)


# ----------------------------------------------------------------------------- the real writers

def _every_metadata(root: Path) -> dict[str, rundir.RunFolder]:
    return {str(p.parent.relative_to(root)): rundir.read_folder(p.parent) for p in sorted(root.rglob("metadata.json"))}


def test_every_command_writes_the_one_schema(tmp_path, capsys):
    """Run, sweep, experiment, calibration, validation and report folders from the commands
    themselves (tiny settings): each metadata.json validates and reads back with its kind."""
    from innosd.experiments import validate
    from innosd.model.validation import CheckResult

    out = f"run.output_dir={tmp_path}"
    assert cli_main(["run", "-m", "scenario=baseline,incubator_doubling", "params=model_defaults", out,
                     "run.figures=false"]) == 0, capsys.readouterr().err
    assert cli_main(["run", "+experiment=sensitivity", "params=model_defaults", out, "run.figures=false",
                     "experiment.parameters=[rd_per_hte]", "experiment.levers=[]", "experiment.methods=[morris]",
                     "experiment.outputs=[rd_intensity]", "experiment.years=[2020]",
                     "experiment.morris_trajectories=2"]) == 0, capsys.readouterr().err
    assert cli_main(["calibrate", out, "run.figures=false", "run.progress=false", "handoff.write=false",
                     "calibration.optimiser.screen=64", "calibration.optimiser.starts=1",
                     "calibration.optimiser.max_iterations=2", "calibration.sampler.walkers=96",
                     "calibration.sampler.steps=4", "calibration.sampler.burn=2", "calibration.sampler.thin=1",
                     "calibration.profile.points=3", "calibration.profile.max_iterations=1",
                     "calibration.profile.parameters=[rd_adjustment_time]"]) == 0, capsys.readouterr().err
    results = [CheckResult("mass balance", "stocks = initial + integrated flows", "pass", "32 of 32 stocks")]
    validate.write_folder(tmp_path / "validation", results, {}, {"model": "m"}, MODEL_FILE, 7, ["--seed", "7"])
    (sweep,) = (tmp_path / "multirun").glob("*/*")
    from innosd.figures.report import build_report

    build_report([sweep], pdf=False)

    folders = _every_metadata(tmp_path)
    kinds = sorted(f.kind for f in folders.values())
    assert kinds == ["calibration", "experiment", "report", "run", "run", "sweep", "validation"], folders
    for name, folder in folders.items():
        assert folder.metadata["schema_version"] == rundir.SCHEMA_VERSION, name
        assert isinstance(folder.metadata["package_versions"], dict), name
        assert folder.metadata["command"], name
        if folder.kind != "report":
            assert isinstance(folder.metadata["seed"], int) and folder.config, name
    assert folders["validation"].metadata["seed"] == 7
    runs = [f for f in folders.values() if f.kind == "run"]
    assert sorted(f.scenario for f in runs) == ["baseline", "incubator_doubling"]
    with runs[0].dataset() as ds:
        assert isinstance(ds, xr.Dataset) and ds.attrs["scenario"] == runs[0].scenario
        assert ds.attrs["git_commit"] == runs[0].metadata["git_commit"]
    assert set(runs[0].table(rundir.TARGETS_FILE).columns) >= {"indicator", "year", "met"}
    assert [f.path.name for f in rundir.read_folder(sweep).subfolders()] == ["0_baseline", "1_incubator_doubling"]
    assert isinstance(pd.read_csv(sweep / rundir.COMPARISON_FILE), pd.DataFrame)
