"""`innosd app`: the what-if page, served locally (Panel/Bokeh, in this process).

    innosd app                              the project's model: levers, posterior draws, plan targets
    innosd app --port 8080 --host 0.0.0.0   another port; listen beyond this machine (default 127.0.0.1)
    innosd app --params calibrated --draws 500 --language zh
    innosd app MODEL.mdl                    any Vensim model: a slider per constant with a declared range
    innosd app --bench [--moves 50]         latency: headless Chromium moves a slider, prints median/p95

Prints the page's URL; stops on Ctrl-C. Each browser tab has its own state.
"""

from __future__ import annotations

import sys
from pathlib import Path

from innosd.errors import ConfigError, ModelError
from innosd.experiments.commands import OneLineParser
from innosd.scenarios.languages import check_language


def parser() -> OneLineParser:
    p = OneLineParser(prog="innosd app", description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", help="a Vensim .mdl file (default: the project's model and its levers)")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default 5006; 0 picks a free one)")
    p.add_argument("--params", default="calibrated", help="parameter set (scenarios/params or ./params)")
    p.add_argument("--draws", type=int, default=200, help="posterior draws per evaluation")
    p.add_argument("--seed", type=int, default=0, help="seed choosing the draws (as run.seed)")
    p.add_argument("--language", default="en", help="en or zh")
    p.add_argument("--bench", action="store_true", help="measure input-to-redraw latency in headless Chromium")
    p.add_argument("--moves", type=int, default=50, help="slider moves for --bench")
    p.add_argument("--chromium", default=None, help="Chromium executable for --bench (default /usr/bin/chromium)")
    return p


def page_factory(args):
    """A function building one tab's page (called by the server for every new session)."""
    if args.model:
        from innosd.experiments.app.model_page import ModelPage

        path = Path(args.model)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        ModelPage(path, args.language)  # fail here, once, with one line, not in every tab
        return lambda: ModelPage(path, args.language).view()
    from innosd.experiments.app.page import PlanPage

    PlanPage(args.params, args.draws, args.seed, args.language)  # compose, draws, baseline: errors now
    return lambda: PlanPage(args.params, args.draws, args.seed, args.language).view()


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    check_language(args.language)
    if args.draws < 1:
        raise ConfigError(f"--draws: {args.draws} is not a positive number of draws")
    if args.bench:
        from innosd.experiments.app import bench

        return bench.main(args)
    from innosd.experiments.app.server import DEFAULT_HOST, DEFAULT_PORT, start

    factory = page_factory(args)
    served = start(factory, args.host or DEFAULT_HOST, DEFAULT_PORT if args.port is None else args.port)
    print(f"innosd app: serving {served.url}  (Ctrl-C stops)", flush=True)
    try:
        served.run()
    except KeyboardInterrupt:
        print("innosd app: stopped", file=sys.stderr)
    return 0
