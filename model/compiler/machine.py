"""Machine code of a native kernel (model.compiler.native): optimised and compiled by
LLVM through llvmlite, cached as an object file per CPU, loaded and called through ctypes.

Kept apart from the emitter so that loading a cached model needs neither the compiler
nor PySD (model.runtime imports this module only).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
import tempfile
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np

from innosd.errors import ModelError

FUNCTION = "innosd_run_one"
CHUNKS_FUNCTION = "innosd_run_chunks"
# LLVM's -O level for the kernel: 2 gives the run speed of Numba's (-O3) kernel on the
# project model (240 us both, measured in one process) in ~0.9 s of optimisation and
# code generation
OPT_LEVEL = 2


IR_FILE = "native.ll"  # the kernel's IR in a model's cache folder (see native.py)
CHUNKS_IR_FILE = "native_chunks.ll"  # the ensemble kernel's

# idempotent (Numba does the same when imported)
llvm.initialize_native_target()
llvm.initialize_native_asmprinter()


class NativeUnavailable(Exception):
    """The object code cannot be loaded here: the Numba kernel is used instead."""


def cpu_tag() -> str:
    """Object code is specific to the CPU it was compiled for: its cache file is named
    by the host CPU and a digest of its feature flags."""
    features = llvm.get_host_cpu_features().flatten()
    return f"{llvm.get_host_cpu_name()}-{hashlib.sha256(features.encode()).hexdigest()[:10]}"


def _target_machine():
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=OPT_LEVEL, reloc="pic", codemodel="default")


def compile_object(ir_text: str) -> bytes:
    """Optimise the module (-O2) and return its machine code as an object file."""
    mod = llvm.parse_assembly(ir_text)
    mod.verify()
    tm = _target_machine()
    pto = llvm.create_pipeline_tuning_options(speed_level=OPT_LEVEL)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return tm.emit_object(mod)


class NativeKernel:
    """The native kernel, callable as the Numba `_run_one`:
    kernel(P, times, save, dt, cap, LX, LY, omap, out, j) -> number of saved times."""

    def __init__(self, obj: bytes, n_delay_fixed: int):
        self.n_delay_fixed = n_delay_fixed
        tm = _target_machine()
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
        self._engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        self._engine.finalize_object()
        addr = self._engine.get_function_address(FUNCTION)
        if not addr:
            raise NativeUnavailable("native kernel symbol missing from the object file")
        vp, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
        self._fn = ctypes.CFUNCTYPE(i64, vp, i64, vp, vp, i64, f64, f64, vp, vp, i64, vp)(addr)

    def __call__(self, P, times, save, dt, cap, LX, LY, omap, out, j):
        # element strides of P (constant, member) and out (row, member, save index): any
        # layout of whole float64 elements, the save index unit-stride
        if P.dtype != np.float64 or out.dtype != np.float64 or out.strides[2] != 8 \
                or P.strides[0] % 8 or out.strides[0] % 8:
            raise ValueError("native kernel: P and out must be float64 with unit-stride times")
        times = np.ascontiguousarray(times, dtype=np.float64)
        save = np.ascontiguousarray(save, dtype=np.bool_)
        omap = np.ascontiguousarray(omap, dtype=np.int64)
        work = np.empty(max(self.n_delay_fixed * int(cap), 1))
        n = self._fn(P.ctypes.data + P.strides[1] * j, P.strides[0] // 8, times.ctypes.data,
                     save.ctypes.data, times.shape[0], float(dt), float(cap), omap.ctypes.data,
                     out.ctypes.data + out.strides[1] * j, out.strides[0] // 8, work.ctypes.data)
        if n < 0:
            raise ModelError("a DELAY FIXED delay time is not a number: its pipe length "
                             "must be between 1 and the number of time steps")
        return n


def object_file(folder: Path, ir_file: str = IR_FILE) -> Path:
    return Path(folder) / f"{Path(ir_file).stem}-{cpu_tag()}.o"


def write_object(folder: Path, ir_text: str, ir_file: str = IR_FILE) -> bytes:
    """Compile `ir_text` for this CPU into the cache folder (atomically); the file starts
    with the SHA-256 of the object code, checked before loading: LLVM's loader does not
    validate an object file (a damaged one crashed the process in a test)."""
    path = object_file(folder, ir_file)
    data = compile_object(ir_text)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".o")
    with os.fdopen(fd, "wb") as fh:
        fh.write(hashlib.sha256(data).digest() + data)
    os.replace(tmp, path)
    return data


def _checked(path: Path) -> bytes | None:
    """The object code of a cached file, None if it is missing or damaged."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    digest, data = raw[:32], raw[32:]
    return data if data and hashlib.sha256(data).digest() == digest else None


def _object_code(folder: Path, ir_file: str) -> bytes:
    """A cached model's object code for this CPU, compiled from the cached IR first if
    this CPU has none yet (a cache folder copied elsewhere; the ensemble kernel's first
    use).  Raises NativeUnavailable when the folder has no such IR."""
    ir_path = Path(folder) / ir_file
    if not ir_path.exists():
        raise NativeUnavailable("no native kernel for this model")
    data = _checked(object_file(folder, ir_file))
    if data is None:
        try:
            data = write_object(folder, ir_path.read_text(), ir_file)
        except OSError:  # a read-only cache: compile in memory
            data = compile_object(ir_path.read_text())
    return data


def load(folder: Path, n_delay_fixed: int) -> NativeKernel:
    """The native single-run kernel of a cached model (NativeUnavailable: none)."""
    return NativeKernel(_object_code(folder, IR_FILE), n_delay_fixed)


def load_chunks(folder: Path, n_delay_fixed: int, lanes: int) -> "NativeEnsembleKernel":
    """The native ensemble kernel of a cached model (NativeUnavailable: none)."""
    return NativeEnsembleKernel(_object_code(folder, CHUNKS_IR_FILE), n_delay_fixed, lanes)


def _engine_function(obj: bytes, name: str, restype, *argtypes):
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine())
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    addr = engine.get_function_address(name)
    if not addr:
        raise NativeUnavailable(f"{name} missing from the object file")
    return engine, ctypes.CFUNCTYPE(restype, *argtypes)(addr)


def threads() -> int:
    """Worker threads of the native ensemble kernel: Numba's thread count for this thread
    (numba.set_num_threads, which calibrate's run.threads sets), so the native kernel
    uses the cores the Numba kernel would."""
    return max(1, numba.get_num_threads())


class NativeEnsembleKernel:
    """The native ensemble kernel, callable as the Numba `run_chunks_euler`:
    kernel(P, times, save, dt, cap, LX, LY, omap, out, jout) fills out[:, jout + j, :]
    for every member j (column of P).  Blocks of `lanes` members are shared among
    threads(); ctypes releases the GIL while each thread runs its blocks."""

    def __init__(self, obj: bytes, n_delay_fixed: int, lanes: int):
        self.n_delay_fixed, self.lanes = n_delay_fixed, lanes
        vp, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
        self._engine, self._fn = _engine_function(
            obj, CHUNKS_FUNCTION, i64, vp, i64, i64, i64, i64, vp, vp, i64, f64, f64, vp, vp,
            i64, i64, vp)
        self._pool, self._pool_size = None, 0

    def __call__(self, P, times, save, dt, cap, LX, LY, omap, out, jout):
        if P.dtype != np.float64 or out.dtype != np.float64 or out.strides[2] != 8 \
                or P.strides[0] % 8 or P.strides[1] != 8 or out.strides[0] % 8 or out.strides[1] % 8:
            raise ValueError("native kernel: P must be float64 C-ordered, out float64 "
                             "with unit-stride times")
        times = np.ascontiguousarray(times, dtype=np.float64)
        save = np.ascontiguousarray(save, dtype=np.bool_)
        omap = np.ascontiguousarray(omap, dtype=np.int64)
        n_members = P.shape[1]
        n_chunks = -(-n_members // self.lanes)
        workers = max(1, min(threads(), n_chunks))
        bounds = np.linspace(0, n_chunks, workers + 1).round().astype(int)
        size = max(self.n_delay_fixed * int(cap) * self.lanes, 1)
        out_at = out.ctypes.data + out.strides[1] * jout

        def part(k):
            work = np.empty(size)
            return self._fn(P.ctypes.data, P.strides[0] // 8, n_members, int(bounds[k]),
                            int(bounds[k + 1]), times.ctypes.data, save.ctypes.data,
                            times.shape[0], float(dt), float(cap), omap.ctypes.data, out_at,
                            out.strides[0] // 8, out.strides[1] // 8, work.ctypes.data)
        if workers == 1:
            status = [part(0)]
        else:
            if self._pool is None or self._pool_size < workers:
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="innosd-native")
                self._pool_size = workers
            status = list(self._pool.map(part, range(workers)))
        if min(status) < 0:
            raise ModelError("a DELAY FIXED delay time is not a number: its pipe length "
                             "must be between 1 and the number of time steps")
        return 0
