"""Faults and determinism (issue 17, cases 5, 7, 8, 9, 10): unwritable output folders, a
report that fails after the results are written, stale partial folders, damaged resume
chunks, a Dask scheduler without workers, SALib's seed 0."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from innosd.errors import ConfigError
from innosd.experiments import dask_exec, sensitivity
from innosd.experiments.dask_exec import ExecSettings, run_chunked
from innosd.rundir import atomic_directory, read_folder
from tests.reliability.common import assert_one_line, cli, no_hang

RUN = ("uncertainty.mode=none", "run.figures=false")


@pytest.mark.parametrize("output_dir", ["/proc/innosd-cannot-write-here", "a-file"])
def test_an_unwritable_output_folder_is_one_line_before_the_work(tmp_path, output_dir):
    (tmp_path / "a-file").write_text("a file, not a folder\n", encoding="utf-8")
    target = output_dir if output_dir.startswith("/") else str(tmp_path / output_dir)
    with mock.patch("innosd.experiments.run.simulate", side_effect=AssertionError("the work ran")):
        code, err = cli("run", f"run.output_dir={target}", *RUN)
    assert_one_line(code, err, "run")


def test_a_failing_report_keeps_the_results_and_says_where(tmp_path):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with mock.patch("innosd.figures.report.build_report", side_effect=full):
        code, err = cli("run", f"hydra.run.dir={tmp_path / 'run'}", "uncertainty.mode=none")
    assert_one_line(code, err, "run", "No space left on device")
    assert f"the results are complete in {tmp_path / 'run'}" in err
    assert read_folder(tmp_path / "run").has("results.nc")


@pytest.mark.parametrize("full, fragment", [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results.nc"), "No space left on device"),
    (RuntimeError("NetCDF: HDF error"), "NetCDF: HDF error"),  # how netCDF4 says the disk is full
])
def test_a_disk_error_while_writing_is_one_line(tmp_path, full, fragment):
    with mock.patch("xarray.Dataset.to_netcdf", side_effect=full):
        code, err = cli("run", f"hydra.run.dir={tmp_path / 'run'}", *RUN)
    assert_one_line(code, err, "run", fragment)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing half-written


def test_stale_partial_folders_are_cleaned(tmp_path):
    dead = tmp_path / ".run.999999999.abc123.partial"   # a pid no process has: killed writer
    old = tmp_path / ".run.xyz.partial"                 # written before the pid was in the name
    live = tmp_path / f".run.{os.getpid()}.def456.partial"  # a writer still at work
    for folder in (dead, old, live):
        folder.mkdir()
    os.utime(old, (0, 0))
    with atomic_directory(tmp_path / "run") as staging:
        (staging / "file").write_text("x", encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", live.name])


class CountingTask:
    """Rows times 2; counts the chunks it computes (picklable, deterministic)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, chunk: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        return chunk.to_numpy() * 2

    def __repr__(self) -> str:  # the fingerprint uses repr: the same task every time
        return "CountingTask()"


@pytest.mark.parametrize("damage", ["truncated", "zeros", "checksum missing"])
def test_a_damaged_resume_chunk_is_computed_again(tmp_path, damage):
    table = pd.DataFrame({"x": np.arange(10.0)})
    settings = ExecSettings(chunk_size=4, progress=False)
    first, folder = run_chunked(table, CountingTask(), settings, tmp_path)
    chunk = folder / "chunk_00001.npy"
    if damage == "truncated":
        chunk.write_bytes(chunk.read_bytes()[:40])
    elif damage == "zeros":
        np.save(chunk, np.zeros((4, 1)))
    else:
        next(folder.glob("chunk_00001.npy.*")).unlink()
    task = CountingTask()
    again, _ = run_chunked(table, task, settings, tmp_path)
    assert task.calls == 1  # only the damaged chunk
    np.testing.assert_array_equal(again, first)


def test_a_scheduler_without_workers_times_out_in_one_line(tmp_path):
    from dask.distributed import LocalCluster

    table = pd.DataFrame({"x": np.arange(4.0)})
    with LocalCluster(n_workers=0, processes=False, dashboard_address=dask_exec.FREE_PORT) as cluster, \
            mock.patch.object(dask_exec, "WORKERS_TIMEOUT_S", 1.0):
        settings = ExecSettings(scheduler=cluster.scheduler_address, chunk_size=2, progress=False)
        with no_hang(60), pytest.raises(ConfigError, match="has no workers") as err:  # it waited for ever
            run_chunked(table, CountingTask(), settings, tmp_path)
    assert "\n" not in str(err.value)


def test_sobol_intervals_are_reproducible_at_seed_zero():
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    x = sobol_sample.sample(problem, 64, calc_second_order=False, seed=0)
    outputs = {"y": x[:, 0] + 2 * x[:, 1] ** 2 + 0.1 * x[:, 2]}
    inputs = [sensitivity.Input(name, name, "parameter", 0.0, 1.0) for name in problem["names"]]
    first = sensitivity.sobol_indices(problem, outputs, inputs, seed=0)
    second = sensitivity.sobol_indices(problem, outputs, inputs, seed=0)
    pd.testing.assert_frame_equal(first, second)
    other = sensitivity.sobol_indices(problem, outputs, inputs, seed=1)
    assert not np.allclose(first["S1_conf"], other["S1_conf"])  # the seed matters


def test_a_read_only_cache_folder_still_compiles(tmp_path, monkeypatch, capsys):
    from innosd.experiments.cli import main as cli_main

    monkeypatch.setenv("INNOSD_CACHE_DIR", "/proc/innosd-cannot-cache-here")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the private cache goes with the test
    model = Path(__file__).parents[1] / "engine" / "models" / "exponential_decay.mdl"
    code = cli_main(["simulate", str(model), "--out", str(tmp_path / "run.csv")])
    assert code == 0, capsys.readouterr().err
    assert "cannot be written" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "run.csv")) > 1
