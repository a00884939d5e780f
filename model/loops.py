"""Loop dominance by Loops That Matter (LTM): link, loop and relative loop scores of a model.

    from innosd.model.loops import analyse
    result = analyse("model/guangzhou_innovation.mdl", params={...})
    result.loops        # one row per feedback loop: id, polarity, variables, partition
    result.scores       # loop score and relative loop score per loop and time step

Definitions (Schoenberg, Davidsen & Eberlein 2020, "Understanding model behavior using the
Loops that Matter method", SDR 36(2); flow-to-stock link as corrected by Schoenberg, Hayward &
Eberlein 2023, SDR 39(2)), for the change over one TIME STEP from step k-1 to step k:

- link x -> z, z = f(x, y, ...):  LS = |D_x z / D z| * sign(D_x z / D x), where
  D_x z = f(x[k], y[k-1], ...) - z[k-1] (x alone changed; every other input, TIME
  included, at its previous value); 0 where z or x does not change.
- flow -> stock: the same formula applied to the stock's net-flow expression N (the INTEG
  rate): LS(i -> S) = |D_i N / D N| * sign(...), which is +|D i / D N| for an inflow and
  -|D o / D N| for an outflow: the change in the flow over the change in the net flow (the
  2023 form; invariant to how the net flow is split into flows).
- loop score = product of the link scores around the loop; relative loop score = loop score
  / sum of |loop scores| of the loops of the same cycle partition (strongly connected part of
  the model), per time step.

How the compiled core computes them. The model is compiled (model.compiler: frontend ->
schedule -> codegen) into a kernel that saves *every* slot (auxiliaries, the internal states
of SMOOTH/DELAY, fixed values) at *every* TIME STEP; one run gives the trajectory. The
ceteris-paribus partials D_x z are then evaluated by a second generated @njit module that
holds one statement per link, the target's own compiled expression with the source read at
step k and everything else at step k-1, looping over the saved steps. The model's kernels
are untouched (no per-link code in the simulation loop), the partials are exactly the
equations the simulation used, and both modules are cached beside the compiled model.

Structures without a stock-and-flow reading are scored as the LTM papers suggest: SMOOTH and
DELAY stages are stocks like any other (their internal loops are dropped, their pathways are
collapsed onto the variable holding them, the strongest pathway per step, as the composite
link score of Schoenberg & Eberlein 2020); a DELAY FIXED pipe is read with the perfect-mixing
approximation (Schoenberg 2020): the change of its input is taken as the change of its
output, so LS(x -> pipe) = the share of x in the input's change, and 0 while the output
does not change.

Loops are enumerated exactly (Johnson 1975) while there are at most MAX_ENUMERATED_LOOPS;
beyond that, the strongest-path search of Eberlein & Schoenberg (2020) runs at each step
and the union of the loops it finds is scored (a heuristic: weaker loops may be missed, so
relative scores are relative to the loops found).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from innosd.errors import ModelError, closest
from innosd.model.abstract import norm

# Exhaustive enumeration while a model has at most this many elementary loops (Johnson's
# algorithm lists them all in time linear in their number); more and the strongest-path
# search takes over: scoring every loop at every step grows with their number, and the
# LTM papers use exhaustive lists only for models of "fewer than ~1,000 loops" (Eberlein &
# Schoenberg 2020) -- this limit is higher because scoring here is vectorised over time.
MAX_ENUMERATED_LOOPS = 20000
# Strongest-path search: at most this many time steps searched (evenly spaced), which bounds
# the search's cost on long runs; loops it finds are then scored at every step.
MAX_SEARCH_STEPS = 200
# A change smaller than this, relative to the value, is round-off, not a change: a variable
# that moves by 1e-16 of itself must not make a link score of 1e16.
ROUNDOFF = 1e-12
# Loops listed one by one in the score tables, per loop group and per key variable (those with
# the largest mean |score|); the rest are summed as "other loops" (their scores still count in
# every denominator). Twenty keeps the project model's tables at a few MB, and more loops than
# that cannot be told apart in a figure anyway.
REPORTED_LOOPS = 20

_STATEFUL_SUFFIX = re.compile(r"\.(smooth|delay|times)\[\d+\]$|\.(delay_fixed|trend|forecast|sample)$")
_PLACEHOLDER = re.compile(r"@([PASK])(\d+)@")


# ------------------------------------------------------------------ the link graph

@dataclass
class Target:
    """An expression whose inputs are scored: an auxiliary, a stock's net flow, a pipe's input."""

    node: str            # the node it defines ('A3' auxiliary, 'S2' state)
    kind: str            # aux | flow (INTEG/SMOOTH/DELAY rate) | pipe (DELAY FIXED input) | discrete
    code: str            # the compiled expression (placeholders)


@dataclass
class LinkGraph:
    """Nodes are varying slots ('A<i>' auxiliaries, 'S<i>' states); a link x -> z is an input
    x of z's expression."""

    nodes: list[str]
    labels: dict[str, str]          # node -> the model variable it belongs to (element included)
    internal: set[str]              # nodes inside a stateful or macro (not a variable's own slot)
    targets: dict[str, Target]      # node -> the expression defining it
    links: list[tuple[str, str]]    # (source, target) nodes
    succ: dict[str, list[str]] = field(default_factory=dict)


def _owner_label(name: str) -> str:
    """'x.smooth[0]' -> 'x'; 'caller>MACRO.var' -> 'caller' (the variable a reader knows)."""
    name = name.split(">")[0]
    return _STATEFUL_SUFFIX.sub("", name)


def link_graph(g, plan) -> LinkGraph:
    """The feedback graph of a compiled model (frontend.ModelGraph, schedule.Plan)."""
    from innosd.model.compiler.ir import dependencies
    varying = set(plan.loop_order)
    targets: dict[str, Target] = {}
    labels: dict[str, str] = {}
    internal: set[str] = set()
    for n in plan.loop_order:
        owner = g.aux_owner[int(n[1:])]
        labels[n] = _owner_label(owner)
        if ">" in owner:
            internal.add(n)
        targets[n] = Target(n, "aux", plan.run_nodes[n])
    for st in g.statefuls:
        for slot in st.slots:
            s = slot.strip("@")
            labels[s] = _owner_label(st.owner)
            if st.kind != "INTEG" or ">" in st.owner:
                internal.add(s)
        for slot, code in st.ddt:
            targets[slot.strip("@")] = Target(slot.strip("@"), "flow", code)
        for slot, code in st.discrete:
            targets[slot.strip("@")] = Target(slot.strip("@"), "discrete", code)
    for df in g.delay_fixed:
        s = df["state"].strip("@")
        targets[s] = Target(s, "pipe", df["input"])
    nodes = sorted(set(labels), key=lambda n: (n[0] != "S", int(n[1:])))
    nodeset = set(nodes)
    links = []
    for z in nodes:
        t = targets.get(z)
        if t is None:
            continue
        for x in sorted(dependencies(t.code), key=lambda n: (n[0], int(n[1:]))):
            if x in nodeset and (x[0] == "S" or x in varying):
                links.append((x, z))
    succ: dict[str, list[str]] = defaultdict(list)
    for x, z in links:
        succ[x].append(z)
    return LinkGraph(nodes, labels, internal, targets, links, dict(succ))


# ------------------------------------------------------------------ loops of a graph

def strongly_connected(nodes, succ) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each in node order."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(succ.get(w, ()))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    order = {n: i for i, n in enumerate(nodes)}
    return [sorted(c, key=order.get) for c in out]


class TooManyLoops(Exception):
    """More elementary loops than the enumeration limit."""


def elementary_loops(nodes, succ, limit: int = MAX_ENUMERATED_LOOPS) -> list[tuple[str, ...]]:
    """Every elementary cycle (Johnson 1975, "Finding all the elementary circuits of a directed
    graph"), each starting at its first node in `nodes` order; TooManyLoops past `limit`."""
    order = {n: i for i, n in enumerate(nodes)}
    found: list[tuple[str, ...]] = []
    pending = [set(c) for c in strongly_connected(nodes, succ)]
    while pending:
        comp = pending.pop()
        if len(comp) == 1:
            (v,) = comp
            if v in succ.get(v, ()):
                found.append((v,))
            continue
        start = min(comp, key=order.get)
        nbrs = {v: [w for w in succ.get(v, ()) if w in comp] for v in comp}
        blocked, closed = {start}, set()
        unblock_map: dict[str, set] = defaultdict(set)
        path = [start]
        stack = [(start, list(nbrs[start]))]
        while stack:
            v, todo = stack[-1]
            if todo:
                w = todo.pop()
                if w == start:
                    found.append(tuple(path))
                    if len(found) > limit:
                        raise TooManyLoops
                    closed.update(path)
                elif w not in blocked:
                    path.append(w)
                    stack.append((w, list(nbrs[w])))
                    closed.discard(w)
                    blocked.add(w)
                continue
            if v in closed:
                todo_unblock = [v]
                while todo_unblock:
                    u = todo_unblock.pop()
                    if u in blocked:
                        blocked.discard(u)
                        todo_unblock.extend(unblock_map[u])
                        unblock_map[u].clear()
            else:
                for w in nbrs[v]:
                    unblock_map[w].add(v)
            stack.pop()
            path.pop()
        rest = comp - {start}
        pending += [set(c) for c in strongly_connected(sorted(rest, key=order.get),
                                                         {v: [w for w in nbrs[v] if w in rest] for v in rest})]
    return [_canonical(c, order) for c in found]


def _canonical(cycle, order) -> tuple[str, ...]:
    """The cycle rotated to start at its first node in `order` (one key per loop)."""
    i = min(range(len(cycle)), key=lambda j: order[cycle[j]])
    return tuple(cycle[i:]) + tuple(cycle[:i])


def strongest_path_loops(nodes, succ, weights: dict[tuple[str, str], float], stocks) -> set[tuple[str, ...]]:
    """Loops found by the strongest-path search at one time step (Eberlein & Schoenberg 2020):
    from every stock, a depth-first search along links in order of |link score|, pruned where
    a node was already reached with a larger product of scores; each return to the stock is a
    loop. Links with score 0 are not followed (an inactive loop explains nothing)."""
    order = {n: i for i, n in enumerate(nodes)}
    ranked = {v: sorted((w for w in succ.get(v, ()) if weights.get((v, w), 0.0) > 0.0),
                        key=lambda w: -weights[(v, w)]) for v in nodes}
    found = set()
    for target in stocks:
        best: dict[str, float] = defaultdict(float)
        visiting, path = set(), []
        frames = []  # the iterative form of the paper's recursive Check_outbound_uses

        def enter(v, score):
            if v in visiting:
                if v == target:
                    found.add(_canonical(tuple(path), order))
                return False
            if score < best[v]:
                return False
            best[v] = score
            visiting.add(v)
            path.append(v)
            frames.append((v, score, iter(ranked[v])))
            return True
        enter(target, 1.0)
        while frames:
            v, score, it = frames[-1]
            for w in it:
                if enter(w, score * weights[(v, w)]):
                    break
            else:
                frames.pop()
                visiting.discard(v)
                path.pop()
    return found


# ------------------------------------------------------------------ the compiled core

def _substitute(code: str, rows: dict[str, int], source: str | None, when: str, offsets, lengths) -> str:
    """A slot expression over the saved trajectory X (rows x steps): `source` at step k, the
    rest at step k-1 (when='partial'); every slot at k ('cur') or at k-1 ('prev')."""
    def slot(m):
        kind, i = m.group(1), int(m.group(2))
        if kind == "P":
            return f"P[{i}]"
        if kind == "K":
            return f"K[{i}]"
        name = kind + m.group(2)
        step = "k" if when == "cur" or (when == "partial" and name == source) else "k - 1"
        return f"X[{rows[name]}, {step}]"
    out = _PLACEHOLDER.sub(slot, code)
    now = "k" if when == "cur" else "k - 1"
    out = out.replace("@T@", f"times[{now}]").replace("@STEP@", f"({now})")
    out = out.replace("@DT@", "dt").replace("@CAP@", "cap")
    out = re.sub(r"@LO(\d+)@", lambda m: str(offsets[int(m.group(1))]), out)
    return re.sub(r"@LN(\d+)@", lambda m: str(lengths[int(m.group(1))]), out)


# statements per generated @njit function: Numba's compile time grows faster than linearly
# in one function's length, so long lists of links are split
PARTIALS_PER_FUNCTION = 120


def _partials_source(graph: LinkGraph, rows: dict[str, int], g) -> tuple[str, list, int]:
    """Source of the partial-change functions and the meaning of each output row:
    ('partial', link index) | ('cur', target node) | ('prev', target node)."""
    offsets, pos = [], 0
    for lk in g.lookups:
        offsets.append(pos)
        pos += len(lk.x)
    lengths = [len(lk.x) for lk in g.lookups]
    statements, meaning = [], []
    for i, (x, z) in enumerate(graph.links):
        statements.append(_substitute(graph.targets[z].code, rows, x, "partial", offsets, lengths))
        meaning.append(("partial", i))
    for z, t in graph.targets.items():
        if t.kind != "aux" and any(zz == z for _, zz in graph.links):
            for when in ("cur", "prev"):
                statements.append(_substitute(t.code, rows, None, when, offsets, lengths))
                meaning.append((when, z))
    lines, n_funcs = [], 0
    for start in range(0, max(len(statements), 1), PARTIALS_PER_FUNCTION):
        chunk = statements[start:start + PARTIALS_PER_FUNCTION]
        lines += ["", "", "@njit(cache=True, error_model='numpy', nogil=True)",
                  f"def _partials_{n_funcs}(X, P, K, times, dt, cap, LX, LY, OUT):",
                  "    for k in range(1, X.shape[1]):"]
        lines += [f"        OUT[{start + j}, k] = {s}" for j, s in enumerate(chunk)] or ["        pass"]
        n_funcs += 1
    return "\n".join(lines) + "\n", meaning, n_funcs


def _load(kind: str, text: str):
    """Import generated source from the cache folder, under a name that is the hash of the text
    (and the versions it runs on): the same model and compiler give the same file, whose machine
    code Numba keeps beside it, and any change to what is generated gives a new one."""
    from innosd.model.compiler import driver
    digest = hashlib.sha256(f"{text}|{version('numba')}|{np.__version__}".encode()).hexdigest()[:20]
    name = f"innosd_loops_{kind}_{digest}"
    folder = driver.cache_dir() / "loops"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    if not path.exists():  # an unchanged file keeps Numba's cache valid
        driver._atomic_write(path, text)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Trajectory:
    """Every slot at every TIME STEP of one run, and the link partials over it."""

    times: np.ndarray
    X: np.ndarray                 # (rows, steps): auxiliaries then states
    rows: dict[str, int]
    partial: np.ndarray           # (links, steps): D_x z (column 0 undefined)
    cur: dict[str, np.ndarray]    # non-auxiliary target -> its expression at each step
    prev: dict[str, np.ndarray]   # ... evaluated with every input at the previous step


def _parameter_vector(g, model, params: dict) -> np.ndarray:
    model.control_values(params)  # unknown names and fixed constants: one line, with hints
    P = np.array([p["default"] for p in g.params], dtype=float)
    for name, value in (params or {}).items():
        for i, p in enumerate(g.params):
            if name in (p["name"], p["variable"]) or norm(str(name)) in (norm(p["name"]), norm(p["variable"])):
                P[i] = float(value)
    return P


@dataclass
class Prepared:
    """A model compiled for LTM: its graph, the run kernel saving every slot, the partials."""

    g: object                     # frontend.ModelGraph
    graph: LinkGraph
    model: object                 # the CompiledModel (names, ranges, control values)
    kernel: object
    partials: object
    meaning: list
    n_funcs: int
    n_slots: int
    n_outputs: int


@functools.lru_cache(maxsize=4)
def _prepare(path: Path, mtime_ns: int, size: int) -> Prepared:
    from innosd.model import compile_model
    from innosd.model.abstract import parse
    from innosd.model.compiler import driver
    from innosd.model.compiler.codegen import generate
    from innosd.model.compiler.frontend import ModelGraph
    from innosd.model.compiler.schedule import Plan

    model = compile_model(path)  # checks the model compiles; resolves names and the time grid
    g = ModelGraph(parse(path), path)
    slots = [f"A{i}" for i in range(g.n_aux)] + [f"S{i}" for i in range(g.n_state)]
    rows = {s: r for r, s in enumerate(slots)}
    outputs = [(s, f"@{s}@") for s in slots] + [(f"K{i}", f"@K{i}@") for i in range(g.n_fixed)]
    plan = Plan(g, outputs)
    graph = link_graph(g, plan)
    kernel = _load("run", generate(g, outputs, driver.COMPILER_VERSION))
    partial_src, meaning, n_funcs = _partials_source(graph, rows, g)
    header = "import numpy as np\nfrom numba import njit\nfrom innosd.model.compiler.rt import *  # noqa\n" \
             "from innosd.model.compiler.rt import _ite, _integer, _quantum, _modulo, _xidz, _zidz, _step, " \
             "_ramp, _ramp_open, _pulse, _pulse_train, _delay_order, _delay_init, _delay_stage, _pick, " \
             "_delay_fixed_order, _lk_interp, _lk_extrap, _lk_hold, _lk_forward, _lk_raw, _exp, _log, _pow, " \
             "_rnd_uniform, _rnd_normal, _rnd_exponential\n"
    partials = _load("partials", header + partial_src)
    return Prepared(g, graph, model, kernel, partials, meaning, n_funcs, len(slots), len(outputs))


def prepare(path: Path) -> Prepared:
    """The model at `path` compiled for LTM, once per file version (several runs of one model,
    e.g. posterior draws, share the parse, the graph and both kernels)."""
    path = Path(path).resolve()
    stat = path.stat()
    return _prepare(path, stat.st_mtime_ns, stat.st_size)


def simulate(path: Path, params: dict | None = None):
    """(ModelGraph, LinkGraph, Trajectory) of one Euler run of the model at `path`."""
    from innosd.model.runtime import TIME_RPREC

    prep = prepare(Path(path))
    g, graph, model = prep.g, prep.graph, prep.model
    rows = {s: r for r, s in enumerate([f"A{i}" for i in range(g.n_aux)] + [f"S{i}" for i in range(g.n_state)])}
    P = _parameter_vector(g, model, params or {})
    ctl = model.control_values(params or {})
    t0, tf, dt = ctl["INITIAL TIME"], ctl["FINAL TIME"], ctl["TIME STEP"]
    times, t = [t0], t0
    while t + dt * TIME_RPREC < tf:  # the time grid of CompiledModel (PySD's rule)
        t = t + dt
        times.append(t)
    times = np.array(times)
    lx = np.concatenate([lk.x for lk in g.lookups]) if g.lookups else np.zeros(1)
    ly = np.concatenate([lk.y for lk in g.lookups]) if g.lookups else np.zeros(1)
    out = np.empty((prep.n_outputs, 1, len(times)))
    omap = np.arange(prep.n_outputs, dtype=np.int64)
    cap = float(len(times) + 1)
    prep.kernel._run_one(P.reshape(-1, 1), times, np.ones(len(times), dtype=np.bool_), dt, cap, lx, ly, omap, out, 0)
    X = np.ascontiguousarray(out[:prep.n_slots, 0, :])
    K = out[prep.n_slots:, 0, 0].copy() if g.n_fixed else np.zeros(1)
    meaning = prep.meaning
    OUT = np.full((max(len(meaning), 1), len(times)), np.nan)
    for i in range(prep.n_funcs):
        getattr(prep.partials, f"_partials_{i}")(X, P, K, times, dt, cap, lx, ly, OUT)
    n_links = len(graph.links)
    cur = {z: OUT[i] for i, (w, z) in enumerate(meaning) if w == "cur"}
    prev = {z: OUT[i] for i, (w, z) in enumerate(meaning) if w == "prev"}
    return g, graph, Trajectory(times, X, rows, OUT[:n_links], cur, prev)


# ------------------------------------------------------------------ scores

def _change(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """new - old, with round-off-sized changes set to 0."""
    d = new - old
    scale = np.maximum(np.abs(new), np.abs(old))
    return np.where(np.abs(d) <= ROUNDOFF * scale, 0.0, d)


def link_scores(graph: LinkGraph, traj: Trajectory) -> np.ndarray:
    """(links, steps) link scores; step 0 is NaN (no previous step)."""
    X, rows = traj.X, traj.rows
    steps = X.shape[1]
    scores = np.full((len(graph.links), steps), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i, (x, z) in enumerate(graph.links):
            kind = graph.targets[z].kind
            xs = X[rows[x]]
            dx = _change(xs[1:], xs[:-1])
            if kind == "aux":
                zs = X[rows[z]]
                zprev, dz = zs[:-1], _change(zs[1:], zs[:-1])
            else:  # the net flow, pipe input or update expression, evaluated at k and k-1
                zprev = traj.prev[z][1:]
                dz = _change(traj.cur[z][1:], zprev)
            partial = traj.partial[i, 1:]
            dxz = _change(partial, zprev)
            ls = np.abs(dxz / dz) * np.sign(dxz / dx)
            ls = np.where((dz == 0.0) | (dx == 0.0) | (dxz == 0.0), 0.0, ls)
            if kind == "pipe":  # perfect mixing: a pipe whose output is not changing is inactive
                out = X[rows[z]]
                ls = np.where(_change(out[1:], out[:-1]) == 0.0, 0.0, ls)
            scores[i, 1:] = ls
    return scores


@dataclass
class LoopAnalysis:
    """Loops and their scores for one run."""

    loops: pd.DataFrame      # loop_id, partition, polarity, length, variables, nodes, peak/mean |relative|
    graph: LinkGraph
    method: str              # "exhaustive" or "strongest path"
    n_loops: int
    link_scores: np.ndarray  # (links, steps), step 0 NaN
    times: np.ndarray        # every step
    loop_scores: np.ndarray  # (loops, steps - 1), rows in `loops` order
    loop_nodes: list         # per loop: the set of graph nodes on it (every pathway)
    relative: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (loops, steps - 1)

    @functools.cached_property
    def scores(self) -> pd.DataFrame:
        """time, loop_id, partition, loop_score, relative_score: every loop at every step after the
        first (built on demand: ~7.5M rows on the project model, which posterior draws never need)."""
        times, n = self.times[1:], len(self.times) - 1
        return pd.DataFrame({"time": np.tile(times, len(self.loops)),
                             "loop_id": np.repeat(self.loops["loop_id"].to_numpy(dtype=object), n),
                             "partition": np.repeat(self.loops["partition"].to_numpy(), n),
                             "loop_score": self.loop_scores.ravel(), "relative_score": self.relative.ravel()})

    through: dict = field(default_factory=dict)  # graph node -> rows of the loops passing through it

    def rows_through(self, node: str) -> np.ndarray:
        """The rows (in `loops` order) of the loops passing through graph node `node`."""
        return self.through.get(node, np.zeros(0, dtype=np.int64))


def _display(cycle, graph: LinkGraph) -> list[str]:
    """The variables of a loop in order, stateful internals collapsed onto their variable."""
    names = [graph.labels[n] for n in cycle]
    out = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def _partition_of(graph: LinkGraph) -> dict[str, int]:
    comps = strongly_connected(graph.nodes, graph.succ)
    comps = [c for c in comps if len(c) > 1 or c[0] in graph.succ.get(c[0], ())]
    comps.sort(key=lambda c: graph.nodes.index(c[0]))
    return {n: i + 1 for i, c in enumerate(comps) for n in c}


def find_loops(graph: LinkGraph, scores: np.ndarray) -> tuple[list[tuple[str, ...]], str]:
    """Every loop (exhaustive) or the loops the strongest-path search finds, and which."""
    try:
        return elementary_loops(graph.nodes, graph.succ), "exhaustive"
    except TooManyLoops:
        pass
    index = {l: i for i, l in enumerate(graph.links)}
    stocks = [n for n in graph.nodes if n[0] == "S"]
    steps = scores.shape[1]
    picks = np.unique(np.linspace(1, steps - 1, min(MAX_SEARCH_STEPS, steps - 1)).astype(int))
    found: set = set()
    for k in picks:
        weights = {l: abs(float(scores[i, k])) for l, i in index.items() if np.isfinite(scores[i, k])}
        found |= strongest_path_loops(graph.nodes, graph.succ, weights, stocks)
    return sorted(found, key=lambda c: (len(c), c)), "strongest path"


@dataclass
class _LoopStructure:
    """What the scores of one graph's loops need that no run changes: each displayed loop's
    pathways (cycles) as rows of link indices, its partition and variables (exhaustive method)."""

    n_cycles: int
    edges: list[np.ndarray]     # per cycle kept: its links' rows in graph.links
    loop_of: np.ndarray         # per cycle kept: the displayed loop it belongs to
    parts: list[int]            # per displayed loop
    names: list[tuple]
    members: list[list]
    node_sets: list[set] = field(default_factory=list)   # per displayed loop: its nodes (every pathway)
    node_text: list[str] = field(default_factory=list)   # ... as loops.csv's `nodes`
    single: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # cycles alone in their loop
    through: dict = field(default_factory=dict)          # node -> displayed loops through it


def _structure(graph: LinkGraph, cycles) -> _LoopStructure:
    index = {l: i for i, l in enumerate(graph.links)}
    partition = _partition_of(graph)
    keys: dict[tuple, int] = {}
    edges, loop_of, members = [], [], []
    for c in cycles:
        if all(n in graph.internal for n in c):
            continue  # a SMOOTH/DELAY stage's own drain, a macro's inside: not the model's feedback
        key = (partition[c[0]], tuple(_display(c, graph)))
        if key not in keys:
            keys[key] = len(keys)
            members.append([])
        edges.append(np.array([index[(c[j], c[(j + 1) % len(c)])] for j in range(len(c))], dtype=np.int64))
        loop_of.append(keys[key])
        members[keys[key]].append(c)
    loop_of_arr = np.array(loop_of, dtype=np.int64)
    node_sets = [set(n for c in group for n in c) for group in members]
    through: dict[str, list[int]] = defaultdict(list)
    for i, nodes in enumerate(node_sets):
        for n in nodes:
            through[n].append(i)
    counts = np.bincount(loop_of_arr, minlength=len(members)) if len(loop_of_arr) else np.zeros(0, dtype=int)
    return _LoopStructure(len(cycles), edges, loop_of_arr, [k[0] for k in keys], [k[1] for k in keys], members,
                          node_sets, [" | ".join(" ".join(c) for c in group) for group in members],
                          np.flatnonzero(counts[loop_of_arr] == 1) if len(loop_of_arr) else loop_of_arr,
                          {n: np.array(r, dtype=np.int64) for n, r in through.items()})


# cycles scored together: their link scores gathered into one (cycles, length, steps) array
SCORE_CHUNK = 512


def _cycle_scores(ls: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """(cycles, steps - 1): the product of the link scores around each cycle, cycles of one length
    at a time in chunks (one gather and one product instead of a NumPy call per cycle)."""
    out = np.empty((len(edges), ls.shape[1] - 1))
    body = ls[:, 1:]
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, e in enumerate(edges):
        by_length[len(e)].append(i)
    for rows in by_length.values():
        for k in range(0, len(rows), SCORE_CHUNK):
            chunk = rows[k:k + SCORE_CHUNK]
            out[chunk] = np.prod(body[np.array([edges[i] for i in chunk])], axis=1)
    return out


def analyse_graph(graph: LinkGraph, traj: Trajectory) -> LoopAnalysis:
    """Loop and relative loop scores of every loop of `graph` over the run `traj`."""
    ls = link_scores(graph, traj)
    cached = getattr(graph, "_loop_structure", None)  # the exhaustive list depends on the graph only
    if cached is not None:
        structure, method = cached, "exhaustive"
    else:
        cycles, method = find_loops(graph, ls)
        structure = _structure(graph, cycles)
        if method == "exhaustive":
            graph._loop_structure = structure
    steps = ls.shape[1]
    names, parts, members = structure.names, structure.parts, structure.members
    per_cycle = _cycle_scores(ls, structure.edges) if structure.edges else np.zeros((0, steps - 1))
    # several pathways through one SMOOTH/DELAY collapse onto one loop: the strongest pathway at
    # each step (the composite link score of Schoenberg & Eberlein 2020)
    S = np.zeros((len(names), steps - 1))
    S[structure.loop_of[structure.single]] = per_cycle[structure.single]
    multiple = np.setdiff1d(np.arange(len(structure.loop_of)), structure.single)
    best = np.full((len(names), steps - 1), -1.0)
    for i in multiple:
        loop = structure.loop_of[i]
        mag = np.abs(per_cycle[i])
        take = mag > best[loop]
        S[loop, take] = per_cycle[i, take]
        best[loop, take] = mag[take]
    rel = np.zeros_like(S)
    parts_arr = np.array(parts)
    for p in set(parts):
        sel = parts_arr == p
        total = np.abs(S[sel]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel[sel] = np.where(total > 0, S[sel] / total, 0.0)
    abs_rel = np.abs(rel)
    peak = abs_rel.max(axis=1) if rel.shape[1] else np.zeros(len(names))
    mean = abs_rel.mean(axis=1) if rel.shape[1] else np.zeros(len(names))
    pos, neg = (S > 0).sum(axis=1), (S < 0).sum(axis=1)
    rows = []
    for i, disp in enumerate(names):
        polarity = "R" if pos[i] and not neg[i] else "B" if neg[i] and not pos[i] else \
            "inactive" if not (pos[i] or neg[i]) else "Ru" if pos[i] > neg[i] else "Bu" if neg[i] > pos[i] else "U"
        rows.append(dict(partition=parts[i], polarity=polarity, length=len(disp),
                         variables=" -> ".join(list(disp) + [disp[0]]),
                         nodes=structure.node_text[i],
                         peak_abs_relative=float(peak[i]), mean_abs_relative=float(mean[i])))
    loops = pd.DataFrame(rows, columns=["partition", "polarity", "length", "variables", "nodes",
                                        "peak_abs_relative", "mean_abs_relative"])
    order = loops.sort_values(["mean_abs_relative", "variables"], ascending=[False, True]).index
    counts: dict[str, int] = defaultdict(int)
    ids = {}
    for i in order:
        pol = loops.at[i, "polarity"]
        letter = {"R": "R", "B": "B", "Ru": "R", "Bu": "B", "inactive": "I"}.get(pol, "U")
        counts[letter] += 1
        ids[i] = f"{letter}{counts[letter]}"
    loops.insert(0, "loop_id", [ids[i] for i in loops.index])
    loops = loops.loc[order].reset_index(drop=True)
    old_index = np.asarray(order, dtype=np.int64)
    position = np.empty(len(old_index), dtype=np.int64)
    position[old_index] = np.arange(len(old_index))
    nodes = [structure.node_sets[i] for i in old_index]
    through = {n: np.sort(position[r]) for n, r in structure.through.items()}
    return LoopAnalysis(loops, graph, method, structure.n_cycles, ls, traj.times, S[old_index], nodes,
                        rel[old_index], through)


def analyse(path, params: dict | None = None) -> LoopAnalysis:
    """Loops That Matter on one run of the model at `path` with constants `params`."""
    _, graph, traj = simulate(Path(path), params)
    return analyse_graph(graph, traj)


# ------------------------------------------------------------------ per variable

def variable_nodes(name: str, graph: LinkGraph) -> list[str]:
    """The graph nodes of model variable `name` (every element of a subscripted one)."""
    wanted = norm(name.split("[")[0])
    return [n for n in graph.nodes if n not in graph.internal
            and norm(graph.labels[n].split("[")[0]) == wanted
            and (("[" not in name) or norm(graph.labels[n]) == norm(name))]


def entry_weights(analysis: LoopAnalysis, nodes: list[str]) -> dict[str, np.ndarray]:
    """The nodes on feedback loops through which loops drive `nodes`, with their weight per step.

    A variable on loops is its own entry (weight 1). A variable on no loop (an output such as a
    ratio) is driven through the loop nodes upstream of it: the weight of entry e is the sum over
    the loop-free paths from e to the variable of the product of |link scores| (path scores,
    Schoenberg et al. 2020), normalised over the entries at each step."""
    graph = analysis.graph
    partition = _partition_of(graph)
    steps = analysis.link_scores.shape[1] - 1
    own = [n for n in nodes if n in partition]
    if own:
        return {n: np.ones(steps) / len(own) for n in own}
    ls = np.nan_to_num(np.abs(analysis.link_scores[:, 1:]))
    inputs: dict[str, list[int]] = defaultdict(list)
    for i, (x, z) in enumerate(graph.links):
        inputs[z].append(i)
    # the loop-free ancestors, ordered so that every node comes before its inputs
    order, seen = [], set()
    for root in nodes:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(inputs[root]))]
        while stack:
            v, it = stack[-1]
            for i in it:
                x = graph.links[i][0]
                if x not in seen and x not in partition:
                    seen.add(x)
                    stack.append((x, iter(inputs[x])))
                    break
            else:
                stack.pop()
                order.append(v)
    order.reverse()
    share = {n: np.zeros(steps) for n in order}
    for n in nodes:
        share[n] = share[n] + 1.0
    weights: dict[str, np.ndarray] = {}
    for z in order:
        for i in inputs[z]:
            x = graph.links[i][0]
            flow = share[z] * ls[i]
            if x in partition:
                weights[x] = weights.get(x, 0.0) + flow
            elif x in share:
                share[x] = share[x] + flow
    if not weights:
        return {}
    total = sum(weights.values())
    with np.errstate(divide="ignore", invalid="ignore"):
        return {e: np.where(total > 0, w / total, 0.0) for e, w in weights.items()}


def resolve_variables(analysis: LoopAnalysis, names: list[str], model_name: str) -> dict[str, dict[str, np.ndarray]]:
    """Key variable -> entry weights; one-line error naming an unknown or constant variable."""
    graph = analysis.graph
    known = sorted({graph.labels[n] for n in graph.nodes if n not in graph.internal})
    out = {}
    for name in names:
        nodes = variable_nodes(name, graph)
        if not nodes:
            raise ModelError(f"--vars: {name!r} is not a variable of {model_name} that changes during the run"
                             + closest(name, known) + " (constants have no loops)")
        out[name] = entry_weights(analysis, nodes)
    return out


def variable_shares(analysis: LoopAnalysis, weights: dict[str, np.ndarray]) -> np.ndarray:
    """(loops, steps - 1): how much each loop drives one variable.

    Among the loops through an entry node e (the variable itself when it is on loops), a loop's
    share is its loop score over the sum of |loop scores| of the loops through e -- the
    comparison on one variable that the 2020 paper shows to agree with the pathway participation
    metric -- and the shares of the entries are added with their weights (entry_weights). The
    |shares| add up to 1 at every step where a loop through an entry is active."""
    share = np.zeros_like(analysis.loop_scores)
    for e, w in weights.items():
        on = analysis.rows_through(e)
        if not len(on):
            continue
        sub = analysis.loop_scores[on]
        total = np.abs(sub).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            share[on] += np.where(total > 0, sub / total, 0.0) * w
    return share


def variable_scores(analysis: LoopAnalysis, share: np.ndarray, rows=None) -> pd.DataFrame:
    """time, loop_id, partition, relative_score, share for the loops `rows` (default: every loop
    with a share); relative_score is LTM's partition-wide relative loop score."""
    if rows is None:
        rows = np.flatnonzero(np.abs(share).max(axis=1) > 0) if share.size else []
    times = analysis.times[1:]
    total = np.abs(analysis.loop_scores)
    frames = []
    for i in rows:
        part = analysis.loops.at[i, "partition"]
        same = (analysis.loops["partition"] == part).to_numpy()
        denom = total[same].sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(denom > 0, analysis.loop_scores[i] / denom, 0.0)
        frames.append(pd.DataFrame({"time": times, "loop_id": analysis.loops.at[i, "loop_id"], "partition": part,
                                    "relative_score": rel, "share": share[i]}))
    if not frames:
        return pd.DataFrame(columns=["time", "loop_id", "partition", "relative_score", "share"])
    return pd.concat(frames, ignore_index=True)


def dominance(analysis: LoopAnalysis, share: np.ndarray) -> pd.DataFrame:
    """Per time step: the loop with the largest |share|, and the reinforcing and balancing
    loops' shares added up (positive and negative shares)."""
    times = analysis.times[1:]
    if not share.size:
        return pd.DataFrame(columns=["time", "loop_id", "share", "reinforcing_share", "balancing_share"])
    top = np.argmax(np.abs(share), axis=0)
    value = share[top, np.arange(share.shape[1])]
    frame = pd.DataFrame({"time": times, "loop_id": analysis.loops["loop_id"].to_numpy()[top], "share": value,
                          "reinforcing_share": np.clip(share, 0, None).sum(axis=0),
                          "balancing_share": np.clip(share, None, 0).sum(axis=0)})
    return frame[value != 0].reset_index(drop=True)


def summary(d: pd.DataFrame) -> pd.DataFrame:
    """The dominant loop of a `dominance` table over consecutive periods: start, end, loop_id, mean share."""
    rows, current = [], None
    for t, lid, share in zip(d["time"], d["loop_id"], d["share"]):
        if current is None or lid != current["loop_id"]:
            if current is not None:
                rows.append(current)
            current = dict(start=t, end=t, loop_id=lid, shares=[])
        current["end"] = t
        current["shares"].append(share)
    if current is not None:
        rows.append(current)
    return pd.DataFrame([dict(start=r["start"], end=r["end"], loop_id=r["loop_id"],
                              mean_share=float(np.mean(r["shares"]))) for r in rows],
                        columns=["start", "end", "loop_id", "mean_share"])


# ------------------------------------------------------------------ loop families

# polarity of a loop -> its family's polarity letter (mostly-R loops count as reinforcing)
FAMILY_POLARITY = {"R": "R", "Ru": "R", "B": "B", "Bu": "B", "U": "U", "inactive": "I"}


def families(analysis: LoopAnalysis, group_of: dict[str, str] | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Loops grouped into families: the set of groups (e.g. the model's sectors) the variables of a
    loop belong to, and its polarity. A model of ~18k loops has a few dozen such families, which a
    reader can tell apart, where single long loops each carry a few percent at most.

    `group_of`: normalised variable name (element removed) -> group, a variable without one being its
    own group; None groups by the stocks a loop passes through instead (a model without sectors).
    Returns (table: family, groups, polarity, loops, active_loops, strongest_loop, strongest_variables,
    mean_abs_relative; ordered by the summed mean |relative score| of their loops) and, per loop of
    `analysis.loops`, the row of its family."""
    graph, loops = analysis.graph, analysis.loops
    if group_of is None:
        group = {n: graph.labels[n] for n in graph.nodes if n[0] == "S"}
    else:
        group = {n: group_of.get(norm(graph.labels[n].split("[")[0]), graph.labels[n].split("[")[0])
                 for n in graph.nodes}
    keys = []
    for nodes, polarity in zip(analysis.loop_nodes, loops["polarity"]):
        groups = sorted({group[n] for n in nodes if n in group})
        keys.append((" + ".join(groups), FAMILY_POLARITY.get(polarity, "U")))
    frame = loops[["loop_id", "variables", "mean_abs_relative", "polarity"]].assign(
        groups=[k[0] for k in keys], family_polarity=[k[1] for k in keys])
    rows = []
    for (groups, polarity), part in frame.groupby(["groups", "family_polarity"], sort=False):
        best = part["mean_abs_relative"].idxmax()
        rows.append(dict(groups=groups, polarity=polarity, loops=len(part),
                         active_loops=int((part["polarity"] != "inactive").sum()),
                         strongest_loop=part.at[best, "loop_id"], strongest_variables=part.at[best, "variables"],
                         mean_abs_relative=float(part["mean_abs_relative"].sum())))
    table = pd.DataFrame(rows, columns=["groups", "polarity", "loops", "active_loops", "strongest_loop",
                                        "strongest_variables", "mean_abs_relative"])
    table = table.sort_values(["mean_abs_relative", "loops", "groups"], ascending=[False, False, True]) \
        .reset_index(drop=True)
    table.insert(0, "family", [f"F{i + 1}" for i in range(len(table))])
    row = {(g, p): i for i, (g, p) in enumerate(zip(table["groups"], table["polarity"]))}
    return table, np.array([row[k] for k in keys], dtype=np.int64)


def family_shares(share: np.ndarray, family_index: np.ndarray, n_families: int) -> np.ndarray:
    """(families, steps - 1): the shares of one variable's loops (variable_shares) added up per
    family; reinforcing and balancing loops of one family cannot cancel (they are different families)."""
    out = np.zeros((n_families, share.shape[1]))
    np.add.at(out, family_index, share)
    return out


def annual_means(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(years, values averaged over each year's steps). The score at step time t is of the change
    over (t - TIME STEP, t]: it belongs to the year holding that interval's midpoint."""
    if len(times) < 2:
        return np.zeros(0, dtype=int), np.zeros((values.shape[0], 0))
    dt = float(times[1] - times[0])
    years = np.floor(times - dt / 2).astype(int)
    unique, inverse = np.unique(years, return_inverse=True)
    sums = np.zeros((values.shape[0], len(unique)))
    np.add.at(sums.T, inverse, values.T)
    return unique, sums / np.bincount(inverse)
