"""The `.mdl` sketch section: the project's diagram written in Vensim's own format, so Vensim
PLE opens the model with its stock-and-flow views (one view per `.Sector`).

    python -m innosd.figures.sketch --write     # rewrite the sketch of model/guangzhou_innovation.mdl
    python -m innosd.figures.sketch --check     # exit 1 if the sketch no longer matches the equations
    innosd sketch [MODEL] [--write | --check]

Generated from the equations only (`figures.structure`: stocks, flows, sectors, the
dependency graph), so whoever edits the model reruns `--write` (a test fails until then).
Each view holds its sector's stocks (placed as the report's diagram places them), a valve
with its rate variable for every flow (clouds where a flow crosses the model boundary),
the sector's other variables in a grid, an arrow for every use of one variable by another,
and grey shadow copies of the variables a view uses from other sectors. Every variable is
defined (not shadowed) in exactly one view. Vensim's sketch records, as written here:

    10,id,name,x,y,half-width,half-height,shape,bits,hidden,font,text-position,thickness,0,0
        shape 3 box (stock), 8 plain (auxiliary, constant), 40 attached to a valve (flow rate);
        bits 3 normal, 2 shadow (PySD: an even value marks a shadow)
    11,id,48,x,y,6,8,34,3,0,0,1,0,0,0          valve
    12,id,48,x,y,10,8,0,3,0,0,-1,0,0,0         cloud (outside the model boundary)
    1,id,from,to,4|100,0,0,22,0,0,0,-1--1--1,,1|(x,y)|   flow pipe (4: arrow head at `to`; 100: none)
    1,id,from,to,1,0,0,0,0,64,0,-1--1--1,,1|(0,0)|       information arrow

PySD and the compiler read only what precedes the sketch marker (tests check both parse the
file and give the same results with and without it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from innosd.errors import ModelError
from innosd.figures.structure import dependencies, layout, read_structure, sector_of_variables
from innosd.model.abstract import SKETCH_MARKER, norm
from innosd.rundir import atomic_write_text

SKETCH_END = "///---\\\\\\"
VIEW_HEADER = (SKETCH_MARKER + " Sketch information - do not modify anything except names\n"
               "V300  Do not put anything below this section - it will be ignored\n")
VIEW_STYLE = "$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0"
SETTINGS_DEFAULT = ":L<%^E!@\n"  # Vensim's settings block after the sketch (here: empty)
NO_SECTOR = "(no sector)"

PX_PER_UNIT_X, PX_PER_UNIT_Y = 300, 210  # figures.structure layout units -> sketch pixels
MARGIN = 60
VALVE_OFFSET = 130          # a boundary flow's valve sits this far left/right of its stock
CLOUD_OFFSET = 240
FLOW_SPACING = 34           # several boundary flows of one stock are stacked this far apart
GRID_COLUMNS, GRID_DX, GRID_DY = 5, 230, 46   # auxiliaries and constants, then shadows
STOCK_HALF = (45, 22)
AUX_HALF = (50, 12)


@dataclass
class View:
    """One sketch view: its records, the ids of the variables it shows and where they are."""

    name: str
    lines: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)     # variable -> id of its record in this view
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def variable(self, name: str, x: float, y: float, shape: int, shadow: bool = False) -> int:
        vid = self.new_id()
        w, h = STOCK_HALF if shape == 3 else AUX_HALF
        self.lines.append(f"10,{vid},{_quoted(name)},{round(x)},{round(y)},{w},{h},{shape},{2 if shadow else 3},"
                          f"0,0,-1,0,0,0")
        self.ids[name] = vid
        return vid

    def valve(self, x: float, y: float) -> int:
        vid = self.new_id()
        self.lines.append(f"11,{vid},48,{round(x)},{round(y)},6,8,34,3,0,0,1,0,0,0")
        return vid

    def cloud(self, x: float, y: float) -> int:
        vid = self.new_id()
        self.lines.append(f"12,{vid},48,{round(x)},{round(y)},10,8,0,3,0,0,-1,0,0,0")
        return vid

    def pipe(self, valve: int, end: int, x: float, y: float, head: bool) -> None:
        self.lines.append(f"1,{self.new_id()},{valve},{end},{4 if head else 100},0,0,22,0,0,0,-1--1--1,,1|"
                          f"({round(x)},{round(y)})|")

    def arrow(self, source: int, target: int) -> None:
        self.lines.append(f"1,{self.new_id()},{source},{target},1,0,0,0,0,64,0,-1--1--1,,1|(0,0)|")

    def text(self) -> str:
        return VIEW_HEADER + f"*{self.name}\n{VIEW_STYLE}\n" + "".join(line + "\n" for line in self.lines)


def _quoted(name: str) -> str:
    """Vensim quotes a sketch name holding a comma or a quote character."""
    return f'"{name}"' if any(c in name for c in ',"') else name


def build_views(mdl_path: Path) -> list[View]:
    """Every sector's view of the model at `mdl_path`."""
    structure = read_structure(mdl_path)
    uses = dependencies(mdl_path)
    owner_by_norm = sector_of_variables(Path(mdl_path).read_text(encoding="utf-8", errors="replace"))
    owner = {name: owner_by_norm.get(norm(name), NO_SECTOR) for name in uses}
    stocks = set(structure.stocks)
    centres, frames = layout(structure)
    frame_of = {sector: (x0, y0 + h) for sector, x0, y0, _w, h in frames}
    sectors = list(dict.fromkeys([*structure.sectors, *owner.values()]))
    views = {sector: View(sector) for sector in sectors}
    position: dict[tuple[str, str], tuple[float, float]] = {}  # (view, variable) -> (x, y)

    # stocks where the report's diagram puts them, relative to their sector's frame
    for sector, names in structure.sectors.items():
        left, top = frame_of[sector]
        for stock in names:
            cx, cy = centres[stock]
            x, y = MARGIN + (cx - left) * PX_PER_UNIT_X, MARGIN + (top - cy) * PX_PER_UNIT_Y
            views[sector].variable(stock, x, y, 3)
            position[(sector, stock)] = (x, y)

    def right_edge(sector: str) -> float:
        xs = [p[0] for (v, _), p in position.items() if v == sector]
        return (max(xs) + CLOUD_OFFSET + MARGIN) if xs else MARGIN

    placed = set(structure.stocks)  # variables defined (not shadowed) in some view

    # flows: a valve with its rate variable in the view of the stock it fills (else drains)
    flows_by_name: dict[str, list] = {}
    for flow in structure.flows:
        if flow.name in uses:  # an unnamed expression term: its inputs are arrows into the stock
            flows_by_name.setdefault(flow.name, []).append(flow)
    boundary_count: dict[str, int] = {}
    for name, flows in flows_by_name.items():
        first = flows[0]
        anchor = first.target or first.source
        home = owner[anchor]
        view = views[home]
        ax, ay = position[(home, anchor)]
        other = first.source if first.target else None
        if other is not None and (home, other) in position:
            ox, oy = position[(home, other)]
            x, y = (ax + ox) / 2 + 40, (ay + oy) / 2
        else:
            k = boundary_count.get(anchor, 0)
            boundary_count[anchor] = k + 1
            side = -1 if first.target else 1  # inflows from the left, outflows to the right
            x, y = ax + side * VALVE_OFFSET, ay + (k - 0.5) * FLOW_SPACING
        position[(home, name)] = (x, y)
        valve = view.valve(x, y)
        view.variable(name, x, y + 24, 40)
        placed.add(name)
        for flow in flows:
            for end_stock, head in ((flow.target, True), (flow.source, False)):
                ex = x + (CLOUD_OFFSET - VALVE_OFFSET) * (1 if head else -1)
                if end_stock is None:
                    view.pipe(valve, view.cloud(ex, y), ex, y, head)
                elif end_stock in view.ids:
                    px, py = position.get((home, end_stock), (ex, y))
                    view.pipe(valve, view.ids[end_stock], px, py, head)
                else:  # a stock of another sector: its shadow at the pipe's end
                    view.pipe(valve, view.variable(end_stock, ex, y, 3, shadow=True), ex, y, head)

    # every other variable of a sector in a grid beside its stocks
    view_bottom: dict[str, float] = {}
    for sector in sectors:
        view = views[sector]
        rest = [n for n in uses if owner[n] == sector and n not in placed]
        left = right_edge(sector)
        for k, name in enumerate(rest):
            x, y = left + (k % GRID_COLUMNS) * GRID_DX, MARGIN + (k // GRID_COLUMNS) * GRID_DY
            view.variable(name, x, y, 8)
            position[(sector, name)] = (x, y)
            placed.add(name)
        ys = [p[1] for (v, _), p in position.items() if v == sector] or [MARGIN]
        view_bottom[sector] = max(ys) + 2 * GRID_DY

    # information arrows; what a view uses from other views appears there as a shadow
    for sector in sectors:
        view = views[sector]
        defined = [n for n, _ in list(view.ids.items()) if (sector, n) in position]
        shadows = 0
        for name in defined:
            for used in sorted(uses.get(name, ())):
                if used not in view.ids:
                    x = MARGIN + (shadows % GRID_COLUMNS) * GRID_DX
                    y = view_bottom[sector] + GRID_DY * (1 + shadows // GRID_COLUMNS)
                    view.variable(used, x, y, 3 if used in stocks else 8, shadow=True)
                    shadows += 1
                view.arrow(view.ids[used], view.ids[name])
    return [views[s] for s in sectors if views[s].lines]


def sketch_text(mdl_path: Path, settings: str = SETTINGS_DEFAULT) -> str:
    """The whole sketch section (views, the end marker, Vensim's settings block)."""
    return "".join(view.text() for view in build_views(mdl_path)) + SKETCH_END + "\n" + settings


def split_model(text: str) -> tuple[str, str, str]:
    """(equations, sketch views, settings after the sketch's end marker) of a .mdl text."""
    head, marker, rest = text.partition(SKETCH_MARKER)
    if not marker:
        return text, "", SETTINGS_DEFAULT
    views, end, settings = (marker + rest).partition(SKETCH_END)
    settings = settings[1:] if settings.startswith("\n") else settings
    return head, views, settings or SETTINGS_DEFAULT


def with_sketch(mdl_path: Path) -> str:
    """The model file's text with its sketch section regenerated (equations untouched)."""
    text = Path(mdl_path).read_text(encoding="utf-8")
    head, _, settings = split_model(text)
    return head.rstrip("\n") + "\n\n" + sketch_text(mdl_path, settings)


def write(mdl_path: Path) -> bool:
    """Rewrite the sketch section in place (atomically); True if the file changed."""
    mdl_path = Path(mdl_path)
    new = with_sketch(mdl_path)
    if new == mdl_path.read_text(encoding="utf-8"):
        return False
    atomic_write_text(mdl_path, new)
    return True


def main(argv: list[str] | None = None) -> int:
    from innosd.model import MODEL_FILE

    parser = argparse.ArgumentParser(prog="innosd sketch", description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default=str(MODEL_FILE), help="Vensim .mdl (default: the project's)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the model file's sketch section")
    action.add_argument("--check", action="store_true", help="exit 1 if the sketch section is out of date")
    args = parser.parse_args(argv)
    path = Path(args.model)
    if not path.is_file() or path.suffix.lower() != ".mdl":
        raise ModelError(f"{path}: not a Vensim .mdl file")
    if args.write:
        changed = write(path)
        print(f"innosd sketch: {path}: sketch section {'rewritten' if changed else 'already up to date'}")
        return 0
    if args.check:
        current = path.read_text(encoding="utf-8") == with_sketch(path)
        print(f"innosd sketch: {path}: sketch section {'up to date' if current else 'OUT OF DATE: run --write'}")
        return 0 if current else 1
    sys.stdout.write(sketch_text(path))
    return 0


__all__ = ["View", "build_views", "sketch_text", "split_model", "with_sketch", "write"]


if __name__ == "__main__":
    sys.exit(main())
