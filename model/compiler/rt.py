"""Scalar @njit helpers called by generated kernels; each mirrors a PySD function.

Kept tiny so LLVM inlines them into the kernels.  References are to
`pysd/py_backend/functions.py`, `lookups.py` and `statefuls.py` (PySD 3.14).
"""

from __future__ import annotations

import math

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


# a table up to this many points is searched by a branch-free scan (selects, no loop
# once LLVM unrolls it for the table's constant length), so the member loop of the
# ensemble kernels can vectorise; longer tables use a binary search
LOOKUP_SCAN_POINTS = 32


@njit(**_opts)
def _lk_interp(x, LX, LY, off, n):
    # lookups.Lookups._call 'interpolate' / np.interp: clamp outside the range.  `lo`
    # is the last point with LX[lo] <= x under either search, so both give one value
    last = off + n - 1
    lo = off
    if n <= LOOKUP_SCAN_POINTS:
        for i in range(off + 1, last):
            lo = i if LX[i] <= x else lo
    else:
        hi = last
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if LX[mid] <= x:
                lo = mid
            else:
                hi = mid
    hi = lo + 1 if n > 1 else lo
    xl = LX[lo]
    yl = LY[lo]
    v = (LY[hi] - yl) / (LX[hi] - xl) * (x - xl) + yl
    v = yl if xl == x else v
    v = LY[off] if x <= LX[off] else v
    return LY[last] if x >= LX[last] else v


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
def _lk_raw(x, LX, LY, off, n):
    # data.Data.__call__ 'raw': the value at a data time, NaN between them
    for i in range(off, off + n):
        if LX[i] == x:
            return LY[i]
    return np.nan


@njit(**_opts)
def _lk_forward(x, LX, LY, off, n):
    # Vensim LOOKUP FORWARD: the value at the smallest x point >= x (clamped at the ends)
    last = off + n - 1
    if x >= LX[last]:
        return LY[last]
    i = off
    while LX[i] < x:
        i += 1
    return LY[i]


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


# ---------------------------------------------------------------------------------
# exp / log / pow emitted as inline LLVM IR.  Without Intel's SVML, LLVM turns a
# vectorised llvm.exp / llvm.pow into one libm call per lane, and those calls were
# nearly all of an ensemble step.  These are branch-free IR (selects, not calls), so
# they vectorise across ensemble members; Numba would not inline njit versions into the
# large kernels.  Single-run and ensemble kernels both use them, so the two stay
# bit-identical; against libm they are within a few ulp (tests/engine/test_engine.py).

from llvmlite import ir as _ir  # noqa: E402
from numba import types as _types  # noqa: E402
from numba.extending import intrinsic as _intrinsic  # noqa: E402

_F64 = _ir.DoubleType()
_I64 = _ir.IntType(64)
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm split of ln 2: n*HI is exact for |n| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_EXP_OVERFLOW = 709.782712893384      # exp(x) > DBL_MAX above this
_EXP_UNDERFLOW = -745.1332191019412   # exp(x) rounds to 0 below this
_SQRT2 = 1.4142135623730951
_TWO54 = 18014398509481984.0          # scales subnormals into the normal range
_DBL_MIN = 2.2250738585072014e-308
_TWO53 = 9007199254740992.0           # above this every double is an even integer
# Taylor coefficients of exp to r^13 on |r| <= ln2/2: truncation 4e-18, below 1/2 ulp
_EXP_POLY = [1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
             1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
             1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0]
# atanh series 1/3, 1/5, ... 1/25 in s^2, |s| <= 0.1716: truncation < 1e-19
_LOG_POLY = [1.0 / k for k in range(25, 2, -2)]


# The emitters work on a double or on a vector of doubles (model.compiler.native's
# ensemble kernel computes CHUNK members per operation): constants and integer types
# take the shape of the operand `like`; every lane is the scalar computation exactly.

def _shape(like, elem):
    t = like.type
    return _ir.VectorType(elem, t.count) if isinstance(t, _ir.VectorType) else elem


def _c(v, like=None):
    if like is None or not isinstance(like.type, _ir.VectorType):
        return _ir.Constant(_F64, v)
    return _ir.Constant(like.type, [v] * like.type.count)


def _ci(v, like):
    t = _shape(like, _I64)
    return _ir.Constant(t, [v] * t.count) if isinstance(t, _ir.VectorType) else _ir.Constant(t, v)


def _intr(builder, name, *args):
    """Call the float intrinsic `name` (llvm.fabs, ...) on doubles or vectors of them
    (llvmlite's declare_intrinsic names scalar overloads only)."""
    t = args[0].type
    if not isinstance(t, _ir.VectorType):
        return builder.call(builder.module.declare_intrinsic(name, [t]), list(args))
    full = f"{name}.v{t.count}f64"
    fn = builder.module.globals.get(full) or \
        _ir.Function(builder.module, _ir.FunctionType(t, [t] * len(args)), full)
    return builder.call(fn, list(args))


def _estrin(b, x, coefs):
    """sum(coefs[k] * x**k) by Estrin's scheme: pairs c0 + c1 x, then pairs of those
    with x^2, x^4, ...  Depth log2(n) instead of Horner's n dependent multiply-adds:
    in a vectorised ensemble step the latency of these chains was the bottleneck."""
    terms = [_c(c, x) for c in coefs]
    power = x
    while len(terms) > 1:
        if len(terms) % 2:
            terms.append(_c(0.0, x))
        terms = [b.fadd(terms[i], b.fmul(terms[i + 1], power))
                 for i in range(0, len(terms), 2)]
        power = b.fmul(power, power)
    return terms[0]


def _lt(b, x, v):
    return b.fcmp_ordered("<", x, _c(v, x) if isinstance(v, float) else v)


def _emit_exp(b, x):
    # x = n ln2 + r (Cody-Waite); exp(r) by its Taylor polynomial (Estrin); 2^n from
    # exponent bits, in two halves so that n down to -1075 stays a normal number
    xc = b.select(_lt(b, x, 709.8), x, _c(709.8, x))        # NaN -> 709.8, patched below
    xc = b.select(b.fcmp_ordered(">", xc, _c(-745.2, x)), xc, _c(-745.2, x))
    n = _intr(b, "llvm.rint", b.fmul(xc, _c(_LOG2E, x)))
    r = b.fsub(b.fsub(xc, b.fmul(n, _c(_LN2_HI, x))), b.fmul(n, _c(_LN2_LO, x)))
    p = _estrin(b, r, _EXP_POLY[::-1])
    ni = b.fptosi(n, _shape(x, _I64))
    n1 = b.ashr(ni, _ci(1, x))
    n2 = b.sub(ni, n1)
    bias = _ci(1023, x)
    s1 = b.bitcast(b.shl(b.add(n1, bias), _ci(52, x)), _shape(x, _F64))
    s2 = b.bitcast(b.shl(b.add(n2, bias), _ci(52, x)), _shape(x, _F64))
    res = b.fmul(b.fmul(p, s1), s2)
    res = b.select(b.fcmp_ordered(">", x, _c(_EXP_OVERFLOW, x)), _c(float("inf"), x), res)
    res = b.select(_lt(b, x, _EXP_UNDERFLOW), _c(0.0, x), res)
    return b.select(b.fcmp_unordered("uno", x, x), x, res)


def _emit_log(b, x):
    # x = 2^e m, m in [sqrt(2)/2, sqrt(2)); log m = 2 atanh(s), s = (m - 1)/(m + 1)
    small = _lt(b, x, _DBL_MIN)
    xs = b.select(small, b.fmul(x, _c(_TWO54, x)), x)
    bits = b.bitcast(xs, _shape(x, _I64))
    e = b.sub(b.ashr(bits, _ci(52, x)), _ci(1023, x))
    e = b.select(small, b.sub(e, _ci(54, x)), e)
    mbits = b.or_(b.and_(bits, _ci(0x000FFFFFFFFFFFFF, x)),
                  _ci(0x3FF0000000000000, x))
    m = b.bitcast(mbits, _shape(x, _F64))
    big = b.fcmp_ordered(">", m, _c(_SQRT2, x))
    m = b.select(big, b.fmul(m, _c(0.5, x)), m)
    e = b.select(big, b.add(e, _ci(1, x)), e)
    f = b.fsub(m, _c(1.0, x))
    s = b.fdiv(f, b.fadd(_c(2.0, x), f))
    z = b.fmul(s, s)
    q = _estrin(b, z, _LOG_POLY[::-1])
    s2 = b.fmul(_c(2.0, x), s)
    logm = b.fadd(s2, b.fmul(s2, b.fmul(z, q)))
    fe = b.sitofp(e, _shape(x, _F64))
    res = b.fadd(b.fmul(fe, _c(_LN2_HI, x)), b.fadd(logm, b.fmul(fe, _c(_LN2_LO, x))))
    res = b.select(b.fcmp_ordered("==", x, _c(float("inf"), x)), _c(float("inf"), x), res)
    res = b.select(b.fcmp_ordered("==", x, _c(0.0, x)), _c(float("-inf"), x), res)
    res = b.select(_lt(b, x, 0.0), _c(float("nan"), x), res)
    return b.select(b.fcmp_unordered("uno", x, x), x, res)


def _emit_pow(b, x, y):
    # exp(y log|x|): relative error ~ |y log x| ulp (1e-13 at worst before overflow);
    # C99 pow's special cases; exponents 1, 2, 0.5 and -1 exactly as libm
    r = _emit_exp(b, b.fmul(y, _emit_log(b, _intr(b, "llvm.fabs", x))))
    fy = _intr(b, "llvm.floor", y)
    y_int = b.fcmp_ordered("==", fy, y)
    half = b.fmul(y, _c(0.5, x))
    y_odd = b.and_(b.and_(y_int, _lt(b, _intr(b, "llvm.fabs", y), _TWO53)),
                   b.fcmp_ordered("!=", _intr(b, "llvm.floor", half), half))
    # negative base: odd integer exponents flip the sign; non-integer ones have no real
    # value (NaN), except for a base of -inf, whose power is +inf or +0
    not_real = b.select(b.fcmp_ordered("==", x, _c(float("-inf"), x)), r, _c(float("nan"), x))
    neg = b.select(y_int, b.select(y_odd, b.fneg(r), r), not_real)
    r = b.select(_lt(b, x, 0.0), neg, r)
    r = b.select(b.fcmp_ordered("==", y, _c(1.0, x)), x, r)
    r = b.select(b.fcmp_ordered("==", y, _c(2.0, x)), b.fmul(x, x), r)
    r = b.select(b.and_(b.fcmp_ordered("==", y, _c(0.5, x)),
                        b.fcmp_ordered("!=", x, _c(float("-inf"), x))),
                 _intr(b, "llvm.sqrt", x), r)
    r = b.select(b.fcmp_ordered("==", y, _c(-1.0, x)), b.fdiv(_c(1.0, x), x), r)
    r = b.select(b.fcmp_ordered("==", x, _c(1.0, x)), _c(1.0, x), r)
    r = b.select(b.and_(b.fcmp_ordered("==", x, _c(-1.0, x)),
                        b.fcmp_ordered("==", _intr(b, "llvm.fabs", y), _c(float("inf"), x))),
                 _c(1.0, x), r)
    return b.select(b.fcmp_ordered("==", y, _c(0.0, x)), _c(1.0, x), r)


def _float_args(context, builder, sig, args):
    return [context.cast(builder, a, t, _types.float64) for a, t in zip(args, sig.args)]


_REAL = (_types.Float, _types.Integer, _types.Boolean)


def _typed(emit, *arg_types):
    """(signature, codegen) of a float64 intrinsic whose IR `emit` builds; None (no
    match) unless every argument is a real scalar."""
    if not all(isinstance(t, _REAL) for t in arg_types):
        return None

    def codegen(context, builder, sig, args):
        return emit(builder, *_float_args(context, builder, sig, args))
    return _types.float64(*arg_types), codegen


@_intrinsic
def _exp(typingctx, x):
    """e**x, vectorisable (see above)."""
    return _typed(_emit_exp, x)


@_intrinsic
def _log(typingctx, x):
    """Natural logarithm, vectorisable (see above)."""
    return _typed(_emit_log, x)


@_intrinsic
def _pow(typingctx, x, y):
    """x ** y, vectorisable (see above)."""
    return _typed(_emit_pow, x, y)


# ------------------------------------------------------------------ random numbers
# Counter-based streams: a draw is a pure function of (seed, occurrence, step, k), hashed
# with SplitMix64's finaliser (Steele, Lea & Flood 2014), so the same seed gives the same
# numbers in every kernel (single run, rolled, ensemble chunk: member k of an ensemble
# equals a single run with member k's seed) and members draw independently of each other
# and of the order they run in.  `occurrence` numbers each RANDOM call site and element;
# `step` is the time-step counter (-1 at initialisation): a new value every TIME STEP.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_RANDOM_TRIES = 1000   # truncated normal: resamples before falling back to clipping


@njit(**_opts)
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(**_opts)
def _u01(noise_seed, seed, occurrence, step, k):
    """A uniform draw in [0, 1) with 53 random bits."""
    z = _mix64(np.uint64(np.int64(noise_seed)) + _GOLDEN)
    z = _mix64(z ^ (np.uint64(np.int64(seed)) + _GOLDEN * np.uint64(2)))
    z = _mix64(z ^ (np.uint64(occurrence) * _GOLDEN))
    z = _mix64(z ^ (np.uint64(np.int64(step) + 2) * _M1))
    z = _mix64(z ^ (np.uint64(k) * _M2))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(**_opts)
def _rnd_uniform(noise_seed, seed, occurrence, step, lo, hi):
    # Vensim RANDOM UNIFORM(min, max, seed)
    return lo + (hi - lo) * _u01(noise_seed, seed, occurrence, step, 0)


@njit(**_opts)
def _rnd_normal(noise_seed, seed, occurrence, step, lo, hi, mean, sd):
    # Vensim RANDOM NORMAL(min, max, mean, sd, seed): a normal truncated to [min, max]
    # (Box-Muller pairs, resampled while outside; clipped after _RANDOM_TRIES)
    z = mean
    for k in range(_RANDOM_TRIES):
        u1 = _u01(noise_seed, seed, occurrence, step, 2 * k)
        u2 = _u01(noise_seed, seed, occurrence, step, 2 * k + 1)
        z = mean + sd * np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)
        if lo <= z <= hi:
            return z
    return min(max(z, lo), hi)


@njit(**_opts)
def _rnd_exponential(noise_seed, seed, occurrence, step, lo, hi, shift, stretch):
    # Vensim RANDOM EXPONENTIAL(min, max, shift, stretch, seed): shift + stretch * Exp(1),
    # truncated to [min, max] by inverting the truncated distribution function
    start = max(lo, shift)
    u = _u01(noise_seed, seed, occurrence, step, 0)
    mass = 1.0 - np.exp(-(hi - start) / stretch) if hi < np.inf else 1.0
    return start - stretch * np.log(1.0 - u * mass)


# ------------------------------------------------------------------ array functions
# Vensim's functions of a whole vector (VECTOR SELECT with a run-time action, VECTOR SORT
# ORDER / RANK / REORDER, INVERT MATRIX, ALLOCATE BY PRIORITY): the frontend passes the
# vector's elements as one tuple and asks for one element of the result, so each result
# element is a plain scalar statement (rollable like any other) and the arithmetic is a
# loop here, not code unrolled per element.  Invalid arguments give NaN where PySD raises.

@njit(**_opts)
def _vselect(action, missing, sels, exprs):
    # functions.vector_select: reduce expression (or selection*expression, or
    # expression^selection) over the entries whose selection is non-zero; `missing` if none
    if action != np.floor(action) or action < 0.0 or action > 10.0:
        return np.nan
    a = int(action)
    count = 0
    out = 0.0
    if a in (1, 5, 7):
        out = 1.0
    elif a in (2, 8):
        out = np.inf
    elif a in (3, 9):
        out = -np.inf
    for q in range(len(sels)):
        s = sels[q]
        if s == 0.0:
            continue
        count += 1
        if a < 5:
            v = s * exprs[q]
        elif a == 5:
            v = _pow(exprs[q], s)
        else:
            v = exprs[q]
        if a in (0, 4, 6, 10):
            out += v
        elif a in (1, 5, 7):
            out *= v
        elif a in (2, 8):
            out = min(out, v)
        else:
            out = max(out, v)
    if count == 0:
        return missing
    if a in (4, 10):
        return out / count
    return out


@njit(**_opts)
def _argsort_stable(values):
    """Indices sorting `values` ascending, ties in their original order (numpy's argsort
    gives this order for the short vectors of models: insertion sort below 17 elements)."""
    n = len(values)
    order = np.empty(n, dtype=np.int64)
    for q in range(n):
        order[q] = q
    for q in range(1, n):
        cur = order[q]
        r = q - 1
        while r >= 0 and values[order[r]] > values[cur]:
            order[r + 1] = order[r]
            r -= 1
        order[r + 1] = cur
    return order


@njit(**_opts)
def _sort_order(values, direction):
    # functions.vector_sort_order: argsort, flipped when direction <= 0
    order = _argsort_stable(values)
    if direction <= 0.0:
        order = order[::-1].copy()
    return order


@njit(**_opts)
def _vsort_order(k, direction, vector):
    """VECTOR SORT ORDER: element k of the (0-based) sort permutation of `vector`."""
    n = len(vector)
    values = np.empty(n)
    for q in range(n):
        values[q] = vector[q]
    return float(_sort_order(values, direction)[int(k)])


@njit(**_opts)
def _vrank(k, direction, vector):
    """VECTOR RANK: 1-based rank of element k (functions.vector_rank: the inverse of the
    sort order, plus one)."""
    n = len(vector)
    values = np.empty(n)
    for q in range(n):
        values[q] = vector[q]
    order = _sort_order(values, direction)
    for q in range(n):
        if order[q] == int(k):
            return float(q + 1)
    return np.nan


@njit(**_opts)
def _vreorder(index, vector):
    """VECTOR REORDER: the element of `vector` at position `index` (an entry of the sort
    order vector)."""
    n = len(vector)
    if index != np.floor(index) or index < 0.0 or index >= n:
        return np.nan
    return vector[int(index)]


@njit(**_opts)
def _inv_elem(i, j, matrix):
    """INVERT MATRIX: element (i, j) of the inverse of the n x n matrix given row-major
    (functions.invert_matrix calls np.linalg.inv; Gauss-Jordan with partial pivoting,
    as LAPACK's getrf/getri, agrees to rounding)."""
    n = int(np.sqrt(len(matrix)) + 0.5)
    a = np.empty((n, n))
    inv = np.zeros((n, n))
    for r in range(n):
        inv[r, r] = 1.0
        for c in range(n):
            a[r, c] = matrix[r * n + c]
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if a[p, c] == 0.0:
            return np.nan  # singular: np.linalg.inv raises
        if p != c:
            for q in range(n):
                a[c, q], a[p, q] = a[p, q], a[c, q]
                inv[c, q], inv[p, q] = inv[p, q], inv[c, q]
        piv = a[c, c]
        for q in range(n):
            a[c, q] /= piv
            inv[c, q] /= piv
        for r in range(n):
            if r != c and a[r, c] != 0.0:
                f = a[r, c]
                for q in range(n):
                    a[r, q] -= f * a[c, q]
                    inv[r, q] -= f * inv[c, q]
    return inv[int(i), int(j)]


_ALLOCATION_STEPS = 10000  # ALLOCATE BY PRIORITY: breakpoints before giving up (NaN)


@njit(**_opts)
def _allocate_by_priority(k, width, supply, requests, priorities):
    """ALLOCATE BY PRIORITY: the share of `supply` of target k, by
    allocation._allocate_by_priority_1d: targets sorted by priority (highest first) start
    receiving supply one after the other, each once its predecessor holds
    min(priority gap / width, 1) of its request; active targets share the supply in
    proportion to their requests."""
    n = len(requests)
    request = np.empty(n)
    priority = np.empty(n)
    total = 0.0
    for q in range(n):
        request[q] = requests[q]
        priority[q] = priorities[q]
        total += request[q]
        if request[q] < 0.0:
            return np.nan
    if width <= 0.0 or supply < 0.0:
        return np.nan
    kk = int(k)
    if supply >= total:
        return request[kk]
    if supply == 0.0 or request[kk] == 0.0:
        return 0.0
    # targets with a request, highest priority first (stable sort of -priority)
    m = 0
    for q in range(n):
        if request[q] != 0.0:
            m += 1
    keep = np.empty(m, dtype=np.int64)
    neg = np.empty(m)
    m = 0
    for q in range(n):
        if request[q] != 0.0:
            keep[m] = q
            neg[m] = -priority[q]
            m += 1
    sort = _argsort_stable(neg)
    req = np.empty(m)
    pri = np.empty(m)
    mine = 0
    for q in range(m):
        req[q] = request[keep[sort[q]]]
        pri[q] = priority[keep[sort[q]]]
        if keep[sort[q]] == kk:
            mine = q
    out = np.zeros(m)
    distances = np.full(m, np.nan)
    for q in range(m - 1):
        distances[q] = min((pri[q] - pri[q + 1]) / width, 1.0) * req[q]
    active = np.zeros(m, dtype=np.bool_)
    active[0] = True
    slopes = np.empty(m)
    c_i = 0
    steps = 0
    while supply > 0.0:
        steps += 1
        if steps > _ALLOCATION_STEPS:
            return np.nan
        ssum = 0.0
        for q in range(m):
            slopes[q] = req[q] if active[q] else 0.0
            ssum += slopes[q]
        for q in range(m):
            slopes[q] /= ssum
        dx_top = np.nan
        for q in range(m):
            if active[q]:
                v = (req[q] - out[q]) / slopes[q]
                if not np.isnan(v) and (np.isnan(dx_top) or v < dx_top):
                    dx_top = v
        dx_start = (distances[c_i] - out[c_i]) / slopes[c_i]
        dx = supply
        if not np.isnan(dx_start) and dx_start < dx:
            dx = dx_start
        if not np.isnan(dx_top) and dx_top < dx:
            dx = dx_top
        # np.nanmin((dx_top, dx_start, supply)): the first of equal values does not matter
        for q in range(m):
            out[q] += slopes[q] * dx
        # np.isclose(dx, dx_start, rtol=1e-10, atol=1e-16)
        if not np.isnan(dx_start) and abs(dx - dx_start) <= 1e-16 + 1e-10 * abs(dx_start):
            c_i += 1
            active[c_i] = True
        if dx == dx_top:
            for q in range(m):
                if out[q] == req[q]:
                    active[q] = False
        supply -= dx
    return out[mine]


# ALLOCATE AVAILABLE priority profiles (allocation.Priorities): the demand of a target at
# priority level x for profile types 1 rectangular, 2 triangular, 3 normal, 4 exponential
# (0 fixed quantity and 5 constant elasticity are not implemented in PySD either: NaN),
# and the half-width of the x interval where each profile is strictly monotonous
_PROFILE_HALF_WIDTH = (0.0, 0.5, 0.5, 8.2923611, 36.7368005696)
_BISECTIONS = 2000  # enough to reach adjacent doubles from any bracket


@njit(**_opts)
def _profile_demand(x, q0, kind, prio, width):
    if q0 == 0.0:
        return 0.0
    if kind == 1.0:
        if x <= prio - width * .5:
            return q0
        if x < prio + width * .5:
            return q0 * (1 - (x - prio + width * .5) / width)
        return 0.0
    if kind == 2.0:
        if x <= prio - width * .5:
            return q0
        if x < prio:
            return q0 * (1 - 2 * (x - prio + width * .5) ** 2 / width ** 2)
        if x < prio + width * .5:
            return 2 * q0 * (prio + width * .5 - x) ** 2 / width ** 2
        return 0.0
    if kind == 3.0:
        return q0 * .5 * (2 - math.erfc((prio - x) / (np.sqrt(2) * width)))
    if kind == 4.0:
        if x < prio:
            return q0 * (1 - .5 * np.exp((x - prio) / width))
        return q0 * .5 * np.exp((prio - x) / width)
    return np.nan


@njit(**_opts)
def _allocate_available(k, avail, requests, profiles):
    """ALLOCATE AVAILABLE: target k's share of `avail` (allocation._allocate_available_1d):
    every target's demand falls with a common priority level x along its profile
    (type, priority, width, extra per target in `profiles`, row-major); x is where the
    demands add up to the supply.  PySD finds x by least squares, this by bisection to
    adjacent doubles: the same root, PySD's to its solver tolerance."""
    n = len(requests)
    m = len(profiles) // n
    total = 0.0
    for q in range(n):
        if requests[q] < 0.0 or profiles[q * m + 2] <= 0.0:
            return np.nan
        total += requests[q]
    if avail < 0.0:
        return np.nan
    kk = int(k)
    if avail >= total:
        return requests[kk]
    if avail == 0.0:
        return 0.0
    lo = np.inf
    hi = -np.inf
    for q in range(n):
        if requests[q] == 0.0:
            continue
        kind = profiles[q * m]
        if kind != 1.0 and kind != 2.0 and kind != 3.0 and kind != 4.0:
            return np.nan
        half = _PROFILE_HALF_WIDTH[int(kind)] * profiles[q * m + 2]
        lo = min(lo, profiles[q * m + 1] - half)
        hi = max(hi, profiles[q * m + 1] + half)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        demand = 0.0
        for q in range(n):
            demand += _profile_demand(mid, requests[q], profiles[q * m], profiles[q * m + 1],
                                      profiles[q * m + 2])
        if demand > avail:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    return _profile_demand(x, requests[kk], profiles[kk * m], profiles[kk * m + 1],
                           profiles[kk * m + 2])
