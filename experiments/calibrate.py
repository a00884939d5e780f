"""`innosd calibrate`: Bayesian calibration to the 2013-2016 figures.

    innosd calibrate                                    the default calibration
    innosd calibrate calibration.sampler.steps=500      fewer MCMC steps
    innosd calibrate seed=1 handoff.write=false         another seed, keep scenarios/params as is
    innosd calibrate --bench                            time optimisation + MCMC only, write nothing

Config: `scenarios/calibrate.yaml` (root) and the group `scenarios/calibration/` (priors,
observations with their errors, optimiser, sampler, profiles). Writes the run folder
OUTPUT_DIR/calibration/YYYY-MM-DD/HH-MM-SS_<name> (posterior.nc, fit.csv, parameters.csv,
correlations.csv, profiles.csv, summary.md, figures, config.yaml, metadata.json) and, with
`handoff.write=true`, `scenarios/params/calibrated.yaml` + `calibrated_draws.csv`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from innosd.calibration import handoff
from innosd.calibration.data import load_observations
from innosd.calibration.likelihood import ObservationSet, select_observations
from innosd.calibration.pipeline import OptimiserSettings, ProfileSettings, SamplerSettings
from innosd.calibration.priors import Prior, parse_prior
from innosd.calibration.workflow import CalibrationSettings
from innosd.experiments.config import SCENARIOS_DIR, check_yaml, hydra_compose, mapping, unknown_keys
from innosd.model import MODEL_FILE

from innosd.errors import ConfigError, closest
from innosd.rundir import atomic_directory, provenance, write_metadata

TOP_KEYS = ("calibration", "seed", "run", "handoff")
CALIBRATION_KEYS = ("name", "window", "parameters", "observations", "optimiser", "sampler", "profile")
RUN_KEYS = ("output_dir", "figures", "progress", "threads")
HANDOFF_KEYS = ("write", "name", "draws", "params_dir")
OPTIONS = ("--bench", "--help", "-h")


@dataclass(frozen=True)
class CalibrateConfig:
    name: str
    priors: list[Prior]
    observations: ObservationSet
    settings: CalibrationSettings
    output_dir: str
    figures: bool
    progress: bool
    threads: int
    handoff_write: bool
    handoff_name: str
    handoff_draws: int
    params_dir: Path
    raw: dict


# ----------------------------------------------------------------------------- compose

def compose_raw(overrides: list[str], config_dir: Path = SCENARIOS_DIR) -> dict[str, Any]:
    """Hydra compose of `calibrate.yaml` -> plain dict; one-line ConfigError on any problem."""
    group = "default"
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. calibration.sampler.steps=500)")
        bare = key.lstrip("+~")
        section = bare.partition(".")[0]
        if section not in TOP_KEYS:
            raise ConfigError(f"{bare}: unknown key{closest(section, TOP_KEYS)}; valid top-level keys: "
                              + ", ".join(TOP_KEYS))
        if bare == "calibration":
            group = value
    names = sorted(p.stem for p in (config_dir / "calibration").glob("*.yaml"))
    if group not in names:
        raise ConfigError(f"calibration: unknown calibration config {group!r}{closest(group, names)}; "
                          f"valid: {', '.join(names)}")
    for path in (config_dir / "calibrate.yaml", config_dir / "calibration" / f"{group}.yaml"):
        check_yaml(path)
    # nested keys are force-added ('++'), so a new prior or indicator needs no '+' and a
    # misspelt key reaches `validate`, which names it with the valid choices
    prepared = [f"++{o.lstrip('+')}" if "." in o.partition("=")[0] and not o.startswith("~") else o
                for o in overrides]
    return hydra_compose(config_dir, "calibrate", prepared)[0]


# ----------------------------------------------------------------------------- validate

def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not re.fullmatch(r"-?\d+", str(value)):
        raise ConfigError(f"{key}: {value!r} is not an integer")
    if int(value) < minimum:
        raise ConfigError(f"{key}: {int(value)} is below the minimum {minimum}")
    return int(value)


def resolve_parameter(name: str, parameters, key: str) -> str:
    """Config names may use underscores for the .mdl's spaces (rd_public_2013 = 'rd public 2013')."""
    for candidate in (name, name.replace("_", " ")):
        if candidate in parameters.index:
            return candidate
    choices = [n for n in parameters.index if "scenario" not in n]
    raise ConfigError(f"{key}: unknown model parameter {name!r}{closest(name.replace('_', ' '), choices)}; "
                      f"see `innosd run --list-params` for the {len(parameters)} valid names")


def _bound(value: Any, fallback: float) -> float:
    return fallback if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _file_name(value: Any, key: str, names: str) -> str:
    """A name used in file paths: checked before the calibration runs, not when writing after it."""
    name = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or set(name) == {"."}:
        raise ConfigError(f"{key}: {name!r} must be letters, digits, '_', '-' or '.' (it names {names})")
    return name


def validate(raw: dict[str, Any], model, observations) -> CalibrateConfig:
    """Check a composed config against the model and the observations file."""
    unknown_keys(raw, TOP_KEYS, "config")
    cal = mapping(raw.get("calibration"), "calibration")
    unknown_keys(cal, CALIBRATION_KEYS, "calibration")
    table = model.parameters
    priors, seen = [], set()
    for key, spec in mapping(cal.get("parameters"), "calibration.parameters").items():
        where = f"calibration.parameters.{key}"
        name = resolve_parameter(str(key), table, where)
        if name in seen:
            raise ConfigError(f"{where}: {name!r} is given twice")
        seen.add(name)
        row = table.loc[name]
        priors.append(parse_prior(name, spec, where, (_bound(row["min"], -math.inf), _bound(row["max"], math.inf)),
                                  str(row["units"] or "")))
    if not priors:
        raise ConfigError("calibration.parameters: no free constants configured")
    window = cal.get("window") or [2013, 2016]
    if not isinstance(window, list) or len(window) != 2:
        raise ConfigError(f"calibration.window: expected [first_year, last_year], got {window!r}")
    obs = select_observations(observations, mapping(cal.get("observations"), "calibration.observations"),
                              (_int(window[0], "calibration.window[0]", 1990),
                               _int(window[1], "calibration.window[1]", 1990)), model.columns)

    opt = mapping(cal.get("optimiser"), "calibration.optimiser")
    unknown_keys(opt, tuple(OptimiserSettings.__dataclass_fields__), "calibration.optimiser")
    optimiser = OptimiserSettings(**{k: _int(v, f"calibration.optimiser.{k}", 0) for k, v in opt.items()})
    smp = mapping(cal.get("sampler"), "calibration.sampler")
    unknown_keys(smp, tuple(SamplerSettings.__dataclass_fields__), "calibration.sampler")
    moves = smp.pop("moves", "de")
    if moves not in ("de", "stretch"):
        raise ConfigError(f"calibration.sampler.moves: {moves!r} is not one of de, stretch")
    minimum = {"walkers": 2 * len(priors), "steps": 1, "burn": 0, "thin": 1}
    sampler = SamplerSettings(moves=moves, **{k: _int(v, f"calibration.sampler.{k}", minimum[k])
                                              for k, v in smp.items()})
    if sampler.burn >= sampler.steps:
        raise ConfigError(f"calibration.sampler.burn: {sampler.burn} warm-up steps leave nothing of "
                          f"{sampler.steps} steps")
    prof = mapping(cal.get("profile"), "calibration.profile")
    unknown_keys(prof, ("parameters", "points", "max_iterations"), "calibration.profile")
    listed = prof.get("parameters") or []
    profiled = tuple(resolve_parameter(str(n), table, f"calibration.profile.parameters.{n}")
                     for n in ([listed] if isinstance(listed, str) else listed))  # one name or a list
    missing = [n for n in profiled if n not in seen]
    if missing:
        raise ConfigError(f"calibration.profile.parameters: {missing[0]!r} is not a free parameter of this "
                          "calibration")
    profile = ProfileSettings(profiled, _int(prof.get("points", 11), "calibration.profile.points", 3),
                              _int(prof.get("max_iterations", 30), "calibration.profile.max_iterations", 1))

    run = mapping(raw.get("run"), "run")
    unknown_keys(run, RUN_KEYS, "run")
    hand = mapping(raw.get("handoff"), "handoff")
    unknown_keys(hand, HANDOFF_KEYS, "handoff")
    name = _file_name(cal.get("name") or "calibration", "calibration.name", "a folder")
    handoff_name = _file_name(hand.get("name", "calibrated"), "handoff.name",
                              "scenarios/params/<name>.yaml and <name>_draws.csv")
    settings = CalibrationSettings(optimiser, sampler, profile, _int(raw.get("seed", 0), "seed", 0))
    params_dir = Path(hand.get("params_dir") or handoff.PARAMS_DIR)
    return CalibrateConfig(name, priors, obs, settings, str(run.get("output_dir", "outputs")),
                           bool(run.get("figures", True)), bool(run.get("progress", True)),
                           _int(run.get("threads", 1), "run.threads", 1),
                           bool(hand.get("write", True)), handoff_name,
                           _int(hand.get("draws", 1000), "handoff.draws", 1), params_dir, raw)


def use_threads(threads: int) -> None:
    """Numba threads of the compiled kernels for this process (see `run.threads` in calibrate.yaml)."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def load_config(overrides: list[str]) -> tuple[CalibrateConfig, Any]:
    from innosd.model import compile_model

    model = compile_model(MODEL_FILE)
    return validate(compose_raw(overrides), model, load_observations()), model


# ----------------------------------------------------------------------------- run

def model_defaults(model, priors: list[Prior]) -> np.ndarray | None:
    """The model file's values of the free constants, if all inside the prior box (an extra start)."""
    values = np.array([float(model.parameters.loc[p.name, "default"]) for p in priors])
    inside = all(p.lower <= v <= p.upper for p, v in zip(priors, values))
    return values[None, :] if inside else None


def thinned_draws(result, n: int, seed: int):
    draws = result.natural_draws()
    if n < len(draws):
        rows = np.sort(np.random.default_rng([seed, 3]).choice(len(draws), size=n, replace=False))
        draws = draws.iloc[rows]
    return draws.reset_index(drop=True)


def write_figures(folder: Path) -> None:
    """Fit, marginal posteriors vs priors, pairwise correlations, from the saved tables."""
    import pandas as pd
    from innosd.figures import report_figures as api
    from innosd.figures.plots import save_figure

    fit = pd.read_csv(folder / "fit.csv")
    parameters = pd.read_csv(folder / "parameters.csv")
    correlations = pd.read_csv(folder / "correlations.csv", index_col=0)
    save_figure(api.calibration_fit(fit), folder / "figures" / "calibration_fit")
    save_figure(api.prior_posterior(parameters, folder / "posterior.nc"), folder / "figures" / "prior_posterior")
    save_figure(api.pairwise_correlations(correlations), folder / "figures" / "pairwise_correlations")


def write_run(folder: Path, config: CalibrateConfig, result, attrs: dict[str, str]) -> None:
    from innosd.calibration import outputs

    with atomic_directory(folder) as tmp:
        outputs.inference_data(result, attrs).to_netcdf(str(tmp / "posterior.nc"))
        outputs.write_tables(tmp, result)
        write_metadata(tmp, "calibration", seed=int(config.settings.seed), command=attrs["command"],
                       config=config.raw, recorded=attrs, extra={"calibration": config.name})
        (tmp / "summary.md").write_text(outputs.summary_markdown(result, config.name, str(folder),
                                                                 attrs["git_commit"]), encoding="utf-8")
        if config.figures:
            (tmp / "figures").mkdir()
            write_figures(tmp)


def bench(config: CalibrateConfig, model) -> int:
    """Optimisation + MCMC of the configured calibration, timed; writes nothing."""
    from innosd.calibration import pipeline
    from innosd.calibration.likelihood import LogPosterior

    logpost = LogPosterior(model, config.priors, config.observations)
    logpost(np.array([[p.working_bounds[0] for p in config.priors]]))  # compile/warm the kernel outside the clock
    logpost.evaluations = 0
    rng = np.random.default_rng(config.settings.seed)
    t0 = time.perf_counter()
    best, _ = pipeline.optimise(logpost, config.settings.optimiser, rng, model_defaults(model, config.priors))
    t1, n_opt = time.perf_counter(), logpost.evaluations
    pipeline.sample(logpost, best, config.settings.sampler, config.settings.seed, progress=config.progress)
    t2 = time.perf_counter()
    n_mcmc = logpost.evaluations - n_opt
    print(f"innosd calibrate --bench ({len(config.priors)} parameters, {config.settings.sampler.walkers} walkers "
          f"x {config.settings.sampler.steps} steps; shared machine, numbers are noisy)")
    print(f"  optimisation   {t1 - t0:7.1f} s  {n_opt:>9,} model evaluations")
    print(f"  MCMC           {t2 - t1:7.1f} s  {n_mcmc:>9,} model evaluations  ({n_mcmc / (t2 - t1):,.0f}/s)")
    print(f"  total          {t2 - t0:7.1f} s  {n_opt + n_mcmc:>9,} model evaluations")
    return 0


def main(argv: list[str]) -> int:
    from innosd.calibration.workflow import calibrate

    flags = [a for a in argv if a.startswith("-")]
    if "-h" in flags or "--help" in flags:
        print(__doc__.strip())
        return 0
    unknown = [f for f in flags if f not in OPTIONS]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}; valid options: {', '.join(OPTIONS)}")
    overrides = [a for a in argv if not a.startswith("-")]
    config, model = load_config(overrides)
    use_threads(config.threads)
    if "--bench" in flags:
        return bench(config, model)
    stamp = dt.datetime.now()
    folder = (Path(config.output_dir) / "calibration" / stamp.strftime("%Y-%m-%d")
              / f"{stamp.strftime('%H-%M-%S')}_{config.name}")
    result = calibrate(model, config.priors, config.observations, config.settings,
                       model_defaults(model, config.priors), progress=config.progress)
    attrs = provenance(config.raw, MODEL_FILE)
    attrs.update({"seed": str(config.settings.seed), "command": "innosd calibrate " + " ".join(argv)})
    write_run(folder, config, result, attrs)
    t = result.timings
    print(f"innosd calibrate: optimisation + MCMC {t.seconds['optimisation'] + t.seconds['mcmc']:.1f} s, "
          f"{t.evaluations['optimisation'] + t.evaluations['mcmc']:,} model evaluations; "
          f"all stages {sum(t.seconds.values()):.1f} s")
    if config.handoff_write:
        source = {"run_dir": str(folder), "git_commit": attrs["git_commit"], "created": attrs["created"],
                  "seed": config.settings.seed, "calibration": config.name}
        path = handoff.write_parameter_set(
            handoff.ParameterSet(config.handoff_name, result.posterior_median(), "posterior median",
                                 source=source),
            thinned_draws(result, config.handoff_draws, config.settings.seed), config.params_dir)
        print(f"innosd calibrate: parameter set -> {path}", file=sys.stderr)
    print(f"innosd calibrate: {config.name} -> {folder}")
    return 0
