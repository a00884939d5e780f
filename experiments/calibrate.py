"""Bayesian calibration to the 2013-2016 figures, from the composed `scenarios/calibrate.yaml`:
`load_config` composes and checks it (one-line errors), `run` calibrates and writes the run
folder OUTPUT_DIR/calibration/YYYY-MM-DD/HH-MM-SS_<name> and the hand-off, `bench` times
optimisation + MCMC. The command line is `innosd.experiments.commands.calibrate`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from innosd.calibration import handoff
from innosd.calibration.data import load_observations, load_user_observations
from innosd.calibration.likelihood import (BatchRunner, ObservationSet, error_priors, observations_from_columns,
                                          select_observations)
from innosd.calibration.priors import Prior, parse_prior
from innosd.calibration.workflow import CalibrationSettings, calibrate
from innosd.experiments import dask_exec
from innosd.model import MODEL_FILE

from innosd.errors import ConfigError, closest
from innosd.rundir import atomic_directory, check_file_name, check_writable, provenance, write_metadata
from innosd.scenarios import compose
from innosd.scenarios.schema import CalibrateSchema, ProfileSettings, typed



@dataclass(frozen=True)
class CalibrateConfig:
    name: str
    priors: list[Prior]
    observations: ObservationSet
    settings: CalibrationSettings
    folder: Path               # the run folder to write: hydra.run.dir (default under run.output_dir)
    figures: bool
    progress: bool
    threads: int
    handoff_write: bool
    handoff_name: str
    handoff_draws: int
    params_dir: Path
    raw: dict
    allow_dirty: bool = False
    model_file: Path = MODEL_FILE
    left_out: tuple[str, ...] = ()  # indicators without observations up to data.until_year
    scheduler: str = "local"        # run.scheduler: where the likelihood's model batches run
    workers: int = 2                # run.workers of scheduler=cluster
    fixed: tuple[tuple[str, float, str], ...] = ()  # (name, model file value, source) of calibration.fixed


# ----------------------------------------------------------------------------- compose and check

def compose_raw(overrides: list[str], config_dir: Path | None = None) -> tuple[dict[str, Any], Path]:
    """Hydra compose of `calibrate.yaml` -> (plain dict, the run folder `hydra.run.dir`);
    one-line ConfigError on any problem.

    Nested keys may be added without '+' (a new prior or indicator); a misspelt key reaches
    `validate`, which names it with the valid choices. `~KEY` deletes a key (Hydra)."""
    for item in overrides:
        if "=" not in item and not item.startswith("~"):
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. calibration.sampler.steps=500) "
                              "nor ~KEY (delete a key)")
    prepared = compose.prepare_overrides(list(overrides), "calibrate")
    raw, _, hydra = compose.compose("calibrate", prepared, Path(config_dir or compose.CONFIG_DIR))
    return raw, Path(hydra.run.dir)


def _minimum(value: int, key: str, minimum: int) -> int:
    if value < minimum:
        raise ConfigError(f"{key}: {value} is below the minimum {minimum}")
    return value


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


def marked_free_priors(free, table, seen: set[str]) -> list[Prior]:
    """`calibration.free`: constants made free with a uniform prior over their declared .mdl range
    (`marked`: every constant whose comment carries the free-parameter marker,
    innosd.model.validation.is_free_parameter). Constants with their own prior keep it."""
    from innosd.model.validation import is_free_parameter

    if free == "marked":
        names = [n for n in table.index if is_free_parameter(str(table.loc[n, "doc"] or ""))]
    elif isinstance(free, (list, tuple)):
        names = [resolve_parameter(str(n), table, f"calibration.free.{n}") for n in free]
    else:
        raise ConfigError(f"calibration.free: {free!r} is neither a list of constant names nor `marked`")
    priors = []
    for name in names:
        if name in seen:
            continue
        lower, upper = _bound(table.loc[name, "min"], math.nan), _bound(table.loc[name, "max"], math.nan)
        if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
            raise ConfigError(f"calibration.free.{name.replace(' ', '_')}: the model file declares no finite range "
                              f"for {name!r} (Vensim units '[lower, upper]'); give it a prior under "
                              "calibration.parameters instead")
        seen.add(name)
        priors.append(parse_prior(name, {"prior": "uniform", "lower": lower, "upper": upper,
                                         "source": f"the model file's free-parameter marker and declared range "
                                                   f"[{lower:g}, {upper:g}] (uniform over it)"},
                                  f"calibration.free.{name}", (lower, upper), str(table.loc[name, "units"] or "")))
    return priors


def validate(raw: dict[str, Any], model, observations, folder: Path) -> CalibrateConfig:
    """Check a composed config against the schema, the model and the observations file."""
    schema = typed(CalibrateSchema, raw, "")
    cal = schema.calibration
    table = model.parameters
    priors, seen = [], set()
    for key, spec in cal.parameters.items():
        where = f"calibration.parameters.{key}"
        name = resolve_parameter(str(key), table, where)
        if name in seen:
            raise ConfigError(f"{where}: {name!r} is given twice")
        seen.add(name)
        row = table.loc[name]
        priors.append(parse_prior(name, spec, where, (_bound(row["min"], -math.inf), _bound(row["max"], math.inf)),
                                  str(row["units"] or "")))
    fixed = fixed_constants(cal.fixed, table)
    held = {name for name, _, _ in fixed}
    both = next((name for name in held if name in seen), None)
    if both:
        raise ConfigError(f"calibration.fixed.{both.replace(' ', '_')}: {both!r} is also given a prior under "
                          "calibration.parameters; a constant is either free or fixed")
    priors += marked_free_priors(cal.free, table, seen | held)
    seen = {p.name for p in priors}
    if not priors:
        raise ConfigError("calibration.parameters: no free constants configured (and calibration.free is empty)")
    if len(cal.window) != 2:
        raise ConfigError(f"calibration.window: expected [first_year, last_year], got {cal.window!r}")
    window = (_minimum(cal.window[0], "calibration.window[0]", 1990),
              _minimum(cal.window[1], "calibration.window[1]", 1990))
    spec, left_out = cal.observations, ()
    until = schema.data.until_year
    if "time" in observations.columns:  # a user's short-format file: every row, its own sigma
        if cal.observations:
            raise ConfigError("calibration.observations: a user's observations file carries its own sigma per row; "
                              "leave calibration.observations empty ({})")
        obs = observations_from_columns(observations, model.columns, cal.likelihood,
                                        str(cal.observations_file))
    else:
        if until is not None:
            window = (window[0], min(window[1], _minimum(until, "data.until_year", window[0])))
            spec, left_out = observations_until(observations, cal.observations, window)
        obs = select_observations(observations, spec, window, model.columns, cal.likelihood)
    priors += error_priors(spec, cal.likelihood, parse_prior)
    for key, value in dataclasses.asdict(cal.optimiser).items():
        _minimum(value, f"calibration.optimiser.{key}", 0)
    sampler = cal.sampler
    if sampler.moves not in ("de", "stretch"):
        raise ConfigError(f"calibration.sampler.moves: {sampler.moves!r} is not one of de, stretch")
    for key, minimum in {"walkers": 2 * len(priors), "steps": 1, "burn": 0, "thin": 1}.items():
        _minimum(getattr(sampler, key), f"calibration.sampler.{key}", minimum)
    if sampler.burn >= sampler.steps:
        raise ConfigError(f"calibration.sampler.burn: {sampler.burn} warm-up steps leave nothing of "
                          f"{sampler.steps} steps")
    listed = cal.profile.parameters or []
    profiled = tuple(resolve_parameter(str(n), table, f"calibration.profile.parameters.{n}")
                     for n in ([listed] if isinstance(listed, str) else listed))  # one name or a list
    missing = [n for n in profiled if n not in seen]
    if missing:
        raise ConfigError(f"calibration.profile.parameters: {missing[0]!r} is not a free parameter of this "
                          "calibration")
    profile = ProfileSettings(profiled, _minimum(cal.profile.points, "calibration.profile.points", 3),
                              _minimum(cal.profile.max_iterations, "calibration.profile.max_iterations", 1))
    name = check_file_name(cal.name, "calibration.name", "a folder", ConfigError)
    hand = schema.handoff
    handoff_name = check_file_name(hand.name, "handoff.name", "params/<name>.yaml and <name>_draws.csv", ConfigError)
    settings = CalibrationSettings(cal.optimiser, sampler, profile, _minimum(schema.seed, "seed", 0))
    params_dir = Path(hand.params_dir) if hand.params_dir else compose.user_params_dir()
    run = schema.run
    return CalibrateConfig(name, priors, obs, settings, Path(folder), run.figures, run.progress,
                           _minimum(run.threads, "run.threads", 1), hand.write, handoff_name,
                           _minimum(hand.draws, "handoff.draws", 1), params_dir.absolute(), raw, hand.allow_dirty,
                           left_out=left_out, scheduler=run.scheduler, workers=run.workers, fixed=fixed)


def fixed_constants(spec: dict[str, Any], table) -> tuple[tuple[str, float, str], ...]:
    """`calibration.fixed`: constants held at the model file's (sourced) value although the .mdl marks
    them free, each with the source of that value; (name, value, source) for summary.md."""
    fixed = []
    for key, source in spec.items():
        where = f"calibration.fixed.{key}"
        name = resolve_parameter(str(key), table, where)
        if not isinstance(source, str) or not source.strip():
            raise ConfigError(f"{where}: expected the source of the model file's value (a quote), got {source!r}")
        fixed.append((name, float(table.loc[name, "default"]), source.strip()))
    return tuple(fixed)


def observations_until(observations, spec: dict[str, Any], window: tuple[int, int]
                       ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`data.until_year`: the configured indicators that have a row in the window, and those left
    out because all their rows come later (e.g. a 2016-only flow when calibrating up to 2015)."""
    inside = set(observations.loc[observations["year"].between(*window), "indicator"])
    later = set(observations["indicator"]) - inside  # a misspelt indicator stays, for its one-line error
    return {k: v for k, v in spec.items() if k not in later}, tuple(k for k in spec if k in later)


@contextlib.contextmanager
def batch_runner(config: CalibrateConfig) -> Iterator[BatchRunner | None]:
    """`run.scheduler`: None (in this process) for `local`; else the model batches of the likelihood
    split across the workers of a Dask LocalCluster or an existing scheduler (experiments.dask_exec:
    the same one-line errors for an unreachable scheduler or one without workers)."""
    if config.scheduler == "local":
        yield None
        return
    with dask_exec.dask_client(dask_exec.ExecSettings(config.scheduler, config.workers, progress=False)) as client:
        yield dask_exec.DaskBatches(client)


def use_threads(threads: int) -> None:
    """Numba threads of the compiled kernels for this process (see `run.threads` in calibrate.yaml)."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def resolve_model_file(path: str | None) -> Path:
    """`calibration.model`: null is the project model; a relative path is looked up from the working
    directory, then from the model package folder (where the shipped variants live: variants/v1.mdl)."""
    if not path:
        return MODEL_FILE
    candidates = [Path(path)] + ([MODEL_FILE.parent / path] if not Path(path).is_absolute() else [])
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ConfigError(f"calibration.model: {path}: no such model file (looked in "
                          f"{' and '.join(str(c.parent.absolute()) for c in candidates)})")
    return found


def load_config(overrides: list[str]) -> tuple[CalibrateConfig, Any]:
    """Compose and check `innosd calibrate`'s config; compile the model it names (calibration.model,
    default the project model) and read its observations (calibration.observations_file)."""
    from innosd.model import compile_model

    raw, folder = compose_raw(overrides)
    cal = raw.get("calibration") if isinstance(raw.get("calibration"), dict) else {}
    if cal.get("name") == "model_file" and not (cal.get("model") and cal.get("observations_file")):
        raise ConfigError("calibration=model_file needs calibration.model=PATH.mdl and "
                          "calibration.observations_file=PATH.csv")
    model_file = resolve_model_file(cal.get("model"))
    model = compile_model(model_file)
    data_file = cal.get("observations_file")
    observations = load_user_observations(data_file) if data_file else load_observations()
    config = validate(raw, model, observations, folder)
    return dataclasses.replace(config, model_file=model_file.absolute()), model


# ----------------------------------------------------------------------------- run

def model_defaults(model, priors: list[Prior]) -> np.ndarray | None:
    """The model file's values of the free constants, if all inside the prior box (an extra start)."""
    # an estimated error term has no model value: its prior's centre stands in
    values = np.array([float(model.parameters.loc[p.name, "default"]) if p.role == "constant"
                       else float(np.mean([p.lower, p.upper])) for p in priors])
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
    fit["year"] = fit["year"].fillna(fit["time"])  # a user's time-stamped rows: the model time on the x axis
    parameters = pd.read_csv(folder / "parameters.csv")
    correlations = pd.read_csv(folder / "correlations.csv", index_col=0)
    save_figure(api.calibration_fit(fit), folder / "figures" / "calibration_fit")
    save_figure(api.prior_posterior(parameters, folder / "posterior.nc"), folder / "figures" / "prior_posterior")
    save_figure(api.pairwise_correlations(correlations), folder / "figures" / "pairwise_correlations")


def write_run(folder: Path, config: CalibrateConfig, result, attrs: dict[str, str]) -> Path:
    """The calibration's run folder, written atomically; returns where it went (`NAME-2` if
    another calibration took the name in the same second)."""
    from innosd.calibration import outputs

    with atomic_directory(folder, unique=True) as tmp:
        outputs.inference_data(result, attrs).to_netcdf(str(tmp / "posterior.nc"))
        outputs.write_tables(tmp, result)
        write_metadata(tmp, "calibration", seed=int(config.settings.seed), command=attrs["command"],
                       config=config.raw, recorded=attrs, extra={"calibration": config.name})
        (tmp / "summary.md").write_text(outputs.summary_markdown(result, config.name, str(folder),
                                                                 attrs["git_commit"], config.fixed), encoding="utf-8")
        if config.figures:
            (tmp / "figures").mkdir()
            write_figures(tmp)
    return tmp.final


def bench(config: CalibrateConfig, model) -> int:
    """Optimisation + MCMC of the configured calibration, timed; writes nothing."""
    from innosd.calibration import pipeline
    from innosd.calibration.likelihood import LogPosterior

    with batch_runner(config) as runner:
        logpost = LogPosterior(model, config.priors, config.observations, runner=runner)
        logpost(np.array([[p.working_bounds[0] for p in config.priors]]))  # compile/warm the kernel outside the clock
        logpost.evaluations = 0
        rng = np.random.default_rng(config.settings.seed)
        t0 = time.perf_counter()
        best, _ = pipeline.optimise(logpost, config.settings.optimiser, rng, model_defaults(model, config.priors))
        t1, n_opt = time.perf_counter(), logpost.evaluations
        pipeline.draw(logpost, best, config.settings.sampler, config.settings.seed, progress=config.progress)
        t2 = time.perf_counter()
    n_mcmc = logpost.evaluations - n_opt
    sampler = config.settings.sampler
    budget = (f"{sampler.walkers} walkers x {sampler.steps} steps" if sampler.method == "emcee" else
              f"SMC {sampler.particles} particles, {sampler.chains} HMC chains x {sampler.iterations} iterations")
    print(f"innosd calibrate --bench ({len(config.priors)} parameters, {budget}; shared machine, numbers are noisy)")
    print(f"  optimisation   {t1 - t0:7.1f} s  {n_opt:>9,} model evaluations")
    print(f"  MCMC           {t2 - t1:7.1f} s  {n_mcmc:>9,} model evaluations  ({n_mcmc / (t2 - t1):,.0f}/s)")
    print(f"  total          {t2 - t0:7.1f} s  {n_opt + n_mcmc:>9,} model evaluations")
    return 0


def run(config: CalibrateConfig, model, command: str) -> Path:
    """Calibrate, write the run folder atomically and (handoff.write) the parameter set."""
    from innosd.calibration import outputs

    folder = config.folder
    # provenance before any work: the commit checked is the commit recorded, even if the tree changes meanwhile
    attrs = provenance(config.raw, config.model_file)
    if config.handoff_write:  # a refused hand-off should not cost a calibration
        handoff.refuse_dirty_tree(attrs["git_commit"], config.allow_dirty)
    with batch_runner(config) as runner:  # a scheduler that cannot run anything stops before any folder exists
        check_writable(config.folder.parent)  # before hours of sampling, not after
        if config.handoff_write:
            check_writable(config.params_dir, "hand-off folder (handoff.params_dir)")
        if config.left_out:
            print(f"innosd calibrate: data.until_year leaves out {', '.join(config.left_out)} (no observation "
                  "in the window)", file=sys.stderr)
        result = calibrate(model, config.priors, config.observations, config.settings,
                           model_defaults(model, config.priors), progress=config.progress, runner=runner)
    attrs.update({"seed": str(config.settings.seed), "command": command})
    folder = write_run(config.folder, config, result, attrs)
    t = result.timings
    print(f"innosd calibrate: optimisation + MCMC {t.seconds['optimisation'] + t.seconds['mcmc']:.1f} s, "
          f"{t.evaluations['optimisation'] + t.evaluations['mcmc']:,} model evaluations; "
          f"all stages {sum(t.seconds.values()):.1f} s")
    if config.handoff_write:
        source = {"run_dir": str(folder), "git_commit": attrs["git_commit"], "created": attrs["created"],
                  "seed": config.settings.seed, "calibration": config.name,
                  "convergence": outputs.convergence_verdict(result),
                  "fixed": {n: v for n, v, _ in config.fixed}}
        if attrs["git_commit"].endswith("-dirty"):
            source["allow_dirty"] = True
        path = handoff.write_parameter_set(
            handoff.ParameterSet(config.handoff_name, result.posterior_median(), "posterior median",
                                 source=source),
            thinned_draws(result, config.handoff_draws, config.settings.seed), config.params_dir)
        print(f"innosd calibrate: parameter set -> {path}", file=sys.stderr)
    print(f"innosd calibrate: {config.name} -> {folder}")
    return folder


# ----------------------------------------------------------------------------- two model structures

def side_overrides(side: str) -> list[str]:
    """One side of `--compare-models`: a calibration config (scenarios/calibration/NAME.yaml, e.g.
    compare_v1) or a Vensim model (PATH.mdl: calibration=model_file, its marked free constants)."""
    if side.lower().endswith(".mdl"):
        return ["calibration=model_file", f"calibration.model={side}"]
    return [f"calibration={side}"]


def compare_models(sides: tuple[str, str], overrides: list[str], command: str) -> tuple[str, list[Path]]:
    """Calibrate two model structures with the same shared overrides and seed, then compare them by
    PSIS-LOO (calibration.compare). Both configs are checked, and their scored rows compared, before
    either calibration starts. Never writes a hand-off (a comparison is not a parameter set)."""
    from innosd.calibration.compare import check_same_rows, compare_runs

    loaded = [load_config([*side_overrides(side), *overrides, "handoff.write=false"]) for side in sides]
    check_same_rows(loaded[0][0].observations, loaded[1][0].observations, *sides)
    folders = []
    for config, model in loaded:
        use_threads(config.threads)
        folders.append(run(config, model, command))
    return compare_runs(*folders), folders
