"""Experiment benchmark: prints measured wall-clock times (no pass/fail thresholds here).

    python -m innosd.experiments.bench_experiments                  both benchmarks
    python -m innosd.experiments.bench_experiments --only ensemble  1,000 draws x every scenario
    python -m innosd.experiments.bench_experiments --only sobol     Sobol, 2^14 base samples, 20 inputs
    options: --draws N  --sobol-power K  --inputs D  --scheduler local|cluster|tcp://...  --repeat R

1. Posterior projections: N draws (default 1,000) x every scenario to 2035, through the
   same code as `+experiment=projections` (parameter table, chunked ensemble, year-end
   values, projections.csv and attainment.csv tables; no files written). The draws come
   from `scenarios/params/calibrated_draws.csv` when it holds at least N rows; otherwise
   N draws are sampled uniformly from the calibration's prior boxes and the output says so.
2. Sobol: 2^K base samples (default 2^14) over D inputs (default 20: the first D-4 prior
   boxes of scenarios/calibration/default.yaml and 4 fiscal levers), N (D + 2) runs,
   first- and total-order indices with bootstrap intervals for 9 outputs.

Targets (issue 5): (1) under 10 s, (2) under 2 minutes, on 2 cores. Times are wall-clock
on whatever else the machine is doing; run it on an idle machine for clean numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.calibration.data import load_observations, load_targets
from innosd.calibration.handoff import ParameterSet, load_parameter_set, load_posterior_draws, write_parameter_set
from innosd.experiments import ensemble as ens
from innosd.model import MODEL_FILE
from innosd.model.indicators import model_indicators, select_indicators
from innosd.model.info import model_info, resolve_constant
from innosd.experiments.experiment import scenario_projection_tables

from innosd.errors import DataError
from innosd.scenarios import CONFIG_DIR, build, compose
from innosd.scenarios.schema import experiment_settings

ENSEMBLE_TARGET_S = 10.0
SOBOL_TARGET_S = 120.0
BENCH_LEVERS = ("fiscal_st", "post_subsidy", "risk_pool", "guidance_fund")


def draws_source(n: int, config_dir: Path, seed: int) -> str:
    """Make sure `config_dir/params/bench.yaml` has n draws; say where they came from."""
    from innosd.experiments.sensitivity import prior_boxes

    try:
        calibrated = load_parameter_set("calibrated", config_dir / "params")
        draws = load_posterior_draws(calibrated, config_dir / "params", n=n, seed=seed)
        write_parameter_set(ParameterSet("bench", calibrated.params, calibrated.statistic, None,
                                         calibrated.source), draws, config_dir / "params")
        return f"{n} of the calibrated posterior draws (scenarios/params/calibrated_draws.csv)"
    except DataError:
        pass
    info = model_info(MODEL_FILE)
    boxes = prior_boxes(CONFIG_DIR / "calibration" / "default.yaml")
    rng = np.random.default_rng(seed)
    draws = pd.DataFrame({resolve_constant(k, info, k): rng.uniform(lo, hi, n) for k, (lo, hi) in boxes.items()})
    write_parameter_set(ParameterSet("bench", {}, "synthetic", None, {"note": "uniform over the prior boxes"}),
                        draws, config_dir / "params")
    return (f"{n} synthetic draws, uniform over the {len(boxes)} prior boxes of scenarios/calibration/default.yaml "
            "(no calibrated set with enough draws yet)")


def bench_ensemble(n_draws: int, scheduler: str, repeat: int, work: Path) -> list[float]:
    config_dir = work / "scenarios"
    shutil.copytree(CONFIG_DIR, config_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    print(f"draws: {draws_source(n_draws, config_dir, seed=0)}")
    info = model_info(MODEL_FILE)
    observations, targets = load_observations(), load_targets()
    indicators = model_indicators(observations, targets)
    names = compose.options("scenario", config_dir)
    overrides = ["params=bench", f"uncertainty.draws={n_draws}", f"run.output_dir={work / 'out'}",
                 f"run.scheduler={scheduler}", "run.progress=false"]
    times = []
    for attempt in range(repeat):
        start = time.perf_counter()
        configs = {s: build.compose_run_config(overrides + [f"scenario={s}"], info, config_dir) for s in names}
        composed = time.perf_counter()
        ds, projections, attainment, folder = scenario_projection_tables(
            configs, indicators, targets, ens.FIRST_YEAR, ens.LAST_YEAR, "bench")
        ens.discard_chunks(folder)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        runs = ds.sizes["scenario"] * ds.sizes["draw"]
        print(f"  [{attempt + 1}] {len(names)} scenarios x {ds.sizes['draw']} draws = {runs} runs to 2035: "
              f"{elapsed:.2f} s (config composition {composed - start:.2f} s; {runs / elapsed:,.0f} runs/s "
              f"end to end); projections.csv {len(projections)} rows, attainment.csv {len(attainment)} rows")
    return times


def bench_sobol(power: int, n_inputs: int, scheduler: str, work: Path) -> float:
    from innosd.experiments.sensitivity import prior_boxes, sensitivity_tables

    info = model_info(MODEL_FILE)
    boxes = prior_boxes(CONFIG_DIR / "calibration" / "default.yaml")
    n_params = n_inputs - len(BENCH_LEVERS)
    chosen = dict(list(boxes.items())[:n_params])
    config = build.compose_run_config([f"run.output_dir={work / 'out'}", f"run.scheduler={scheduler}",
                                       "run.chunk_size=16384", "+experiment=sensitivity"], info)
    settings = dataclasses.replace(experiment_settings(config.experiment), methods=["sobol"],
                                   parameters={k: list(v) for k, v in chosen.items()},
                                   levers=list(BENCH_LEVERS), sobol_base_samples=2 ** power)
    indicators = select_indicators(list(settings.outputs), model_indicators(load_observations(),
                                                                                     load_targets()), "outputs")
    start = time.perf_counter()
    timings: dict[str, float] = {}
    sobol, _, folders, runs, inputs = sensitivity_tables(config, settings, info, indicators, CONFIG_DIR,
                                                         timings)
    elapsed = time.perf_counter() - start
    for folder in folders:
        ens.discard_chunks(folder)
    top = sobol[sobol["output"] == "rd_intensity@2025"].nlargest(3, "ST")[["input", "ST"]]
    print(f"  Sobol 2^{power} = {2 ** power} base samples x {len(inputs)} inputs = {runs:,} runs, "
          f"{len(sobol['output'].unique())} outputs: {elapsed:.1f} s ({runs / elapsed:,.0f} runs/s end to end)")
    print(f"  of which sampling + model runs {timings['sobol_sample_and_run_s']:.1f} s "
          f"({runs / timings['sobol_sample_and_run_s']:,.0f} runs/s), SALib analysis with bootstrap intervals "
          f"{timings['sobol_analyse_s']:.1f} s")
    print("  largest total-order indices of rd_intensity@2025: "
          + ", ".join(f"{r.input} {r.ST:.2f}" for r in top.itertuples()))
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m innosd.experiments.bench_experiments",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("ensemble", "sobol"))
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--sobol-power", type=int, default=14)
    parser.add_argument("--inputs", type=int, default=20)
    parser.add_argument("--scheduler", default="local")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (shared machine: times are noisy)")
    with tempfile.TemporaryDirectory(prefix="innosd-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "ensemble"):
            print(f"1. posterior projections (target < {ENSEMBLE_TARGET_S:g} s)")
            times = bench_ensemble(args.draws, args.scheduler, args.repeat, work)
            print(f"   first {times[0]:.2f} s (includes loading the compiled model), best {min(times):.2f} s")
        if args.only in (None, "sobol"):
            print(f"2. Sobol sensitivity (target < {SOBOL_TARGET_S:g} s)")
            bench_sobol(args.sobol_power, args.inputs, args.scheduler, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
