"""`innosd calibrate`: Bayesian calibration to the 2013-2016 figures.

    innosd calibrate                                    the default calibration
    innosd calibrate calibration.sampler.steps=500      fewer MCMC steps
    innosd calibrate seed=1 handoff.write=false         another seed, keep ./params as is
    innosd calibrate '~calibration.parameters.rd_per_hte'   calibrate without one prior (Hydra's ~KEY)
    innosd calibrate --bench                            time optimisation + MCMC only, write nothing
    innosd calibrate hydra.run.dir=DIR                  write the run folder to DIR (Hydra's convention)
    innosd calibrate --cfg job                          print the composed config
    innosd calibrate --compare RUN_A RUN_B              PSIS-LOO of two calibration runs and their difference (SE)
    innosd calibrate --compare-models A B [OVERRIDES]   calibrate two model structures on the same rows, then
                                                        compare them by PSIS-LOO; A, B: calibration configs
                                                        (compare_v1 = model v1, compare_v2 = model v2) or PATH.mdl

Config: `scenarios/calibrate.yaml` (root) and the group `scenarios/calibration/` (priors,
observations with their errors, optimiser, sampler, profiles). Writes the run folder
OUTPUT_DIR/calibration/YYYY-MM-DD/HH-MM-SS_<name> (posterior.nc, fit.csv, parameters.csv,
correlations.csv, profiles.csv, summary.md, figures, config.yaml, metadata.json) and, with
`handoff.write=true`, the hand-off `params/calibrated.yaml` + `calibrated_draws.csv` under the
working directory (`handoff.params_dir`; `$INNOSD_PARAMS_DIR`), where `innosd run params=calibrated`
finds it before the shipped parameter set; never into the installed package.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from innosd.experiments.commands import OneLineParser
from innosd.experiments import calibrate
from innosd.scenarios import compose


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="innosd calibrate", add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--bench", action="store_true", help="time optimisation + MCMC only, write nothing")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="compare two calibration run folders by PSIS-LOO (their posterior.nc)")
    p.add_argument("--compare-models", nargs=2, metavar=("A", "B"),
                   help="calibrate two model structures (calibration config names or PATH.mdl) with the same "
                        "overrides and seed, and compare them by PSIS-LOO")
    p.add_argument("--cfg", "-c", choices=("job", "hydra", "all"), help="print the composed config (Hydra's --cfg)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides KEY=VALUE, +KEY=VALUE, ~KEY")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.help:
        print(__doc__.strip())
        return 0
    if args.compare:
        from innosd.calibration.compare import compare_runs

        print(compare_runs(*map(Path, args.compare)))
        return 0
    if args.compare_models:
        text, _ = calibrate.compare_models(tuple(args.compare_models), args.overrides,
                                           "innosd calibrate " + " ".join(argv))
        print(text)
        return 0
    if args.cfg:
        with compose.hydra_app(compose.CONFIG_DIR) as app, compose.one_line_errors():
            app.show_cfg("calibrate", compose.prepare_overrides(args.overrides, "calibrate"), args.cfg, None)
        return 0
    config, model = calibrate.load_config(args.overrides)
    calibrate.use_threads(config.threads)
    if args.bench:
        return calibrate.bench(config, model)
    calibrate.run(config, model, "innosd calibrate " + " ".join(argv))
    return 0
