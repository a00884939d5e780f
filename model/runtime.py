"""CompiledModel: a Vensim/XMILE model compiled to Numba, with run() and run_ensemble().

    from innosd.model import compile_model
    m = compile_model("model/guangzhou_innovation.mdl")
    df = m.run({"HTE pass rate": 0.3})                 # pandas, indexed by time
    ds = m.run_ensemble(table, return_columns=[...])   # xarray, dims (run, time)

A CompiledModel loads the generated module and metadata that `model.compiler.driver`
wrote to the on-disk cache; loading needs neither PySD nor the compiler.

A model with RANDOM functions draws from streams seeded by the constant NOISE SEED (the
model's own, or one the compiler adds, default 0): `run({"NOISE SEED": k})` is member k
of `run_ensemble(pd.DataFrame({"NOISE SEED": range(n)}))`.  GET XLS/DIRECT values are
read when the model is compiled: after editing a spreadsheet, recompile
(`compile_model(path, use_cache=False)`).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from innosd.errors import ModelError, closest
from innosd.model.abstract import norm
from innosd.model.compiler import machine

TIME_RPREC = 1e-5           # PySD components.Time.rprec: relative precision of time checks
ENSEMBLE_CHUNK = 16384      # members per kernel call: bounds the contiguous parameter copy
GRID_MEMO = 64              # time grids remembered per model (distinct control values)


class EnsembleEvaluator(NamedTuple):
    """`evaluate(values (n, k)) -> array (columns, n, times)` for fixed varied constants and outputs."""

    times: np.ndarray
    columns: list[str]
    positions: list[int]   # row of each requested return column in the result
    evaluate: Callable[[np.ndarray], np.ndarray]


class CompiledModel:
    """One compiled model.  Construct with `compile_model(path)`."""

    def __init__(self, path: Path, folder: Path, key: str, from_cache: bool):
        self.path = path
        self.key = key
        self.from_cache = from_cache
        meta = json.loads((folder / "meta.json").read_text())
        self._meta = meta
        modname = f"innosd_model_{key}"
        spec = importlib.util.spec_from_file_location(modname, folder / f"{modname}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        self._mod = mod
        self._params = meta["params"]
        self._defaults = np.array([p["default"] for p in self._params], dtype=float)
        self._pindex = {p["name"]: i for i, p in enumerate(self._params)}
        self._alias: dict[str, list[int]] = {}
        for i, p in enumerate(self._params):
            for name in {p["name"], p["variable"], norm(p["name"]), norm(p["variable"])}:
                self._alias.setdefault(name, []).append(i)
        self._columns = [c["name"] for c in meta["columns"]]
        self._col_alias: dict[str, list[int]] = {}
        for i, c in enumerate(meta["columns"]):
            for name in {c["name"], c["variable"], norm(c["name"]), norm(c["variable"])}:
                self._col_alias.setdefault(name, []).append(i)
        self._units = {c["name"]: c["units"] for c in meta["columns"]}
        # constants whose default value is compiled into the kernel (a DELAY N or SMOOTH N
        # order, a VECTOR SELECT action): refused when set to another value
        self._fixed = {self._pindex[n] for n in meta.get("fixed_params", [])
                       if n in self._pindex}
        self._control = meta["control"]
        # control variables that change during the run (functions of Time): their names
        self._control_time = meta.get("control_time", [])
        self._lx = np.asarray(meta["lx"], dtype=float)
        self._ly = np.asarray(meta["ly"], dtype=float)
        # the time grid depends only on the constants the control expressions read: it
        # is built once per distinct value of those (building it in Python for every
        # run() cost a third of the kernel's time on the project model)
        self._control_params = [i for i, pp in enumerate(self._params)
                                if any(f"p[{pp['name']!r}]" in expr
                                       for expr in self._control.values())]
        self._grids: dict[tuple, tuple] = {}
        # output maps and column indexes of the selections run() was asked for
        self._selections: dict = {}
        self._folder = folder
        self._native = None  # the native single-run kernel, loaded at the first run()
        self._native_chunks = None  # the native ensemble kernel, built at the first ensemble

    @property
    def native(self) -> bool:
        """Whether run() (Euler) uses the native kernel (model.compiler.native) rather
        than the Numba one; `native_reason` says why not."""
        return self._native_kernel() is not None

    @property
    def native_reason(self) -> str:
        """'yes', or the construct that kept the native kernel out (the Numba kernel runs)."""
        return self._meta.get("native", "not built (older cache entry)")

    def _native_kernel(self):
        if self._native is None and self._meta.get("native") == "yes":
            try:
                self._native = machine.load(self._folder, self._meta["n_delay_fixed"])
            except (machine.NativeUnavailable, OSError, RuntimeError):
                self._native = False  # e.g. an unreadable object file: the Numba kernel
        return self._native or None

    def _native_ensemble_kernel(self):
        if self._native_chunks is None and self._meta.get("native") == "yes":
            try:
                if not (self._folder / machine.CHUNKS_IR_FILE).exists():
                    # lazy: the emitter (and the compiler it imports) only for a first ensemble
                    from innosd.model.compiler import native
                    native.write_chunks_ir(self._folder)
                self._native_chunks = machine.load_chunks(
                    self._folder, self._meta["n_delay_fixed"], self._meta["native_lanes"])
            except Exception as err:  # noqa: BLE001 - any failure of the emitter or LLVM here
                # means the Numba kernel, which runs everything and gives the same numbers;
                # said once, since it is slower and a silent fallback once hid an emitter bug
                self._native_chunks = False
                warnings.warn(f"{Path(self._meta.get('source', 'model')).name}: run_ensemble uses the Numba "
                              f"kernel (the native ensemble kernel failed to build: "
                              f"{type(err).__name__}: {err})", RuntimeWarning, stacklevel=3)
        return self._native_chunks or None

    # ------------------------------------------------------------------ metadata
    @property
    def parameters(self) -> pd.DataFrame:
        """Constants that `run(params=...)` accepts: defaults, units, declared ranges."""
        rows = []
        for p in self._params:
            lim = list(p["limits"]) + [None, None, None]
            rows.append(dict(name=p["name"], variable=p["variable"], default=p["default"],
                             units=p["units"], min=lim[0], max=lim[1], step=lim[2],
                             doc=p["doc"]))
        return pd.DataFrame(rows).set_index("name")

    @property
    def fixed_parameters(self) -> list[str]:
        """Constants compiled into the kernel (delay orders, VECTOR SELECT actions): run()
        and run_ensemble() refuse other values for them."""
        return [self._params[i]["name"] for i in sorted(self._fixed)]

    @property
    def stocks(self) -> list[str]:
        """Output columns that are stocks (INTEG)."""
        return [c["name"] for c in self._meta["columns"] if c.get("kind") == "stock"]

    @property
    def variables(self) -> list[dict]:
        """Every variable of the model file (incl. lookups and control variables): name,
        units, limits [min, max, step] (None if undeclared), comment, subscripted, kind
        ('aux' | 'lookup') and stock (defined by INTEG)."""
        return [dict(v) for v in self._meta["variables"]]

    @property
    def columns(self) -> list[str]:
        """Every output column (model-file names; subscripted as 'name[a,b]')."""
        return list(self._columns)

    # ------------------------------------------------------------------ helpers
    def _resolve(self, aliases: dict, name, kind: str, choices) -> list[int]:
        """Indices for a name given as in the model file or PySD's python-safe form."""
        idx = aliases.get(name)
        if idx is None:
                idx = aliases.get(norm(str(name)))
        if idx is None:
            raise ModelError(f"unknown {kind} {name!r} in {self.path.name}" + closest(str(name), choices))
        return idx

    def _param_indices(self, name) -> list[int]:
        return self._resolve(self._alias, name, "constant", self._pindex)

    def _param_vector(self, params) -> np.ndarray:
        P = self._defaults.copy()
        for name, value in (params or {}).items():
            if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray, list)):
                raise ModelError(f"constant {name!r}: only scalar values are supported "
                                 "by the compiled core (no time series)")
            for i in self._param_indices(name):
                P[i] = float(value)
                self._check_fixed(i, P[i:i + 1])
        return P

    def _check_fixed(self, i: int, values: np.ndarray) -> None:
        if i in self._fixed and np.any(values != self._defaults[i]):
            p = self._params[i]
            raise ModelError(f"constant {p['name']!r} of {self.path.name} is fixed at "
                             f"{p['default']:g} when the model is compiled (it sets a delay "
                             "order or a VECTOR SELECT action); edit the model file to change it")

    def _output_map(self, return_columns):
        if return_columns is None:
            sel = list(range(len(self._columns)))
        else:
            if isinstance(return_columns, str):
                return_columns = [return_columns]
            sel = []
            for name in return_columns:
                idx = self._resolve(self._col_alias, name, "variable", self._columns)
                sel += [i for i in idx if i not in sel]
        omap = np.full(len(self._columns), -1, dtype=np.int64)
        omap[sel] = np.arange(len(sel))
        return omap, [self._columns[i] for i in sel]

    def _time_grid(self, P: np.ndarray):
        """(times, save, dt, saved times rounded, control values) for the constants `P`:
        memoised on the constants the control variables read.  The arrays are shared
        between calls: callers must not write to them."""
        key = tuple(P[i] for i in self._control_params)
        grid = self._grids.get(key)
        if grid is None:
            grid = self._build_time_grid(P)
            for a in grid[:4]:
                if isinstance(a, np.ndarray):
                    a.flags.writeable = False
            if len(self._grids) >= GRID_MEMO:
                self._grids.clear()
            self._grids[key] = grid
        return grid[0], grid[1], grid[2], grid[3], dict(grid[4])

    def _build_time_grid(self, P: np.ndarray):
        p = {pp["name"]: P[i] for i, pp in enumerate(self._params)}
        if self._control_time:
            return self._changing_time_grid(p)
        ctl = {k: float(eval(expr, {"__builtins__": {}}, {"p": p}))  # noqa: S307
               for k, expr in self._control.items()}
        t0, tf, dt = ctl["INITIAL TIME"], ctl["FINAL TIME"], ctl["TIME STEP"]
        sp = ctl["SAVEPER"]
        if not dt > 0:
            raise ModelError(f"TIME STEP must be positive, got {dt}")
        if not sp > 0:
            raise ModelError(f"SAVEPER must be positive, got {sp}")
        if (tf - t0) / dt > 5e7:
            raise ModelError(f"too many time steps: ({tf} - {t0}) / {dt}")
        # PySD Model._integrate: time += dt while time + dt*rprec < final time
        times, t = [t0], t0
        while t + dt * TIME_RPREC < tf:
            t = t + dt
            times.append(t)
        times = np.array(times)
        prec = dt * TIME_RPREC
        delay = times - t0
        save = ((np.mod(delay, sp) < prec) | (np.mod(-delay, sp) < prec))
        rounded = np.round(times[save], -int(np.log10(prec)))
        return times, save, dt, rounded, ctl

    def _changing_time_grid(self, p: dict):
        """The time grid when control variables change during the run (functions of Time):
        as PySD's Model._integrate and components.Time, FINAL TIME, TIME STEP and SAVEPER
        are evaluated at every step's time, INITIAL TIME once, at Time = 0 (what PySD does:
        it is evaluated before any time is set); the step taken is the current TIME STEP.
        The time step per step goes to the kernel, which the compiler made read it per step
        when TIME STEP itself changes."""
        def at(name, t):
            return float(eval(self._control[name], {"__builtins__": {}},  # noqa: S307
                              {"p": p, "t": t}))
        t0 = at("INITIAL TIME", 0.0)
        ctl = {name: at(name, t0) for name in self._control}
        ctl["INITIAL TIME"] = t0
        times, dts, save, rounded = [], [], [], []
        t = t0
        while True:
            dt, tf, sp = at("TIME STEP", t), at("FINAL TIME", t), at("SAVEPER", t)
            if not dt > 0:
                raise ModelError(f"TIME STEP must be positive, got {dt} at time {t}")
            if not sp > 0:
                raise ModelError(f"SAVEPER must be positive, got {sp} at time {t}")
            prec = dt * TIME_RPREC
            delay = t - t0
            times.append(t)
            dts.append(dt)
            save.append(delay % sp < prec or -delay % sp < prec)
            if save[-1]:
                rounded.append(np.round(t, -int(np.log10(prec))))
            if not t + dt * TIME_RPREC < tf:
                break
            if len(times) > 5e7:
                raise ModelError(f"too many time steps: the run has not reached FINAL TIME "
                                 f"({tf}) after 5e7 steps")
            t = t + dt
        step = np.array(dts) if "TIME STEP" in self._control_time else dts[0]
        return np.array(times), np.array(save), step, np.array(rounded), ctl

    def control_values(self, params=None) -> dict[str, float]:
        """INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER for a run with `params`."""
        return self._time_grid(self._param_vector(params))[4]

    def _kernel(self, method: str, ensemble: bool):
        if method not in ("euler", "rk4"):
            raise ModelError(f"unknown integration method {method!r}; use 'euler' or 'rk4'")
        name = {("euler", False): "_run_one", ("rk4", False): "_run_one_rk4",
                ("euler", True): "run_chunks_euler",
                ("rk4", True): "run_chunks_rk4"}[(method, ensemble)]
        if name == "_run_one" and self._native_kernel() is not None:
            return self._native  # same arguments and results as _run_one, bit for bit
        if name == "run_chunks_euler" and self._native_ensemble_kernel() is not None:
            return self._native_chunks  # ... as run_chunks_euler
        kernel = getattr(self._mod, name)
        if self._meta.get("long_compile") and not self.from_cache and not kernel.signatures:
            return self._announced(kernel, name)
        return kernel

    def _announced(self, kernel, name):
        """A kernel whose first call compiles machine code: say so on stderr (a long
        compile otherwise looks like a hang)."""
        def call(*args):
            started = time.perf_counter()
            print(f"innosd: compiling machine code for {self.path.name} ({name}, first run "
                  "only; cached afterwards)", file=sys.stderr, flush=True)
            result = kernel(*args)
            print(f"innosd: {self.path.name}: first run done "
                  f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
            return result
        return call

    # ------------------------------------------------------------------ running
    def run(self, params=None, return_columns=None, method: str = "euler") -> pd.DataFrame:
        """One run; a DataFrame indexed by time (SAVEPER), columns as in the model file."""
        P = self._param_vector(params)
        times, save, dt, index, _ = self._time_grid(P)
        omap, columns = self._selection(return_columns)
        out = np.empty((len(columns), 1, index.shape[0]))
        kernel = self._kernel(method, ensemble=False)
        kernel(P.reshape(-1, 1), times, save, dt, float(len(times) + 1), self._lx, self._ly,
               omap, out, 0)
        # the frame wraps the kernel's output (a fresh array per call) without a copy:
        # (column, time) is the layout pandas keeps a float block in; the indexes are
        # shallow copies, so renaming one frame's axis leaves the next run's alone
        return pd.DataFrame(out[:, 0, :].T, index=pd.Index(index, name="time", copy=True),
                            columns=columns.copy(), copy=False)

    def _selection(self, return_columns):
        """(output map, column Index) for `return_columns`, memoised per selection."""
        key = ("all",) if return_columns is None else \
            ("one", return_columns) if isinstance(return_columns, str) else \
            ("list", *return_columns) if isinstance(return_columns, (list, tuple)) else None
        try:
            hit = self._selections.get(key) if key is not None else None
        except TypeError:  # unhashable names: resolved (and refused) below
            key, hit = None, None
        if hit is None:
            omap, cols = self._output_map(return_columns)
            omap.flags.writeable = False
            hit = omap, pd.Index(cols)
            if key is not None and len(self._selections) < GRID_MEMO:
                self._selections[key] = hit
        return hit

    def _param_matrix(self, params: pd.DataFrame) -> np.ndarray:
        """(n_params, N): the defaults, with the columns of `params` set per member."""
        P = np.repeat(self._defaults[:, None], len(params), axis=1)
        for name in params.columns:
            vals = params[name].to_numpy(dtype=float)
            for i in self._param_indices(name):
                P[i] = vals
                self._check_fixed(i, P[i])
        return P

    def ensemble_evaluator(self, varied: list[str], return_columns, fixed: dict[str, float] | None = None,
                           method: str = "euler") -> "EnsembleEvaluator":
        """A repeated-ensemble evaluator: the same `varied` constants, outputs and time grid at
        every call, so names, the output map and the time grid are resolved once. Calibration
        calls it thousands of times on batches of 8-256 rows, where building the xarray result of
        `run_ensemble` cost five times the kernel (measured: 11 ms vs 1.7 ms for 64 runs)."""
        base = self._param_vector(fixed)
        rows = [self._param_indices(name) for name in varied]
        control = {i for i, p in enumerate(self._params)
                   if p["name"] in self._control or p["variable"] in self._control}
        for name, idx in zip(varied, rows):
            if control.intersection(idx):
                raise ModelError(f"{name} is a simulation control and cannot vary within an ensemble")
        times, save, dt, index, _ = self._time_grid(base)
        omap, cols = self._output_map(return_columns)
        kernel = self._kernel(method, ensemble=True)
        cap, nsave = float(len(times) + 1), int(save.sum())

        def evaluate(values: np.ndarray) -> np.ndarray:
            values = np.atleast_2d(np.asarray(values, dtype=float))
            n = len(values)
            P = np.repeat(base[:, None], n, axis=1)
            for j, idx in enumerate(rows):
                P[idx] = values[:, j]
            result = np.empty((len(cols), n, nsave))
            for start in range(0, n, ENSEMBLE_CHUNK):
                stop = min(n, start + ENSEMBLE_CHUNK)
                kernel(np.ascontiguousarray(P[:, start:stop]), times, save, dt, cap, self._lx, self._ly,
                       omap, result, start)
            return result

        positions = [cols.index(self._columns[self._resolve(self._col_alias, name, "variable", self._columns)[0]])
                     for name in ([return_columns] if isinstance(return_columns, str) else return_columns)]
        return EnsembleEvaluator(np.array(index, dtype=float), cols, positions, evaluate)

    def run_ensemble(self, params: pd.DataFrame, return_columns=None, method: str = "euler",
                     chunk_size: int = ENSEMBLE_CHUNK):
        """N runs at once (rows of `params`): an xarray.Dataset with dims (run, time), a
        `year` coordinate along time (model.results.year_of_time) and units attributes."""
        # lazy: xarray (through model.results too) is only needed by ensembles, not by run()
        import xarray as xr

        from innosd.model.results import year_of_time
        if not isinstance(params, pd.DataFrame):
            params = pd.DataFrame(params)
        n = len(params)
        P = self._param_matrix(params)
        control_rows = [i for i, p in enumerate(self._params)
                        if p["name"] in self._control or p["variable"] in self._control]
        for i in control_rows:
            if n and not np.all(P[i] == P[i, 0]):
                raise ModelError(f"{self._params[i]['name']} must be the same for every run "
                                 "of an ensemble")
        times, save, dt, index, _ = self._time_grid(P[:, 0] if n else self._defaults)
        omap, cols = self._output_map(return_columns)
        nsave = int(save.sum())
        result = np.empty((len(cols), n, nsave))
        kernel = self._kernel(method, ensemble=True)
        cap = float(len(times) + 1)
        # struct-of-arrays kernels, vectorised across members and parallel over blocks
        # of them; each batch writes its rows of `result` in place (offset `start`)
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            Pc = np.ascontiguousarray(P[:, start:stop])  # one compiled signature
            kernel(Pc, times, save, dt, cap, self._lx, self._ly, omap, result, start)
        ds = xr.Dataset(
            {c: (("run", "time"), result[i]) for i, c in enumerate(cols)},
            coords={"run": params.index.to_numpy(), "time": index.copy(),
                    "year": ("time", year_of_time(index))})
        for c in cols:
            ds[c].attrs["units"] = self._units.get(c, "")
        ds.attrs["model"] = self.path.name
        ds.attrs["method"] = method
        return ds
