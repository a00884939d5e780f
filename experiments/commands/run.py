"""`innosd run`: scenario runs from Hydra configs, one run folder each (a Hydra app).

    innosd run                                   the baseline (2016 policies continue)
    innosd run scenario=incubator_doubling       another scenario
    innosd run -m scenario=baseline,talent_programmes   a sweep, with a comparison figure
    innosd run -m 'scenario=glob(*)'             every scenario (the main job)
    innosd run -m 'scenario=glob(*)' hydra/launcher=joblib   the same, jobs in parallel processes
    innosd run -m 'scenario.levers.fiscal_st.change=range(0,2,0.5)'   a lever sweep
    innosd run params.hte_exit_rate=0.04         override a model constant
    innosd run scenario.levers.talent.change=3   move a lever
    innosd run hydra.run.dir=DIR                 write the run folder to DIR (-m: hydra.sweep.dir=DIR)
    innosd run --cfg job                         print the composed config (Hydra's --cfg/--info work)
    innosd run --list-scenarios | --list-levers | --list-params

    innosd run params=calibrated                 a parameter set: ./params/NAME.yaml (your
                                                 `innosd calibrate` hand-off) first, then the shipped ones
    innosd run +experiment=projections           every scenario over posterior draws
    innosd run +experiment=attainment            probability of each plan target per scenario
    innosd run +experiment=sensitivity           Sobol and Morris indices (SALib)
    innosd run +experiment=policy_search         cheapest lever mix reaching targets, Pareto front
    innosd run +experiment=sensitivity run.scheduler=tcp://HOST:8786   on an existing Dask cluster

A run is named by its scenario plus what its overrides change (baseline+fiscal_st.change=0.5).
Its folder (hydra.run.dir, by default OUTPUT_DIR/YYYY-MM-DD/HH-MM-SS_<scenario>; in a sweep
hydra.sweep.dir/<n>_<scenario>, by default under OUTPUT_DIR/multirun/) holds `results.nc`,
`targets.csv`, `levers.csv`, `config.yaml`, `metadata.json` and the figures; with posterior
draws (uncertainty.mode=auto|posterior) also `ensemble.nc`, `projections.csv` and
`attainment.csv`, and a sweep collects them across its runs. Experiments write
OUTPUT_DIR/experiments/YYYY-MM-DD/HH-MM-SS_<experiment>. Folders appear only when
complete; an interrupted ensemble resumes from its finished chunks (OUTPUT_DIR/.chunks).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from pathlib import Path

from hydra._internal.utils import get_args_parser

from innosd.experiments.commands import OneLineParser
from innosd.errors import ConfigError
from innosd.experiments import run as runs
from innosd.model import MODEL_FILE
from innosd.model import compile_model
from innosd.model.info import model_info
from innosd.scenarios.levers import COST_UNIT, lever_docs
from innosd.rundir import atomic_directory
from innosd.scenarios import build, compose

LISTINGS = ("--list-scenarios", "--list-levers", "--list-params")
# Hydra options innosd does not support (its config root is fixed: scenarios/ plus ./params)
REFUSED = ("config_path", "config_name", "config_dir", "experimental_rerun", "shell_completion")


def parser() -> argparse.ArgumentParser:
    """Hydra's own command-line parser (overrides, -m, --cfg, --info, ...) plus innosd's listings."""
    hydra_parser = get_args_parser()
    parsed = OneLineParser(prog="innosd run", parents=[hydra_parser], add_help=False,
                           conflict_handler="resolve")
    for flag in LISTINGS:
        parsed.add_argument(flag, action="store_true")
    return parsed


@contextlib.contextmanager
def root_logging_restored():
    """Keep the root logger as it was (its handlers and level) across a block."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def listing(flag: str) -> str:
    info = model_info(MODEL_FILE)
    if flag == "--list-scenarios":
        return "\n".join(compose.options("scenario", compose.CONFIG_DIR))
    if flag == "--list-levers":
        return lever_listing(info)
    return "\n".join(f"{c.name.replace(' ', '_')}\t{c.default:g}\t[{c.lower:g}, {c.upper:g}]\t{c.units}"
                     for c in info.constants.values())


LEVER_BASELINE_TIME = 2017.0  # levers start in 2017 by default: the value they scale on 1 January 2017


def lever_listing(info) -> str:
    """Every lever: meaning, what `change` does, its range, the value it scales (model file
    values, 2017), that value's unit, and its cost model (unit costs, basis, source)."""
    docs = lever_docs(info)
    scaled = sorted({d.scales for d in docs.values() if d.scales})
    baseline = compile_model(MODEL_FILE).run({}, return_columns=scaled) if scaled else None
    blocks = []
    for lever, doc in docs.items():
        lines = [lever, f"  meaning: {doc.meaning}",
                 f"  change:  relative; the scaled value x (1 + change), 0 = the 2016 policies continue; "
                 f"declared range [{doc.lower:g}, {doc.upper:g}]; set start/ramp_years for its timing"]
        if doc.scales:
            value = float(baseline.loc[LEVER_BASELINE_TIME, doc.scales])
            lines.append(f"  scales:  {doc.scales} = {value:,.4g} {info.units.get(doc.scales, '')} "
                         f"in {LEVER_BASELINE_TIME:g} (model file values)")
        if doc.cost:
            terms = ", ".join(f"{unit_cost:g} x {variable} [{info.units.get(variable, '')} x Year]"
                              for variable, unit_cost in doc.cost.items())
            lines.append(f"  cost:    {terms}, in {COST_UNIT}; basis: {doc.basis}; {doc.source}")
        else:
            lines.append("  cost:    no cost model in scenarios/levers.yaml (a policy search counts it as free)")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.help:
        print(__doc__.strip())
        return 0
    for flag in LISTINGS:
        if getattr(args, flag[2:].replace("-", "_")):
            print(listing(flag))
            return 0
    for name in REFUSED:
        if getattr(args, name):
            raise ConfigError(f"--{name.replace('_', '-')} is not supported by innosd run (its configs are "
                              "scenarios/ and ./params); see `innosd run --help`")
    for item in args.overrides:
        if "=" not in item and not item.startswith("~"):  # ~KEY deletes a key (Hydra)
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. scenario=baseline); "
                              "see `innosd run --help`")
    config_dir = compose.CONFIG_DIR  # read at call time: tests point it at a copy
    overrides = compose.prepare_overrides(args.overrides, "config")
    command = "innosd run " + " ".join(argv)
    with compose.hydra_app(config_dir) as app:
        if args.cfg or args.info or args.hydra_help:
            with compose.one_line_errors():
                if args.cfg:
                    app.show_cfg("config", overrides, args.cfg, args.package, args.resolve)
                elif args.info:
                    with root_logging_restored():  # Hydra's --info installs a stdout handler on the root logger
                        app.show_info(args.info, "config", overrides)
                else:
                    app.hydra_help("config", parser(), args)
            return 0
        jobs = compose.sweep_jobs(app, overrides, args.multirun)
        info = model_info(MODEL_FILE)
        configs = [build.compose_run_config(job, info, config_dir) for job in jobs]  # check all before any runs
        task = runs.RunJob(str(config_dir), command)
        if not args.multirun:
            result = runs.result_of(app.run("config", task, [*overrides, "hydra.mode=RUN"]))
            folder = Path(result["folder"])
            print(f"innosd run: {result['name']} -> {folder}")
            runs.report(folder, configs[0])
            return 0
        sweep_dir = Path(compose.hydra_settings("config", jobs[0], config_dir).sweep.dir)
        with atomic_directory(sweep_dir, unique=True) as tmp:
            with warnings.catch_warnings():  # joblib warns that its workers' stdout is not the terminal's
                warnings.simplefilter("ignore", UserWarning)
                batches = app.multirun("config", task, [*overrides, "hydra.mode=MULTIRUN",
                                                        f"hydra.sweep.dir={compose.quote(tmp)}"])
            returns = [runs.result_of(r) for batch in batches for r in batch]
            for result in returns:  # the jobs wrote into the hidden sweep folder; record their final place
                result["folder"] = str(tmp / Path(result["folder"]).name)
            runs.collect_sweep(tmp, jobs, configs, returns, command)
    sweep_dir = tmp.final  # another sweep may have taken the name in the same second
    print(f"innosd run: {len(jobs)} runs -> {sweep_dir}")
    if configs[0].experiment is None:
        runs.report(sweep_dir, configs[0], validate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
