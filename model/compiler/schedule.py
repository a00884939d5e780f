"""Dependency order of a slot graph: which statement runs when.

`Plan` orders the run phase (auxiliaries, with those depending on neither time nor a
state hoisted out of the time loop) and the init phase (states and fixed values with the
auxiliaries they need), and names circular definitions in one line. It knows nothing
of the code layout, which is `codegen.py`'s.
"""

from __future__ import annotations

from innosd.errors import ModelError
from innosd.model.compiler.frontend import ModelGraph
from innosd.model.compiler.ir import PLACEHOLDER, dependencies


def toposort(nodes: dict, roots, what: str, owner) -> list:
    """Depth-first dependency order of `roots` over `nodes` (name -> code)."""
    order, state = [], {}

    for root in roots:
        if state.get(root) == 2:
            continue
        stack = [(root, iter(sorted(dependencies(nodes[root]))))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            for dep in it:
                if dep not in nodes:
                    continue
                st = state.get(dep)
                if st == 1:
                    cyc = [n for n, _ in stack] + [dep]
                    names = " -> ".join(owner(n) for n in cyc[cyc.index(dep):])
                    err = ModelError(f"circular {what}: {names}")
                    err.variable = owner(dep).split("[")[0].split(".")[0]
                    raise err
                if st is None:
                    state[dep] = 1
                    stack.append((dep, iter(sorted(dependencies(nodes[dep])))))
                    break
            else:
                stack.pop()
                state[node] = 2
                order.append(node)
    return order


class Plan:
    """Ordered statements for one model, independent of the code layout."""

    def __init__(self, g: ModelGraph, outputs: list[tuple[str, str]]):
        self.g = g
        self.outputs = outputs
        owner = self._owner
        # run phase: auxiliaries in dependency order (states, fixed, params are leaves)
        run_nodes = {f"A{i}": code[0] for i, code in g.aux_code.items()}
        self.run_order = toposort(run_nodes, sorted(run_nodes, key=lambda n: int(n[1:])),
                                   "definition (simultaneous equations)", owner)
        self.run_nodes = run_nodes
        # auxiliaries that depend on neither time (nor the step counter of the random
        # streams) nor any state are constant for the whole run: computed once, after initialisation, with the same expression
        # (same values), instead of at every step
        varying = set()
        for n in self.run_order:
            code = run_nodes[n]
            if "@T@" in code or "@STEP@" in code \
                    or any(d[0] == "S" or d in varying for d in dependencies(code)):
                varying.add(n)
        self.hoisted = [n for n in self.run_order if n not in varying]
        self.loop_order = [n for n in self.run_order if n in varying]
        # init phase: states and fixed values, with whatever auxiliaries they need
        init_nodes = {f"A{i}": code[1] for i, code in g.aux_code.items()}
        self.state_init = {}
        for st in g.statefuls:
            for slot, code in st.init:
                init_nodes[slot.strip("@")] = code
                self.state_init[slot.strip("@")] = code
        for k, code in g.fixed_init.items():
            init_nodes[f"K{k}"] = code
        roots = sorted(n for n in init_nodes if n[0] in "SK")
        # auxiliaries whose values are saved are also recomputed in the loop, so
        # only what the states need is evaluated at initialisation
        self.init_order = toposort(init_nodes, roots, "initialisation", owner)
        self.init_nodes = init_nodes
        self.params_used = sorted({int(m.group(2)) for code in
                                   list(run_nodes.values()) + list(init_nodes.values())
                                   + [c for st in g.statefuls for _, c in st.ddt + st.discrete]
                                   + [d["input"] for d in g.delay_fixed]
                                   + [o for _, o in outputs]
                                   for m in PLACEHOLDER.finditer(code) if m.group(1) == "P"})

    def _owner(self, node):
        kind, i = node[0], int(node[1:])
        if kind == "A":
            return self.g.aux_owner[i]
        if kind == "S":
            return self.g.state_names[i]
        return f"initial value #{i}"
