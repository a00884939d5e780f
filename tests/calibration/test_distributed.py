"""Tier 3: the calibration's model batches on Dask workers (`run.scheduler`, issue 13 item 7): the
same seed gives the same posterior as in this process, and a scheduler without workers is one line."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from innosd.experiments import dask_exec
from innosd.experiments.cli import main as cli_main

EXAMPLE = Path(__file__).resolve().parents[2] / "calibration" / "examples" / "teacup"
# The teacup example (test_user_model.py) at a tiny budget: 32 walkers x 40 steps.
COMMAND = ["calibrate", "calibration=model_file", f"calibration.model={EXAMPLE / 'teacup.mdl'}",
           f"calibration.observations_file={EXAMPLE / 'observations.csv'}", "calibration.optimiser.screen=32",
           "calibration.optimiser.starts=1", "calibration.optimiser.max_iterations=30",
           "calibration.sampler.steps=40", "calibration.sampler.burn=20", "calibration.sampler.thin=2",
           "handoff.write=false", "run.progress=false", "run.figures=false"]


def test_batches_on_a_local_cluster_give_the_same_posterior(tmp_path, capsys):
    from dask.distributed import Client, LocalCluster

    assert cli_main([*COMMAND, f"hydra.run.dir={tmp_path / 'local'}"]) == 0, capsys.readouterr().err
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=dask_exec.FREE_PORT) as cluster:
        code = cli_main([*COMMAND, f"hydra.run.dir={tmp_path / 'dask'}", f"run.scheduler={cluster.scheduler_address}"])
        assert code == 0, capsys.readouterr().err
        with Client(cluster) as client:  # every worker built the model's evaluator: batches ran there
            built = client.run(_evaluators_built)
    local = xr.open_dataset(tmp_path / "local" / "posterior.nc", group="posterior")
    distributed = xr.open_dataset(tmp_path / "dask" / "posterior.nc", group="posterior")
    for name in local.data_vars:  # bit for bit: each row's run does not depend on its batch
        np.testing.assert_array_equal(distributed[name].to_numpy(), local[name].to_numpy())
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "dask" / "fit.csv"),
                                  pd.read_csv(tmp_path / "local" / "fit.csv"))
    assert len(built) == 2 and all(n >= 1 for n in built.values()), built


def _evaluators_built() -> int:
    from innosd.calibration.likelihood import _evaluator

    return _evaluator.cache_info().currsize


def test_a_scheduler_without_workers_is_one_line(tmp_path, capsys):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=dask_exec.FREE_PORT) as cluster, \
            mock.patch.object(dask_exec, "WORKERS_TIMEOUT_S", 1.0):
        code = cli_main([*COMMAND, f"run.output_dir={tmp_path}", f"run.scheduler={cluster.scheduler_address}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "has no workers" in err, err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("value, message", [("slurm", "run.scheduler: 'slurm' is neither local nor cluster"),
                                            ("0", "run.workers")])
def test_bad_scheduler_settings_are_one_line(tmp_path, capsys, value, message):
    key = "run.workers" if value == "0" else "run.scheduler"
    code = cli_main([*COMMAND, f"run.output_dir={tmp_path}", f"{key}={value}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
