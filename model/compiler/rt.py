"""Scalar @njit helpers called by generated kernels; each mirrors a PySD function.

Kept tiny so LLVM inlines them into the kernels.  References are to
`pysd/py_backend/functions.py`, `lookups.py` and `statefuls.py` (PySD 3.14).
"""

from __future__ import annotations

import numpy as np
from numba import njit

SMALL_VENSIM = 1e-6  # functions.SMALL_VENSIM

# no numba-level inlining: the generated kernels are long straight-line code and
# Numba's SSA pass recurses per basic block; LLVM still inlines these small helpers
_opts = dict(cache=True, error_model="numpy")


@njit(**_opts)
def _ite(c, a, b):
    # functions.if_then_else
    return a if c != 0.0 else b


@njit(**_opts)
def _integer(x):
    # functions.integer: int(x) truncates toward zero
    return np.trunc(x)


@njit(**_opts)
def _quantum(a, b):
    # functions.quantum: a if b < SMALL else b*integer(a/b)
    if b < SMALL_VENSIM:
        return a
    return b * np.trunc(a / b)


@njit(**_opts)
def _modulo(x, m):
    return x - _quantum(x, m)


@njit(**_opts)
def _xidz(a, b, x):
    if abs(b) < SMALL_VENSIM:
        return x
    return a / b


@njit(**_opts)
def _zidz(a, b):
    if abs(b) < SMALL_VENSIM:
        return 0.0
    return a / b


@njit(**_opts)
def _step(t, dt, value, tstep):
    # functions.step: value * (time + time_step/2 > tstep)
    return value * (1.0 if t + dt / 2.0 > tstep else 0.0)


@njit(**_opts)
def _ramp(t, slope, start, finish):
    # functions.ramp: (t + SMALL > start) * slope * (min(finish, t) - start)
    return (1.0 if t + SMALL_VENSIM > start else 0.0) * slope * (np.minimum(finish, t) - start)


@njit(**_opts)
def _ramp_open(t, slope, start):
    return (1.0 if t + SMALL_VENSIM > start else 0.0) * slope * (t - start)


@njit(**_opts)
def _pulse(t, start, width):
    # functions.pulse with repeat_time=0
    if start - SMALL_VENSIM <= t and t < start + width:
        return 1.0
    return 0.0


@njit(**_opts)
def _pulse_train(t, start, repeat, width, end):
    if repeat == 0.0:
        return _pulse(t, start, width)
    if start <= t and t < end:
        r = (t - start + SMALL_VENSIM) % repeat
        return 1.0 if r < width else 0.0
    return 0.0


@njit(**_opts)
def _delay_order(order, dt, delay_time):
    # statefuls.Delay.initialize: reduce the order while order*TIME STEP > delay time
    k = float(int(order))
    while k * dt > delay_time:
        k -= 1.0
    return k


@njit(**_opts)
def _delay_init(i, k, value):
    return value if i < k else 0.0


@njit(**_opts)
def _delay_stage(i, k, value):
    return value if i < k else 0.0


@njit(**_opts)
def _pick(i, k, value):
    return value if i == k - 1.0 else 0.0


@njit(**_opts)
def _delay_fixed_order(delay_time, dt, cap):
    # statefuls.DelayFixed.initialize: round(max(delay/dt, 1) + SMALL); a pipe longer
    # than the run never wraps, so capping it at `cap` (> number of steps) is exact
    order = max(delay_time / dt, 1.0)
    k = float(round(order + SMALL_VENSIM))
    return min(k, cap)


@njit(**_opts)
def _lk_interp(x, LX, LY, off, n):
    # lookups.Lookups._call 'interpolate' / np.interp: clamp outside the range
    if x >= LX[off + n - 1]:
        return LY[off + n - 1]
    if x <= LX[off]:
        return LY[off]
    lo = off
    hi = off + n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if LX[mid] <= x:
            lo = mid
        else:
            hi = mid
    if LX[lo] == x:
        return LY[lo]
    slope = (LY[hi] - LY[lo]) / (LX[hi] - LX[lo])
    return slope * (x - LX[lo]) + LY[lo]


@njit(**_opts)
def _lk_extrap(x, LX, LY, off, n):
    last = off + n - 1
    if x > LX[last]:
        k = (LY[last] - LY[last - 1]) / (LX[last] - LX[last - 1])
        return LY[last] + k * (x - LX[last])
    if x < LX[off]:
        k = (LY[off + 1] - LY[off]) / (LX[off + 1] - LX[off])
        return LY[off] + k * (x - LX[off])
    return _lk_interp(x, LX, LY, off, n)


@njit(**_opts)
def _lk_hold(x, LX, LY, off, n):
    # 'hold_backward': the value at the largest x point <= x
    last = off + n - 1
    if x >= LX[last]:
        return LY[last]
    if x <= LX[off]:
        return LY[off]
    i = off
    while i + 1 <= last and LX[i + 1] <= x:
        i += 1
    return LY[i]
