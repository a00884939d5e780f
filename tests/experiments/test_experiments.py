"""Experiments on tiny configs: projections and attainment over posterior draws, Sobol and
Morris, policy search, sweeps collected into one table, Dask equal to in-process, resume
after an interruption, and one-line errors for bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from innosd.calibration.handoff import ParameterSet, write_parameter_set
from innosd.model.indicators import model_indicators
from innosd.experiments import dask_exec
from innosd.experiments import ensemble as ens
from innosd.experiments.cli import main as cli_main
from innosd.model import MODEL_FILE
from innosd.model.info import model_info
from innosd.model import compile_model
from innosd.scenarios import CONFIG_DIR, build, compose
from innosd.scenarios.levers import lever_docs
from innosd.scenarios.schema import experiment_settings
from tests.config_copy import scenarios_with_draws

N_DRAWS = 12
# Draws are plain floats written to CSV and read back: 17 significant digits round-trip
# exactly, so an ensemble member and a single run of the same row agree to rounding only.
SAME_RUN_RTOL = 1e-12
COST_RTOL = 1e-9  # the same Euler sums in another order: round-off only


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    """A copy of scenarios/ with a calibrated parameter set written through the hand-off API."""
    rng = np.random.default_rng(7)
    n = 40
    draws = pd.DataFrame({"hte exit rate": rng.uniform(0.03, 0.07, n),
                          "tech firm birth base": rng.normal(14000, 1500, n),
                          "rd per hte": rng.uniform(0.04, 0.08, n)})
    return scenarios_with_draws(tmp_path_factory, draws,
                                {"run_dir": "outputs/calibration/2026-11-22/00-00-00_test", "seed": 0})


@pytest.fixture()
def cli(config_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(compose, "CONFIG_DIR", config_dir)

    def run(*args):
        code = cli_main(["run", *args, f"run.output_dir={tmp_path / 'out'}", "run.figures=false",
                         "run.progress=false"])
        return code, capsys.readouterr()
    return run


def _only_folder(pattern_root: Path, pattern: str) -> Path:
    (folder,) = [p for p in pattern_root.glob(pattern) if p.is_dir() and not p.name.startswith(".")]
    return folder


def _one_line_error(code, out, *fragments):
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in out.err, out.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ----------------------------------------------------------------------------- projections / attainment

def test_projections_over_posterior_draws_equal_single_runs(cli, tmp_path, config_dir):
    code, out = cli("+experiment=projections", "params=calibrated", f"uncertainty.draws={N_DRAWS}",
                    "experiment.scenarios=[baseline,fiscal_doubling]")
    assert code == 0, out.err
    folder = _only_folder(tmp_path / "out", "experiments/*/*_projections")
    table = pd.read_csv(folder / "projections.csv")
    assert list(table.columns) == ["scenario", "indicator", "model_variable", "unit", "year", "median", "p05",
                                   "p25", "p75", "p95", "key_year"]
    assert set(table["scenario"]) == {"baseline", "fiscal_doubling"}
    assert table["year"].min() == 2013 and table["year"].max() == 2035
    assert set(table.loc[table["key_year"], "year"]) == {2020, 2025, 2035}
    ordered = table[["p05", "p25", "median", "p75", "p95"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()
    hte = table[(table["indicator"] == "high_tech_enterprises") & (table["year"] == 2025)]
    assert (hte["p95"] > hte["p05"]).all()  # the draws carry uncertainty into the projection

    ds = xr.open_dataset(folder / "ensemble.nc")
    assert dict(ds.sizes) == {"scenario": 2, "draw": N_DRAWS, "time": len(ds["time"])}
    assert ds.attrs["parameter_set"] == "calibrated" and "00-00-00_test" in ds.attrs["parameter_set_source"]
    assert ds.attrs["draws"] == str(N_DRAWS) and ds.attrs["uncertainty_mode"] == "posterior"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["parameter_set"]["name"] == "calibrated" and meta["draws"] == N_DRAWS

    # the same draws, run one at a time through the compiled core, give the same values
    config = build.compose_run_config(["params=calibrated", f"uncertainty.draws={N_DRAWS}",
                                        "scenario=fiscal_doubling"], model_info(MODEL_FILE), config_dir)
    table_rows = ens.run_table(config, ens.posterior_draws(config))
    model = compile_model(MODEL_FILE)
    for draw in (0, N_DRAWS - 1):
        single = model.run(table_rows.iloc[draw].to_dict(), return_columns=["high tech enterprises"])
        expected = single.loc[2026.0, "high tech enterprises"]
        got = float(ds["high tech enterprises"].sel(scenario="fiscal_doubling", draw=draw, time=2026.0))
        assert got == pytest.approx(expected, rel=SAME_RUN_RTOL)


def test_attainment_is_the_share_of_draws_meeting_each_target(cli, tmp_path):
    code, out = cli("+experiment=attainment", "params=calibrated", f"uncertainty.draws={N_DRAWS}",
                    "experiment.scenarios=[baseline]",
                    "experiment.targets=[high_tech_enterprises@2020,rd_intensity@2025,rd_personnel_fte@2025]",
                    "+experiment.benchmarks=[{indicator: rd_personnel_fte, year: 2025, value: 250000}]")
    assert code == 0, out.err
    assert f"only {N_DRAWS} draws" in out.err  # too few draws for a probability to mean much: said
    folder = _only_folder(tmp_path / "out", "experiments/*/*_attainment")
    table = pd.read_csv(folder / "attainment.csv")
    assert list(table.columns) == ["scenario", "indicator", "model_variable", "year", "target", "direction", "unit",
                                   "status", "probability", "mc_se", "ci_low", "ci_high", "draws", "median", "p05",
                                   "p95", "plan", "source"]
    assert set(zip(table["indicator"], table["year"])) == {("high_tech_enterprises", 2020), ("rd_intensity", 2025),
                                                           ("rd_personnel_fte", 2025)}
    assert set(table.loc[table["indicator"] == "rd_personnel_fte", "status"]) == {"benchmark (user)"}
    ensemble = xr.open_dataset(folder / "ensemble.nc")
    for row in table.itertuples():
        values = ensemble[row.model_variable].sel(scenario="baseline", time=row.year + 1.0)
        share = float((values >= row.target).mean())
        assert row.probability == pytest.approx(share)
        assert row.median == pytest.approx(float(values.median()))
        assert row.mc_se == pytest.approx(np.sqrt(share * (1 - share) / N_DRAWS))
        assert row.draws == N_DRAWS and row.ci_low <= share <= row.ci_high
    assert 0 < table["probability"].max()
    joint = pd.read_csv(folder / "joint_attainment.csv")
    # the joint 2025 row covers the official targets only (the benchmark is the user's)
    row = joint[(joint["scenario"] == "baseline") & (joint["year"] == 2025)].iloc[0]
    assert row["targets"] == 1 and row["requirements"] == "rd_intensity@2025 >= 0.034"
    rd = ensemble["rd intensity"].sel(scenario="baseline", time=2026.0)
    assert row["probability"] == pytest.approx(float((rd >= 0.034).mean())) and row["draws"] == N_DRAWS


def test_plain_run_and_lever_sweep_write_projections_when_draws_exist(cli, tmp_path):
    code, out = cli("-m", "scenario.levers.fiscal_st.change=0,1", "params=calibrated", "uncertainty.draws=5")
    assert code == 0, out.err
    sweep = _only_folder(tmp_path / "out", "multirun/*/*")
    runs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert runs == ["0_baseline+fiscal_st.change=0", "1_baseline+fiscal_st.change=1"]  # named by what differs
    projections = pd.read_csv(sweep / "projections.csv")
    assert projections["scenario"].nunique() == 2  # one comparison table across the sweep
    rd = projections[(projections["indicator"] == "rd_expenditure") & (projections["year"] == 2025)]
    assert rd["median"].nunique() == 2
    assert pd.read_csv(sweep / "attainment.csv")["scenario"].nunique() == 2
    for run in runs:
        assert {"results.nc", "targets.csv", "projections.csv", "attainment.csv", "ensemble.nc", "world.csv",
                "variance_shares.csv"} <= {p.name for p in (sweep / run).iterdir()}
        meta = json.loads((sweep / run / "metadata.json").read_text())
        assert meta["uncertainty"] == {"mode": "posterior", "draws": 5, "world": "default", "world_mode": "sample",
                                       "world_sampling": "latin_hypercube",
                                       "world_uncertainties": ["gdp_growth", "gdp_growth_plan", "population_growth",
                                                               "cost_per_fte_growth", "price_growth"]}
        world = pd.read_csv(sweep / run / "world.csv")
        pd.testing.assert_frame_equal(world, pd.read_csv(sweep / runs[0] / "world.csv"))  # common draws
        assert len(world) == 5
        assert meta["parameter_set"]["name"] == "calibrated"
    assert not (tmp_path / "out" / ".chunks").exists()  # chunks removed once outputs exist


def test_deterministic_run_keeps_its_outputs(cli, tmp_path):
    code, out = cli("scenario=baseline", "params=model_defaults")
    assert code == 0, out.err
    folder = _only_folder(tmp_path / "out", "*/*_baseline")
    names = {p.name for p in folder.iterdir()}
    assert {"results.nc", "targets.csv"} <= names and "projections.csv" not in names
    assert json.loads((folder / "metadata.json").read_text())["parameter_set"]["name"] == "model_defaults"


# ----------------------------------------------------------------------------- sensitivity / policy

def test_sensitivity_tiny_sobol_and_morris(cli, tmp_path):
    # the fiscal_st lever starts in 2030, so it cannot move a 2020 outcome: its indices are 0
    code, out = cli("+experiment=sensitivity", "params=model_defaults",
                    "experiment.parameters=[rd_per_hte,hte_exit_rate]",
                    "experiment.levers=[fiscal_st]", "scenario.levers.fiscal_st.start=2030",
                    "experiment.outputs=[rd_intensity]", "experiment.years=[2020]",
                    "experiment.sobol_base_samples=16", "experiment.morris_trajectories=4")
    assert code == 0, out.err
    folder = _only_folder(tmp_path / "out", "experiments/*/*_sensitivity")
    sobol = pd.read_csv(folder / "sobol.csv").set_index("input")
    morris = pd.read_csv(folder / "morris.csv").set_index("input")
    assert list(sobol.columns) == ["output", "input_kind", "S1", "S1_conf", "ST", "ST_conf"]
    assert list(morris.columns) == ["output", "input_kind", "mu_star", "mu_star_conf", "sigma"]
    assert set(sobol["output"]) == {"rd_intensity@2020"}
    assert sobol.loc["fiscal_st", "input_kind"] == "lever" and sobol.loc["rd_per_hte", "input_kind"] == "parameter"
    assert sobol.loc["fiscal_st", "ST"] == 0 and morris.loc["fiscal_st", "mu_star"] == 0
    assert sobol.loc["rd_per_hte", "ST"] > 0.1 and morris.loc["rd_per_hte", "mu_star"] > 0
    runs = json.loads((folder / "metadata.json").read_text())["runs"]
    assert runs == 16 * (3 + 2) + 4 * (3 + 1)  # Sobol N (D + 2), Morris r (D + 1)


def test_sensitivity_warns_when_n_is_too_small():
    # negative S1 beyond its interval and intervals wider than ST are what a small N gives: said, with N
    from innosd.experiments.sensitivity import sobol_warnings

    sobol = pd.DataFrame({"S1": [-0.2, 0.3, -0.01], "S1_conf": [0.1, 0.05, 0.05], "ST": [0.05, 0.4, 0.2],
                          "ST_conf": [0.3, 0.1, 0.05]})
    negative, wide = sobol_warnings(sobol, 8)
    assert negative.startswith("1 of 3 first-order indices S1 are negative") and "N = 8" in negative
    assert wide.startswith("1 of 3 total indices have a 95% interval wider")
    assert sobol_warnings(sobol.iloc[[1]], 1024) == [] and sobol_warnings(None, 8) == []


def test_sensitivity_outputs_all_means_every_model_indicator(cli, tmp_path):
    # `all` is documented for indicator choices; it was once wrapped into the list ['all']
    code, out = cli("+experiment=sensitivity", "params=model_defaults", "experiment.outputs=all",
                    "experiment.methods=[morris]", "experiment.parameters=[rd_per_hte]", "experiment.levers=[]",
                    "experiment.years=[2020]", "experiment.morris_trajectories=2")
    assert code == 0, out.err
    morris = pd.read_csv(_only_folder(tmp_path / "out", "experiments/*/*_sensitivity") / "morris.csv")
    from innosd.calibration.data import load_observations, load_targets

    expected = {f"{i.id}@2020" for i in model_indicators(load_observations(), load_targets())}
    assert set(morris["output"]) == expected and len(expected) > 1


@pytest.mark.parametrize("text, fragment", [
    ("parameters:\n  rd_per_hte: {lower: 0.01}\n", "parameters.rd_per_hte: needs numbers `lower` and `upper`"),
    ("parameters: [rd_per_hte]\n", "parameters: expected a mapping"),
    ("parameters: {a: [1\n", "malformed YAML"),
])
def test_malformed_prior_file_for_sensitivity_is_one_config_error(tmp_path, text, fragment):
    from innosd.experiments.sensitivity import prior_boxes

    from innosd.errors import ConfigError

    path = tmp_path / "priors.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        prior_boxes(path)
    assert fragment in str(err.value) and len(str(err.value).splitlines()) == 1


def test_policy_search_cost_is_the_extra_outlay_to_the_target_year(cli, tmp_path):
    code, out = cli("+experiment=policy_search", "params=model_defaults", "experiment.targets=[rd_intensity@2020]",
                    "experiment.required_probability=1", "~experiment.levers",
                    "+experiment.levers.fiscal_st=[0,1]", "+experiment.levers.talent=[0,2]", "experiment.samples=4",
                    "experiment.refine_rounds=1", "experiment.refine_samples=2")
    assert code == 0, out.err
    folder = _only_folder(tmp_path / "out", "experiments/*/*_policy_search")
    candidates = pd.read_csv(folder / "policy_candidates.csv")
    assert list(candidates.columns) == ["fiscal_st.change", "talent.change", "cost_100m_yuan", "probability", "mc_se",
                                        "binding_target", "pareto", "feasible", "stage"]
    assert len(candidates) == 1 + 4 + 2
    # independent check with model_defaults (one run per setting): the model's own cumulative
    # counters of fiscal S&T and post-subsidy from 2017 to year-end 2020 (the target's year, not
    # 2035), plus the talent cost model: 0.01 亿元 per extra programme admission
    talent_unit_cost = lever_docs(model_info(MODEL_FILE))["talent"].cost["talent programme admissions"]
    model = compile_model(MODEL_FILE)
    cols = ["fiscal st cumulative", "post subsidy cumulative"]
    step = model_info(MODEL_FILE).constants["TIME STEP"].default
    fine = {"SAVEPER": step}  # every step: the Euler sum the model integrates
    base = model.run(fine, return_columns=cols + ["talent programme admissions"])
    for row in candidates.itertuples():
        run = model.run({**fine, "fiscal st scenario change": row._1, "talent scenario change": row._2},
                        return_columns=cols + ["talent programme admissions"])
        extra = sum((run.loc[2021.0, c] - run.loc[2017.0, c]) - (base.loc[2021.0, c] - base.loc[2017.0, c])
                    for c in cols)
        admissions = run["talent programme admissions"] - base["talent programme admissions"]
        window = (admissions.index >= 2017.0 - 1e-9) & (admissions.index < 2021.0 - 1e-9)
        expected = extra + talent_unit_cost * float(admissions[window].sum()) * step
        assert row.cost_100m_yuan == pytest.approx(expected, rel=COST_RTOL, abs=1e-6)
    assert candidates.loc[candidates["stage"] == "initial", "cost_100m_yuan"].abs().min() == 0
    summary = json.loads((folder / "policy_summary.json").read_text())
    assert summary["cost_years"] == [2017, 2020] and summary["binding_target"] == "rd_intensity@2020 >= 0.03"
    front = candidates[candidates["pareto"]]
    for row in front.itertuples():
        dominated = ((candidates["cost_100m_yuan"] <= row.cost_100m_yuan) & (candidates["probability"] >=
                     row.probability) & ((candidates["cost_100m_yuan"] < row.cost_100m_yuan) |
                                         (candidates["probability"] > row.probability)))
        assert not dominated.any()
    best = yaml.safe_load((folder / "policy_best.yaml").read_text())
    cheapest = candidates[candidates["feasible"]]["cost_100m_yuan"].min()
    assert best["levers"]["fiscal_st"]["change"] == pytest.approx(
        candidates.loc[candidates["cost_100m_yuan"] == cheapest, "fiscal_st.change"].iloc[0], abs=1e-4)
    scenario = build.scenario_config(best, model_info(MODEL_FILE), "policy_best")  # a valid scenario file
    assert scenario.name == "policy_best"


# ----------------------------------------------------------------------------- Dask and resume

def _small_table(n=48):
    rng = np.random.default_rng(3)
    return pd.DataFrame({"hte exit rate": rng.uniform(0.03, 0.07, n), "rd per hte": rng.uniform(0.04, 0.08, n)})


def _task():
    return ens.YearEndTask(str(MODEL_FILE), ("high tech enterprises", "rd intensity"), (2021.0, 2026.0))


def test_dask_local_cluster_equals_in_process(tmp_path):
    from dask.distributed import LocalCluster

    table = _small_table()
    local, _ = dask_exec.run_chunked(table, _task(), dask_exec.ExecSettings("local", chunk_size=16,
                                                                            progress=False), tmp_path / "a")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=dask_exec.FREE_PORT) as cluster:
        settings = dask_exec.ExecSettings(cluster.scheduler_address, chunk_size=16, progress=False)
        distributed, folder = dask_exec.run_chunked(table, _task(), settings, tmp_path / "b")
    assert distributed.shape == (48, 2, 2)
    np.testing.assert_array_equal(distributed, local)
    assert len(list(folder.glob("chunk_*.npy"))) == 3


@dataclasses.dataclass(frozen=True)
class CountingTask:
    """Wraps a task; logs each chunk it computes and can fail (interrupt) on a given call."""

    inner: ens.YearEndTask
    log: Path = dataclasses.field(repr=False)
    interrupt_on_call: int = dataclasses.field(default=-1, repr=False)

    def __call__(self, chunk):
        calls = self.log.read_text().count("\n") if self.log.exists() else 0
        if calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        with self.log.open("a") as fh:
            fh.write(f"{chunk.index[0]}\n")
        return self.inner(chunk)


def test_interrupted_run_resumes_without_redoing_finished_chunks(tmp_path):
    table = _small_table()
    settings = dask_exec.ExecSettings("local", chunk_size=16, progress=False)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with pytest.raises(KeyboardInterrupt):
        dask_exec.run_chunked(table, CountingTask(_task(), first_log, interrupt_on_call=2), settings, tmp_path)
    assert first_log.read_text().split() == ["0", "16"]
    values, _ = dask_exec.run_chunked(table, CountingTask(_task(), second_log), settings, tmp_path)
    assert second_log.read_text().split() == ["32"]  # only the chunk that had not finished
    fresh, _ = dask_exec.run_chunked(table, _task(), settings, tmp_path / "fresh")
    np.testing.assert_array_equal(values, fresh)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("args, fragments", [
    (["+experiment=projections", "experiment.indicators=[rd_intensty]"], ["unknown indicator", "rd_intensity"]),
    (["+experiment=attainment", "experiment.targets=[rd_intensity@2099]"], ["unknown target", "rd_intensity@2020"]),
    (["+experiment=policy_search", "+experiment.levers.fiscal_stt=[0,1]"], ["unknown lever", "fiscal_st"]),
    (["+experiment=sensitivity", "experiment.levers=[talnt]"], ["unknown lever", "talent"]),
    (["+experiment=sensitivity", "experiment.levers=talnt"], ["unknown lever 'talnt'", "talent"]),
    (["+experiment=sensitivity", "experiment.outputs=[nope]"], ["unknown indicator"]),
    (["+experiment=sensitivity", "experiment.sobol_base_samples=abc"],
     ["experiment.sobol_base_samples", "not an integer"]),
    (["+experiment=policy_search", "experiment.required_probability=x"],
     ["experiment.required_probability", "not a number"]),
    (["+experiment=sensitivity", "+experiment.parameters={rd_per_hte: 0.1}"],
     ["experiment.parameters.rd_per_hte", "not [lower, upper]"]),
    (["+experiment=sensitivity", "experiment.parameters={rd_per_hte: [a, 1]}"],
     ["experiment.parameters.rd_per_hte", "not [lower, upper]"]),
    (["+experiment=projections", "experiment.scenarios=[]"], ["empty"]),
    (["+experiment=projektions"], ["unknown experiment", "projections"]),
    (["-m", "scenario=glob(zzz*)"], ["sweep is empty"]),
    (["params=calibratd"], ["unknown parameter set", "calibrated"]),
    (["params=model_defaults", "uncertainty.mode=posterior"], ["no posterior draws", "model_defaults"]),
    (["+experiment=projections", "params=calibrated", "uncertainty.draws=5", "run.scheduler=tcp://127.0.0.1:9"],
     ["cannot reach the Dask scheduler", "tcp://127.0.0.1:9"]),
    (["run.scheduler=carrier-pigeon"], ["run.scheduler"]),
])
def test_bad_input_is_one_line_and_leaves_no_folder(cli, tmp_path, args, fragments):
    code, out = cli(*args)
    _one_line_error(code, out, *fragments)
    assert not [p for p in (tmp_path / "out").rglob("*") if p.suffix in (".csv", ".nc")]


def test_command_line_constants_are_never_replaced_by_draws(config_dir):
    # the hand-off may name constants with underscores; a value given on the command line wins
    draws = pd.DataFrame({"hte_exit_rate": [0.04, 0.05], "rd per hte": [0.05, 0.06]})
    write_parameter_set(ParameterSet("underscored", {"hte_exit_rate": 0.045}, "posterior median", None, {}),
                        draws, config_dir / "params")
    config = build.compose_run_config(["params=underscored", "params.hte_exit_rate=0.03"],
                                       model_info(MODEL_FILE), config_dir)
    table = ens.run_table(config, ens.posterior_draws(config))
    assert table["hte exit rate"].tolist() == [0.03, 0.03]
    assert table["rd per hte"].tolist() == [0.05, 0.06]


def test_interrupted_experiment_leaves_no_folder_and_resumes(cli, tmp_path, monkeypatch):
    args = ("+experiment=attainment", "params=calibrated", f"uncertainty.draws={N_DRAWS}",
            "experiment.scenarios=[baseline]", "run.chunk_size=5")  # 12 draws -> chunks of 5, 5, 2
    real_call = ens.YearEndTask.__call__
    computed = []

    def interrupt_second(self, chunk):
        if len(computed) == 1:
            raise KeyboardInterrupt
        computed.append(len(chunk))
        return real_call(self, chunk)

    monkeypatch.setattr(ens.YearEndTask, "__call__", interrupt_second)
    code, out = cli(*args)
    assert code == 130 and "no partial output" in out.err
    assert not (tmp_path / "out" / "experiments").exists() or not any((tmp_path / "out" / "experiments").rglob("*.csv"))
    assert len(list((tmp_path / "out" / ".chunks").rglob("chunk_*.npy"))) == 1 and computed == [5]
    computed.clear()

    def count(self, chunk):
        computed.append(len(chunk))
        return real_call(self, chunk)

    monkeypatch.setattr(ens.YearEndTask, "__call__", count)
    code, out = cli(*args)
    assert code == 0, out.err
    assert computed == [5, 2]  # the finished first chunk was loaded, not recomputed
    assert (_only_folder(tmp_path / "out", "experiments/*/*_attainment") / "attainment.csv").is_file()
    assert not (tmp_path / "out" / ".chunks").exists()


def test_sensitivity_free_parameters_are_the_validation_batterys():
    """One rule for 'free parameter' (model.validation.is_free_parameter): sensitivity's
    `parameters=free` and the battery's extreme-condition set must not drift apart."""
    from innosd.experiments.sensitivity import parameter_inputs
    from innosd.model import compile_model
    from innosd.model.validation import levers_and_free_parameters

    info = model_info(MODEL_FILE)
    config = build.compose_run_config(["params=model_defaults", "+experiment=sensitivity",
                                       "experiment.parameters=free"], info)
    inputs = parameter_inputs(experiment_settings(config.experiment), config, info, CONFIG_DIR)
    battery = levers_and_free_parameters(compile_model(MODEL_FILE).parameters)
    expected = set(battery.index[battery["kind"] == "parameter"])
    assert {i.constant for i in inputs} == expected and len(expected) >= 30


def test_discovery_writes_prim_boxes_and_robustness(cli, tmp_path):
    code, out = cli("+experiment=discovery", "params=calibrated", f"uncertainty.draws={N_DRAWS}",
                    "experiment.scenarios=[baseline,fiscal_doubling]", "experiment.lever_samples=4",
                    "experiment.threshold=0.2", "run.figures=false")
    assert code == 0, out.err
    folder = _only_folder(tmp_path / "out", "experiments/*/*_discovery")
    robustness = pd.read_csv(folder / "robustness.csv")
    assert set(robustness["scenario"]) == {"baseline", "fiscal_doubling"}
    # satisficing = the joint probability of the year's official targets, over the same draws
    assert robustness["satisficing"].between(0, 1).all() and (robustness["mean_regret"] >= 0).all()
    assert robustness["mean_regret"].min() == 0 or len(robustness) > 1
    boxes = pd.read_csv(folder / "prim_boxes.csv")
    assert list(boxes.columns) == ["box", "input", "input_kind", "lower", "upper", "coverage", "density", "mass",
                                   "cases", "runs", "restricted"]
    assert (boxes["coverage"].between(0, 1)).all() and (boxes["density"].between(0, 1)).all()
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["prim"]["package"] == "ema_workbench.analysis.prim" and meta["targets"] == [
        # the official 2025 targets the model maps (targets.csv): R&D intensity and, since model v2's
        # national tier, national-level incubators
        "rd_intensity@2025 >= 0.034", "incubators_national_level@2025 >= 60"]


def test_response_curves_share_the_draws_of_a_scenario_run(cli, tmp_path):
    # a response point is the scenario with one lever moved, over the same draws (posterior x outside
    # world) an attainment experiment uses: at change 0 it is the baseline's ensemble, at +100% of the
    # incubator lever it is the scenario that sets incubator.change=1
    common = ("params=calibrated", f"uncertainty.draws={N_DRAWS}")
    code, out = cli("+experiment=response", *common, "experiment.levers=[incubator,talent]",
                    "experiment.changes=[0,1]", "experiment.outputs=[incubators_national_level]")
    assert code == 0, out.err
    folder = _only_folder(tmp_path / "out", "experiments/*/*_response")
    response = pd.read_csv(folder / "response.csv").set_index(["lever", "change"])
    assert len(response) == 4 and set(response["output"]) == {"incubators_national_level@2025"}
    assert set(response["draws"]) == {N_DRAWS} and set(response["target"]) == {60.0}  # targets.csv's 2025 target
    code, out = cli("+experiment=attainment", *common, "experiment.scenarios=[baseline]",
                    "experiment.targets=[incubators_national_level@2025]")
    assert code == 0, out.err
    first = _only_folder(tmp_path / "out", "experiments/*/*_attainment*")
    ensemble = xr.open_dataset(first / "ensemble.nc")
    base = ensemble["national incubators"].sel(scenario="baseline", time=2026.0).to_numpy()
    for lever in ("incubator", "talent"):
        row = response.loc[(lever, 0.0)]
        assert row["median"] == pytest.approx(np.median(base), rel=SAME_RUN_RTOL)
        assert row["probability"] == pytest.approx((base >= 60).mean())
    code, out = cli("+experiment=attainment", *common, "experiment.scenarios=[baseline]",
                    "experiment.targets=[incubators_national_level@2025]", "scenario.levers.incubator.change=1")
    assert code == 0, out.err
    (moved,) = [p for p in (tmp_path / "out").glob("experiments/*/*_attainment*") if p.is_dir()
                and not p.name.startswith(".") and p != first]
    doubled = xr.open_dataset(moved / "ensemble.nc")["national incubators"].isel(scenario=0).sel(time=2026.0)
    assert response.loc[("incubator", 1.0), "p95"] == pytest.approx(float(doubled.quantile(0.95)),
                                                                    rel=SAME_RUN_RTOL)
    assert response.loc[("incubator", 1.0), "median"] > response.loc[("incubator", 0.0), "median"]


@pytest.mark.parametrize("args, fragments", [
    (("experiment.levers=[incubatr]",), ("experiment.levers", "'incubator'")),
    (("experiment.changes=[1]",), ("experiment.changes", "at least 2")),
    (("experiment.years=[2050]",), ("experiment.years", "2050")),
])
def test_response_bad_settings_are_one_line(cli, args, fragments):
    code, out = cli("+experiment=response", "params=model_defaults", *args)
    _one_line_error(code, out, *fragments)


def test_margin_and_regret_are_what_they_say():
    from innosd.experiments.discovery import margin, robustness_table

    targets = pd.DataFrame({"value": [2.0, 10.0], "direction": ["at_least", "at_most"]})
    values = np.array([[3.0, 9.0], [1.0, 5.0]])  # run 0: margins 0.5 and 0.1; run 1: -0.5 and 0.5
    assert margin(values, targets) == pytest.approx([0.1, -0.5])
    table = robustness_table(np.array([[0.1, -0.5], [0.2, -0.1]]), ["a", "b"], 2025).set_index("scenario")
    assert table.loc["a", "satisficing"] == 0.5 and table.loc["a", "mean_regret"] == pytest.approx(0.25)
    assert table.loc["b", "mean_regret"] == 0 and table.loc["b", "max_regret"] == 0
