"""Tier 4: every scenario YAML composes; bad input gives one line and no folder; a run
writes results.nc, targets.csv and figures; a sweep writes a comparison."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
import yaml
from innosd.experiments import run as runmod
from innosd.experiments.cli import main as cli_main
from innosd.model import MODEL_FILE
from innosd.model.info import model_info
from innosd.scenarios import CONFIG_DIR, build, compose

from innosd.errors import ConfigError


@pytest.fixture(scope="module")
def info():
    return model_info(MODEL_FILE)


@pytest.mark.parametrize("name", compose.options("scenario"))
def test_every_scenario_composes_and_moves_levers(name, info):
    config = build.compose_run_config([f"scenario={name}"], info)
    assert config.scenario.name == name and config.scenario.description
    params = build.model_parameters(config)
    assert all(p in info.constants for p in params)
    assert (name == "baseline") == (not config.scenario.levers)


def test_at_least_four_policy_scenarios_besides_baseline():
    assert len(set(compose.options("scenario")) - {"baseline"}) >= 4


def test_overrides_reach_the_model_parameters(info):
    config = build.compose_run_config(
        ["scenario=talent_programmes", "params.hte_exit_rate=0.04", "scenario.levers.talent.start=2020"], info)
    params = build.model_parameters(config)
    assert params["hte exit rate"] == 0.04
    assert params["talent scenario start year"] == 2020
    assert params["talent scenario change"] == 2.0


@pytest.mark.parametrize("overrides, fragment", [
    (["scenario=incubator_doublin"], "did you mean 'incubator_doubling'"),
    (["params.hte_exit_rat=0.1"], "did you mean 'hte exit rate'"),
    (["params.hte_exit_rate=5"], "outside the declared range"),
    (["params.hte_exit_rate=abc"], "not a number"),
    (["scenario.levers.talentt.change=1"], "valid levers"),
    (["scenario.levers.talent.change=99"], "outside the declared range"),
    (["run.backend=julia"], "valid backends: pysd, numba"),
    (["run.colour=red"], "unknown key"),
    (["figures.language=fr"], "valid languages: en, zh"),
    (["run.seed=-1"], "not a non-negative integer"),
    (["figures.colour=red"], "unknown key"),
])
def test_bad_overrides_give_one_line_errors(overrides, fragment, info):
    with pytest.raises(ConfigError) as err:
        build.compose_run_config(overrides, info)
    message = str(err.value)
    assert fragment in message and "\n" not in message


def test_malformed_yaml_names_the_file_and_line(tmp_path, info):
    config_dir = tmp_path / "scenarios"
    shutil.copytree(CONFIG_DIR, config_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (config_dir / "scenario" / "broken.yaml").write_text("name: broken\ndescription: [unclosed\nlevers: {}\n")
    with pytest.raises(ConfigError) as err:
        build.compose_run_config(["scenario=broken"], info, config_dir=config_dir)
    assert "broken.yaml" in str(err.value) and "line" in str(err.value) and "\n" not in str(err.value)


def test_sweep_needs_multirun_and_values():
    with compose.hydra_app() as app:
        with pytest.raises(ConfigError, match="add -m"):
            compose.sweep_jobs(app, ["scenario=baseline,talent_programmes"], multirun=False)
        jobs = compose.sweep_jobs(app, ["scenario=baseline,talent_programmes", "params.hte_exit_rate=0.03,0.04"],
                                  multirun=True)
        assert len(jobs) == 4
        # Hydra's own sweep syntax: glob over the scenario files, range() over a lever
        assert len(compose.sweep_jobs(app, ["scenario=glob(*)"], multirun=True)) == len(compose.options("scenario"))
        assert [j[0] for j in compose.sweep_jobs(app, ["++scenario.levers.talent.change=range(0,3)"], True)] == \
            [f"++scenario.levers.talent.change={v}" for v in (0, 1, 2)]


def _cli(capsys, *args):
    code = cli_main(["run", *args])
    return code, capsys.readouterr()


@pytest.mark.parametrize("args", [
    ["scenario=nope"], ["params.no_such_thing=1"], ["params.hte_exit_rate=-1"], ["justaword"],
    ["-m", "scenario=baseline,nope"], ["--frobnicate"],
])
def test_cli_bad_input_exit_code_one_line_no_folder(args, tmp_path, capsys):
    code, out = _cli(capsys, *args, f"run.output_dir={tmp_path / 'out'}")
    assert code != 0
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.nc"))


def test_run_writes_results_targets_and_figures(tmp_path, capsys):
    code, _ = _cli(capsys, "scenario=hte_no1_project", f"run.output_dir={tmp_path}")
    assert code == 0
    (folder,) = [p for p in tmp_path.glob("*/*") if p.is_dir()]
    assert folder.name.endswith("hte_no1_project")
    ds = xr.open_dataset(folder / "results.nc")
    assert ds["high tech enterprises"].attrs["units"] == "firm"
    assert {"git_commit", "package_versions", "config", "model_sha256"} <= set(ds.attrs)
    assert float(ds["time"].max()) == 2036.0
    targets = pd.read_csv(folder / "targets.csv")
    assert len(targets) == len(pd.read_csv(Path(runmod.__file__).parents[1] / "calibration/data/targets.csv"))
    modelled = targets[targets["met"].isin(["True", "False"])]
    assert len(modelled) >= 15 and modelled["projected"].notna().all()
    for ext in ("png", "pdf", "svg"):
        assert (folder / f"key_indicators.{ext}").stat().st_size > 10_000
    # the run ends with the report a planner opens, built from the folder just written
    assert "<img" in (folder / "report" / "report.html").read_text(encoding="utf-8")
    assert not list(tmp_path.rglob("*.partial"))


def test_language_setting_reaches_the_run_config(info):
    assert build.compose_run_config([], info).figures.language == "en"
    assert build.compose_run_config(["figures.language=zh"], info).figures.language == "zh"


def test_sweep_writes_comparison(tmp_path, capsys):
    code, _ = _cli(capsys, "-m", "scenario=baseline,talent_programmes", f"run.output_dir={tmp_path}",
                   "run.figures=false")
    assert code == 0
    (sweep,) = list((tmp_path / "multirun").glob("*/*"))
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0_baseline", "1_talent_programmes"]
    table = pd.read_csv(sweep / "comparison.csv")
    assert set(table["run"]) == {"baseline", "talent_programmes"}
    meta = json.loads((sweep / "metadata.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "sweep" and meta["git_commit"] and "numpy" in meta["package_versions"]
    jobs = yaml.safe_load((sweep / "config.yaml").read_text(encoding="utf-8"))["jobs"]
    assert [j["folder"] for j in jobs] == ["0_baseline", "1_talent_programmes"]
    talent = table.set_index(["run", "indicator"])["2025"]
    assert talent[("talent_programmes", "rd_personnel_fte")] != talent[("baseline", "rd_personnel_fte")]


def test_failed_run_leaves_no_folder(tmp_path, capsys, monkeypatch):
    def explode(config):
        raise KeyboardInterrupt
    # the basic launcher runs the job in this process, so the patched function is the one called
    monkeypatch.setattr(runmod, "simulate", explode)
    code, out = _cli(capsys, f"run.output_dir={tmp_path}")
    assert code == 130 and "no partial output" in out.err
    assert not [p for p in tmp_path.rglob("*") if p.is_dir() and "baseline" in p.name]


def test_lever_sweep_names_runs_by_what_differs_and_records_the_levers_used(tmp_path, capsys):
    # issue 11: these were four runs named "baseline" with the baseline's (empty) lever table
    code, _ = _cli(capsys, "-m", "scenario.levers.fiscal_st.change=0,0.5", f"run.output_dir={tmp_path}",
                   "run.figures=false", "uncertainty.mode=none")
    assert code == 0
    (sweep,) = list((tmp_path / "multirun").glob("*/*"))
    runs = set(pd.read_csv(sweep / "comparison.csv")["run"])
    assert runs == {"baseline+fiscal_st.change=0", "baseline+fiscal_st.change=0.5"}
    levers = pd.read_csv(sweep / "levers.csv").set_index("run")
    assert levers.loc["baseline+fiscal_st.change=0.5", "change"] == 0.5
    assert levers.loc["baseline+fiscal_st.change=0.5", "start"] == 2017  # the model file's value, as used
    # the job folders are named by what differs too, not "0_baseline", "1_baseline"
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [
        "0_baseline+fiscal_st.change=0", "1_baseline+fiscal_st.change=0.5"]
    meta = json.loads((sweep / "1_baseline+fiscal_st.change=0.5" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["run_name"] == "baseline+fiscal_st.change=0.5"
    assert meta["levers"]["fiscal_st"]["change"] == 0.5


def test_a_run_with_overridden_levers_is_not_named_baseline(info):
    config = build.compose_run_config(["scenario.levers.fiscal_st.change=0.5", "params.hte_exit_rate=0.04"], info)
    assert config.name == "baseline+fiscal_st.change=0.5+hte_exit_rate=0.04"
    assert build.compose_run_config([], info).name == "baseline"


def test_scenario_whose_inner_name_differs_from_its_file_is_one_line(tmp_path, info):
    config_dir = tmp_path / "scenarios"
    shutil.copytree(CONFIG_DIR, config_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (config_dir / "scenario" / "mine.yaml").write_text("name: baseline\ndescription: copied\nlevers: {}\n")
    with pytest.raises(ConfigError) as err:
        build.compose_run_config(["scenario=mine"], info, config_dir=config_dir)
    assert "scenario/mine.yaml" in str(err.value) and "differs from the file name" in str(err.value)
    assert "\n" not in str(err.value)


def test_hydra_run_dir_is_where_the_run_folder_goes(tmp_path, capsys):
    code, out = _cli(capsys, f"hydra.run.dir={tmp_path / 'here'}", "run.figures=false", "uncertainty.mode=none")
    assert code == 0, out.err
    assert {"results.nc", "config.yaml", "metadata.json", "levers.csv"} <= {p.name for p in (tmp_path / "here").iterdir()}


def test_cfg_job_prints_the_composed_config(capsys):
    code, out = _cli(capsys, "--cfg", "job", "scenario=talent_programmes", "params.hte_exit_rate=0.04")
    assert code == 0, out.err
    printed = yaml.safe_load(out.out)
    assert printed["scenario"]["name"] == "talent_programmes" and printed["params"]["hte_exit_rate"] == 0.04
    assert "hydra" not in printed and printed["run"]["backend"] == "numba"
    code, out = _cli(capsys, "--info", "searchpath")
    assert code == 0 and "innosd-params://" in out.out


def test_joblib_launcher_writes_the_same_results_as_the_basic_launcher(tmp_path, capsys):
    common = ["-m", "scenario=baseline,talent_programmes", "run.figures=false", "uncertainty.mode=none"]
    code, out = _cli(capsys, *common, f"hydra.sweep.dir={tmp_path / 'basic'}")
    assert code == 0, out.err
    code, out = _cli(capsys, *common, f"hydra.sweep.dir={tmp_path / 'joblib'}", "hydra/launcher=joblib",
                     "hydra.launcher.n_jobs=2")
    assert code == 0, out.err
    basic, joblib = (pd.read_csv(tmp_path / kind / "comparison.csv") for kind in ("basic", "joblib"))
    pd.testing.assert_frame_equal(basic, joblib)
    assert "joblib" in (tmp_path / "joblib" / "multirun.yaml").read_text(encoding="utf-8")
    for job in ("0_baseline", "1_talent_programmes"):
        a, b = (xr.load_dataset(tmp_path / kind / job / "results.nc") for kind in ("basic", "joblib"))
        xr.testing.assert_equal(a, b)


def test_list_params_into_a_closed_pipe_exits_quietly():
    """`innosd run --list-params | head -1`: the reader goes away; no BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head` after its first line: every write now fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "innosd.experiments.cli", "run", "--list-params"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert done.stderr == "", done.stderr
    assert done.returncode == 141


def test_user_parameter_sets_come_before_the_shipped_ones(tmp_path, monkeypatch, info):
    """The hand-off of `innosd calibrate` (./params, here $INNOSD_PARAMS_DIR) shadows a shipped
    set of the same name and adds new names; nothing is read from or written to the package."""
    from innosd.calibration.handoff import ParameterSet, write_parameter_set

    user = tmp_path / "params"
    monkeypatch.setenv("INNOSD_PARAMS_DIR", str(user))
    write_parameter_set(ParameterSet("calibrated", {"hte exit rate": 0.031}, "posterior median", None,
                                     {"note": "user hand-off"}), None, user)
    write_parameter_set(ParameterSet("mine", {"hte exit rate": 0.032}, "a test set", None, {}), None, user)
    config = build.compose_run_config(["params=calibrated"], info)
    assert config.params["hte exit rate"] == 0.031 and config.parameter_set.params_dir == str(user)
    assert build.compose_run_config(["params=mine"], info).params["hte exit rate"] == 0.032
    assert "mine" in compose.options("params")
    shipped = build.compose_run_config(["params=model_defaults"], info).parameter_set.params_dir
    assert shipped == str(CONFIG_DIR / "params")


def test_every_lever_is_documented_with_a_cost_model():
    """A planner must see what each lever means and costs; a lever added to the .mdl without a
    cost model in scenarios/levers.yaml would be free in every policy search."""
    from innosd.model.info import lever_names
    from innosd.scenarios.levers import lever_docs

    info = model_info(MODEL_FILE)
    docs = lever_docs(info)
    assert list(docs) == lever_names(info)
    for lever, doc in docs.items():
        assert doc.meaning and doc.scales in info.units, lever
        assert doc.cost and doc.basis in ("model", "assumption", "sourced") and doc.source, lever
        assert all(unit_cost > 0 for unit_cost in doc.cost.values()), lever


def test_list_levers_explains_each_lever(capsys):
    code, out = _cli(capsys, "--list-levers")
    assert code == 0
    blocks = out.out.strip().split("\ntalent\n")
    talent = "talent\n" + blocks[1]
    assert "meaning: relative change of talent-programme admissions" in talent
    assert "talent programme admissions = 261 person/Year in 2017" in talent
    assert "0.01 x talent programme admissions" in talent and "basis: assumption" in talent
