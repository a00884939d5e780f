"""The compiled core's ensembles against a hand-written Numba `prange` kernel (issue 16).

A ~100-variable benchmark model of our own: CHAINS identical-in-form stock chains, each
with seven constants, a lookup, a SMOOTH, a DELAY1 and a `^`:

    stock = INTEG(inflow - outflow, initial)
    inflow = growth base * effect(stock / capacity) * perceived stock
    perceived stock = SMOOTH(stock, smooth time)
    departures = stock ^ exponent / residence time
    outflow = DELAY1(departures, delay time)

`hand_kernel` is what a careful person writes for the same equations: state arrays over
the chains, Euler, one member per `prange` iteration.  `compare` runs both over the same
parameter sets (every constant varied +-20%), checks they agree, and times them (medians).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit, prange

CHAINS = 7                      # 7 x 14 variables + 4 control variables = 102
CONSTANTS = ("growth base", "capacity", "initial", "smooth time", "delay time", "exponent",
             "residence time")
LOOKUP_X = (0.0, 0.5, 1.0, 1.5, 2.0)
LOOKUP_Y = (1.0, 0.9, 0.5, 0.2, 0.0)
# the two kernels do the same float64 operations in a slightly different order (np.interp
# vs the compiled lookup, np.power vs the inlined pow): agreement to round-off
AGREEMENT_RTOL = 1e-9


def model_text(chains: int = CHAINS) -> str:
    """The benchmark model as Vensim text."""
    table = ",".join(f"({x:g},{y:g})" for x, y in zip(LOOKUP_X, LOOKUP_Y))
    eqs = []
    for k in range(1, chains + 1):
        values = (0.08 + 0.01 * k, 1000.0 * k, 100.0 * k, 2.0, 3.0, 0.9, 20.0)
        eqs += [f"{name} {k}= {v!r}\n~ Dmnl\n~ |" for name, v in zip(CONSTANTS, values)]
        eqs += [f"effect {k}([(0,0)-(2,1)],{table})\n~ Dmnl\n~ |",
                f"stock {k}= INTEG(inflow {k} - outflow {k}, initial {k})\n~ Dmnl\n~ |",
                f"crowding {k}= stock {k} / capacity {k}\n~ Dmnl\n~ |",
                f"inflow {k}= growth base {k} * effect {k}(crowding {k}) * perceived stock {k}"
                "\n~ Dmnl\n~ |",
                f"perceived stock {k}= SMOOTH(stock {k}, smooth time {k})\n~ Dmnl\n~ |",
                f"departures {k}= stock {k} ^ exponent {k} / residence time {k}\n~ Dmnl\n~ |",
                f"outflow {k}= DELAY1(departures {k}, delay time {k})\n~ Dmnl\n~ |"]
    eqs += ["INITIAL TIME= 0\n~ Year\n~ |", "FINAL TIME= 50\n~ Year\n~ |",
            "TIME STEP= 0.125\n~ Year\n~ |", "SAVEPER= 1\n~ Year\n~ |"]
    return "{UTF-8}\n" + "\n".join(eqs) + "\n"


@njit(cache=True, error_model="numpy", parallel=True)
def hand_kernel(C, lx, ly, t0, dt, nsteps, save_every, out):
    """C: (7, chains, N) constants in CONSTANTS order; out: (chains, N, n_save) stocks."""
    chains, n = C.shape[1], C.shape[2]
    for j in prange(n):
        g, cap, init, ts, td, ex, res = (C[0, :, j], C[1, :, j], C[2, :, j], C[3, :, j],
                                         C[4, :, j], C[5, :, j], C[6, :, j])
        s = init.copy()
        m = s.copy()                          # SMOOTH starts at its input
        d = s ** ex / res * td                # DELAY1 starts in equilibrium
        isave = 0
        for step in range(nsteps + 1):
            if step % save_every == 0:
                for k in range(chains):
                    out[k, j, isave] = s[k]
                isave += 1
            if step == nsteps:
                break
            for k in range(chains):
                inflow = g[k] * np.interp(s[k] / cap[k], lx, ly) * m[k]
                departures = s[k] ** ex[k] / res[k]
                outflow = d[k] / td[k]
                ds = inflow - outflow
                dm = (s[k] - m[k]) / ts[k]
                dd = departures - d[k] / td[k]
                s[k] += ds * dt
                m[k] += dm * dt
                d[k] += dd * dt
    return out


def median_seconds(fn, repeat: int) -> float:
    """Median of `repeat` calls, in seconds: robust to the other jobs on a shared machine
    without hiding them as the best-of would."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def compare(folder: Path, n_members: int, seed: int, repeat: int = 3) -> dict:
    """Both engines over the same `n_members` parameter sets: median seconds and agreement."""
    from innosd.model import compile_model
    path = folder / "bench_100_variables.mdl"
    path.write_text(model_text())
    model = compile_model(path)
    names = [f"{c} {k}" for c in CONSTANTS for k in range(1, CHAINS + 1)]
    defaults = model.parameters.loc[names, "default"].to_numpy()
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(defaults * rng.uniform(0.8, 1.2, (n_members, len(names))),
                         columns=names)
    stocks = [f"stock {k}" for k in range(1, CHAINS + 1)]
    C = np.ascontiguousarray(table.to_numpy().T.reshape(len(CONSTANTS), CHAINS, n_members))
    ctl = model.control_values()
    nsteps = int(round((ctl["FINAL TIME"] - ctl["INITIAL TIME"]) / ctl["TIME STEP"]))
    save_every = int(round(ctl["SAVEPER"] / ctl["TIME STEP"]))
    out = np.empty((CHAINS, n_members, nsteps // save_every + 1))
    args = (C, np.array(LOOKUP_X), np.array(LOOKUP_Y), ctl["INITIAL TIME"], ctl["TIME STEP"],
            nsteps, save_every, out)
    hand_kernel(*args)
    ours = model.run_ensemble(table.iloc[:16], return_columns=stocks)  # compile once
    ours = model.run_ensemble(table, return_columns=stocks)
    mine = np.stack([ours[c].values for c in stocks])
    agree = bool(np.isfinite(out).all()
                 and np.allclose(mine, out, rtol=AGREEMENT_RTOL, atol=0.0))
    worst = float(np.max(np.abs(mine - out) / np.maximum(np.abs(out), 1e-300)))
    t_hand = median_seconds(lambda: hand_kernel(*args), repeat)
    t_ours = median_seconds(lambda: model.run_ensemble(table, return_columns=stocks), repeat)
    return dict(variables=len(model.variables), constants=len(names), members=n_members,
                hand_s=t_hand, ours_s=t_ours, agree=agree, worst_relative_difference=worst)
