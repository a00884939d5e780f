"""`innosd loops [MODEL]`: which feedback loops dominate over time (Loops That Matter).

    innosd loops                               the project model, key indicators, calibrated parameters
    innosd loops other.mdl                     any Vensim model (key variables: its stocks)
    innosd loops --vars "high tech enterprises,rd intensity"
    innosd loops --params model_defaults       parameter set NAME (./params/NAME.yaml, else scenarios/params/);
                                               default: calibrated if it exists, else the model file's values
    innosd loops --set "growth rate=0.2"       set a constant (repeatable)
    innosd loops --out DIR                     write the folder to DIR instead of outputs/loops/DATE/TIME

One run at TIME STEP resolution: link scores from the compiled core, loop scores and relative
loop scores of every feedback loop (exhaustive below innosd.model.loops.MAX_ENUMERATED_LOOPS
loops, else the strongest-path search), per key variable the dominant loop over time. Writes
loops.csv, loop_scores.csv, variables.csv, variable_scores.csv, dominance.csv,
dominance_periods.csv, a figure per key variable (loops_<variable>.png/.pdf/.svg), config.yaml
and metadata.json, atomically.
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
    return p


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
    base, description, _ = parameter_set(args.params, project, params_dir)
    params = {**base, **_parse_sets(args.sets)}
    model = compile_model(model_path)
    run.check_params(model, params, model_path.name)
    analysis, per_variable = run.run_loops(model_path, params, variables)
    config = {"model": str(model_path), "parameters": description, "params": params,
              "variables": list(per_variable), "max_enumerated_loops": run.L.MAX_ENUMERATED_LOOPS,
              "reported_loops": run.L.REPORTED_LOOPS, "language": language}
    shares = run.write_folder(out, analysis, per_variable, config, model_path, "innosd loops " + " ".join(argv),
                              language)
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
