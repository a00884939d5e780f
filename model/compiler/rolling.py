"""Arrays stay arrays: statements that differ only in their slot indices become one loop.

The frontend gives every element of a subscripted variable its own slot and its own
statement, so that references, mappings, subranges and EXCEPT are resolved exactly, once,
at compile time.  For a model with subscripts this module rolls those statements back up:
statements with the same text once every slot index is taken out (their *template*) form
one loop over a counter `i`, and each slot index becomes a function of `i` -- an affine
`a + d*i` when the indices are evenly spaced (the common case: a variable's elements have
consecutive slots), else a read from a constant index table (mappings, transpositions,
EXCEPT).  Generated code, and hence Numba's compile time, then grows with the number of
equations, not of elements.  Every element still computes exactly the expression the
scalar statement would (same operations in the same order), so results are bit-identical.

Order: statements of one phase must run in dependency order.  `roll_ordered` contracts
each template group to one node and orders the groups; a group that depends on itself
(a[2] = a[1] + ...) or sits on a cycle of groups is split back into single statements.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass

# slot and lookup-table holes in a statement: parameters, auxiliaries, states, fixed
# values, lookup offsets and lengths
HOLE = re.compile(r"@(P|A|S|K|LO|LN)(\d+)@")
TARGET = re.compile(r"@?([PASK]|LO|LN|R)(\d+)@?")

# fewest statements worth a loop (a pair already halves the code)
MIN_GROUP = 2


@dataclass
class Statement:
    """`target` ('A12', 'S3', 'K0' or 'R5' for output row 5) := `code` (placeholders)."""
    target: str
    code: str


@dataclass
class Rolled:
    """One loop: `count` statements sharing `template` (holes as '{0}', '{1}', ...).

    `target_kind`/`hole_kinds` name the arrays; `target_index`/`hole_indices` are one
    index list per hole (length `count`)."""
    template: str
    target_kind: str
    target_index: list[int]
    hole_kinds: list[str]
    hole_indices: list[list[int]]

    @property
    def count(self) -> int:
        return len(self.target_index)


def split(code: str) -> tuple[str, list[tuple[str, int]]]:
    """Template of a statement and its holes: '@A3@ * @P1@' -> ('{0} * {1}', [('A', 3), ('P', 1)])."""
    holes: list[tuple[str, int]] = []

    def rep(m):
        holes.append((m.group(1), int(m.group(2))))
        return "{" + str(len(holes) - 1) + "}"
    return HOLE.sub(rep, code.replace("{", "{{").replace("}", "}}")), holes


def _key(st: Statement):
    kind = TARGET.fullmatch(st.target).group(1)
    template, holes = split(st.code)
    return (kind, template, tuple(k for k, _ in holes))


def _target(st: Statement) -> tuple[str, int]:
    m = TARGET.fullmatch(st.target)
    return m.group(1), int(m.group(2))


def make_rolled(group: list[Statement]) -> Rolled:
    kind, template, hole_kinds = _key(group[0])
    indices = [[i for _, i in split(st.code)[1]] for st in group]
    return Rolled(template, kind, [_target(st)[1] for st in group], list(hole_kinds),
                  [list(col) for col in zip(*indices)] if hole_kinds else [])


def roll_unordered(statements: list[Statement]) -> list[Statement | Rolled]:
    """Statements whose order does not matter (derivatives, discrete updates, outputs):
    every template group of at least MIN_GROUP statements becomes one loop."""
    groups: dict = {}
    for st in statements:
        groups.setdefault(_key(st), []).append(st)
    out: list[Statement | Rolled] = []
    for members in groups.values():
        if len(members) >= MIN_GROUP:
            out.append(make_rolled(members))
        else:
            out += members
    return out


def roll_ordered(statements: list[Statement], dependencies) -> list[Statement | Rolled]:
    """Statements already in a valid dependency order, rolled into loops that keep it.

    `dependencies(code)` gives the slots ('A3', ...) a statement reads."""
    position = {st.target: n for n, st in enumerate(statements)}
    by_key: dict = {}
    for st in statements:
        by_key.setdefault(_key(st), []).append(st)
    group_of: dict[str, int] = {}
    groups: list[list[Statement]] = []
    for members in by_key.values():
        if len(members) >= MIN_GROUP:
            groups.append(members)
        else:
            groups += [[m] for m in members]
    for g, members in enumerate(groups):
        for st in members:
            group_of[st.target] = g
    deps = {st.target: [d for d in dependencies(st.code) if d in position]
            for st in statements}
    while True:
        order, broken = _order_groups(groups, group_of, deps, position)
        if not broken:
            break
        # split the offending groups into single statements and try again (terminates:
        # the statements themselves are in a valid order)
        for g in sorted(broken, reverse=True):
            members = groups[g]
            groups[g] = [members[0]]
            for st in members[1:]:
                groups.append([st])
        group_of = {st.target: g for g, members in enumerate(groups) for st in members}
    out: list[Statement | Rolled] = []
    for g in order:
        members = sorted(groups[g], key=lambda st: position[st.target])
        out.append(make_rolled(members) if len(members) >= MIN_GROUP else members[0])
    return out


def _order_groups(groups, group_of, deps, position):
    """(group order, set of groups to split): Kahn's algorithm over the group graph,
    earliest first statement first; groups on a cycle (or reading themselves) are split."""
    n = len(groups)
    preds: list[set] = [set() for _ in range(n)]
    broken = set()
    for g, members in enumerate(groups):
        for st in members:
            for d in deps[st.target]:
                h = group_of[d]
                if h == g:
                    broken.add(g)
                else:
                    preds[g].add(h)
    if broken:
        return [], broken
    succs: list[list[int]] = [[] for _ in range(n)]
    for g in range(n):
        for h in preds[g]:
            succs[h].append(g)
    waiting = [len(p) for p in preds]
    first = [min(position[st.target] for st in members) for members in groups]
    heap = [(first[g], g) for g in range(n) if waiting[g] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, g = heapq.heappop(heap)
        order.append(g)
        for s in succs[g]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(heap, (first[s], s))
    if len(order) < n:  # a cycle among groups: split every multi-statement group left
        return [], {g for g in range(n) if waiting[g] > 0 and len(groups[g]) > 1}
    return order, set()


def affine(indices: list[int]) -> tuple[int, int] | None:
    """(start, step) if indices[i] == start + step*i for all i, else None."""
    if len(indices) < 2:
        return (indices[0], 0) if indices else (0, 0)
    step = indices[1] - indices[0]
    start = indices[0]
    if all(v == start + step * i for i, v in enumerate(indices)):
        return start, step
    return None
