"""The stock-and-flow structure, read from the model file itself, and its diagram.

Stocks are the model's INTEG variables; a flow is a term of a stock's net rate. A flow
that leaves one stock (minus sign) and enters another (plus sign) is an arrow between
them; a flow entering a stock that is only a sum of other stocks' outflows (e.g. 'hte
certifications total' = new + re-certifications) is traced back to those stocks; any
other term comes from or goes to outside the model boundary (a cloud). Sectors are the
`.Sector` group headers of the .mdl. The file is parsed with PySD's parser, read-only,
so the picture cannot drift from the equations.
"""

from __future__ import annotations

import functools
import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
from innosd.figures.labels import sector_label, stock_label, text
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from innosd.errors import ModelError
from innosd.model.abstract import children, elements, expressions, norm, parse, signed_terms, stocks

GROUP_HEADER = re.compile(r"\*{10,}\s*\n\s*\.([^\n]+?)\s*\n\s*\*{10,}~")
MAX_STACK = 7          # stocks per column inside a sector before it wraps into a second column
COLUMNS_PER_ROW = 4    # sector columns per row of the diagram (fits an A4 landscape page)
EXPAND_DEPTH = 3       # how far an inflow that is a sum of other flows is traced back
BOX_W, BOX_H = 1.0, 0.42   # stock box size in layout units (one unit = one column)
ROW_PITCH = 0.78           # vertical distance between stacked stocks
LABEL_WRAP = 18            # characters per line in a stock box
CROSS_RAD = 0.1            # arrows between columns stay nearly straight, inside the gap
LINK_RAD = 0.3             # curvature of arrows between boxes: pairs of opposite flows stay apart
LABEL_OFFSET = 0.22        # minimum distance of a flow's name from the straight line of its arrow
SKIP_BULGE = 0.3           # how far (layout units) an arrow that skips boxes passes beside them
MAX_WIDTH_IN, MAX_HEIGHT_IN = 12.0, 20.0  # the diagram fits a landscape page / a long scroll


@dataclass(frozen=True)
class Flow:
    name: str
    source: str | None  # stock it drains, None = outside the boundary
    target: str | None  # stock it fills, None = outside the boundary


@dataclass
class Structure:
    sectors: dict[str, list[str]] = field(default_factory=dict)  # sector -> stocks, file order
    flows: list[Flow] = field(default_factory=list)

    @property
    def stocks(self) -> list[str]:
        return [s for stocks in self.sectors.values() for s in stocks]


def sector_of_variables(mdl_text: str) -> dict[str, str]:
    """Normalised variable name -> the `.Sector` group it is defined under."""
    owner: dict[str, str] = {}
    pieces = GROUP_HEADER.split(mdl_text.split("\\\\\\---///")[0])
    # split() alternates: text before the first group, then (group name, group body) pairs
    for sector, body in zip(pieces[1::2], pieces[2::2]):
        for element in body.split("|")[1:]:  # the first piece is the group's own comment
            equation = element.split("~")[0].strip()
            match = re.match(r'("[^"]+"|[^=(:\[~]+)', equation)
            if match and match.group(1).strip():
                owner.setdefault(norm(match.group(1)), sector.strip())
    return owner


def _term_name(ast) -> str:
    """A flow's name: the variable it references, or a short rendering of the expression."""
    ae = expressions()
    if isinstance(ast, ae.ReferenceStructure):
        return ast.reference
    if isinstance(ast, ae.ArithmeticStructure):
        ops = [op if op != "negative" else "-" for op in ast.operators]
        parts = [_term_name(a) for a in ast.arguments]
        if len(ops) == len(parts):
            return ops[0] + " ".join(parts)
        return " ".join(p for pair in zip(parts, ops + [""]) for p in pair if p)
    if isinstance(ast, (int, float)):
        return f"{ast:g}"
    return type(ast).__name__.replace("Structure", "").lower()


def _file_version(mdl_path: Path) -> tuple[Path, int, int]:
    """(resolved path, mtime in ns, size): the key of the per-file caches below, so an edited
    model file is parsed again."""
    mdl_path = Path(mdl_path)
    if not mdl_path.is_file():
        raise ModelError(f"{mdl_path}: no such model file")
    stat = mdl_path.stat()
    return mdl_path.resolve(), stat.st_mtime_ns, stat.st_size


def read_structure(mdl_path: Path) -> Structure:
    """Stocks, flows and sectors of a Vensim model file (parsed once per file version)."""
    return _read_structure(*_file_version(mdl_path))


@functools.lru_cache(maxsize=8)
def _read_structure(mdl_path: Path, mtime_ns: int, size: int) -> Structure:
    model = parse(mdl_path)
    owner = sector_of_variables(mdl_path.read_text(encoding="utf-8", errors="replace"))
    elements = {norm(e.name): e for section in model.sections for e in section.elements}
    display = {key: e.name for key, e in elements.items()}
    rates = {norm(name): signed_terms(integ.flow) for name, integ in stocks(model).items()}
    if not rates:
        raise ModelError(f"{mdl_path}: the model has no stocks (INTEG) to draw")
    outflow_of = {_term_name(a): stock for stock, terms in rates.items() for s, a in terms if s < 0}

    def sources(flow: str, depth: int) -> list[tuple[str, str | None]]:
        """(flow name, stock it drains) pairs feeding `flow`, traced through pure sums."""
        if flow in outflow_of:
            return [(flow, outflow_of[flow])]
        element = elements.get(flow)
        if depth <= 0 or element is None or len(element.components) != 1:
            return [(flow, None)]
        terms = signed_terms(element.components[0].ast)
        if not all(s > 0 and isinstance(a, expressions().ReferenceStructure) for s, a in terms):
            return [(flow, None)]
        traced = [pair for _, a in terms for pair in sources(a.reference, depth - 1)]
        return traced if any(src for _, src in traced) else [(flow, None)]

    def shown(name: str) -> str:
        return display.get(name, name.replace("_", " "))

    # A stock without outflows only accumulates (a counter): its inflow is shown under the
    # name it integrates, not traced back through sums into the stocks it merely counts.
    accumulators = {stock for stock, terms in rates.items() if all(sign > 0 for sign, _ in terms)}
    raw: list[Flow] = []
    for stock, terms in rates.items():
        for sign, ast in terms:
            name = _term_name(ast)
            if sign > 0:
                depth = 0 if stock in accumulators else EXPAND_DEPTH
                raw.extend(Flow(shown(part), shown(source) if source else None, display[stock])
                           for part, source in sources(name, depth))
            else:
                raw.append(Flow(shown(name), display[stock], None))
    return Structure(sectors=_sectors(rates, owner, display), flows=_reconcile(raw))


def _reconcile(raw: list[Flow]) -> list[Flow]:
    """One arrow per material transfer.

    A stock with no outflows (an accumulator such as 'hte new certifications cumulative')
    counts a flow that another stock already receives: it is a co-flow, drawn as an
    inflow from outside rather than a second drain on the source. A stock's outflow that
    reaches another stock is drawn once, as that arrow, not again as a cloud.
    """
    drains = {f.source for f in raw if f.source}
    accumulators = {f.target for f in raw if f.target} - drains
    received = {f.name for f in raw if f.source and f.target and f.target not in accumulators}
    flows = []
    for f in raw:
        if f.target in accumulators and f.source and f.name in received:
            f = Flow(f.name, None, f.target)
        flows.append(f)
    linked = {(f.name, f.source) for f in flows if f.source and f.target}
    flows = [f for f in flows if not (f.target is None and (f.name, f.source) in linked)]
    return list(dict.fromkeys(flows))


def _sectors(rates: dict, owner: dict[str, str], display: dict[str, str]) -> dict[str, list[str]]:
    sectors: dict[str, list[str]] = {}
    for key in rates:
        sectors.setdefault(owner.get(key, "(no sector)"), []).append(display[key])
    return sectors


# ----------------------------------------------------------------------------- influences

def _references(node, found: set[str]) -> set[str]:
    if isinstance(node, expressions().ReferenceStructure):
        found.add(node.reference)
    for child in children(node):
        if child is not None and not isinstance(child, (str, int, float, bool)):
            _references(child, found)
    return found


def dependencies(mdl_path: Path) -> dict[str, set[str]]:
    """Every variable (name as written) -> the variables its equation uses (names as written)."""
    return _dependencies(*_file_version(mdl_path))


@functools.lru_cache(maxsize=8)
def _dependencies(mdl_path: Path, mtime_ns: int, size: int) -> dict[str, set[str]]:
    model = parse(mdl_path)
    display = {norm(e.name): e.name for e in elements(model)}
    uses: dict[str, set[str]] = {}
    for element in elements(model):
        found: set[str] = set()
        for component in element.components:
            _references(component.ast, found)
        uses[element.name] = {display[norm(r)] for r in found if norm(r) in display and norm(r) != norm(element.name)}
    return uses


def reached_stocks(constant: str, uses: dict[str, set[str]], stock_names: set[str]) -> list[str]:
    """The stocks whose equations depend on `constant` without passing through another stock:
    where a constant (a policy lever) first acts on the stock-and-flow structure."""
    used_by: dict[str, set[str]] = {}
    for name, refs in uses.items():
        for ref in refs:
            used_by.setdefault(ref, set()).add(name)
    seen, frontier, reached = {constant}, [constant], set()
    while frontier:
        name = frontier.pop()
        for user in used_by.get(name, ()):
            if user in seen:
                continue
            seen.add(user)
            if user in stock_names:
                reached.add(user)  # its rate (or initial value) uses the constant: stop at the stock
            else:
                frontier.append(user)
    return sorted(reached)


# ----------------------------------------------------------------------------- layout

def layout(structure: Structure) -> tuple[dict[str, tuple[float, float]], list[tuple[str, float, float, float, float]]]:
    """Box centres of stocks and sector frames (name, x0, y0, width, height), top-left first."""
    blocks = [(sector, stocks, max(1, math.ceil(len(stocks) / MAX_STACK))) for sector, stocks in
              structure.sectors.items()]
    rows: list[list] = [[]]
    for block in blocks:
        if rows[-1] and sum(b[2] for b in rows[-1]) + block[2] > COLUMNS_PER_ROW:
            rows.append([])
        rows[-1].append(block)
    centres, frames = {}, []
    col_w = BOX_W + 0.9  # room for cloud arrows and their labels beside each box
    top = 0.0
    for row in rows:
        height = max(math.ceil(len(stocks) / ncols) for _, stocks, ncols in row) * ROW_PITCH + 0.5
        x = 0.0
        for sector, stocks, ncols in row:
            per_col = math.ceil(len(stocks) / ncols)
            for i, stock in enumerate(stocks):
                col, pos = divmod(i, per_col)
                centres[stock] = (x + col * col_w + col_w / 2, top - 0.55 - pos * ROW_PITCH)
            frames.append((sector, x + 0.05, top - height, ncols * col_w - 0.1, height))
            x += ncols * col_w
        top -= height + 0.25
    return centres, frames


def _wrap(label: str, width: int = LABEL_WRAP) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def _link(source: tuple[float, float], target: tuple[float, float]) -> tuple[tuple, tuple, float]:
    """Start, end and arc3 curvature of an arrow between two boxes. Between boxes of one
    column that are not neighbours, the arrow leaves and enters on the right-hand side and
    bows out far enough to pass beside the boxes in between, not through them; between
    columns it runs through the gap between them, from side to side."""
    (sx, sy), (tx, ty) = source, target
    if abs(sx - tx) < 1e-9 and abs(sy - ty) > 1.5 * ROW_PITCH:
        start, end = (sx + BOX_W / 2, sy), (tx + BOX_W / 2, ty)
        return start, end, 2 * SKIP_BULGE / (ty - sy)  # middle at +SKIP_BULGE in x, either direction
    if abs(sx - tx) > BOX_W:  # another column: leave and enter by the facing sides, through the gap
        side = 1 if tx > sx else -1
        return (sx + side * BOX_W / 2, sy), (tx - side * BOX_W / 2, ty), CROSS_RAD
    return _edge_point(source, target), _edge_point(target, source), LINK_RAD


def _label_point(start, end, rad: float) -> tuple[float, float]:
    """Where a flow's name goes: on the side its arrow bends to, at least LABEL_OFFSET from
    the straight line, so the names of two opposite short arrows do not overlap.

    matplotlib's arc3 puts the control point at mid + rad * (dy, -dx); the curve's middle
    is half-way there."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    offset = max(abs(0.5 * rad) * length, LABEL_OFFSET) * (1 if rad >= 0 else -1)
    return (start[0] + end[0]) / 2 + offset * dy / length, (start[1] + end[1]) / 2 - offset * dx / length


def _edge_point(centre: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a box's centre toward another point leaves the box."""
    (cx, cy), (tx, ty) = centre, toward
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return centre
    scale = min(BOX_W / 2 / abs(dx) if dx else math.inf, BOX_H / 2 / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def draw_structure(structure: Structure, language: str = "en"):
    """The diagram: sector frames, stock boxes, arrows between stocks, clouds at the boundary."""
    centres, frames = layout(structure)
    xs = [f[1] + f[3] for f in frames]
    ys = [f[2] for f in frames]
    width, height = max(xs) + 0.2, -min(ys) + 0.45
    inches_per_unit = min(MAX_WIDTH_IN / width, MAX_HEIGHT_IN / height)
    fig, ax = plt.subplots(figsize=(inches_per_unit * width, inches_per_unit * height + 0.6))
    ax.set_xlim(-0.1, width - 0.1)
    ax.set_ylim(min(ys) - 0.1, 0.35)
    ax.set_aspect("equal")  # arcs bend in display space; equal scales let labels sit on them exactly
    ax.axis("off")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for sector, x0, y0, w, h in frames:
        ax.add_patch(FancyBboxPatch((x0, y0), w, h, boxstyle="round,pad=0.02", fc="#f6f8fa", ec="#bbbbbb", lw=0.8))
        ax.text(x0 + 0.06, y0 + h - 0.08, sector_label(sector, language), fontsize=8, fontweight="bold", va="top")
    for stock, (cx, cy) in centres.items():
        ax.add_patch(FancyBboxPatch((cx - BOX_W / 2, cy - BOX_H / 2), BOX_W, BOX_H, boxstyle="square,pad=0",
                                    fc="white", ec=colors[0], lw=1.2, zorder=3))
        ax.text(cx, cy, _wrap(stock_label(stock, language)), ha="center", va="center", fontsize=5.5, zorder=4)
    clouds_in: dict[str, list[str]] = {}
    clouds_out: dict[str, list[str]] = {}
    parallel: dict[tuple[str, str], int] = {}
    for flow in structure.flows:
        if flow.source and flow.target:
            pair = (flow.source, flow.target)
            parallel[pair] = k = parallel.get(pair, -1) + 1
            start, end, rad = _link(centres[flow.source], centres[flow.target])
            rad *= (k // 2 + 1) * (1 if k % 2 == 0 else -1)  # flows between the same stocks: alternate sides
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=0.9,
                                         color=colors[1], connectionstyle=f"arc3,rad={rad:.3f}", shrinkA=1,
                                         shrinkB=1, zorder=2))
            ax.text(*_label_point(start, end, rad), _wrap(flow.name, 16), fontsize=4, color=colors[1],
                    ha="center", va="center", zorder=5,
                    bbox={"fc": "white", "ec": "none", "pad": 0.3, "alpha": 0.85})
        elif flow.target:
            clouds_in.setdefault(flow.target, []).append(flow.name)
        elif flow.source:
            clouds_out.setdefault(flow.source, []).append(flow.name)
    for stock, names in clouds_in.items():
        cx, cy = centres[stock]
        start = (cx - BOX_W / 2 - 0.38, cy + 0.08)
        ax.add_patch(FancyArrowPatch(start, (cx - BOX_W / 2, cy + 0.08), arrowstyle="-|>", mutation_scale=7,
                                     lw=0.8, color="#555555", zorder=2))
        ax.plot(*start, marker="o", ms=5, mfc="#e5e8e8", mec="#888888", zorder=2)
        ax.text(start[0] + 0.02, cy + 0.12, f"+{len(names)}", fontsize=4.5, color="#555555", va="bottom")
    for stock, names in clouds_out.items():
        cx, cy = centres[stock]
        end = (cx + BOX_W / 2 + 0.38, cy - 0.08)
        ax.add_patch(FancyArrowPatch((cx + BOX_W / 2, cy - 0.08), end, arrowstyle="-|>", mutation_scale=7,
                                     lw=0.8, color="#555555", zorder=2))
        ax.plot(*end, marker="o", ms=5, mfc="#e5e8e8", mec="#888888", zorder=2)
        ax.text(end[0] - 0.02, cy - 0.12, f"-{len(names)}", fontsize=4.5, color="#555555", va="top", ha="right")
    n_links = sum(1 for f in structure.flows if f.source and f.target)
    ax.set_title(f"{text('structure_title', language)}\n"
                 f"{text('structure_counts', language, stocks=len(centres), links=n_links)}; "
                 f"○ {text('from_outside', language)}")
    fig.tight_layout()
    return fig
