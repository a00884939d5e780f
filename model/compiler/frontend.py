"""PySD abstract model -> the slot graph (model.compiler.ir): subscripts, expressions,
statefuls, macros and compile-time constants.

Every subscripted variable is expanded into one scalar slot per element tuple
("scalarisation"): references, subscript mappings, subranges and SUM/PROD/VMIN/VMAX
are all resolved here, at compile time, so the generated kernel is straight-line
scalar code that LLVM can vectorise across ensemble members. Dependency order is
`schedule.py`'s, emitting code `codegen.py`'s.  Semantics follow PySD 3.14
(`pysd/py_backend/statefuls.py`, `functions.py`, `lookups.py`) exactly; comments cite
the PySD behaviour copied.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np

from innosd.errors import ModelError
from innosd.model.abstract import expressions, norm, subscripts_in
from innosd.model.compiler import external
from innosd.model.compiler.ir import (CONTROL_VARS, PLACEHOLDER, Lookup, Stateful, Variable, slot_index,
                                       unsupported)

# Vensim builtins that map one-to-one onto numpy scalar functions
# (exp and ln use rt's inlinable versions, which vectorise across ensemble members)
_UNARY = {"abs": "np.abs", "exp": "_exp", "sin": "np.sin", "cos": "np.cos", "tan": "np.tan",
          "arcsin": "np.arcsin", "arccos": "np.arccos", "arctan": "np.arctan",
          "sinh": "np.sinh", "cosh": "np.cosh", "tanh": "np.tanh", "sqrt": "np.sqrt",
          "ln": "_log"}


# refused here and by PySD 3.14 (NotImplementedError "Not implemented function ..."); no
# documented semantics found to implement them from (issue 16 item 2)
NOT_IN_PYSD = {"SINTEG", "DELAY MATERIAL"}
# Vensim's RANDOM functions -> the position (1-based) of their seed argument (0: none)
_RANDOM = {"random_0_1": 0, "random_uniform": 3, "random_normal": 5, "random_exponential": 5}


class ModelGraph:
    """The scalarised model: slots, statements and metadata for the code generator."""

    def __init__(self, abstract_model, source: Path, data_files=()):
        self.source = source
        # files holding the values of DATA variables defined without GET (Vensim takes
        # them at run time; here at compile time, as PySD's read_vensim(data_files=...))
        self.tab_files = [Path(f) for f in data_files]
        sections = abstract_model.sections
        self.section = sections[0]
        # Vensim macros: inlined at each call (see _macro_call)
        self.macros = {norm(sec.name): sec for sec in sections[1:]}
        self._scopes: list[dict] = []
        self.params: list[dict] = []          # P slots: name, element, default, units, limits
        self.n_aux = 0
        self.n_state = 0
        self.n_fixed = 0
        self.aux_code: dict[int, tuple[str, str]] = {}   # A index -> (run code, init code)
        self.aux_owner: dict[int, str] = {}
        self.statefuls: list[Stateful] = []
        self.fixed_init: dict[int, str] = {}             # K index -> init code
        self.state_names: dict[int, str] = {}
        self.lookups: list[Lookup] = []
        self.delay_fixed: list[dict] = []
        self._memo: dict = {}
        self.data_files: set[Path] = set()   # spreadsheets/CSVs read by GET XLS/DIRECT
        self.fixed_params: set[str] = set()  # constants compiled in (delay orders, ...)
        self._n_random = 0           # RANDOM call sites (x elements) numbered so far
        self._noise_slot = None      # NOISE SEED parameter, when the compiler adds it
        try:
            self._read_subscripts()
            self._read_variables()
            self._expand()
        finally:
            external.forget_files()

    # ------------------------------------------------------------------ subscripts
    def _read_subscripts(self):
        self.ranges: dict[str, list[str]] = {}
        self.mappings: dict[str, list[str]] = {}
        pending = []
        for r in self.section.subscripts:
            if isinstance(r.subscripts, dict):  # GET XLS/DIRECT SUBSCRIPT: read now
                try:
                    elements, files = external.subscript(r.subscripts, self.source.parent)
                except ModelError as err:
                    err.variable = r.name
                    raise
                self.data_files.update(files)
                self.ranges[r.name] = elements
                self.mappings[r.name] = [m for m in r.mapping if isinstance(m, str)]
                continue
            if isinstance(r.subscripts, str):
                pending.append(r)
                continue
            self.ranges[r.name] = list(r.subscripts)
            self.mappings[r.name] = [m for m in r.mapping if isinstance(m, str)]
            if any(not isinstance(m, str) for m in r.mapping):
                raise unsupported("subscript mapping with explicit elements", r.name)
        for r in pending:  # copies: "B <-> A"
            self.ranges[r.name] = [r.subscripts]
            self.mappings[r.name] = [m for m in r.mapping if isinstance(m, str)]
        # ranges defined from other ranges ("dim: A, subdim1, B"): expand in place
        expanded: dict[str, list[str]] = {}

        def expand(rng, path):
            if rng in path:
                raise ModelError(f"{self.source.name}: subscript range {rng!r} is defined "
                                 f"through itself ({' -> '.join(path + [rng])})")
            if rng not in expanded:
                out = []
                for e in self.ranges[rng]:
                    out += expand(e, path + [rng]) if e in self.ranges else [e]
                expanded[rng] = out
            return expanded[rng]
        for rng in self.ranges:
            expand(rng, [])
        self.ranges = expanded
        self.elements = {e for els in self.ranges.values() for e in els}
        self.ranges_lower = {k.lower(): k for k in self.ranges}

    def _range(self, name: str):
        return self.ranges_lower.get(name.lower())

    def _elements_of(self, sub: str) -> list[str]:
        rng = self._range(sub)
        if rng is not None:
            return self.ranges[rng]
        for e in self.elements:
            if e.lower() == sub.lower():
                return [e]
        raise ModelError(f"unknown subscript {sub!r} in {self.source.name}")

    def _order_dim(self, used: list[str]) -> list[str]:
        """Order a position's elements as the smallest declared range containing them."""
        uset = set(used)
        best = None
        for rng, els in self.ranges.items():
            if uset <= set(els) and (best is None or len(els) < len(best)):
                best = els
        if best is not None and len(best) == len(uset):
            return list(best)
        if best is not None:
            return [e for e in best if e in uset]
        return list(dict.fromkeys(used))

    # ------------------------------------------------------------------- variables
    def _read_variables(self):
        self.variables: dict[str, Variable] = {}
        for el in self.section.elements:
            key = norm(el.name)
            var = Variable(el.name, el.units or "", tuple(el.limits or (None, None)),
                           el.documentation or "", list(el.components))
            types = {c.type for c in el.components}
            if "Lookup" in types:
                var.kind = "lookup"
            ae = expressions()
            for c in el.components:
                if c.type == "Data" and isinstance(c.ast, ae.GetDataStructure):
                    var.kind = "data"
                elif c.type == "Data" and isinstance(c.ast, ae.DataStructure) \
                        and self.tab_files:
                    var.kind = "data"
                elif c.type == "Data" and not isinstance(c.ast, ae.GetConstantsStructure):
                    raise unsupported("DATA from a data file given at run time (.tab/.vdf; "
                                      "give a .tab/.csv with data_files=, innosd simulate "
                                      "--data)", el.name)
            ndim = {len(c.subscripts[0]) for c in el.components}
            if len(ndim) > 1:
                raise unsupported("components with different numbers of subscripts", el.name)
            n = ndim.pop() if ndim else 0
            for pos in range(n):
                used = []
                for c in el.components:
                    used += self._elements_of(c.subscripts[0][pos])
                var.dims.append(self._order_dim(used))
            self.variables[key] = var
        for key in CONTROL_VARS:
            if key not in self.variables:
                raise ModelError(f"{self.source.name}: control variable "
                                 f"{CONTROL_VARS[key]!r} is not defined")

    def _component_tuples(self, comp):
        subs, excepts = comp.subscripts
        lists = [self._elements_of(s) for s in subs]
        excluded = set()
        for group in excepts or []:
            glists = [self._elements_of(s) for s in group]
            excluded |= set(itertools.product(*glists))
        for tup in itertools.product(*lists):
            if tup in excluded:
                continue
            binding = {}
            for pos, (s, e) in enumerate(zip(subs, tup)):
                rng = self._range(s)
                if rng is not None:
                    binding[rng] = (e, pos)
            yield tup, binding

    def _expand(self):
        # pass 1: give every instance a slot, so forward references resolve
        self._work = []
        ae = expressions()
        for key, var in self.variables.items():
            for ci, comp in enumerate(var.components):
                ast = comp.ast
                arr = isinstance(ast, np.ndarray)
                ext = self._external(var, comp)
                for idx, (tup, binding) in enumerate(self._component_tuples(comp)):
                    if tup in var.instances:
                        continue  # PySD: later duplicate definitions are ignored
                    label = var.name + (f"[{','.join(tup)}]" if tup else "")
                    if isinstance(ast, ae.GetConstantsStructure):
                        # a parameter like any other constant: ensembles can vary it
                        slot = f"@P{len(self.params)}@"
                        self.params.append(dict(
                            name=label, variable=var.name, element=tup, default=ext[tup],
                            units=var.units, limits=var.limits, doc=var.doc))
                    elif isinstance(ast, (ae.GetDataStructure, ae.DataStructure)):
                        x, y = ext[tup]
                        mode = external.DATA_MODES[getattr(comp, "keyword", None)
                                                   and comp.keyword.lower()]
                        fn = {"interpolate": "_lk_interp", "look_forward": "_lk_forward",
                              "hold_backward": "_lk_hold", "raw": "_lk_raw"}[mode]
                        self.lookups.append(Lookup(x, y, "interpolate"))
                        code = self._lookup_call(len(self.lookups) - 1, "@T@", fn)
                        slot = f"@A{self.n_aux}@"
                        self.aux_owner[self.n_aux] = label
                        self.aux_code[self.n_aux] = (code, code)
                        self.n_aux += 1
                    elif var.kind == "lookup" and isinstance(ast, ae.GetLookupsStructure):
                        x, y = ext[tup]
                        self.lookups.append(Lookup(x, y, "interpolate"))
                        slot = f"L{len(self.lookups) - 1}"
                    elif var.kind == "lookup":
                        slot = self._make_lookup(ast, label, tup, comp)
                    elif arr or isinstance(ast, (int, float, np.integer, np.floating)) \
                            and not isinstance(ast, bool):
                        value = float(ast.flat[idx] if arr and ast.size > 1 else
                                      (ast.flat[0] if arr else ast))
                        if comp.type == "Constant":   # unchangeable constant: a literal
                            slot = repr(value)
                        else:
                            slot = f"@P{len(self.params)}@"
                            self.params.append(dict(
                                name=label, variable=var.name, element=tup, default=value,
                                units=var.units, limits=var.limits, doc=var.doc))
                    else:
                        slot = f"@A{self.n_aux}@"
                        self.aux_owner[self.n_aux] = label
                        self.n_aux += 1
                        self._work.append((var, label, comp, binding, slot))
                    var.instances[tup] = slot
        # pass 2: build code (may create states for INTEG, SMOOTH, ...); an auxiliary
        # already built early, for a compile-time initial value (_init_number), is skipped
        self._pending = {slot_index(item[4]): item for item in self._work}
        for var, label, comp, binding, slot in self._work:
            if slot_index(slot) in self.aux_code:
                continue
            try:
                self._build_aux(var, label, comp.ast, binding, slot)
            except ModelError as err:
                if getattr(err, "variable", None) is None:
                    err.variable = var.name  # where to point the user in the file
                raise

    def _external(self, var, comp):
        """Values of a GET XLS/DIRECT component, read once (None for other components)."""
        ae = expressions()
        ast = comp.ast
        if isinstance(ast, ae.DataStructure) and self.tab_files:
            lists = [self._elements_of(sub) for sub in comp.subscripts[0]]
            if comp.subscripts[1]:
                raise unsupported("DATA with EXCEPT", var.name)
            values = external.tab_data(var.name, lists, self.tab_files, var.name,
                                       getattr(comp, "keyword", None))
            self.data_files.update(f.resolve() for f in self.tab_files)
            return values
        if not isinstance(ast, (ae.GetConstantsStructure, ae.GetDataStructure,
                                ae.GetLookupsStructure)):
            return None
        lists = [self._elements_of(sub) for sub in comp.subscripts[0]]
        if comp.subscripts[1]:
            raise unsupported("GET XLS/DIRECT with EXCEPT", var.name)
        try:
            if isinstance(ast, ae.GetConstantsStructure):
                values, files = external.constants(ast, lists, var.dims, self.source.parent,
                                                   var.name)
            else:
                values, files = external.series(ast, lists, var.dims, self.source.parent,
                                                var.name, getattr(comp, "keyword", None))
        except ModelError as err:
            err.variable = var.name
            raise
        self.data_files.update(files)
        return values

    def _make_lookup(self, ast, label, tup, comp):
        ae = expressions()
        if not isinstance(ast, ae.LookupsStructure):
            raise unsupported(type(ast).__name__.replace("Structure", "").upper()
                              + " (external lookups)", label)
        x = np.asarray(ast.x, dtype=float)
        y = np.asarray(ast.y, dtype=float)
        mode = ast.type
        if mode not in ("interpolate", "extrapolate", "hold_backward"):
            raise unsupported(f"lookup type {mode!r}", label)
        self.lookups.append(Lookup(x, y, mode))
        return f"L{len(self.lookups) - 1}"

    # ---------------------------------------------------------------- statements
    def _new_state(self, name):
        self.n_state += 1
        self.state_names[self.n_state - 1] = name
        return f"@S{self.n_state - 1}@"

    def _new_fixed(self, code):
        self.n_fixed += 1
        self.fixed_init[self.n_fixed - 1] = code
        return f"@K{self.n_fixed - 1}@"

    def _build_aux(self, var, label, ast, binding, slot):
        ae = expressions()
        self._label = label
        if isinstance(ast, ae.IntegStructure):
            flow = self._gen(ast.flow, binding, "run")
            init = self._gen(ast.initial, binding, "init")
            s = self._new_state(label)
            st = Stateful("INTEG", label, [s], [(s, init)], ddt=[(s, flow)],
                          extra={"non_negative": bool(ast.non_negative)})
            self.statefuls.append(st)
            self.aux_code[slot_index(slot)] = (s, s)
            return
        run = self._gen(ast, binding, "run")
        init = self._gen(ast, binding, "init")
        self.aux_code[slot_index(slot)] = (run, init)

    # ---------------------------------------------------------------- expressions
    def _gen(self, node, binding, phase) -> str:
        """Code (with placeholders) for `node` evaluated as a float."""
        ae = expressions()
        g = lambda n, b=binding: self._gen(n, b, phase)  # noqa: E731
        if isinstance(node, bool):
            return "1.0" if node else "0.0"
        if isinstance(node, (int, float, np.integer, np.floating)):
            v = float(node)
            if np.isnan(v):
                return "np.nan"
            if np.isinf(v):
                return "np.inf" if v > 0 else "(-np.inf)"
            return repr(v)
        if isinstance(node, np.ndarray):
            raise unsupported("array expression", self._label)
        if isinstance(node, (ae.ArithmeticStructure, ae.LogicStructure)):
            return self._operation(list(node.operators), node.arguments, binding, phase)
        if isinstance(node, ae.ReferenceStructure):
            return self._reference(node, binding, phase)
        if isinstance(node, ae.CallStructure):
            return self._call(node, binding, phase)
        if isinstance(node, ae.InlineLookupsStructure):
            x = g(node.argument)
            lk = node.lookups
            self.lookups.append(Lookup(np.asarray(lk.x, float), np.asarray(lk.y, float),
                                       "interpolate"))
            return self._lookup_call(len(self.lookups) - 1, x)
        if isinstance(node, ae.InitialStructure):
            key = (self._label, id(node), "initial")
            if key not in self._memo:
                self._memo[key] = self._new_fixed(self._gen(node.initial, binding, "init"))
            return self._memo[key]
        stateful = {ae.SmoothStructure: self._smooth, ae.DelayStructure: self._delay,
                    ae.DelayNStructure: self._delay, ae.DelayFixedStructure: self._delay_fixed,
                    ae.TrendStructure: self._trend, ae.ForecastStructure: self._forecast,
                    ae.SampleIfTrueStructure: self._sample_if_true}
        if hasattr(ae, "SmoothNStructure"):
            stateful[ae.SmoothNStructure] = self._smooth
        for cls, fn in stateful.items():
            if type(node) is cls:
                key = (self._label, id(node), "stateful")
                if key not in self._memo:
                    self._memo[key] = fn(node, binding)
                return self._memo[key]
        if isinstance(node, ae.IntegStructure):
            raise unsupported("INTEG inside an expression", self._label)
        if isinstance(node, ae.GameStructure):
            # GAME(x): Vensim's gaming input; outside a game it is x (PySD: the content)
            return self._gen(node.expression, binding, phase)
        if isinstance(node, ae.AllocateByPriorityStructure):
            return self._allocate_by_priority(node, binding, phase)
        if isinstance(node, ae.AllocateAvailableStructure):
            return self._allocate_available(node, binding, phase)
        name = type(node).__name__.replace("Structure", "")
        names = {"GetConstants": "GET XLS CONSTANTS", "GetData": "GET XLS DATA",
                 "GetLookups": "GET XLS LOOKUPS", "Data": "DATA", "Game": "GAME",
                 "AllocateAvailable": "ALLOCATE AVAILABLE",
                 "AllocateByPriority": "ALLOCATE BY PRIORITY"}
        construct = names.get(name, name.upper())
        raise unsupported(construct, self._label, pysd=construct not in NOT_IN_PYSD)

    def _operation(self, ops, args, binding, phase) -> str:
        g = lambda n: self._gen(n, binding, phase)  # noqa: E731
        arith = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**"}
        cmp = {"=": "==", "<>": "!=", ">=": ">=", ">": ">", "<=": "<=", "<": "<"}
        if len(args) == 1:
            if ops[0] == "negative":
                return f"(-{g(args[0])})"
            if ops[0] == ":NOT:":
                return f"(({g(args[0])} == 0.0) * 1.0)"
            raise unsupported(f"operator {ops[0]}", self._label)
        if all(op in arith for op in ops):
            # PySD emits "a op b op c" and lets Python's precedence and associativity
            # apply (the translator has already grouped by precedence); runs of "^"
            # bind tightest and from the right, as Python's **, and become _pow calls
            vals = [g(a) for a in args]
            pieces, i = [], 0
            while i < len(vals):
                j = i
                while j < len(ops) and ops[j] == "^":
                    j += 1
                term = vals[j]
                for k in range(j - 1, i - 1, -1):
                    term = self._power(args[k], vals[k], term)
                pieces.append(term)
                if j < len(ops):
                    pieces.append(arith[ops[j]])
                i = j + 1
            return "(" + " ".join(pieces) + ")"
        # comparisons and logicals: PySD nests from the right
        right = g(args[-1])
        for op, a in zip(reversed(ops), reversed(list(args[:-1]))):
            left = g(a)
            if op in cmp:
                right = f"(({left} {cmp[op]} {right}) * 1.0)"
            elif op == ":AND:":
                right = f"((({left} != 0.0) & ({right} != 0.0)) * 1.0)"
            elif op == ":OR:":
                right = f"((({left} != 0.0) | ({right} != 0.0)) * 1.0)"
            elif op == "^":
                right = self._power(a, left, right)
            elif op in arith:
                right = f"({left} {arith[op]} {right})"
            else:
                raise unsupported(f"operator {op}", self._label)
        return right

    @staticmethod
    def _power(base_node, base, exponent) -> str:
        # PySD writes a negative literal base as text ("-30 ** x"), which Python reads as
        # -(30 ** x); the reference semantics are kept
        if isinstance(base_node, (int, float, np.integer, np.floating)) \
                and not isinstance(base_node, bool) and base_node < 0:
            return f"(-_pow({-float(base_node)!r}, {exponent}))"
        return f"_pow({base}, {exponent})"

    # references -----------------------------------------------------------------
    def _resolve_sub(self, sub: str, binding: dict, pos: int, dim: list[str]):
        if sub.endswith("!"):
            if sub not in binding:
                raise unsupported(f"subscript {sub} outside SUM/PROD/VMIN/VMAX", self._label)
            return binding[sub][0]
        rng = self._range(sub)
        if rng is None:
            return self._elements_of(sub)[0]
        if rng in binding:
            return binding[rng][0]
        els = self.ranges[rng]
        # mapping: this range maps onto a bound one, or a bound one maps onto this
        for m in self.mappings.get(rng, []):
            if m in binding:
                return els[self.ranges[m].index(binding[m][0])]
        for b, (e, _) in binding.items():
            if rng in self.mappings.get(b, []):
                return els[self.ranges[b].index(e)]
        # subrange / superrange of a bound range: match by element name
        cands = [(abs(p - pos), b, e) for b, (e, p) in binding.items()
                 if not b.endswith("!") and e in els]
        if cands:
            return min(cands)[2]
        raise unsupported(f"subscript {sub!r} not defined on the left-hand side", self._label)

    def _instance(self, var: Variable, subs, binding) -> str:
        if not var.dims:
            return var.instances[()]
        if subs is None:
            tup = []
            for pos, dim in enumerate(var.dims):
                cands = [(abs(p - pos), e) for b, (e, p) in binding.items() if e in dim]
                if not cands:
                    raise unsupported(f"reference to subscripted {var.name!r} without "
                                      "subscripts", self._label)
                tup.append(min(cands)[1])
            tup = tuple(tup)
        else:
            tup = tuple(self._resolve_sub(s, binding, p, var.dims[p] if p < len(var.dims)
                                          else [])
                        for p, s in enumerate(subs))
        if tup not in var.instances:
            raise ModelError(f"{self._label}: {var.name}[{','.join(tup)}] is not defined")
        return var.instances[tup]

    def _element_value(self, elem: str) -> str:
        """Vensim compares subscript elements by their 1-based position in the full
        (largest) range containing them, so a subrange element equals its parent's."""
        full = max((els for els in self.ranges.values() if elem in els), key=len)
        return repr(float(full.index(elem) + 1))

    def _reference(self, node, binding, phase="run") -> str:
        ref = node.reference
        if ref == "time":
            return "@T@"
        key = norm(ref)
        if self._scopes and key in self._scopes[-1]:
            entry = self._scopes[-1][key]
            if isinstance(entry, tuple):  # a macro parameter: the caller's argument
                return entry[0] if phase == "run" else entry[1]
            subs = node.subscripts.subscripts if node.subscripts is not None else None
            return self._instance(entry, subs, binding)
        if key not in self.variables:
            rng = next((r for r in self.ranges if norm(r) == key), None)
            if rng is not None and node.subscripts is None:
                # a dimension used as a value: the position of its element
                return self._element_value(self._resolve_sub(rng, binding, 0, []))
            elem = next((e for e in self.elements if norm(e) == key), None)
            if elem is not None and node.subscripts is None:
                return self._element_value(elem)
            raise ModelError(f"{self._label}: reference to undefined variable {ref!r}"
                             + _closest(ref.replace("_", " "),
                                        [v.name for v in self.variables.values()]))
        var = self.variables[key]
        if var.kind == "lookup":
            raise unsupported("lookup used without argument", self._label)
        subs = node.subscripts.subscripts if node.subscripts is not None else None
        slot = self._instance(var, subs, binding)
        return slot

    # calls -----------------------------------------------------------------------
    def _lookup_call(self, idx: int, x: str, fn: str | None = None) -> str:
        mode = self.lookups[idx].mode
        fn = fn or {"interpolate": "_lk_interp", "extrapolate": "_lk_extrap",
                    "hold_backward": "_lk_hold"}[mode]
        return f"{fn}({x}, LX, LY, @LO{idx}@, @LN{idx}@)"

    def _call(self, node, binding, phase) -> str:
        fname = node.function.reference
        args = node.arguments
        g = lambda n: self._gen(n, binding, phase)  # noqa: E731
        key = norm(fname)
        if key in self.variables and self.variables[key].kind == "lookup":
            var = self.variables[key]
            subs = node.function.subscripts.subscripts if node.function.subscripts else None
            lslot = self._instance(var, subs, binding)
            return self._lookup_call(int(lslot[1:]), g(args[0]))
        if fname in ("lookup_forward", "lookup_backward", "lookup_extrapolate"):
            # Vensim LOOKUP FORWARD/BACKWARD/EXTRAPOLATE(table, x): the table read as a
            # step up, a step down, or with linear extrapolation beyond its ends
            ref = args[0]
            var = self.variables.get(norm(getattr(ref, "reference", "")))
            if var is None or var.kind != "lookup":
                raise ModelError(f"{self._label}: {fname.upper().replace('_', ' ')} needs a "
                                 "lookup table as its first argument")
            subs = ref.subscripts.subscripts if ref.subscripts is not None else None
            lslot = self._instance(var, subs, binding)
            fn = {"lookup_forward": "_lk_forward", "lookup_backward": "_lk_hold",
                  "lookup_extrapolate": "_lk_extrap"}[fname]
            return self._lookup_call(int(lslot[1:]), g(args[1]), fn)
        if fname in ("vmin_xmile", "vmax_xmile"):
            # XMILE MIN/MAX with one argument: over every dimension not bound on the left
            return self._aggregate(fname[:4], args[0], binding, phase, free=True)
        if key in self.macros:
            memo = (self._label, id(node), "macro")
            if memo not in self._memo:
                self._memo[memo] = self._macro_call(self.macros[key], args, binding)
            return self._memo[memo]
        if fname == "vector_select":
            return self._vector_select(args, binding, phase)
        if fname in ("vector_sort_order", "vector_rank", "vector_reorder", "invert_matrix"):
            return self._vector_function(fname, args, binding, phase)
        if fname == "get_time_value":
            return self._get_time_value(args, binding, phase)
        if fname in _UNARY:
            return f"{_UNARY[fname]}({g(args[0])})"
        if fname in ("sum", "prod", "vmin", "vmax"):
            return self._aggregate(fname, args[0], binding, phase)
        if fname == "pi":
            return "np.pi"
        if fname == "elmcount":
            ref = getattr(args[0], "reference", str(args[0]))
            rng = next((r for r in self.ranges if norm(r) == norm(ref)), ref)
            return repr(float(len(self._elements_of(rng))))
        a = [g(x) for x in args]
        t, dt = "@T@", "@DT@"
        if fname in _RANDOM:
            return self._random(fname, a)
        if fname == "power":
            return f"_pow({a[0]}, {a[1]})"
        if fname == "log":
            return f"(_log({a[0]})/_log({a[1]}))"
        if fname == "min":
            return f"np.minimum({a[0]}, {a[1]})"
        if fname == "max":
            return f"np.maximum({a[0]}, {a[1]})"
        if fname == "integer":
            return f"_integer({a[0]})"
        if fname == "quantum":
            return f"_quantum({a[0]}, {a[1]})"
        if fname == "modulo":
            return f"_modulo({a[0]}, {a[1]})"
        if fname == "xidz":
            return f"_xidz({a[0]}, {a[1]}, {a[2]})"
        if fname == "zidz":
            return f"_zidz({a[0]}, {a[1]})"
        if fname == "if_then_else":
            # PySD evaluates one branch; both are side-effect free here (numpy error
            # model), so a branch-free select gives the same value
            return f"_ite({a[0]}, {a[1]}, {a[2]})"
        if fname == "step":
            return f"_step({t}, {dt}, {a[0]}, {a[1]})"
        if fname == "ramp":
            if len(a) == 2:
                return f"_ramp_open({t}, {a[0]}, {a[1]})"
            return f"_ramp({t}, {a[0]}, {a[1]}, {a[2]})"
        if fname == "pulse":
            return f"_pulse({t}, {a[0]}, {a[1]})"
        if fname == "pulse_train":
            return f"_pulse_train({t}, {a[0]}, {a[1]}, {a[2]}, {a[3]})"
        if fname == "active_initial":
            return a[1] if phase == "init" else a[0]
        construct = fname.upper().replace("_", " ")
        raise unsupported(construct, self._label, pysd=construct not in NOT_IN_PYSD)

    def _noise_seed(self) -> str:
        """The slot of NOISE SEED (Vensim's name for the run's random seed): the model's
        own constant if it defines one, else a parameter added with default 0, so every
        run and ensemble member can be given its seed like any other constant."""
        var = self.variables.get("noise_seed")
        if var is not None and () in var.instances:
            return var.instances[()]
        if self._noise_slot is None:
            self._noise_slot = f"@P{len(self.params)}@"
            self.params.append(dict(
                name="NOISE SEED", variable="NOISE SEED", element=(), default=0.0,
                units="Dmnl", limits=(None, None),
                doc="seed of every RANDOM function's stream (added by the compiler: the "
                    "model does not define NOISE SEED)"))
        return self._noise_slot

    def _random(self, fname, a) -> str:
        """RANDOM 0 1 / UNIFORM / NORMAL / EXPONENTIAL: one counter-based stream per call
        site and element (rt._u01), a new draw every time step."""
        occurrence = self._n_random
        self._n_random += 1
        seed = a[_RANDOM[fname] - 1] if _RANDOM[fname] else "0.0"
        head = f"{self._noise_seed()}, {seed}, {occurrence}, @STEP@"
        if fname == "random_0_1":
            return f"_rnd_uniform({head}, 0.0, 1.0)"
        if fname == "random_uniform":
            return f"_rnd_uniform({head}, {a[0]}, {a[1]})"
        if fname == "random_normal":
            return f"_rnd_normal({head}, {a[0]}, {a[1]}, {a[2]}, {a[3]})"
        return f"_rnd_exponential({head}, {a[0]}, {a[1]}, {a[2]}, {a[3]})"

    def _bang_ranges(self, node, found):
        """Subscripts marked with "!" in `node` (as written, "!" included)."""
        return subscripts_in(node, lambda s: s if s.endswith("!") else None, found)

    def _macro_call(self, sec, args, binding) -> str:
        """Inline one call of a Vensim macro: its variables become fresh slots (a stock in
        a macro is a stock per call), its parameters the caller's argument expressions;
        the value is the macro's variable named like the macro."""
        if sec.returns:
            raise unsupported("MACRO with additional outputs", self._label)
        if len(args) != len(sec.params):
            raise ModelError(f"{self._label}: macro {sec.name} takes {len(sec.params)} "
                             f"arguments, got {len(args)}")
        caller = self._label
        scope = {norm(p): (self._gen(a, binding, "run"), self._gen(a, binding, "init"))
                 for p, a in zip(sec.params, args)}
        work = []
        for el in sec.elements:
            if any(c.subscripts[0] for c in el.components) or len(el.components) != 1:
                raise unsupported("subscripted MACRO", caller)
            var = Variable(el.name, el.units or "", (None, None), "", list(el.components))
            ast = el.components[0].ast
            label = f"{caller}>{sec.name}.{el.name}"
            if isinstance(ast, (int, float, np.integer, np.floating)) \
                    and not isinstance(ast, bool):
                slot = repr(float(ast))
            else:
                slot = f"@A{self.n_aux}@"
                self.aux_owner[self.n_aux] = label
                self.n_aux += 1
                work.append((var, label, ast, slot))
            var.instances[()] = slot
            scope[norm(el.name)] = var
        result = scope.get(norm(sec.name))
        if not isinstance(result, Variable):
            raise ModelError(f"macro {sec.name} does not define a variable named "
                             f"{sec.name!r}")
        self._scopes.append(scope)
        try:
            for var, label, ast, slot in work:
                self._build_aux(var, label, ast, {}, slot)
        finally:
            self._scopes.pop()
            self._label = caller
        return result.instances[()]

    def _vector_select(self, args, binding, phase) -> str:
        """VECTOR SELECT(selection[d!], expression[d!], missing, numerical action, error
        action) as PySD's functions.vector_select: reduce the selected (non-zero)
        entries over the "!" dimensions (broadcast over both arguments' ones); the
        missing value where nothing is selected.  A constant numerical action is inlined;
        a run-time one is chosen at every evaluation (rt._vselect)."""
        g = lambda n: self._gen(n, binding, phase)  # noqa: E731
        try:
            error_action = self.const_value(args[4])
        except ModelError:
            error_action = None
        if error_action != 0:
            raise unsupported("VECTOR SELECT with an error action other than 0", self._label)
        bangs = self._bang_ranges(args[1], self._bang_ranges(args[0], []))
        sels, exprs = [], []
        for tup in itertools.product(*[self._elements_of(b[:-1]) for b in bangs]):
            b2 = dict(binding)
            for b, e in zip(bangs, tup):
                b2[b] = (e, -1)
            sels.append(self._gen(args[0], b2, phase))
            exprs.append(self._gen(args[1], b2, phase))
        picked = [f"((({sv}) != 0.0) * 1.0)" for sv in sels]
        count = "(" + " + ".join(picked) + ")"
        missing = g(args[2])

        def reduce(action):
            if action < 5:
                vals = [f"({sv}) * ({ev})" for sv, ev in zip(sels, exprs)]
            elif action == 5:  # PySD (and Vensim): expression ^ selection
                vals = [f"_pow({ev}, {sv})" for sv, ev in zip(sels, exprs)]
            else:
                vals = [f"({ev})" for ev in exprs]
            kind = {0: "sum", 6: "sum", 1: "prod", 5: "prod", 7: "prod", 2: "min", 8: "min",
                    3: "max", 9: "max", 4: "mean", 10: "mean"}[action]
            unit = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "min": "np.inf",
                    "max": "(-np.inf)"}[kind]
            masked = [f"_ite({p}, {v}, {unit})" for p, v in zip(picked, vals)]
            if kind in ("sum", "mean"):
                out = "(" + " + ".join(masked) + ")"
                out = f"({out} / {count})" if kind == "mean" else out
            elif kind == "prod":
                out = "(" + " * ".join(masked) + ")"
            else:
                out = masked[0]
                for m in masked[1:]:
                    out = f"np.{'minimum' if kind == 'min' else 'maximum'}({out}, {m})"
            return f"_ite((({count}) == 0.0) * 1.0, {missing}, {out})"
        try:
            action = self.const_value(args[3])
        except ModelError:
            action = None
        if action is not None:
            if action not in range(11):
                raise ModelError(f"{self._label}: VECTOR SELECT numerical action must be "
                                 f"0..10, got {action}")
            return reduce(int(action))
        # a run-time choice: one loop over the selected entries (rt._vselect); inlining
        # all eleven reductions as expressions made Numba's compile explode
        tup = lambda codes: "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"  # noqa: E731
        return f"_vselect({g(args[3])}, {missing}, {tup(sels)}, {tup(exprs)})"

    # whole-vector functions -------------------------------------------------------
    def _along(self, node, what):
        """The range of the last subscript of `node` (a subscripted reference): the
        dimension a vector function works along (Vensim: "relative to the last
        subscript")."""
        ae = expressions()
        if not isinstance(node, ae.ReferenceStructure) or node.subscripts is None:
            raise unsupported(f"{what} of an expression (not a subscripted variable)",
                              self._label)
        subs = node.subscripts.subscripts
        rng = self._range(subs[-1])
        if rng is None:
            raise unsupported(f"{what} of a single element", self._label)
        return rng, len(subs) - 1

    def _vector(self, node, rng, pos, binding, phase) -> str:
        """`node` at every element of range `rng`, the rest of the binding as given, as
        one tuple literal."""
        codes = []
        for e in self.ranges[rng]:
            b2 = dict(binding)
            b2[rng] = (e, pos)
            codes.append(self._gen(node, b2, phase))
        return "(" + ", ".join(codes) + ("," if len(codes) == 1 else "") + ")"

    def _position(self, rng, pos, binding) -> int:
        """0-based position, along `rng`, of the element this left-hand side element
        stands for (resolved as a reference to `rng` would be: binding, mapping, name)."""
        return self.ranges[rng].index(self._resolve_sub(rng, binding, pos, []))

    def _vector_function(self, fname, args, binding, phase) -> str:
        """VECTOR SORT ORDER / RANK / REORDER and INVERT MATRIX: one result element from
        the whole vector (matrix) along the argument's last (two) subscripts, as
        PySD's functions.vector_sort_order, vector_rank, vector_reorder, invert_matrix."""
        what = fname.upper().replace("_", " ")
        if fname == "invert_matrix":
            ae = expressions()
            node = args[0]
            if not isinstance(node, ae.ReferenceStructure) or node.subscripts is None \
                    or len(node.subscripts.subscripts) < 2:
                raise unsupported(f"{what} of an expression (not a subscripted variable)",
                                  self._label)
            subs = node.subscripts.subscripts
            rows, cols = self._range(subs[-2]), self._range(subs[-1])
            if rows is None or cols is None or \
                    len(self.ranges[rows]) != len(self.ranges[cols]):
                raise unsupported(f"{what} of a matrix that is not square", self._label)
            n = len(subs)
            entries = []
            for r in self.ranges[rows]:
                for c in self.ranges[cols]:
                    b2 = dict(binding)
                    b2[rows] = (r, n - 2)
                    b2[cols] = (c, n - 1)
                    entries.append(self._gen(node, b2, phase))
            i = self._position(rows, n - 2, binding)
            j = self._position(cols, n - 1, binding)
            return f"_inv_elem({float(i)!r}, {float(j)!r}, ({', '.join(entries)},))"
        rng, pos = self._along(args[0], what)
        vector = self._vector(args[0], rng, pos, binding, phase)
        if fname == "vector_reorder":
            return f"_vreorder({self._gen(args[1], binding, phase)}, {vector})"
        k = float(self._position(rng, pos, binding))
        direction = self._gen(args[1], binding, phase)
        fn = "_vsort_order" if fname == "vector_sort_order" else "_vrank"
        return f"{fn}({k!r}, {direction}, {vector})"

    def _allocate_by_priority(self, node, binding, phase) -> str:
        """ALLOCATE BY PRIORITY(request[.., d], priority[.., d], size, width, supply): this
        target's allocation along the request's last subscript (PySD's
        allocation.allocate_by_priority); width and supply as the left-hand side binds
        them."""
        what = "ALLOCATE BY PRIORITY"
        rng, pos = self._along(node.request, what)
        prng, ppos = self._along(node.priority, what)
        if len(self.ranges[prng]) != len(self.ranges[rng]):
            raise ModelError(f"{self._label}: {what} request and priority differ in the "
                             "length of their last subscript")
        requests = self._vector(node.request, rng, pos, binding, phase)
        priorities = self._vector(node.priority, prng, ppos, binding, phase)
        k = float(self._position(rng, pos, binding))
        width = self._gen(node.width, binding, phase)
        supply = self._gen(node.supply, binding, phase)
        return f"_allocate_by_priority({k!r}, {width}, {supply}, {requests}, {priorities})"

    def _allocate_available(self, node, binding, phase) -> str:
        """ALLOCATE AVAILABLE(request[.., d], pp[.., d, profile], avail): this target's
        allocation along the request's last subscript, pp's last subscript holding each
        target's priority profile (type, priority, width, extra), as PySD's
        allocation.allocate_available."""
        what = "ALLOCATE AVAILABLE"
        ae = expressions()
        rng, pos = self._along(node.request, what)
        pp = node.pp
        if not isinstance(pp, ae.ReferenceStructure) or pp.subscripts is None \
                or len(pp.subscripts.subscripts) < 2:
            raise unsupported(f"{what} with priority profiles that are not a subscripted "
                              "variable", self._label)
        psubs = list(pp.subscripts.subscripts)
        targets = self._range(psubs[-2])
        # the profile subscript names the profile range, or (Vensim's usual form) its
        # first element, "pp[branch, ptype]": the elements from there on
        var = self.variables.get(norm(pp.reference))
        profile = self._range(psubs[-1])
        if profile is not None:
            elements = self.ranges[profile]
        elif var is not None and var.dims and psubs[-1] in var.dims[-1]:
            elements = var.dims[-1][var.dims[-1].index(psubs[-1]):]
        else:
            elements = []
        if targets is None or len(self.ranges[targets]) != len(self.ranges[rng]) \
                or len(elements) < 3:
            raise ModelError(f"{self._label}: {what} priority profiles must be subscripted "
                             "[..., target, profile] with as many targets as the request "
                             "and at least type, priority and width")
        n = len(psubs)
        entries = []
        for t in self.ranges[targets]:
            for e in elements[:4]:
                b2 = dict(binding)
                b2[targets] = (t, n - 2)
                ref = type(pp)(pp.reference, type(pp.subscripts)(psubs[:-1] + [e]))
                entries.append(self._gen(ref, b2, phase))
        requests = self._vector(node.request, rng, pos, binding, phase)
        k = float(self._position(rng, pos, binding))
        avail = self._gen(node.avail, binding, phase)
        return f"_allocate_available({k!r}, {avail}, {requests}, ({', '.join(entries)},))"

    def _get_time_value(self, args, binding, phase) -> str:
        """GET TIME VALUE(relative to, offset, measure): with relative to 0 (the current
        time) and measure 0 (units of Time), TIME + offset, as PySD's
        functions.get_time_value.  The other cases (the initial time, which PySD notes
        Vensim does not compute as documented; the computer clock; calendar measures,
        which need the model's date settings) are refused."""
        try:
            relative, measure = self.const_value(args[0]), self.const_value(args[2])
        except ModelError:
            relative = measure = None
        if relative != 0 or measure != 0:
            # PySD runs the computer clock (relative to 2, measures 1-10) and nothing else
            raise unsupported("GET TIME VALUE other than (0, offset, 0) (relative to the "
                              "current time, in units of Time)", self._label,
                              pysd=relative is None or (relative == 2 and measure != 0))
        return f"(@T@ + {self._gen(args[1], binding, phase)})"

    def _free_ranges(self, node, binding, found):
        """Ranges used as subscripts in `node` that the left-hand side does not bind."""
        def free(s):
            rng = self._range(s)
            return rng if rng is not None and rng not in binding else None
        return subscripts_in(node, free, found)

    def _aggregate(self, fname, arg, binding, phase, free=False) -> str:
        # Vensim marks the summed dimension with "!"; XMILE's one-argument MIN/MAX
        # aggregate over every dimension the left-hand side leaves free
        bangs = self._free_ranges(arg, binding, []) if free else self._bang_ranges(arg, [])
        if not bangs:
            return self._gen(arg, binding, phase)
        terms = []
        lists = [self._elements_of(b if free else b[:-1]) for b in bangs]
        for tup in itertools.product(*lists):
            b2 = dict(binding)
            for b, e in zip(bangs, tup):
                b2[b] = (e, -1)
            terms.append(self._gen(arg, b2, phase))
        if fname == "sum":
            return "(" + " + ".join(terms) + ")" if len(terms) > 1 else terms[0]
        if fname == "prod":
            return "(" + " * ".join(terms) + ")" if len(terms) > 1 else terms[0]
        fn = "np.minimum" if fname == "vmin" else "np.maximum"
        out = terms[0]
        for t in terms[1:]:
            out = f"{fn}({out}, {t})"
        return out

    # statefuls -------------------------------------------------------------------
    def _const_order(self, node, what, binding=None):
        """The order of a SMOOTH N / DELAY N: PySD (and Vensim) evaluate it once, at
        initialisation, so it fixes the number of stages.  A constant expression is read
        directly; any other (a subscripted constant, an INITIAL, a lookup, a stock's
        initial value, ...) is evaluated at compile time from the model's initial values
        (_init_number), the parameters it reads compiled in."""
        try:
            return int(self.const_value(node))
        except ModelError:
            pass
        label = self._label
        try:
            value = self._init_number(self._gen(node, binding or {}, "init"))
        finally:
            self._label = label
        if not np.isfinite(value) or value < 1:
            raise ModelError(f"{self._label}: {what} order must be at least 1 at "
                             f"initialisation, got {value!r}")
        return int(value)

    def _init_number(self, code: str) -> float:
        """The value at initialisation of init-phase `code`, computed now by evaluating it
        and the slots it reads (parameters at their defaults, which become compiled in)
        with the runtime helpers; auxiliaries not built yet are built first."""
        from innosd.model.compiler import rt  # the helpers' Python-callable forms
        values: dict[str, float] = {}
        lx = np.concatenate([lk.x for lk in self.lookups]) if self.lookups else np.zeros(1)
        ly = np.concatenate([lk.y for lk in self.lookups]) if self.lookups else np.zeros(1)
        offsets = np.cumsum([0] + [len(lk.x) for lk in self.lookups]).tolist()
        names = {k: getattr(rt, k) for k in dir(rt) if k.startswith("_") and
                 callable(getattr(rt, k))}
        # the inline-IR intrinsics run only inside compiled code: libm here (an order is
        # an integer, far from their few-ulp difference)
        names.update(_exp=np.exp, _log=np.log, _pow=np.power, np=np, LX=lx, LY=ly,
                     nan=np.nan, inf=np.inf)  # repr() of a non-finite slot value
        control = {}

        def ctl(key):
            if key not in control:
                control[key] = self.const_value(
                    expressions().ReferenceStructure(key))
            return control[key]

        def state_init(i):
            for st in self.statefuls:
                for slot, c in st.init:
                    if slot == f"@S{i}@":
                        return c
            raise ModelError(f"{self._label}: initial value of state {i} not known yet")

        def value(kind, i, path):
            key = f"{kind}{i}"
            if key in values:
                return values[key]
            if key in path:
                raise ModelError(f"{self._label}: circular initialisation "
                                 "(a SMOOTH N / DELAY N order depends on itself)")
            if kind == "P":
                p = self.params[i]
                self.fixed_params.add(p["name"])
                v = float(p["default"])
            elif kind == "A":
                if i not in self.aux_code:
                    var, label, comp, binding, slot = self._pending[i]
                    self._build_aux(var, label, comp.ast, binding, slot)
                v = evaluate(self.aux_code[i][1], path | {key})
            elif kind == "K":
                v = evaluate(self.fixed_init[i], path | {key})
            else:
                v = evaluate(state_init(i), path | {key})
            values[key] = v
            return v

        def evaluate(c, path):
            c = PLACEHOLDER.sub(lambda m: repr(value(m.group(1), int(m.group(2)), path)), c)
            c = re.sub(r"@LO(\d+)@", lambda m: str(offsets[int(m.group(1))]), c)
            c = re.sub(r"@LN(\d+)@", lambda m: str(len(self.lookups[int(m.group(1))].x)), c)
            c = (c.replace("@T@", repr(ctl("initial_time"))).replace("@DT@", repr(ctl("time_step")))
                 .replace("@CAP@", "1e300").replace("@STEP@", "-1"))
            with np.errstate(all="ignore"):
                return float(eval(c, dict(names)))  # noqa: S307 - our own generated code
        return evaluate(code, frozenset())

    def _smooth(self, node, binding) -> str:
        inp = self._gen(node.input, binding, "run")
        stime = self._gen(node.smooth_time, binding, "run")
        init = self._gen(node.initial, binding, "init")
        order = self._const_order(node.order, "SMOOTH N", binding)
        slots = [self._new_state(f"{self._label}.smooth[{i}]") for i in range(order)]
        st = Stateful("SMOOTH", self._label, slots, [(s, init) for s in slots])
        # PySD Smooth.ddt: targets = roll(state); targets[0] = input;
        # (targets - state) * order / smooth_time
        for i, s in enumerate(slots):
            target = inp if i == 0 else slots[i - 1]
            st.ddt.append((s, f"({target} - {s}) * {float(order)!r} / {stime}"))
        self.statefuls.append(st)
        return slots[-1]

    def _delay(self, node, binding) -> str:
        ae = expressions()
        is_n = isinstance(node, ae.DelayNStructure)
        inp = self._gen(node.input, binding, "run")
        dtime = self._gen(node.delay_time, binding, "run")
        dtime0 = self._gen(node.delay_time, binding, "init")
        init = self._gen(node.initial, binding, "init")
        order = self._const_order(node.order, "DELAY N", binding)
        # PySD: the order is reduced while order*TIME STEP > delay time (at init)
        k = self._new_fixed(f"_delay_order({float(order)!r}, @DT@, {dtime0})")
        slots = [self._new_state(f"{self._label}.delay[{i}]") for i in range(order)]
        st = Stateful("DELAYN" if is_n else "DELAY", self._label, slots,
                      [(s, f"_delay_init({i}, {k}, ({init}) * ({dtime0}))")
                       for i, s in enumerate(slots)])
        if is_n:
            times = [self._new_state(f"{self._label}.times[{i}]") for i in range(order)]
            st.init += [(s, dtime0) for s in times]
            # ddt: times = roll(times); times[0] = delay_time; outflows = state/times
            new_times = [dtime] + times[:-1]
            for i, s in enumerate(slots):
                inflow = inp if i == 0 else f"({slots[i - 1]} / {new_times[i - 1]})"
                st.ddt.append((s, f"_delay_stage({i}, {k}, ({inflow} - {s} / {new_times[i]})"
                                  f" * {k})"))
            st.discrete += [(s, v) for s, v in zip(times, new_times)]
            self.statefuls.append(st)
            out = " + ".join(f"_pick({i}, {k}, {s})" for i, s in enumerate(slots))
            return f"(({out}) / {times[0]})"
        for i, s in enumerate(slots):
            inflow = inp if i == 0 else f"{slots[i - 1]} / {dtime}"
            st.ddt.append((s, f"_delay_stage({i}, {k}, ({inflow} - {s} / {dtime}) * {k})"))
        self.statefuls.append(st)
        out = " + ".join(f"_pick({i}, {k}, {s})" for i, s in enumerate(slots))
        return f"(({out}) / {dtime})"

    def _delay_fixed(self, node, binding) -> str:
        inp = self._gen(node.input, binding, "run")
        dtime0 = self._gen(node.delay_time, binding, "init")
        init = self._gen(node.initial, binding, "init")
        k = self._new_fixed(f"_delay_fixed_order({dtime0}, @DT@, @CAP@)")
        s = self._new_state(f"{self._label}.delay_fixed")
        st = Stateful("DELAY FIXED", self._label, [s], [(s, init)])
        st.extra = {"input": inp, "order": k, "index": len(self.delay_fixed)}
        self.delay_fixed.append({"state": s, "order": k, "input": inp, "init": init})
        self.statefuls.append(st)
        return s

    def _trend(self, node, binding) -> str:
        inp = self._gen(node.input, binding, "run")
        inp0 = self._gen(node.input, binding, "init")
        avg = self._gen(node.average_time, binding, "run")
        avg0 = self._gen(node.average_time, binding, "init")
        itr = self._gen(node.initial_trend, binding, "init")
        s = self._new_state(f"{self._label}.trend")
        st = Stateful("TREND", self._label, [s], [(s, f"{inp0} / (1.0 + {itr} * {avg0})")],
                      ddt=[(s, f"({inp} - {s}) / {avg}")])
        self.statefuls.append(st)
        return f"_zidz({inp} - {s}, {avg} * np.abs({s}))"

    def _forecast(self, node, binding) -> str:
        inp = self._gen(node.input, binding, "run")
        inp0 = self._gen(node.input, binding, "init")
        avg = self._gen(node.average_time, binding, "run")
        hor = self._gen(node.horizon, binding, "run")
        itr = self._gen(node.initial_trend, binding, "init")
        s = self._new_state(f"{self._label}.forecast")
        # PySD Forecast: state0 = input / (1 + initial_trend)  (sic)
        st = Stateful("FORECAST", self._label, [s], [(s, f"{inp0} / (1.0 + {itr})")],
                      ddt=[(s, f"({inp} - {s}) / {avg}")])
        self.statefuls.append(st)
        return f"({inp} * (1.0 + _zidz({inp} - {s}, {avg} * {s}) * {hor}))"

    def _sample_if_true(self, node, binding) -> str:
        cond = self._gen(node.condition, binding, "run")
        inp = self._gen(node.input, binding, "run")
        init = self._gen(node.initial, binding, "init")
        s = self._new_state(f"{self._label}.sample")
        value = f"_ite({cond}, {inp}, {s})"
        st = Stateful("SAMPLE IF TRUE", self._label, [s], [(s, init)], discrete=[(s, value)])
        self.statefuls.append(st)
        return value

    # constants ---------------------------------------------------------------------
    def const_value(self, node, values: dict | None = None) -> float:
        """Evaluate a compile-time constant expression (numbers, constants, + - * / ^)."""
        ae = expressions()
        if isinstance(node, (int, float, np.integer, np.floating)) and not isinstance(node, bool):
            return float(node)
        if isinstance(node, ae.ReferenceStructure) and node.subscripts is None:
            var = self.variables.get(norm(node.reference))
            if var is not None and () in var.instances:
                slot = var.instances[()]
                m = PLACEHOLDER.fullmatch(slot)
                if m and m.group(1) == "P":
                    p = self.params[int(m.group(2))]
                    if values is None:  # the default is compiled in: changing it later
                        self.fixed_params.add(p["name"])  # would not change the model
                    return float(values[p["name"]]) if values and p["name"] in values \
                        else p["default"]
                if m is None:
                    return float(slot)
                for c in var.components:
                    return self.const_value(c.ast, values)
        if isinstance(node, ae.ArithmeticStructure):
            vals = [self.const_value(a, values) for a in node.arguments]
            if len(vals) == 1:
                return -vals[0]
            out = vals[0]
            for op, v in zip(node.operators, vals[1:]):
                out = {"+": out + v, "-": out - v, "*": out * v,
                       "/": out / v if v else np.inf, "^": out ** v}[op]
            return out
        raise ModelError("not a constant expression")


def _closest(name, choices):
    from innosd.errors import closest
    return closest(name, list(choices))
