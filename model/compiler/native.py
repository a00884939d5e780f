"""The Euler kernels (single run and ensemble) as LLVM IR, emitted with llvmlite (no Numba).

Why: Numba's type inference and lowering of one huge generated function (every
equation of the model inside one time loop) were nearly all of a model's first compile
(project model: ~7 s of ~9 s on a quiet machine), and little of it was LLVM's own work.
This module walks the same statements as `codegen._scalar_kernel` (the Python
expressions of `_sub_scalar`/`_sub_init`, parsed with `ast`) and emits the IR a Numba
compile of them produces for every operation (same IEEE operations in the same order,
no fast-math, the runtime helpers of `rt` reproduced operation for operation, exp / log /
pow through rt's own IR emitters), so the results are the Numba kernel's bit for bit
(tests/engine/test_native.py: a model calling every function translated here, and the
project model; the SD test models and the project model are compared with PySD as
before).
LLVM optimises and compiles the module once; the object code goes to the cache folder
beside the generated module and a cached load only maps it into memory.  The ensemble
kernel (generate_chunks_ir) computes CHUNK members per vector operation, each lane the
single-run arithmetic exactly; it is generated from the cached `kernel_spec` and
compiled at the first run_ensemble (project model: ~2 s of CPU where Numba's parallel
chunk kernel took ~20 s).

Constructs this emitter does not know (RANDOM, vector functions, subscripted
models, RK4, a TIME STEP that changes during the run, ...) raise `Unsupported`: the
driver then writes no native kernel and run() uses the Numba kernel, as before.

The function (C calling convention, called through ctypes, which releases the GIL):

    i64 innosd_run_one(double* P, i64 p_stride, double* times, i8* save, i64 n_times,
                       double dt, double cap, i64* omap, double* out, i64 out_stride,
                       double* work)

P points at the member's first constant (constant i at P[i * p_stride]); out at the
member's first saved value (output row r, save index k at out[r * out_stride + k]);
work holds the DELAY FIXED pipes (n_delay_fixed * int(cap) doubles).  Returns the number
of saved times, or -1 when a DELAY FIXED pipe length is not in 1..int(cap) (a NaN delay
time), which the Numba kernel would turn into an exception.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir

from innosd.model.compiler import machine, rt
from innosd.model.compiler.codegen import (BATCH_LANES, CHUNK, _init_name, _sub_init,
                                           _sub_scalar, call_schedule)
from innosd.model.compiler.machine import CHUNKS_FUNCTION, FUNCTION
from innosd.model.compiler.schedule import Plan

F64 = ir.DoubleType()
I64 = ir.IntType(64)
I8 = ir.IntType(8)
I1 = ir.IntType(1)
I32 = ir.IntType(32)
F64P = F64.as_pointer()
SMALL = rt.SMALL_VENSIM


class Unsupported(Exception):
    """A construct this emitter does not translate: the Numba kernel is used instead."""


def _f(v: float) -> ir.Constant:
    return ir.Constant(F64, float(v))


class _Expr:
    """Emits one expression (Python source of the generated kernel) into `b`.

    Values are (kind, llvm value) with kind 'f' (float64), 'i' (int64) or 'b' (bool), so
    that mixed arithmetic converts as Numba does (bool * float -> float, int / int ->
    float, comparisons of an int with a float in float)."""

    def __init__(self, b: ir.IRBuilder, env: dict, lanes: int = 0, tables=((), ())):
        self.b = b
        self.env = env
        self.lx, self.ly = tables  # the lookup tables (model.compiler.rt's LX, LY)
        # lanes > 0: every value is a vector of `lanes` members (the ensemble kernel)
        self.lanes = lanes
        self.F, self.I, self.B = (ir.VectorType(t, lanes) for t in (F64, I64, I1)) \
            if lanes else (F64, I64, I1)

    def cf(self, v: float):
        return ir.Constant(self.F, [float(v)] * self.lanes if self.lanes else float(v))

    def ci(self, v: int):
        return ir.Constant(self.I, [int(v)] * self.lanes if self.lanes else int(v))

    def cb(self, v: bool):
        return ir.Constant(self.B, [int(v)] * self.lanes if self.lanes else int(v))

    # ---------------------------------------------------------------- conversions
    def f(self, v):
        kind, x = v
        if kind == "f":
            return x
        if kind == "b":
            return self.b.uitofp(x, self.F)
        return self.b.sitofp(x, self.F)

    def i(self, v):
        kind, x = v
        if kind == "i":
            return x
        if kind == "b":
            return self.b.zext(x, self.I)
        raise Unsupported("float used as an integer")

    def intr(self, name, *args):
        return rt._intr(self.b, name, *args)

    def unify(self, *vals):
        """Numba's unification of branch values: float if any is float, else int."""
        if all(k == "b" for k, _ in vals):
            return "b", [x for _, x in vals]
        if any(k == "f" for k, _ in vals):
            return "f", [self.f(v) for v in vals]
        return "i", [self.i(v) for v in vals]

    def select(self, cond, a, b):
        kind, (x, y) = self.unify(a, b)
        return kind, self.b.select(cond, x, y)

    # ---------------------------------------------------------------- walk
    def __call__(self, src: str):
        try:
            tree = ast.parse(src.strip(), mode="eval")
        except SyntaxError as err:
            raise Unsupported(f"expression {src!r}") from err
        return self.node(tree.body)

    def node(self, n):
        b = self.b
        if isinstance(n, ast.Constant):
            if isinstance(n.value, bool):
                return "b", self.cb(n.value)
            if isinstance(n.value, int):
                return "i", self.ci(n.value)
            if isinstance(n.value, float):
                return "f", self.cf(n.value)
            raise Unsupported(f"constant {n.value!r}")
        if isinstance(n, ast.Name):
            if n.id not in self.env:
                raise Unsupported(f"name {n.id}")
            return self.env[n.id]
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "np":
            consts = {"nan": float("nan"), "inf": float("inf"), "pi": np.pi, "e": np.e}
            if n.attr in consts:
                return "f", self.cf(consts[n.attr])
            raise Unsupported(f"np.{n.attr}")
        if isinstance(n, ast.UnaryOp):
            v = self.node(n.operand)
            if isinstance(n.op, ast.USub):
                if v[0] == "f":
                    return "f", b.fneg(v[1])
                return "i", b.neg(self.i(v))
            if isinstance(n.op, ast.UAdd):
                return v if v[0] == "f" else ("i", self.i(v))
            raise Unsupported(type(n.op).__name__)
        if isinstance(n, ast.BinOp):
            return self.binop(n.op, self.node(n.left), self.node(n.right))
        if isinstance(n, ast.Compare):
            if len(n.ops) != 1:
                raise Unsupported("chained comparison")
            return "b", self.compare(n.ops[0], self.node(n.left), self.node(n.comparators[0]))
        if isinstance(n, ast.Call):
            return self.call(n)
        raise Unsupported(type(n).__name__)

    def binop(self, op, x, y):
        b = self.b
        if isinstance(op, (ast.BitAnd, ast.BitOr)):
            if x[0] == "b" and y[0] == "b":
                return "b", (b.and_ if isinstance(op, ast.BitAnd) else b.or_)(x[1], y[1])
            if "f" in (x[0], y[0]):
                raise Unsupported("& or | of floats")
            return "i", (b.and_ if isinstance(op, ast.BitAnd) else b.or_)(self.i(x), self.i(y))
        if isinstance(op, ast.Div):
            return "f", b.fdiv(self.f(x), self.f(y))
        ops = {ast.Add: ("fadd", "add"), ast.Sub: ("fsub", "sub"), ast.Mult: ("fmul", "mul")}
        if type(op) not in ops:
            raise Unsupported(type(op).__name__)
        fop, iop = ops[type(op)]
        if "f" in (x[0], y[0]):
            return "f", getattr(b, fop)(self.f(x), self.f(y))
        return "i", getattr(b, iop)(self.i(x), self.i(y))

    _CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!="}

    def compare(self, op, x, y):
        if type(op) not in self._CMP:
            raise Unsupported(type(op).__name__)
        sym = self._CMP[type(op)]
        if "f" in (x[0], y[0]):
            # Python: NaN != x is True (unordered), every other comparison with NaN False
            if sym == "!=":
                return self.b.fcmp_unordered("!=", self.f(x), self.f(y))
            return self.b.fcmp_ordered(sym, self.f(x), self.f(y))
        return self.b.icmp_signed(sym, self.i(x), self.i(y))

    def fcmp(self, sym, x, y):
        """An ordered float comparison of two values (or a value and a Python float)."""
        xf = self.cf(x) if isinstance(x, float) else self.f(x)
        yf = self.cf(y) if isinstance(y, float) else self.f(y)
        return self.b.fcmp_ordered(sym, xf, yf)

    def minmax(self, args, sym):
        """Python's min/max (numba.cpython.builtins.do_minmax): v if v <sym> acc else acc."""
        acc = args[0]
        for v in args[1:]:
            kind, (a, x) = self.unify(acc, v)
            if kind == "f":
                pred = self.b.fcmp_ordered(sym, x, a)
            else:
                pred = self.b.icmp_signed(sym, x, a)
            acc = kind, self.b.select(pred, x, a)
        return acc

    def np_minmax(self, x, y, sym):
        """np.minimum / np.maximum (numba.np.npyfuncs): NaN-propagating."""
        kind, (a, c) = self.unify(x, y)
        b = self.b
        if kind != "f":
            return kind, b.select(b.icmp_signed(sym, a, c), a, c)
        a_nan = b.fcmp_unordered("uno", a, a)
        any_nan = b.fcmp_unordered("uno", a, c)
        nan_result = b.select(a_nan, a, c)
        return "f", b.select(any_nan, nan_result, b.select(b.fcmp_ordered(sym, a, c), a, c))

    def call(self, n):
        if n.keywords:
            raise Unsupported("keyword arguments")
        fn = n.func
        if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and fn.value.id == "np":
            name = "np." + fn.attr
        elif isinstance(fn, ast.Name):
            name = fn.id
        else:
            raise Unsupported("call")
        if name in _LOOKUPS:
            return self.lookup(name, n.args)
        handler = _CALLS.get(name)
        if handler is None:
            raise Unsupported(f"function {name}")
        args = [self.node(a) for a in n.args]
        return handler(self, *args)

    def lookup(self, name, args):
        """rt's table functions, (x, LX, LY, offset, length) with literal offset and
        length: the tables are constants, so each search is unrolled into selects over
        the table's points (the loop of rt's scan, step for step; no memory reads)."""
        if len(args) != 5 or not all(isinstance(a, ast.Constant) and isinstance(a.value, int)
                                     for a in args[3:]):
            raise Unsupported(f"{name} call")
        off, n = args[3].value, args[4].value
        if n < (2 if name == "_lk_extrap" else 1) or off + n > len(self.lx):
            raise Unsupported(f"{name} table of {n} points")
        if name in ("_lk_interp", "_lk_extrap") and n > rt.LOOKUP_SCAN_POINTS:
            raise Unsupported(f"{name} of more than {rt.LOOKUP_SCAN_POINTS} points (binary search)")
        x = self.f(self.node(args[0]))
        return "f", _LOOKUPS[name](self, x, self.lx, self.ly, off, n)


def _ite(e, c, a, x):
    # rt._ite: a if c != 0.0 else b
    return e.select(e.b.fcmp_unordered("!=", e.f(c), e.cf(0.0)), a, x)


def _xidz(e, a, b_, x):
    return e.select(e.fcmp("<", ("f", e.intr("llvm.fabs", e.f(b_))), SMALL), x,
                    ("f", e.b.fdiv(e.f(a), e.f(b_))))


def _zidz(e, a, b_):
    return _xidz(e, a, b_, ("f", e.cf(0.0)))


def _trunc(e, x):
    return "f", e.intr("llvm.trunc", e.f(x))


def _quantum(e, a, b_):
    q = e.b.fmul(e.f(b_), e.intr("llvm.trunc", e.b.fdiv(e.f(a), e.f(b_))))
    return e.select(e.fcmp("<", b_, SMALL), a, ("f", q))


def _modulo(e, x, m):
    return "f", e.b.fsub(e.f(x), e.f(_quantum(e, x, m)))


def _unit_if(e, cond):
    return e.b.select(cond, e.cf(1.0), e.cf(0.0))


def _step(e, t, dt, value, tstep):
    # value * (1.0 if t + dt / 2.0 > tstep else 0.0)
    at = e.b.fadd(e.f(t), e.b.fdiv(e.f(dt), e.cf(2.0)))
    return "f", e.b.fmul(e.f(value), _unit_if(e, e.b.fcmp_ordered(">", at, e.f(tstep))))


def _ramp(e, t, slope, start, finish):
    on = _unit_if(e, e.b.fcmp_ordered(">", e.b.fadd(e.f(t), e.cf(SMALL)), e.f(start)))
    low = e.f(e.np_minmax(finish, t, "<="))
    return "f", e.b.fmul(e.b.fmul(on, e.f(slope)), e.b.fsub(low, e.f(start)))


def _ramp_open(e, t, slope, start):
    on = _unit_if(e, e.b.fcmp_ordered(">", e.b.fadd(e.f(t), e.cf(SMALL)), e.f(start)))
    return "f", e.b.fmul(e.b.fmul(on, e.f(slope)), e.b.fsub(e.f(t), e.f(start)))


def _pulse(e, t, start, width):
    s = e.f(start)
    c1 = e.b.fcmp_ordered("<=", e.b.fsub(s, e.cf(SMALL)), e.f(t))
    c2 = e.b.fcmp_ordered("<", e.f(t), e.b.fadd(s, e.f(width)))
    return "f", _unit_if(e, e.b.and_(c1, c2))


def _delay_fixed_order(e, delay_time, dt, cap):
    # order = max(delay_time / dt, 1.0); k = float(round(order + SMALL)); min(k, cap)
    order = e.minmax([("f", e.b.fdiv(e.f(delay_time), e.f(dt))), ("f", e.cf(1.0))], ">")
    r = e.intr("llvm.rint", e.b.fadd(order[1], e.cf(SMALL)))
    k = "f", e.b.sitofp(e.b.fptosi(r, e.I), e.F)
    return e.minmax([k, cap], "<")


def _delay_order(e, order, dt, delay_time):
    # k = float(int(order)); while k * dt > delay_time: k -= 1.0 (per lane: a lane whose
    # condition fails keeps its k, so its condition stays false; the loop ends when no
    # lane's holds)
    b = e.b
    k0 = b.sitofp(e.i(_int(e, order)), e.F)
    d, dl = e.f(dt), e.f(delay_time)
    pre = b.block
    head = b.function.append_basic_block("delay_order_head")
    body = b.function.append_basic_block("delay_order_step")
    done = b.function.append_basic_block("delay_order_done")
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(e.F)
    k.add_incoming(k0, pre)
    more = b.fcmp_ordered(">", b.fmul(k, d), dl)
    if e.lanes:
        anyone = b.extract_element(more, ir.Constant(I64, 0))
        for m in range(1, e.lanes):
            anyone = b.or_(anyone, b.extract_element(more, ir.Constant(I64, m)))
    else:
        anyone = more
    b.cbranch(anyone, body, done)
    b.position_at_end(body)
    k.add_incoming(b.select(more, b.fsub(k, e.cf(1.0)), k), body)
    b.branch(head)
    b.position_at_end(done)
    return "f", k


def _delay_init(e, i, k, value):
    return e.select(e.fcmp("<", i, k), value, ("f", e.cf(0.0)))


def _pick(e, i, k, value):
    return e.select(e.fcmp("==", i, ("f", e.b.fsub(e.f(k), e.cf(1.0)))), value, ("f", e.cf(0.0)))


def _abs(e, x):
    if x[0] == "f":
        return "f", e.intr("llvm.fabs", x[1])
    v = e.i(x)
    return "i", e.b.select(e.b.icmp_signed("<", v, e.ci(0)), e.b.neg(v), v)


def _int(e, x):
    return ("i", e.b.fptosi(x[1], e.I)) if x[0] == "f" else ("i", e.i(x))


def _lk_interp(e, x, LX, LY, off, n):
    b, last = e.b, off + n - 1
    # lo = the last i in off+1..last-1 with LX[i] <= x (else off); hi = lo + 1 (or lo)
    xl, yl = e.cf(LX[off]), e.cf(LY[off])
    xh, yh = (e.cf(LX[off + 1]), e.cf(LY[off + 1])) if n > 1 else (xl, yl)
    for i in range(off + 1, last):
        c = b.fcmp_ordered("<=", e.cf(LX[i]), x)
        xl, yl = b.select(c, e.cf(LX[i]), xl), b.select(c, e.cf(LY[i]), yl)
        xh, yh = b.select(c, e.cf(LX[i + 1]), xh), b.select(c, e.cf(LY[i + 1]), yh)
    v = b.fadd(b.fmul(b.fdiv(b.fsub(yh, yl), b.fsub(xh, xl)), b.fsub(x, xl)), yl)
    v = b.select(b.fcmp_ordered("==", xl, x), yl, v)
    v = b.select(b.fcmp_ordered("<=", x, e.cf(LX[off])), e.cf(LY[off]), v)
    return b.select(b.fcmp_ordered(">=", x, e.cf(LX[last])), e.cf(LY[last]), v)


def _lk_extrap(e, x, LX, LY, off, n):
    b, last = e.b, off + n - 1
    inside = _lk_interp(e, x, LX, LY, off, n)
    # the slopes as rt computes them at run time: the same IEEE operations on constants
    k_hi = e.b.fdiv(b.fsub(e.cf(LY[last]), e.cf(LY[last - 1])), b.fsub(e.cf(LX[last]), e.cf(LX[last - 1])))
    k_lo = e.b.fdiv(b.fsub(e.cf(LY[off + 1]), e.cf(LY[off])), b.fsub(e.cf(LX[off + 1]), e.cf(LX[off])))
    above = b.fadd(e.cf(LY[last]), b.fmul(k_hi, b.fsub(x, e.cf(LX[last]))))
    below = b.fadd(e.cf(LY[off]), b.fmul(k_lo, b.fsub(x, e.cf(LX[off]))))
    v = b.select(b.fcmp_ordered("<", x, e.cf(LX[off])), below, inside)
    return b.select(b.fcmp_ordered(">", x, e.cf(LX[last])), above, v)


def _lk_raw(e, x, LX, LY, off, n):
    # the value at the first point equal to x, NaN if none
    v = e.cf(float("nan"))
    for i in range(off + n - 1, off - 1, -1):
        v = e.b.select(e.b.fcmp_ordered("==", e.cf(LX[i]), x), e.cf(LY[i]), v)
    return v


def _lk_forward(e, x, LX, LY, off, n):
    # i = off; while LX[i] < x: i += 1 -> LY[i]; LY[last] for x >= LX[last]
    b, last = e.b, off + n - 1
    going, v = e.cb(True), e.cf(LY[off])
    for i in range(off, last):
        going = b.and_(going, b.fcmp_ordered("<", e.cf(LX[i]), x))
        v = b.select(going, e.cf(LY[i + 1]), v)
    return b.select(b.fcmp_ordered(">=", x, e.cf(LX[last])), e.cf(LY[last]), v)


def _lk_hold(e, x, LX, LY, off, n):
    # i = off; while i + 1 <= last and LX[i + 1] <= x: i += 1 -> LY[i]
    b, last = e.b, off + n - 1
    going, v = e.cb(True), e.cf(LY[off])
    for i in range(off, last):
        going = b.and_(going, b.fcmp_ordered("<=", e.cf(LX[i + 1]), x))
        v = b.select(going, e.cf(LY[i + 1]), v)
    v = b.select(b.fcmp_ordered("<=", x, e.cf(LX[off])), e.cf(LY[off]), v)
    return b.select(b.fcmp_ordered(">=", x, e.cf(LX[last])), e.cf(LY[last]), v)


_LOOKUPS = {"_lk_interp": _lk_interp, "_lk_extrap": _lk_extrap, "_lk_raw": _lk_raw,
            "_lk_forward": _lk_forward, "_lk_hold": _lk_hold}


_CALLS = {
    "_ite": _ite, "_xidz": _xidz, "_zidz": _zidz, "_integer": _trunc, "np.trunc": _trunc,
    "_quantum": _quantum, "_modulo": _modulo, "_step": _step, "_ramp": _ramp,
    "_ramp_open": _ramp_open, "_pulse": _pulse, "_delay_fixed_order": _delay_fixed_order,
    "_delay_order": _delay_order, "_delay_init": _delay_init, "_delay_stage": _delay_init, "_pick": _pick,
    "_exp": lambda e, x: ("f", rt._emit_exp(e.b, e.f(x))),
    "_log": lambda e, x: ("f", rt._emit_log(e.b, e.f(x))),
    "_pow": lambda e, x, y: ("f", rt._emit_pow(e.b, e.f(x), e.f(y))),
    "np.minimum": lambda e, x, y: e.np_minmax(x, y, "<="),
    "np.maximum": lambda e, x, y: e.np_minmax(x, y, ">="),
    "min": lambda e, *a: e.minmax(list(a), "<"),
    "max": lambda e, *a: e.minmax(list(a), ">"),
    "abs": _abs, "np.abs": _abs, "np.fabs": lambda e, x: ("f", e.intr("llvm.fabs", e.f(x))),
    "np.sqrt": lambda e, x: ("f", e.intr("llvm.sqrt", e.f(x))),
    "np.floor": lambda e, x: ("f", e.intr("llvm.floor", e.f(x))),
    "np.ceil": lambda e, x: ("f", e.intr("llvm.ceil", e.f(x))),
    "float": lambda e, x: ("f", e.f(x)),
    "int": _int,
}


def supported(g) -> str | None:
    """Why the model as a whole cannot have a native kernel (None: it may; the
    expressions are checked while emitting)."""
    if any(var.dims for var in g.variables.values()):
        return "subscripted model"
    if getattr(g, "variable_time_step", False):
        return "TIME STEP changes during the run"
    return None


def kernel_spec(g, outputs) -> dict:
    """What both native kernels compute, as JSON data: the single-run Numba kernel's
    statements (codegen._scalar_kernel's Python expressions, in its order).  Saved in the
    cache folder, so the ensemble kernel is generated at its first use without parsing
    the model again.  Raises Unsupported for a model the emitters do not handle."""
    reason = supported(g)
    if reason:
        raise Unsupported(reason)
    plan = Plan(g, outputs)
    sub = lambda c: _sub_scalar(c, g)  # noqa: E731
    return dict(
        params=list(plan.params_used),
        init=[(_init_name(n), _sub_init(plan.init_nodes[n], g)) for n in plan.init_order],
        hoisted=[(n.lower(), sub(plan.run_nodes[n])) for n in plan.hoisted],
        loop=[(n.lower(), sub(plan.run_nodes[n])) for n in plan.loop_order],
        outputs=[sub(code) for _, code in plan.outputs],
        cont=[(sub(sl), sub(c), bool(st.extra.get("non_negative")))
              for st in g.statefuls for sl, c in st.ddt],
        disc=[(sub(sl), sub(c)) for st in g.statefuls for sl, c in st.discrete],
        pipes=[(sub(df["state"]), sub(df["order"]), sub(df["input"])) for df in g.delay_fixed],
        lx=[float(v) for lk in g.lookups for v in lk.x],
        ly=[float(v) for lk in g.lookups for v in lk.y])


SPEC_FILE = "native.json"  # kernel_spec in a model's cache folder


def write_chunks_ir(folder) -> None:
    """The ensemble kernel's IR, generated from the cached spec at its first use (a
    model whose ensemble is never run does not pay for it)."""
    folder = Path(folder)
    spec = json.loads((folder / SPEC_FILE).read_text())
    text = generate_chunks_ir(spec)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".ll")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, folder / machine.CHUNKS_IR_FILE)


def _states(spec) -> list[str]:
    return sorted({s for s, _, _ in spec["cont"]} | {s for s, _ in spec["disc"]}
                  | {s for s, _, _ in spec["pipes"]}, key=lambda s: int(s[1:]))


def _state_slots(b, expr, env, states, ty) -> dict:
    """One stack slot of type `ty` per state, holding its initial value (states are mutable
    across steps; LLVM promotes the slots to registers)."""
    slots = {}
    for s in states:
        if s not in env:
            raise Unsupported(f"state {s} without an initial value")
        slots[s] = b.alloca(ty, name=f"slot_{s}")
        b.store(expr.f(env[s]), slots[s])
    return slots


_BATCH_EMIT = {"_pow": rt._emit_pow, "_exp": rt._emit_exp, "_log": rt._emit_log}


def _batched(b, expr, env, loop) -> None:
    """The step's statements with independent pow/exp/log calls computed a vector of
    BATCH_LANES at a time (codegen.call_schedule, as the Numba kernel does): each lane
    is the scalar emitter's arithmetic, so every value is unchanged."""
    if expr.lanes:  # the ensemble kernel: its values are vectors of members already
        for name, code in loop:
            env[name] = expr(code)
        return
    vec = ir.VectorType(F64, BATCH_LANES)
    for item in call_schedule(loop):
        if item[0] == "assign":
            env[item[1]] = expr(item[2])
            continue
        _, fn, part = item
        if len(part) == 1:
            env[part[0][0]] = expr(f"{fn}({', '.join(part[0][1])})")
            continue
        columns = []
        for a in range(len(part[0][1])):
            v = ir.Constant(vec, [1.0] * BATCH_LANES)  # unused lanes compute fn(1.0, ...)
            for q, (_, args) in enumerate(part):
                v = b.insert_element(v, expr.f(expr(args[a])), ir.Constant(I32, q))
            columns.append(v)
        result = _BATCH_EMIT[fn](b, *columns)
        for q, (local, _) in enumerate(part):
            env[local] = "f", b.extract_element(result, ir.Constant(I32, q))


def generate_ir(spec: dict) -> str:
    """The LLVM IR (text) of the single-run Euler kernel; raises Unsupported."""
    mod = ir.Module(name="innosd_native")
    mod.triple = llvm.get_process_triple()
    fnty = ir.FunctionType(I64, [F64P, I64, F64P, I8.as_pointer(), I64, F64, F64,
                                 I64.as_pointer(), F64P, I64, F64P])
    fn = ir.Function(mod, fnty, name=FUNCTION)
    P, p_stride, times, save, n_times, dt, cap, omap, out, out_stride, work = fn.args
    for a in fn.args:
        if isinstance(a.type, ir.PointerType):
            a.add_attribute("noalias")
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    env = {"dt": ("f", dt), "cap": ("f", cap), "step": ("i", ir.Constant(I64, -1))}
    expr = _Expr(b, env, tables=(spec["lx"], spec["ly"]))
    one = ir.Constant(I64, 1)
    zero = ir.Constant(I64, 0)

    def load_at(ptr, index):
        return b.load(b.gep(ptr, [index]))

    for i in spec["params"]:
        env[f"p{i}"] = "f", load_at(P, b.mul(ir.Constant(I64, i), p_stride))
    env["t"] = "f", load_at(times, zero)
    for name, code in spec["init"]:
        env[name] = expr(code)
    cont, disc, states = spec["cont"], spec["disc"], _states(spec)
    slots = _state_slots(b, expr, env, states, F64)
    # DELAY FIXED pipes in `work`: pipe n at work[n * int(cap)], length int(order)
    capi = b.fptosi(cap, I64)
    bad = fn.append_basic_block("bad_pipe")
    pipes = []
    for n, (state, order, inp) in enumerate(spec["pipes"]):
        length = _int(expr, env[order])[1]  # int(k), as the Numba kernel
        ok = b.and_(b.icmp_signed(">=", length, one), b.icmp_signed("<=", length, capi))
        good = fn.append_basic_block(f"pipe{n}_ok")
        b.cbranch(ok, good, bad)
        b.position_at_end(good)
        base = b.gep(work, [b.mul(ir.Constant(I64, n), capi)])
        value = expr.f(env[state])
        # fill: for q in range(length): base[q] = state
        head, body, done = (fn.append_basic_block(f"pipe{n}_{x}") for x in ("head", "fill", "done"))
        b.branch(head)
        b.position_at_end(head)
        q = b.phi(I64)
        q.add_incoming(zero, good)
        b.cbranch(b.icmp_signed("<", q, length), body, done)
        b.position_at_end(body)
        b.store(value, b.gep(base, [q]))
        q.add_incoming(b.add(q, one), body)
        b.branch(head)
        b.position_at_end(done)
        ptr = b.alloca(I64, name=f"pipe{n}_ptr")
        b.store(zero, ptr)
        pipes.append((base, length, ptr, state, inp))
    for name, code in spec["hoisted"]:
        env[name] = expr(code)
    n_out = max(len(spec["outputs"]), 1)
    row = b.alloca(ir.ArrayType(F64, n_out), name="row")
    isave_slot = b.alloca(I64, name="isave")
    b.store(zero, isave_slot)
    nsteps = b.sub(n_times, one)
    head = fn.append_basic_block("step_head")
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    step = b.phi(I64, name="step")
    step.add_incoming(zero, pre)
    env["step"] = "i", step
    env["t"] = "f", load_at(times, step)
    for s in states:
        env[s] = "f", b.load(slots[s])
    _batched(b, expr, env, spec["loop"])
    saving, after_save = fn.append_basic_block("save"), fn.append_basic_block("after_save")
    b.cbranch(b.icmp_unsigned("!=", load_at(save, step), ir.Constant(I8, 0)), saving, after_save)
    b.position_at_end(saving)
    for o, code in enumerate(spec["outputs"]):
        b.store(expr.f(expr(code)), b.gep(row, [zero, ir.Constant(I64, o)]))
    isave = b.load(isave_slot)
    # for o in range(n_outputs): if omap[o] >= 0: out[omap[o] * out_stride + isave] = row[o]
    o_head, o_body, o_store, o_next, o_done = (fn.append_basic_block(f"out_{x}") for x in
                                               ("head", "body", "store", "next", "done"))
    b.branch(o_head)
    b.position_at_end(o_head)
    o = b.phi(I64)
    o.add_incoming(zero, saving)
    b.cbranch(b.icmp_signed("<", o, ir.Constant(I64, len(spec["outputs"]))), o_body, o_done)
    b.position_at_end(o_body)
    r = load_at(omap, o)
    b.cbranch(b.icmp_signed(">=", r, zero), o_store, o_next)
    b.position_at_end(o_store)
    b.store(b.load(b.gep(row, [zero, o])), b.gep(out, [b.add(b.mul(r, out_stride), isave)]))
    b.branch(o_next)
    b.position_at_end(o_next)
    o.add_incoming(b.add(o, one), o_next)
    b.branch(o_head)
    b.position_at_end(o_done)
    b.store(b.add(isave, one), isave_slot)
    b.branch(after_save)
    b.position_at_end(after_save)
    finish, update = fn.append_basic_block("finish"), fn.append_basic_block("update")
    b.cbranch(b.icmp_signed("==", step, nsteps), finish, update)
    b.position_at_end(update)
    d1 = {s: expr.f(expr(c)) for s, c, _ in cont}
    new = {s: expr.f(expr(c)) for s, c in disc}
    pipe_in = [expr.f(expr(inp)) for _, _, _, _, inp in pipes]
    for s, _, non_negative in cont:
        v = ("f", b.fadd(env[s][1], b.fmul(d1[s], dt)))
        if non_negative:
            v = expr.np_minmax(v, ("f", _f(0.0)), ">=")
        b.store(v[1], slots[s])
    for s, _ in disc:
        b.store(new[s], slots[s])
    for (base, length, ptr, s, _), value in zip(pipes, pipe_in):
        p = b.load(ptr)
        b.store(value, b.gep(base, [p]))
        p = b.srem(b.add(p, one), length)
        b.store(p, ptr)
        b.store(b.load(b.gep(base, [p])), slots[s])
    step.add_incoming(b.add(step, one), b.block)
    b.branch(head)
    b.position_at_end(finish)
    b.ret(b.load(isave_slot))
    b.position_at_end(bad)
    b.ret(ir.Constant(I64, -1))
    return str(mod)


def generate_chunks_ir(spec: dict, lanes: int = CHUNK) -> str:
    """The LLVM IR (text) of the ensemble kernel: `lanes` members per operation, every
    value a vector whose lanes are members (no reliance on LLVM's loop vectoriser), each
    lane the single-run kernel's arithmetic exactly, so member k of an ensemble equals
    a single run bit for bit.  Raises Unsupported.

        i64 innosd_run_chunks(double* P, i64 p_stride, i64 n_members, i64 c0, i64 c1,
                              double* times, i8* save, i64 n_times, double dt, double cap,
                              i64* omap, double* out, i64 out_stride, i64 member_stride,
                              double* work)

    runs the chunks c0..c1-1 (members c*lanes ...; a partial last chunk is padded with
    copies of its last member, whose results are not written); member j's constant i at
    P[i * p_stride + j], its saved value (row r, save index k) at
    out[r * out_stride + j * member_stride + k]; work holds n_delay_fixed * int(cap) *
    lanes doubles.  Returns 0, or -1 for a DELAY FIXED pipe length outside 1..int(cap)."""
    mod = ir.Module(name="innosd_native_chunks")
    mod.triple = llvm.get_process_triple()
    i8p, i64p = I8.as_pointer(), I64.as_pointer()
    args = [F64P, I64, I64, I64, F64P, i8p, I64, F64, F64, i64p, F64P, I64, I64, F64P]
    chunk = ir.Function(mod, ir.FunctionType(I64, args), name="innosd_chunk")
    chunk.linkage = "internal"
    _chunk_body(chunk, spec, lanes)
    outer = ir.Function(mod, ir.FunctionType(I64, args[:3] + [I64] + args[3:]),
                        name=CHUNKS_FUNCTION)
    P, p_stride, n_members, c0, c1, *rest = outer.args
    for a in outer.args:
        if isinstance(a.type, ir.PointerType):
            a.add_attribute("noalias")
    b = ir.IRBuilder(outer.append_basic_block("entry"))
    head, body, done, fail = (outer.append_basic_block(x) for x in ("head", "body", "done", "fail"))
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    c = b.phi(I64)
    c.add_incoming(c0, pre)
    b.cbranch(b.icmp_signed("<", c, c1), body, done)
    b.position_at_end(body)
    j0 = b.mul(c, ir.Constant(I64, lanes))
    status = b.call(chunk, [P, p_stride, n_members, j0, *rest])
    c.add_incoming(b.add(c, ir.Constant(I64, 1)), body)
    b.cbranch(b.icmp_signed("<", status, ir.Constant(I64, 0)), fail, head)
    b.position_at_end(done)
    b.ret(ir.Constant(I64, 0))
    b.position_at_end(fail)
    b.ret(ir.Constant(I64, -1))
    return str(mod)


def _chunk_body(fn, spec: dict, lanes: int) -> None:
    P, p_stride, n_members, j0, times, save, n_times, dt, cap, omap, out, out_stride, \
        member_stride, work = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    V = ir.VectorType(F64, lanes)
    VI = ir.VectorType(I64, lanes)
    one, zero = ir.Constant(I64, 1), ir.Constant(I64, 0)
    env = {}
    expr = _Expr(b, env, lanes, tables=(spec["lx"], spec["ly"]))

    def splat(x, vtype):
        v = ir.Constant(vtype, ir.Undefined)
        for m in range(lanes):
            v = b.insert_element(v, x, ir.Constant(I64, m))
        return v

    env["dt"], env["cap"] = ("f", splat(dt, V)), ("f", splat(cap, V))
    env["step"] = "i", expr.ci(-1)
    # members of the lanes: j0 + min(m, n - 1), n = min(lanes, n_members - j0)
    n = b.sub(n_members, j0)
    n = b.select(b.icmp_signed("<", n, ir.Constant(I64, lanes)), n, ir.Constant(I64, lanes))
    last = b.sub(n, one)
    members = [b.add(j0, b.select(b.icmp_signed("<", ir.Constant(I64, m), last),
                                  ir.Constant(I64, m), last)) for m in range(lanes)]
    for i in spec["params"]:
        row = b.mul(ir.Constant(I64, i), p_stride)
        v = ir.Constant(V, ir.Undefined)
        for m, jm in enumerate(members):
            v = b.insert_element(v, b.load(b.gep(P, [b.add(row, jm)])), ir.Constant(I64, m))
        env[f"p{i}"] = "f", v
    env["t"] = "f", splat(b.load(times), V)
    for name, code in spec["init"]:
        env[name] = expr(code)
    cont, disc, states = spec["cont"], spec["disc"], _states(spec)
    slots = _state_slots(b, expr, env, states, V)
    # DELAY FIXED pipes: pipe n, position q, lane m at work[(n * int(cap) + q) * lanes + m]
    capi = b.fptosi(cap, I64)
    bad = fn.append_basic_block("bad_pipe")
    pipes = []
    for k, (state, order, inp) in enumerate(spec["pipes"]):
        length = _int(expr, env[order])[1]
        longest = one
        ok = ir.Constant(I1, 1)
        for m in range(lanes):
            lm = b.extract_element(length, ir.Constant(I64, m))
            ok = b.and_(ok, b.and_(b.icmp_signed(">=", lm, one), b.icmp_signed("<=", lm, capi)))
            longest = b.select(b.icmp_signed(">", lm, longest), lm, longest)
        good = fn.append_basic_block(f"pipe{k}_ok")
        b.cbranch(ok, good, bad)
        b.position_at_end(good)
        base = b.gep(work, [b.mul(b.mul(ir.Constant(I64, k), capi), ir.Constant(I64, lanes))])
        vbase = b.bitcast(base, V.as_pointer())
        value = expr.f(env[state])
        head, body, done = (fn.append_basic_block(f"pipe{k}_{x}") for x in ("head", "fill", "done"))
        b.branch(head)
        b.position_at_end(head)
        q = b.phi(I64)
        q.add_incoming(zero, good)
        b.cbranch(b.icmp_signed("<", q, longest), body, done)
        b.position_at_end(body)
        b.store(value, b.gep(vbase, [q]), align=8)
        q.add_incoming(b.add(q, one), body)
        b.branch(head)
        b.position_at_end(done)
        ptr = b.alloca(VI, name=f"pipe{k}_ptr")
        b.store(ir.Constant(VI, [0] * lanes), ptr)
        pipes.append((base, length, ptr, state, inp))
    for name, code in spec["hoisted"]:
        env[name] = expr(code)
    n_out = max(len(spec["outputs"]), 1)
    row = b.alloca(ir.ArrayType(V, n_out), name="row")
    row_d = b.bitcast(row, F64P)
    isave_slot = b.alloca(I64, name="isave")
    b.store(zero, isave_slot)
    nsteps = b.sub(n_times, one)
    head = fn.append_basic_block("step_head")
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    step = b.phi(I64, name="step")
    step.add_incoming(zero, pre)
    env["step"] = "i", splat(step, VI)
    env["t"] = "f", splat(b.load(b.gep(times, [step])), V)
    for s in states:
        env[s] = "f", b.load(slots[s])
    _batched(b, expr, env, spec["loop"])
    saving, after_save = fn.append_basic_block("save"), fn.append_basic_block("after_save")
    b.cbranch(b.icmp_unsigned("!=", b.load(b.gep(save, [step])), ir.Constant(I8, 0)),
              saving, after_save)
    b.position_at_end(saving)
    for o, code in enumerate(spec["outputs"]):
        b.store(expr.f(expr(code)), b.gep(row, [zero, ir.Constant(I64, o)]), align=8)
    isave = b.load(isave_slot)
    # for o: if omap[o] >= 0: for m < n: out[omap[o] * out_stride + (j0 + m) * member_stride + isave]
    o_head, o_body, m_head, m_body, o_next, o_done = (
        fn.append_basic_block(f"out_{x}") for x in ("head", "body", "mhead", "mbody", "next", "done"))
    b.branch(o_head)
    b.position_at_end(o_head)
    o = b.phi(I64)
    o.add_incoming(zero, saving)
    b.cbranch(b.icmp_signed("<", o, ir.Constant(I64, len(spec["outputs"]))), o_body, o_done)
    b.position_at_end(o_body)
    r = b.load(b.gep(omap, [o]))
    dest = b.add(b.mul(r, out_stride), b.add(b.mul(j0, member_stride), isave))
    b.cbranch(b.icmp_signed(">=", r, zero), m_head, o_next)
    b.position_at_end(m_head)
    m = b.phi(I64)
    m.add_incoming(zero, o_body)
    b.cbranch(b.icmp_signed("<", m, n), m_body, o_next)
    b.position_at_end(m_body)
    value = b.load(b.gep(row_d, [b.add(b.mul(o, ir.Constant(I64, lanes)), m)]))
    b.store(value, b.gep(out, [b.add(dest, b.mul(m, member_stride))]))
    m.add_incoming(b.add(m, one), m_body)
    b.branch(m_head)
    b.position_at_end(o_next)
    o.add_incoming(b.add(o, one), o_next)
    b.branch(o_head)
    b.position_at_end(o_done)
    b.store(b.add(isave, one), isave_slot)
    b.branch(after_save)
    b.position_at_end(after_save)
    finish, update = fn.append_basic_block("finish"), fn.append_basic_block("update")
    b.cbranch(b.icmp_signed("==", step, nsteps), finish, update)
    b.position_at_end(update)
    d1 = {s: expr.f(expr(c)) for s, c, _ in cont}
    new = {s: expr.f(expr(c)) for s, c in disc}
    pipe_in = [expr.f(expr(inp)) for _, _, _, _, inp in pipes]
    dtv = env["dt"][1]
    for s, _, non_negative in cont:
        v = ("f", b.fadd(env[s][1], b.fmul(d1[s], dtv)))
        if non_negative:
            v = expr.np_minmax(v, ("f", expr.cf(0.0)), ">=")
        b.store(v[1], slots[s])
    for s, _ in disc:
        b.store(new[s], slots[s])
    zeros = ir.Constant(VI, [0] * lanes)
    for (base, length, ptr, s, _), value in zip(pipes, pipe_in):
        p = b.load(ptr)
        for k in range(lanes):
            lane = ir.Constant(I64, k)
            at = b.add(b.mul(b.extract_element(p, lane), ir.Constant(I64, lanes)), lane)
            b.store(b.extract_element(value, lane), b.gep(base, [at]))
        # (ptr + 1) % length, for 0 <= ptr < length
        p = b.add(p, ir.Constant(VI, [1] * lanes))
        p = b.select(b.icmp_signed("==", p, length), zeros, p)
        b.store(p, ptr)
        v = ir.Constant(V, ir.Undefined)
        for k in range(lanes):
            lane = ir.Constant(I64, k)
            at = b.add(b.mul(b.extract_element(p, lane), ir.Constant(I64, lanes)), lane)
            v = b.insert_element(v, b.load(b.gep(base, [at])), lane)
        b.store(v, slots[s])
    step.add_incoming(b.add(step, one), b.block)
    b.branch(head)
    b.position_at_end(finish)
    b.ret(zero)
    b.position_at_end(bad)
    b.ret(ir.Constant(I64, -1))
