"""`innosd loops [MODEL]`: which feedback loops dominate over time (Loops That Matter).

    innosd loops                               the project model, key indicators, calibrated parameters
    innosd loops other.mdl                     any Vensim model (key variables: its stocks)
    innosd loops --vars "high tech enterprises,rd intensity"
    innosd loops --params model_defaults       parameter set NAME (./params/NAME.yaml, else scenarios/params/);
                                               default: calibrated if it exists, else the model file's values
    innosd loops --set "growth rate=0.2"       set a constant (repeatable)
    innosd loops --out DIR                     write the folder to DIR instead of outputs/loops/DATE/TIME
    innosd loops --draws 4 --seed 0            repeat the family analysis on 4 posterior draws (family_draws.csv)
    innosd loops --all-loops                   loops.csv lists every loop enumerated (17 MB on the project
                                               model), not only the loops the tables name

One run at TIME STEP resolution: link scores from the compiled core, loop scores and relative
loop scores of every feedback loop (exhaustive below innosd.model.loops.MAX_ENUMERATED_LOOPS
loops, else the strongest-path search), per key variable the dominant loop over time, and loop
families (loops grouped by the model sectors they cross and their polarity: a few dozen families
where single loops number thousands). Writes loops.csv, loop_families.csv, family_shares.csv
(family_draws.csv with --draws), loop_scores.csv, variables.csv, variable_scores.csv,
dominance.csv, dominance_periods.csv, a figure per key variable (loops_<variable>.png/.pdf/.svg)
and of the families (loop_families.png/.pdf/.svg), config.yaml and metadata.json, atomically.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from innosd.experiments.commands import OneLineParser, add_model_arguments, existing_model
from innosd.experiments.commands.simulate import _parse_sets
from innosd.errors import ConfigError
from innosd.scenarios.languages import LANGUAGES, check_language

# loops printed per key variable (the folder's tables hold every one)
PRINTED_LOOPS = 3


def parser() -> argparse.ArgumentParser:
    from innosd.model import MODEL_FILE
    p = OneLineParser(prog="innosd loops", description=__doc__.split("\n")[0], add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    add_model_arguments(p, str(MODEL_FILE))
    p.add_argument("--vars", help="comma-separated key variables (default: key indicators / the stocks)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set a constant (repeatable)")
    p.add_argument("--language", default="en", help=f"figure language ({', '.join(LANGUAGES)})")
    p.add_argument("--all-loops", action="store_true", help="loops.csv lists every loop enumerated")
    p.add_argument("--draws", default="0", help="posterior draws of the parameter set to repeat the families on")
    p.add_argument("--seed", default="0", help="seed choosing the posterior draws")
    return p


def _count(value: str, option: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"{option}: {value!r} is not a whole number >= 0")
    return number


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.help:
        print(__doc__.strip())
        return 0
    from innosd.experiments import loops as run
    from innosd.experiments.validate import PROJECT_MODEL, default_params_dir, parameter_set
    from innosd.model import compile_model

    model_path = existing_model(args.model)
    language = check_language(args.language, "--language")
    out = Path(args.out) if args.out else run.default_out(dt.datetime.now())
    if out.exists():
        raise ConfigError(f"--out {out}: folder already exists; choose a new one")
    variables = [v.strip() for v in args.vars.split(",") if v.strip()] if args.vars else None
    if args.vars is not None and not variables:
        raise ConfigError("--vars: no variable named; give comma-separated model variables")
    started = time.perf_counter()
    project = model_path.resolve() == PROJECT_MODEL.resolve()
    params_dir = Path(args.params_dir) if args.params_dir else default_params_dir(args.params)
    base, description, ps = parameter_set(args.params, project, params_dir)
    params = {**base, **_parse_sets(args.sets)}
    n_draws, seed = _count(args.draws, "--draws"), _count(args.seed, "--seed")
    model = compile_model(model_path)
    run.check_params(model, params, model_path.name)
    draws = run.posterior_draws(ps, params_dir, n_draws, seed) if n_draws else None
    analysis, per_variable = run.run_loops(model_path, params, variables)
    config = {"model": str(model_path), "parameters": description, "params": params,
              "variables": list(per_variable), "max_enumerated_loops": run.L.MAX_ENUMERATED_LOOPS,
              "reported_loops": run.L.REPORTED_LOOPS, "language": language, "all_loops": args.all_loops,
              "draws": n_draws, "seed": seed}
    shares = run.write_folder(out, analysis, per_variable, config, model_path, "innosd loops " + " ".join(argv),
                              language, all_loops=args.all_loops, draws=draws, seed=seed)
    for name, weights in per_variable.items():
        top = run.top_loops(analysis, shares[name], PRINTED_LOOPS)
        if top.empty:
            print(f"{name}: no feedback loop acts on it")
            continue
        entries = run.entries_text(analysis, weights)
        print(f"{name}" + ("" if entries.startswith(f"{name} (") and ";" not in entries else f" (via {entries})")
              + ":")
        for row in top.itertuples():
            print(f"  {row.loop_id:>5}  mean |share| {row.mean_abs_share:.2f}  {row.variables}")
    print(f"innosd loops: {analysis.n_loops} loops ({analysis.method}) in {time.perf_counter() - started:.1f} s "
          f"-> {out}", file=sys.stderr)
    return 0
