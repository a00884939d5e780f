"""Compile a model file (or load it from the on-disk cache): the compiler's entry point.

    from innosd.model.compiler.driver import compile_model   # or innosd.model.compile_model
    m = compile_model("model/guangzhou_innovation.mdl")

parse (model.abstract) -> slot graph (frontend) -> dependency order (schedule) -> Python
source of @njit kernels (codegen) -> written, with metadata, to the cache folder
($INNOSD_CACHE_DIR or ~/.cache/innosd) under a key of the model file's content, every
file of this compiler folder and the versions of PySD, Numba and NumPy; Numba caches its
machine code next to it, so a second load neither parses the model nor recompiles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from innosd.errors import ModelError
from innosd.model import abstract
from innosd.model.abstract import expressions, located, norm, parse, stock_equation
from innosd.model.compiler import machine, native
from innosd.model.compiler.codegen import CHUNK, generate
from innosd.model.compiler.frontend import ModelGraph
from innosd.model.compiler.ir import CONTROL_VARS, PLACEHOLDER, slot_index
from innosd.model.runtime import CompiledModel

COMPILER_DIR = Path(__file__).resolve().parent
ABSTRACT_FILE = Path(abstract.__file__).resolve()
COMPILER_VERSION = "0.6.0"  # bump whenever generated code would change

_loaded: dict[str, "CompiledModel"] = {}

# a model with more element slots than this is a long compile: progress goes to stderr
LONG_COMPILE_SLOTS = 2000


def _progress(path: Path, started: float, what: str) -> None:
    print(f"innosd: compiling {path.name}: {what} ({time.perf_counter() - started:.1f} s)",
          file=sys.stderr, flush=True)


def cache_dir() -> Path:
    root = os.environ.get("INNOSD_CACHE_DIR") or Path.home() / ".cache" / "innosd"
    return Path(root)


def compiler_files(folder: Path = COMPILER_DIR) -> list[Path]:
    """Every file of the compiler folder (not Python's or Numba's __pycache__), sorted."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.relative_to(folder).parts)


def compiler_hash(folder: Path = COMPILER_DIR) -> bytes:
    """The compiler's identity: the bytes of every file of its folder (names included)
    and of the parser adapter, so that editing any of them invalidates the cache."""
    h = hashlib.sha256()
    named = [(f.relative_to(folder).as_posix(), f) for f in compiler_files(folder)]
    for name, f in named + [("../" + ABSTRACT_FILE.name, ABSTRACT_FILE)]:
        h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.digest()


# read once, when this module is imported: a process keys its cache entries by the
# compiler it actually runs, even if the files change on disk meanwhile
_COMPILER_HASH = compiler_hash()


def _key(source: bytes) -> str:
    h = hashlib.sha256(source)
    h.update(_COMPILER_HASH)
    # versions from package metadata: a cached load must not import PySD (slow start-up)
    h.update(f"|{COMPILER_VERSION}|{version('pysd')}|{version('numba')}|"
             f"{np.__version__}".encode())
    return h.hexdigest()[:20]


_CMP = {"=": "==", "<>": "!=", ">=": ">=", ">": ">", "<=": "<=", "<": "<"}


def _ctl_expr(g, node) -> str:
    """Python expression (over `p`, a name->value dict, and `t`, the time) for a control
    variable.  Control variables may change during the run (PySD evaluates FINAL TIME,
    TIME STEP and SAVEPER at every step, INITIAL TIME once) when they are functions of
    Time and constants: numbers, constants, auxiliaries of those, + - * / ^, comparisons,
    IF THEN ELSE, MIN and MAX.  A control that reads a stock is refused."""
    ae = expressions()
    if isinstance(node, (int, float, np.integer, np.floating)):
        return repr(float(node))
    if isinstance(node, ae.ReferenceStructure) and node.reference == "time":
        return "t"
    if isinstance(node, ae.CallStructure) and node.function.reference in (
            "if_then_else", "min", "max") and len(node.arguments) in (2, 3):
        a = [_ctl_expr(g, x) for x in node.arguments]
        fn = node.function.reference
        if fn == "if_then_else" and len(a) == 3:
            return f"({a[1]} if {a[0]} != 0.0 else {a[2]})"
        if fn in ("min", "max") and len(a) == 2:
            op = "<=" if fn == "min" else ">="
            return f"({a[0]} if {a[0]} {op} {a[1]} else {a[1]})"
    if isinstance(node, ae.LogicStructure) or (
            isinstance(node, ae.ArithmeticStructure) and any(op in _CMP for op in node.operators)):
        args = [_ctl_expr(g, a) for a in node.arguments]
        if len(args) == 1 and node.operators[0] == ":NOT:":
            return f"(1.0 if {args[0]} == 0.0 else 0.0)"
        right = args[-1]  # PySD nests from the right
        for op, left in zip(reversed(node.operators), reversed(args[:-1])):
            if op in _CMP:
                right = f"(1.0 if {left} {_CMP[op]} {right} else 0.0)"
            elif op in (":AND:", ":OR:"):
                join = "and" if op == ":AND:" else "or"
                right = f"(1.0 if ({left} != 0.0) {join} ({right} != 0.0) else 0.0)"
            else:
                break
        else:
            return right
    if isinstance(node, ae.ReferenceStructure) and node.subscripts is None:
        var = g.variables.get(norm(node.reference))
        if var is not None and () in var.instances:
            m = PLACEHOLDER.fullmatch(var.instances[()])
            if m and m.group(1) == "P":
                return f"p[{g.params[int(m.group(2))]['name']!r}]"
            if m is None:
                return var.instances[()]
            return "(" + _ctl_expr(g, var.components[0].ast) + ")"
    if isinstance(node, ae.ArithmeticStructure):
        args = [_ctl_expr(g, a) for a in node.arguments]
        if len(args) == 1:
            return f"(-{args[0]})"
        ops = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**"}
        out = args[0]
        for op, a in zip(node.operators, args[1:]):
            out += f" {ops[op]} {a}"
        return f"({out})"
    raise ModelError("unsupported construct control variable that depends on a stock or "
                     "a function other than IF THEN ELSE, MIN, MAX (INITIAL TIME, FINAL TIME, "
                     "TIME STEP and SAVEPER must be functions of Time and constants); run "
                     "this model with --backend pysd")


def _reads_time(expr: str) -> bool:
    """Whether a control expression (from _ctl_expr) reads the time `t`."""
    return re.search(r"(?<![\w'])t(?![\w'])", expr) is not None


def _build(path: Path, source: bytes, key: str, folder: Path, data_files=()) -> None:
    started = time.perf_counter()
    am = parse(path)
    try:
        g = ModelGraph(am, path, data_files)
    except ModelError as err:
        raise located(err, path, source) from None
    long_compile = g.n_aux + g.n_state > LONG_COMPILE_SLOTS
    if long_compile:
        _progress(path, started, f"parsed, {len(g.variables)} variables expanded to "
                                 f"{g.n_aux} auxiliary and {g.n_state} state slots")
    outputs, columns = [], []
    integ_slots = {s for st in g.statefuls if st.kind == "INTEG" for s in st.slots}
    for k, var in g.variables.items():
        if var.kind == "lookup":
            continue
        for tup, slot in var.instances.items():
            col = var.name + (f"[{','.join(tup)}]" if tup else "")
            outputs.append((col, slot))
            run_code = g.aux_code.get(slot_index(slot), ("",))[0] if slot.startswith("@A") \
                else ""
            kind = "stock" if run_code in integ_slots else \
                "constant" if not slot.startswith("@A") else "auxiliary"
            columns.append(dict(name=col, variable=var.name, units=var.units, kind=kind))
    ReferenceStructure = expressions().ReferenceStructure
    control = {}
    for k, name in CONTROL_VARS.items():
        try:
            control[name] = _ctl_expr(g, ReferenceStructure(k))
        except ModelError as err:
            err.variable = name
            raise located(err, path, source) from None
    # a TIME STEP that changes during the run: the kernels read it per step (codegen)
    g.variable_time_step = _reads_time(control["TIME STEP"])
    try:
        src = generate(g, outputs, COMPILER_VERSION)
    except ModelError as err:  # e.g. simultaneous equations: name the file
        raise located(err, path, source) from None
    # the single-run Euler kernel as LLVM IR (model.compiler.native), compiled now: run()
    # then needs no Numba compile; a construct the emitter lacks keeps the Numba kernel
    try:
        spec = native.kernel_spec(g, outputs)
        native_ir, native_reason = native.generate_ir(spec), None
    except native.Unsupported as err:
        native_ir, native_reason = None, str(err)
    if long_compile:
        _progress(path, started, f"kernel source written ({src.count(chr(10))} lines); "
                                 "machine code is compiled at the first run")
    lx = np.concatenate([lk.x for lk in g.lookups]) if g.lookups else np.zeros(1)
    ly = np.concatenate([lk.y for lk in g.lookups]) if g.lookups else np.zeros(1)
    params = [dict(name=p["name"], variable=p["variable"], element=list(p["element"]),
                   default=p["default"], units=p["units"],
                   limits=[None if v is None else float(v) for v in p["limits"]],
                   doc=p["doc"]) for p in g.params]
    meta = dict(version=COMPILER_VERSION, source=str(path), params=params,
                columns=columns, control=control,
                control_time=[k for k, e in control.items() if _reads_time(e)], lx=lx.tolist(), ly=ly.tolist(),
                n_delay_fixed=len(g.delay_fixed), variables=_variables(g),
                long_compile=long_compile, fixed_params=sorted(g.fixed_params),
                native=native_reason or "yes", native_lanes=CHUNK,
                data_files={os.path.relpath(Path(f).resolve(), path.resolve().parent): _file_digest(f)
                            for f in sorted(g.data_files)})
    folder.mkdir(parents=True, exist_ok=True)
    if native_ir is not None:
        _atomic_write(folder / native.SPEC_FILE, json.dumps(spec))
        _atomic_write(folder / machine.IR_FILE, native_ir)
        machine.write_object(folder, native_ir)
    _atomic_write(folder / f"innosd_model_{key}.py", src)
    _atomic_write(folder / "meta.json", json.dumps(meta))


def _variables(g) -> list[dict]:
    """Per model variable: units, declared range, comment and whether it is a stock
    (an INTEG), so that metadata needs no PySD at run time."""
    out = []
    for var in g.variables.values():
        lim = [None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
               for v in var.limits]
        out.append(dict(name=var.name, units=var.units, limits=lim, comment=var.doc,
                        subscripted=bool(var.dims), kind=var.kind,
                        stock=stock_equation(var) is not None))
    return out


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _data_files_unchanged(folder: Path, model_path: Path) -> bool:
    """The spreadsheets/CSVs a cached model read (GET XLS/DIRECT) are still as they were:
    the cache key covers the model file's bytes only, so a changed data file forces a rebuild.
    The files are recorded relative to the model's folder, as the model names them: the same
    model text in another folder reads that folder's files (an absolute record would find the
    first folder's file unchanged and reuse its values)."""
    try:
        recorded = json.loads((folder / "meta.json").read_text()).get("data_files", {})
    except (OSError, ValueError):
        return False
    here = Path(model_path).resolve().parent
    return all(_file_digest(here / f) == digest for f, digest in recorded.items())


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def compile_model(path, *, use_cache: bool = True, data_files=None) -> "CompiledModel":
    """Compile (or load from the cache) the model at `path`.  `data_files` (a path or a
    list of them: .tab/.csv output of another run) give the values of DATA variables the
    model defines without GET XLS/DIRECT, which Vensim reads at run time; they are read
    now, as PySD's read_vensim(data_files=...) does, and a changed file rebuilds."""
    path = Path(path)
    try:
        source = path.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read model file {path}: {err.strerror}") from None
    if isinstance(data_files, (str, Path)):
        data_files = [data_files]
    data_files = [Path(f) for f in data_files or []]
    for f in data_files:
        if not f.is_file():
            raise ModelError(f"data file {f} does not exist (data_files of {path.name})")
    # the same model with other data files is another build (the files' contents are
    # checked by _data_files_unchanged, as for GET XLS/DIRECT)
    key = _key(source + b"".join(b"\0data:" + os.path.relpath(f.resolve(), path.resolve().parent)
                                 .encode() for f in data_files))
    folder = cache_dir() / key
    if use_cache and str(folder) in _loaded and _data_files_unchanged(folder, path):
        return _loaded[str(folder)]
    from_cache = (folder / "meta.json").exists() and \
        (folder / f"innosd_model_{key}.py").exists() and use_cache \
        and _data_files_unchanged(folder, path)
    if not from_cache:
        try:
            _build(path, source, key, folder, data_files)
        except OSError as err:  # a read-only or full cache folder: compile into a private one instead
            folder = Path(tempfile.mkdtemp(prefix="innosd-cache-")) / key
            print(f"innosd: cache folder {cache_dir()} cannot be written ({err.strerror or err}); "
                  f"compiled into {folder.parent} for this process (set INNOSD_CACHE_DIR)", file=sys.stderr)
            _build(path, source, key, folder, data_files)
    model = CompiledModel(path, folder, key, from_cache=from_cache)
    _loaded[str(folder)] = model
    return model
