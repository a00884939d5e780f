"""`innosd bench`: the compiled core against PySD, measured (never asserted).

    innosd bench                                  the project's model, 100,000 runs
    innosd bench --model tests/engine/models/exponential_decay.mdl --n 20000

In one process: first compile (empty cache), cached load, PySD's run(), the compiled
run() (whole call, and the kernel alone), and run_ensemble over parameter sets with
every constant varied by +-20% (uniform, seeded) at a few sizes up to N.  Every timing
is the MEDIAN of repeated calls in this process (the best of several flatters a shared
machine).  Prints runs/s and each measurement as a ratio to its target in issue 16
(kernel >= 2,000x PySD's run(); run() >= 1,000x; run_ensemble >= 100,000 runs/s on 2
cores; first compile < 5 s), plus the load average before and after: on a shared
machine the numbers are lower bounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
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

    from innosd.model.compiler import driver
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("INNOSD_CACHE_DIR")
        os.environ["INNOSD_CACHE_DIR"] = str(Path(tmp) / "cache")
        try:
            t = time.perf_counter()
            m = driver.compile_model(path)
            m.run()
            first = time.perf_counter() - t
            driver._loaded.clear()
            t = time.perf_counter()
            m = driver.compile_model(path)
            m.run()
            cached = time.perf_counter() - t
            from_cache = m.from_cache
            # the ensemble kernels compile on first use (lazily): time that separately
            t = time.perf_counter()
            m.run_ensemble(pd.DataFrame(index=range(2)), return_columns=m.columns[:1])
            ens_compile = time.perf_counter() - t
        finally:
            if old is None:
                os.environ.pop("INNOSD_CACHE_DIR", None)
            else:
                os.environ["INNOSD_CACHE_DIR"] = old

        import pysd
        shutil.copy(path, Path(tmp) / path.name)
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
    kern = m._mod._run_one
    cap = float(len(times) + 1)
    t_kernel = median_seconds(lambda: kern(P, times, save, dt, cap, m._lx, m._ly, omap, out, 0), 200)

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
    def ratio(value, target):
        return f"{value / target:5.2f} x target"
    print("every time below is the median of repeated calls in this process")
    print(f"first compile (parse + generate + numba): {first:8.3f} s   "
          f"(target < {TARGET_FIRST_COMPILE_S:g} s: {ratio(TARGET_FIRST_COMPILE_S, first)})")
    print(f"cached load + first run:                  {cached:8.3f} s   (target < 0.5 s; "
          f"from disk cache: {from_cache})")
    print(f"PySD run():                               {t_pysd * 1e3:8.3f} ms")
    print(f"compiled run() (DataFrame out):           {t_run * 1e3:8.3f} ms   "
          f"{t_pysd / t_run:8.0f}x PySD   (target >= {TARGET_RUN_SPEEDUP:,}x: "
          f"{ratio(t_pysd / t_run, TARGET_RUN_SPEEDUP)})")
    print(f"compiled kernel alone (one run):          {t_kernel * 1e6:8.1f} us   "
          f"{t_pysd / t_kernel:8.0f}x PySD   (target >= {TARGET_KERNEL_SPEEDUP:,}x: "
          f"{ratio(t_pysd / t_kernel, TARGET_KERNEL_SPEEDUP)})")
    print(f"ensemble kernels, first compile:          {ens_compile:8.3f} s   (once per model; "
          f"cached on disk)")
    for size, t_ens in ens_times.items():
        rate = size / t_ens
        print(f"run_ensemble N={size:>7} ({len(ens_cols)} columns saved): {t_ens:8.3f} s "
              f"{rate:10.0f} runs/s = {rate / TARGET_ENSEMBLE_RUNS_PER_S:5.2f} x target "
              f"({TARGET_ENSEMBLE_RUNS_PER_S:,} runs/s)")
    print(f"  before (scalar kernel per member, prange), N={base_n:>7}:    {t_base:8.3f} s "
          f"{base_n / t_base:10.0f} runs/s")
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before and "
          f"{_load():.1f} after measuring (load above the core count means the cores were "
          "shared: the numbers are lower bounds)")
    print(f"ensemble output for N={args.n}: {nbytes / 1e6:.1f} MB")
    if args.hand_n > 0:
        with tempfile.TemporaryDirectory() as tmp:
            r = compare(Path(tmp), args.hand_n, args.seed)
        speedup = r["hand_s"] / r["ours_s"]
        print(f"~100-variable model ({r['variables']} variables, all {r['constants']} constants "
              f"varied), N={r['members']}: run_ensemble {r['ours_s']:.3f} s, hand-written "
              f"Numba prange kernel {r['hand_s']:.3f} s = {speedup:.2f}x (target >= "
              f"{TARGET_VS_HAND:g}x: {speedup / TARGET_VS_HAND:5.2f} x target); agree "
              f"{r['agree']} (largest relative difference {r['worst_relative_difference']:.1e})")
    return 0
