"""Concurrency (issue 17, cases 1 and 6): two calibrations handing off into one folder, two
runs writing one folder name in the same second. Nothing mixed, nothing lost."""

from __future__ import annotations

import multiprocessing
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from innosd.calibration import handoff
from innosd.rundir import read_folder
from tests.reliability.common import HANG_S, innosd

# A calibration budget of seconds (the result is not a posterior anyone should use).
# 96 walkers: model v2 has 42 free constants and the sampler needs at least twice as many
TINY_CALIBRATION = ("run.figures=false", "run.progress=false", "handoff.draws=20", "handoff.allow_dirty=true",
                    "calibration.optimiser.screen=16", "calibration.optimiser.starts=1",
                    "calibration.optimiser.max_iterations=1", "calibration.sampler.walkers=96",
                    "calibration.sampler.steps=3", "calibration.sampler.burn=1", "calibration.sampler.thin=1",
                    "calibration.profile.points=3", "calibration.profile.max_iterations=1",
                    "calibration.profile.parameters=[]")


def finish(processes) -> list[tuple[int, str]]:
    """(exit code, stderr) of each process; one still running after the hang guard is killed."""
    results = []
    for process in processes:
        try:
            _, err = process.communicate(timeout=HANG_S * 5)  # a guard on a shared machine, not a speed claim
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            err = f"killed after {HANG_S * 5} s\n{err}"
        results.append((process.returncode, err))
    return results


@pytest.mark.slow  # two real calibrations at a tiny budget: ~20 s each on an idle machine
def test_two_calibrations_leave_one_matching_handoff(tmp_path):
    params = tmp_path / "params"
    runs = [innosd("calibrate", f"seed={seed}", f"hydra.run.dir={tmp_path / 'calibration'}",
                   f"handoff.params_dir={params}", *TINY_CALIBRATION, cwd=tmp_path) for seed in (0, 1)]
    for code, err in finish(runs):
        assert code == 0, err
    loaded = handoff.load_parameter_set("calibrated", params)
    draws = handoff.load_posterior_draws(loaded, params)  # verifies the pair's checksum
    assert len(draws) == 20
    # the YAML and the draws come from the same calibration: its folder and seed
    folder = Path(loaded.source["run_dir"])
    assert read_folder(folder).metadata["seed"] == loaded.source["seed"]
    assert sorted(p.name for p in params.iterdir()) == [".calibrated.lock", "calibrated.yaml",
                                                         "calibrated_draws.csv"]
    # both calibration folders were kept: the second one asked for the same name
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("calibration")) == \
        ["calibration", "calibration-2"]


def _hand_off(args) -> None:
    params, seed = args
    draws = pd.DataFrame({"hte exit rate": [seed + i / 1000 for i in range(500)]})
    for _ in range(20):
        handoff.write_parameter_set(handoff.ParameterSet("calibrated", {"hte exit rate": float(seed)}, "test",
                                                         source={"seed": seed}), draws, params)


def test_many_concurrent_handoffs_never_mix(tmp_path):
    params = tmp_path / "params"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_hand_off, [(params, 1), (params, 2)])
    loaded = handoff.load_parameter_set("calibrated", params)
    draws = handoff.load_posterior_draws(loaded, params)
    assert loaded.params["hte exit rate"] == loaded.source["seed"]
    assert (draws["hte exit rate"].round() == loaded.source["seed"]).all()
    assert not [p for p in params.iterdir() if p.name.endswith(".tmp")]


def test_two_runs_in_the_same_second_both_keep_their_results(tmp_path):
    folder = tmp_path / "same"  # one name for both, as two runs started in the same second get
    runs = [innosd("run", f"hydra.run.dir={folder}", "uncertainty.mode=none", "run.figures=false",
                   f"scenario={scenario}", cwd=tmp_path) for scenario in ("baseline", "fiscal_doubling")]
    for code, err in finish(runs):
        assert code == 0, err
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert written == ["same", "same-2"]
    assert {read_folder(tmp_path / name).scenario for name in written} == {"baseline", "fiscal_doubling"}
