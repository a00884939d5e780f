"""`innosd backtest`: calibrate with the observations up to a year, project, score the later ones.

    innosd backtest                                 until 2015 (default), score 2016
    innosd backtest --until 2014                    calibrate on 2013-2014, score 2015 and 2016
    innosd backtest backtest.world=central          hold the outside world at its central values
    innosd backtest calibration.sampler.steps=3000  a larger sampler budget (default: small, for CI)
    innosd backtest hydra.run.dir=DIR               write the folder to DIR (Hydra's convention)
    innosd backtest --cfg job                       print the composed config

Config: `scenarios/backtest.yaml` (the `backtest` section; the rest is `calibrate.yaml` with the
small-budget `calibration/backtest.yaml`, `data.until_year` = `backtest.until`). Writes
OUTPUT_DIR/backtest/YYYY-MM-DD/HH-MM-SS_untilYEAR: backtest.csv (per indicator: median absolute
error of growth over the base year, coverage of the 90% predictive band), backtest_points.csv
(every scored observation), world.csv, fit.csv (the in-sample fit), backtest.png/.pdf/.svg,
config.yaml and metadata.json, atomically. `innosd report FOLDER` adds it to a report.
"""

from __future__ import annotations

import argparse

from innosd.experiments.commands import OneLineParser
from innosd.scenarios import compose


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="innosd backtest", add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--until", type=int, help="last observation year the calibration sees (backtest.until)")
    p.add_argument("--cfg", "-c", choices=("job", "hydra", "all"), help="print the composed config (Hydra's --cfg)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides KEY=VALUE, +KEY=VALUE, ~KEY")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_intermixed_args(argv)  # options and Hydra overrides in any order
    if args.help:
        print(__doc__.strip())
        return 0
    overrides = list(args.overrides) + ([f"backtest.until={args.until}"] if args.until is not None else [])
    if args.cfg:
        with compose.hydra_app(compose.CONFIG_DIR) as app, compose.one_line_errors():
            app.show_cfg("backtest", compose.prepare_overrides(overrides, "backtest"), args.cfg, None)
        return 0
    from innosd.experiments import backtest, calibrate  # the calibration stack: only when a backtest runs
    from innosd.model import MODEL_FILE, compile_model

    model = compile_model(MODEL_FILE)
    config = backtest.load_config(overrides, model)
    calibrate.use_threads(config.calibration.threads)
    backtest.run(config, model, "innosd backtest " + " ".join(argv))
    return 0
