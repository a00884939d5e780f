"""`innosd validate [MODEL]`: the system-dynamics validation battery, as one table.

    innosd validate                         the project model (model/guangzhou_innovation.mdl)
    innosd validate other.mdl               any Vensim model (its reality_checks.yaml, if any)
    innosd validate --out DIR               write the folder to DIR instead of
                                            outputs/validation/YYYY-MM-DD/HH-MM-SS
    innosd validate --params NAME           parameter set NAME (./params/NAME.yaml, else scenarios/params/)
                                            (default: calibrated if it exists, else the
                                            model file's defaults)
    innosd validate --draws N --seed S      posterior draws for the conclusions test

Tests: dimensional consistency, mass balance, extreme conditions, reality checks
(`reality_checks.yaml` beside the model), integration error, behaviour reproduction
(project model: observations.csv) and sensitivity of conclusions (project model:
scenarios x posterior draws). Prints the table, writes `validation.md`,
`validation.csv`, the detail tables, `config.yaml` and `metadata.json` atomically;
exits 1 if any test fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from innosd.experiments.commands import OneLineParser, add_model_arguments, existing_model
from innosd.errors import ConfigError
from innosd.experiments.validate import DEFAULT_DRAWS, PROJECT_MODEL, default_out, markdown_table, run_battery, write_folder
from innosd.model import validation as V


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="innosd validate", description=__doc__.split("\n")[0], add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    add_model_arguments(p, str(PROJECT_MODEL))
    p.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help="posterior draws for the conclusions test")
    p.add_argument("--seed", type=int, default=0, help="seed for choosing posterior draws")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.help:
        print(__doc__.strip())
        return 0
    model_path = existing_model(args.model)
    if args.draws < 1:
        raise ConfigError(f"--draws must be at least 1, got {args.draws}")
    out = Path(args.out) if args.out else default_out(dt.datetime.now())
    if out.exists():
        raise ConfigError(f"--out {out}: folder already exists; choose a new one")
    started = time.perf_counter()
    results, details, config = run_battery(model_path, args.params, args.draws, args.seed, args.params_dir)
    write_folder(out, results, details, config, model_path, args.seed, argv)
    print(markdown_table(results))
    overall = V.worst(r.result for r in results)
    print(f"innosd validate: {overall} ({sum(r.result == V.FAIL for r in results)} fail, "
          f"{sum(r.result == V.WARN for r in results)} warn) in {time.perf_counter() - started:.1f} s -> {out}",
          file=sys.stderr)
    return 1 if overall == V.FAIL else 0
