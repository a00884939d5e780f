"""`innosd bench`: the compiled core against PySD, measured (never asserted).

    innosd bench                                  the project's model, 100,000 runs
    innosd bench --model tests/engine/models/exponential_decay.mdl --n 20000

The first compile is timed in a fresh Python process with empty caches (innosd's and
Numba's, so the runtime helpers compile too), as a user's first run pays it; the cached
load in a second fresh process.  "parse + generate" includes the LLVM compile of the
native single-run kernel (model.compiler.native: a model it translates needs no Numba
compile for run()); the native ensemble kernel is built at the first run_ensemble.
Everything else is measured in this process: PySD's run(), the compiled run() (whole
call, and the kernel alone), and run_ensemble over parameter sets with every constant
varied by +-20% (uniform, seeded) at a few sizes up to N.  Every timing is the MEDIAN
of repeated calls (the best of several flatters a shared machine).  Ends with one line per target of issue 16 (kernel >= 2,000x PySD's
run(); run() >= 1,000x; run_ensemble >= 100,000 runs/s on 2 cores; first compile < 5 s;
run_ensemble >= 3x a hand-written prange kernel), each PASS or FAIL, with the load
average (1 min) when it was measured: above the core count the cores were shared and
the timings are lower bounds on speed.
"""

from __future__ import annotations

import argparse
import os
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.model import MODEL_FILE

from innosd.errors import ModelError
from innosd.experiments.bench_handwritten import compare, median_seconds

DEFAULT_MODEL = MODEL_FILE
CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
TARGET_ENSEMBLE_RUNS_PER_S = 100_000  # issue 16, on 2 cores
TARGET_RUN_SPEEDUP = 1_000            # issue 16: compiled run() (DataFrame out) vs PySD
TARGET_KERNEL_SPEEDUP = 2_000         # issue 16: the single-run kernel vs PySD's run()
TARGET_FIRST_COMPILE_S = 5.0          # issue 16: parse + generate + Numba, empty cache
TARGET_VS_HAND = 3.0                  # issue 16: run_ensemble vs a hand-written prange kernel
ENSEMBLE_SIZES = (1_000, 10_000)      # timed besides --n: small batches show overheads


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# run in a fresh interpreter: what a user's first (or second) `innosd run` pays
_FIRST_USE = """
import json, os, sys, time
wall, cpu = time.perf_counter(), time.process_time()
load = os.getloadavg()[0]
from innosd.model.compiler import driver
import pandas as pd
imported = time.perf_counter() - wall
m = driver.compile_model(sys.argv[1])
generated = time.perf_counter() - wall
m.run()
first_run = time.perf_counter() - wall
first_run_cpu = time.process_time() - cpu
m.run_ensemble(pd.DataFrame(index=range(2)), return_columns=m.columns[:1])
both = time.perf_counter() - wall
print(json.dumps(dict(imported=imported, generated=generated, first_run=first_run,
                      first_run_cpu=first_run_cpu, both=both, both_cpu=time.process_time() - cpu,
                      from_cache=m.from_cache, load=load)))
"""


def _first_use(path: Path, cache: Path) -> dict:
    """Seconds from a fresh interpreter to the end of the first run() and of the first
    run_ensemble(), with INNOSD_CACHE_DIR and NUMBA_CACHE_DIR under `cache`."""
    env = dict(os.environ, INNOSD_CACHE_DIR=str(cache / "innosd"),
               NUMBA_CACHE_DIR=str(cache / "numba"))
    done = subprocess.run([sys.executable, "-c", _FIRST_USE, str(path)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise ModelError(f"innosd bench: the first-compile run of {path} failed: "
                         + (done.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _verdict(name: str, measured: str, target: str, passed: bool, load: float) -> str:
    return (f"{'PASS' if passed else 'FAIL'}  {name:<44} {measured:>22}   target {target:<16}"
            f" (load {load:.1f})")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="innosd bench", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--n", type=int, default=100_000, help="ensemble size")
    p.add_argument("--columns", type=int, default=10,
                   help="how many stock columns the ensemble saves (memory: N x time x cols)")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--hand-n", type=int, default=4000,
                   help="members for the ~100-variable model vs the hand-written kernel "
                        "(0: skip)")
    args = p.parse_args(argv)
    path = Path(args.model)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")

    import numba.core.config

    from innosd.model.compiler import driver
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "caches"
        first = _first_use(path, cache)
        cached = _first_use(path, cache)
        verdicts.append(_verdict("first compile + first run() (empty caches)",
                                 f"{first['first_run']:.2f} s", f"< {TARGET_FIRST_COMPILE_S:g} s",
                                 first["first_run"] < TARGET_FIRST_COMPILE_S, first["load"]))
        verdicts.append(_verdict("first compile + run() + run_ensemble()",
                                 f"{first['both']:.2f} s", f"< {TARGET_FIRST_COMPILE_S:g} s",
                                 first["both"] < TARGET_FIRST_COMPILE_S, first["load"]))
        # this process loads the kernels the fresh processes compiled (both caches)
        old = os.environ.get("INNOSD_CACHE_DIR"), numba.core.config.CACHE_DIR
        os.environ["INNOSD_CACHE_DIR"] = str(cache / "innosd")
        numba.core.config.CACHE_DIR = str(cache / "numba")
        try:
            driver._loaded.clear()
            m = driver.compile_model(path)
            m.run()
            m.run_ensemble(pd.DataFrame(index=range(2)), return_columns=m.columns[:1])
        finally:
            if old[0] is None:
                os.environ.pop("INNOSD_CACHE_DIR", None)
            else:
                os.environ["INNOSD_CACHE_DIR"] = old[0]
            numba.core.config.CACHE_DIR = old[1]
        driver._loaded.clear()

        import pysd
        shutil.copy(path, Path(tmp) / path.name)
        load_pysd = _load()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = pysd.read_vensim(str(Path(tmp) / path.name)) if path.suffix == ".mdl" \
                else pysd.read_xmile(str(Path(tmp) / path.name))
            t_pysd = median_seconds(lambda: ref.run(), 5)

    t_run = median_seconds(lambda: m.run(), 50)
    # the kernel alone: what calibration/optimisers pay per evaluation
    P = m._defaults.reshape(-1, 1).copy()
    times, save, dt, _, _ = m._time_grid(m._defaults)
    omap, cols = m._output_map(None)
    out = np.empty((len(cols), 1, int(save.sum())))
    kern = m._kernel("euler", ensemble=False)  # the kernel run() calls (native or Numba)
    cap = float(len(times) + 1)
    t_kernel = median_seconds(lambda: kern(P, times, save, dt, cap, m._lx, m._ly, omap, out, 0), 200)
    load_single = _load()
    verdicts.append(_verdict("compiled kernel alone vs PySD run()",
                             f"{t_pysd / t_kernel:,.0f}x", f">= {TARGET_KERNEL_SPEEDUP:,}x",
                             t_pysd / t_kernel >= TARGET_KERNEL_SPEEDUP, (load_pysd + load_single) / 2))
    verdicts.append(_verdict("compiled run() (DataFrame out) vs PySD run()",
                             f"{t_pysd / t_run:,.0f}x", f">= {TARGET_RUN_SPEEDUP:,}x",
                             t_pysd / t_run >= TARGET_RUN_SPEEDUP, (load_pysd + load_single) / 2))

    params = m.parameters
    varied = [n for n in params.index if n not in CONTROL and n not in m.fixed_parameters]
    rng = np.random.default_rng(args.seed)
    defaults = params.loc[varied, "default"].to_numpy()
    table = pd.DataFrame(defaults * rng.uniform(0.8, 1.2, (args.n, len(varied))),
                         columns=varied)
    ens_cols = (m.stocks or m.columns)[:args.columns]
    ens_times = {}
    for size in sorted({s for s in ENSEMBLE_SIZES if s < args.n} | {args.n}):
        sub = table.iloc[:size]
        repeat = 5 if size < args.n else 3
        ens_times[size] = median_seconds(lambda: m.run_ensemble(sub, return_columns=ens_cols), repeat)
    load_ens = _load()
    rate = args.n / ens_times[args.n]
    verdicts.append(_verdict(f"run_ensemble, N={args.n:,}, {os.cpu_count()} cores",
                             f"{rate:,.0f} runs/s", f">= {TARGET_ENSEMBLE_RUNS_PER_S:,}/s",
                             rate >= TARGET_ENSEMBLE_RUNS_PER_S, load_ens))
    # before/after: the same members as one scalar kernel each, in prange (what
    # run_ensemble did before the struct-of-arrays kernels), on the first 10,000
    base_n = min(args.n, ENSEMBLE_SIZES[-1])
    P_base = np.ascontiguousarray(m._param_matrix(table.iloc[:base_n]))
    omap_b, cols_b = m._output_map(ens_cols)
    out_b = np.empty((len(cols_b), base_n, int(save.sum())))
    base_args = (times, save, dt, cap, m._lx, m._ly, omap_b, out_b)
    m._mod.run_euler(P_base[:, :2].copy(), *base_args[:-1], out_b[:, :2].copy())
    t_base = median_seconds(lambda: m._mod.run_euler(P_base, *base_args), 3)
    # the Dataset run_ensemble returns: float64 (column, run, time) plus its two coordinates
    nsave = int(save.sum())
    nbytes = 8 * (len(ens_cols) * args.n * nsave + args.n + nsave)
    n_steps = len(times) - 1

    print(f"model: {path} ({len(m.columns)} output columns, {len(varied)} constants, "
          f"{n_steps} steps, {int(save.sum())} saved times)")
    print("every time below is the median of repeated calls; first compile and cached load "
          "are single fresh processes")
    print(f"first compile, fresh process, empty caches: import {first['imported']:.2f} s, "
          f"parse + generate {first['generated'] - first['imported']:.2f} s, "
          f"single-run kernel {first['first_run'] - first['generated']:.2f} s "
          f"-> first run() at {first['first_run']:.2f} s ({first['first_run_cpu']:.2f} s CPU); "
          f"ensemble kernel {first['both'] - first['first_run']:.2f} s more "
          f"({first['both_cpu']:.2f} s CPU in all; load {first['load']:.1f})")
    print(f"cached load + first run(), fresh process:   {cached['first_run']:8.3f} s   "
          f"(from disk cache: {cached['from_cache']}; + first run_ensemble "
          f"{cached['both'] - cached['first_run']:.3f} s)")
    print(f"PySD run():                               {t_pysd * 1e3:8.3f} ms")
    print(f"compiled run() (DataFrame out):           {t_run * 1e3:8.3f} ms   "
          f"{t_pysd / t_run:8.0f}x PySD")
    print(f"compiled kernel alone (one run):          {t_kernel * 1e6:8.1f} us   "
          f"{t_pysd / t_kernel:8.0f}x PySD")
    for size, t_ens in ens_times.items():
        r = size / t_ens
        print(f"run_ensemble N={size:>7} ({len(ens_cols)} columns saved): {t_ens:8.3f} s "
              f"{r:10.0f} runs/s = {r / TARGET_ENSEMBLE_RUNS_PER_S:5.2f} x target "
              f"({TARGET_ENSEMBLE_RUNS_PER_S:,} runs/s)")
    print(f"  before (scalar kernel per member, prange), N={base_n:>7}:    {t_base:8.3f} s "
          f"{base_n / t_base:10.0f} runs/s")
    print(f"ensemble output for N={args.n}: {nbytes / 1e6:.1f} MB")
    if args.hand_n > 0:
        load_hand = _load()
        with tempfile.TemporaryDirectory() as tmp:
            r = compare(Path(tmp), args.hand_n, args.seed)
        speedup = r["hand_s"] / r["ours_s"]
        print(f"~100-variable model ({r['variables']} variables, all {r['constants']} constants "
              f"varied), N={r['members']}: run_ensemble {r['ours_s']:.3f} s, hand-written "
              f"Numba prange kernel {r['hand_s']:.3f} s = {speedup:.2f}x; agree "
              f"{r['agree']} (largest relative difference {r['worst_relative_difference']:.1e})")
        verdicts.append(_verdict("run_ensemble vs hand-written prange kernel",
                                 f"{speedup:.2f}x" + ("" if r["agree"] else " (DISAGREE)"),
                                 f">= {TARGET_VS_HAND:g}x, agree",
                                 speedup >= TARGET_VS_HAND and r["agree"],
                                 (load_hand + _load()) / 2))
    print(f"\ntargets of issue 16 ({os.cpu_count()} cores; load = 1-minute load average while "
          "measured, above the core count the numbers are lower bounds):")
    for line in verdicts:
        print(line)
    return 0
