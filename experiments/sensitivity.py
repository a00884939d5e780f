"""Global sensitivity (SALib): Sobol first/total-order indices and Morris screening.

Inputs are the uncertain model constants and the policy levers:

- parameters `posterior` (default): every calibrated constant over the central 90% of its
  posterior draws — what calibration left uncertain, so levers are compared against the
  uncertainty that remains, not against prior boxes the data already narrowed; `priors`: every constant with a prior in `scenarios/calibration/<priors>.yaml`
  (the calibration's prior boxes [lower, upper]); `free`: every constant the .mdl marks
  "Free parameter", over the parameter set's value x (1 -/+ relative_width), clipped to
  its declared range; or an explicit mapping `name: [lower, upper]` / list of names.
- levers: the relative `change` of each lever over `lever_range` (start year and ramp as
  in the scenario, defaults otherwise).

Every input is sampled uniformly over its box (SALib's default); the other constants stay
at the parameter set's values. Outputs are `<indicator>@<year>` year-end values. Negative
first-order indices beyond their interval, or intervals wider than the index, are reported
as warnings (stderr and metadata): N is then too small to rank the inputs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from innosd.experiments import ensemble as ens
from innosd.model.indicators import Indicator, model_indicators, select_indicators
from innosd.model.info import ModelInfo, lever_constant, lever_names, resolve_constant
from innosd.experiments.context import Context, Written, draw_figure
from innosd.model.results import year_end_time

from innosd.errors import ConfigError, closest, expect_mapping
from innosd.scenarios import build, compose
from innosd.scenarios.schema import RunConfig, SensitivitySettings, experiment_settings

METHODS = ("sobol", "morris")
SOBOL_COLUMNS = ["output", "input", "input_kind", "S1", "S1_conf", "ST", "ST_conf"]
MORRIS_COLUMNS = ["output", "input", "input_kind", "mu_star", "mu_star_conf", "sigma"]


@dataclass(frozen=True)
class Input:
    name: str          # config name (underscores)
    constant: str      # model constant it sets
    kind: str          # parameter | lever
    lower: float
    upper: float


def _box(lower: float, upper: float, constant: str, info: ModelInfo, key: str) -> tuple[float, float]:
    c = info.constants[constant]
    lower, upper = max(float(lower), c.lower), min(float(upper), c.upper)
    if not lower < upper:
        raise ConfigError(f"{key}: empty range [{lower:g}, {upper:g}] for {constant!r} "
                          f"(declared range [{c.lower:g}, {c.upper:g}])")
    return lower, upper


def _pair(value: Any, key: str) -> tuple[float, float]:
    """[lower, upper] of a config as two floats; a one-line error otherwise."""
    try:
        lower, upper = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not [lower, upper]") from None
    return lower, upper


def prior_boxes(priors_file: Path) -> dict[str, tuple[float, float]]:
    """`parameters: {name: {lower, upper, ...}}` of a calibration config, read as plain YAML."""
    if not priors_file.is_file():
        choices = sorted(p.stem for p in priors_file.parent.glob("*.yaml"))
        raise ConfigError(f"experiment.priors: {priors_file} does not exist; valid choices: "
                          f"{', '.join(choices) or '(none)'}; or use experiment.parameters=free")
    raw = expect_mapping(compose.check_yaml(priors_file), f"{priors_file}: (top level)", ConfigError)
    boxes = {}
    for name, spec in expect_mapping(raw.get("parameters"), f"{priors_file}: parameters", ConfigError).items():
        spec = expect_mapping(spec, f"{priors_file}: parameters.{name}", ConfigError)
        try:
            boxes[str(name)] = (float(spec["lower"]), float(spec["upper"]))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{priors_file}: parameters.{name}: needs numbers `lower` and `upper`, got "
                              f"{spec.get('lower')!r} and {spec.get('upper')!r}") from None
    return boxes


POSTERIOR_BOX = (0.05, 0.95)  # the central 90% of each calibrated parameter's posterior draws


def posterior_boxes(config: RunConfig) -> dict[str, tuple[float, float]]:
    """{parameter: (p05, p95)} of the parameter set's posterior draws: what calibration left
    uncertain (a prior box would credit a parameter with spread the data already removed)."""
    draws = ens.posterior_draws(config)
    if draws is None or draws.empty:
        raise ConfigError(f"experiment.parameters=posterior: parameter set {config.parameter_set.name!r} has no "
                          "posterior draws; use params=calibrated, or experiment.parameters=priors / free")
    low, high = draws.quantile(POSTERIOR_BOX[0]), draws.quantile(POSTERIOR_BOX[1])
    return {name: (float(low[name]), float(high[name])) for name in draws.columns if high[name] > low[name]}


def sobol_warnings(sobol: pd.DataFrame, base_samples: int) -> list[str]:
    """Why the Sobol indices may not mean much: first-order indices below zero beyond their
    confidence interval (estimator noise) or intervals wider than the indices themselves."""
    if sobol is None or sobol.empty:
        return []
    negative = int((sobol["S1"] + sobol["S1_conf"] < 0).sum())
    wide = int((sobol["ST_conf"] > sobol["ST"].abs()).sum())
    out = []
    if negative:
        out.append(f"{negative} of {len(sobol)} first-order indices S1 are negative beyond their 95% interval "
                   f"(N = {base_samples}): raise experiment.sobol_base_samples")
    if wide:
        out.append(f"{wide} of {len(sobol)} total indices have a 95% interval wider than the index (N = "
                   f"{base_samples}); rank only inputs whose interval excludes zero")
    return out


def parameter_inputs(settings: SensitivitySettings, config: RunConfig, info: ModelInfo,
                     config_dir: Path) -> list[Input]:
    spec = settings.parameters
    centre = {**{n: c.default for n, c in info.constants.items()}, **config.params}
    width = float(settings.relative_width)
    if spec == "posterior":
        boxes = posterior_boxes(config)
    elif spec == "priors":
        boxes = prior_boxes(config_dir / "calibration" / f"{settings.priors}.yaml")
    elif spec == "free":
        from innosd.model.validation import is_free_parameter  # the rule the validation battery uses too

        names = [n for n, c in info.constants.items() if is_free_parameter(c.comment)]
        boxes = {n: (centre[n] * (1 - width), centre[n] * (1 + width)) for n in names}
    elif isinstance(spec, dict):
        boxes = {str(k): _pair(v, f"experiment.parameters.{k}") for k, v in spec.items()}
    elif isinstance(spec, list):
        boxes = {}
        for n in spec:
            constant = resolve_constant(str(n), info, "experiment.parameters")
            boxes[str(n)] = (centre[constant] * (1 - width), centre[constant] * (1 + width))
    else:
        raise ConfigError(f"experiment.parameters: {spec!r} is not posterior, priors, free, a list of names or "
                          "a mapping name: [lower, upper]")
    inputs = []
    for name, (lower, upper) in boxes.items():
        constant = resolve_constant(name, info, f"experiment.parameters.{name}")
        if constant in config.fixed_params:
            continue  # set on the command line: the user fixed it
        lo, hi = sorted((lower, upper))
        lo, hi = _box(lo, hi, constant, info, f"experiment.parameters.{name}")
        inputs.append(Input(name, constant, "parameter", lo, hi))
    return inputs


def lever_inputs(settings: SensitivitySettings, info: ModelInfo) -> list[Input]:
    valid = lever_names(info)
    levers = settings.levers
    chosen = valid if levers == "all" else [levers] if isinstance(levers, str) else list(levers or [])
    lower, upper = _pair(settings.lever_range, "experiment.lever_range")
    inputs = []
    for lever in chosen:
        if lever not in valid:
            raise ConfigError(f"experiment.levers: unknown lever {lever!r}{closest(str(lever), valid)}; "
                              f"valid levers: {', '.join(valid)}")
        constant = lever_constant(lever)
        lo, hi = _box(lower, upper, constant, info, f"experiment.lever_range ({lever})")
        inputs.append(Input(lever, constant, "lever", lo, hi))
    return inputs


def salib_problem(inputs: list[Input]) -> dict:
    return {"num_vars": len(inputs), "names": [i.name for i in inputs],
            "bounds": [[i.lower, i.upper] for i in inputs]}


def input_table(base: dict[str, float], inputs: list[Input], samples: np.ndarray) -> pd.DataFrame:
    """Parameter table: the base constants, sampled inputs over them."""
    n = len(samples)
    table = pd.DataFrame({name: np.full(n, value) for name, value in base.items()})
    for j, inp in enumerate(inputs):
        table[inp.constant] = samples[:, j]
    return table


def output_matrix(values: np.ndarray, indicators: list[Indicator], years: list[int], columns: list[str]):
    """(runs, columns, years) -> {`indicator@year`: runs vector}."""
    return {f"{ind.id}@{year}": values[:, columns.index(ind.model_variable), k]
            for ind in indicators for k, year in enumerate(years)}


def _outputs_bar(outputs: dict, label: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(outputs.items(), desc=label, unit="output", disable=not progress or None, leave=False)


def sobol_indices(problem: dict, outputs: dict[str, np.ndarray], inputs: list[Input], seed: int,
                  progress: bool = False) -> pd.DataFrame:
    from SALib.analyze import sobol

    rows = []
    for k, (output, y) in enumerate(_outputs_bar(outputs, "Sobol analysis", progress)):
        # SALib's sobol.analyze tests `if seed:` and so treats seed 0 as no seed (unrepeatable
        # bootstrap intervals); a Generator is always a seed: one stream per output, from `seed`
        rng = np.random.default_rng([seed, k])
        si = sobol.analyze(problem, y, calc_second_order=False, print_to_console=False, seed=rng)
        for j, inp in enumerate(inputs):
            rows.append({"output": output, "input": inp.name, "input_kind": inp.kind,
                         "S1": si["S1"][j], "S1_conf": si["S1_conf"][j], "ST": si["ST"][j],
                         "ST_conf": si["ST_conf"][j]})
    return pd.DataFrame(rows, columns=SOBOL_COLUMNS)


def morris_indices(problem: dict, samples: np.ndarray, outputs: dict[str, np.ndarray], inputs: list[Input],
                   levels: int, seed: int, progress: bool = False) -> pd.DataFrame:
    from SALib.analyze import morris

    rows = []
    for output, y in _outputs_bar(outputs, "Morris analysis", progress):
        mi = morris.analyze(problem, samples, y, num_levels=levels, print_to_console=False, seed=seed)
        for j, inp in enumerate(inputs):
            rows.append({"output": output, "input": inp.name, "input_kind": inp.kind,
                         "mu_star": mi["mu_star"][j], "mu_star_conf": mi["mu_star_conf"][j],
                         "sigma": mi["sigma"][j]})
    return pd.DataFrame(rows, columns=MORRIS_COLUMNS)


def check_settings(settings: SensitivitySettings) -> tuple[list[str], list[int]]:
    methods = list(settings.methods) if not isinstance(settings.methods, str) else [settings.methods]
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"experiment.methods: unknown method {m!r}{closest(str(m), METHODS)}; "
                              f"valid methods: {', '.join(METHODS)}")
    if not methods:
        raise ConfigError("experiment.methods: the list is empty; valid methods: sobol, morris")
    if int(settings.morris_levels) < 2 or int(settings.morris_levels) % 2:  # checked before any stage runs
        raise ConfigError(f"experiment.morris_levels: {settings.morris_levels} is not an even number of at "
                          "least 2 (Morris grid levels; 4 is usual)")
    if int(settings.morris_trajectories) < 2:
        raise ConfigError(f"experiment.morris_trajectories: {settings.morris_trajectories} is below 2 "
                          "(Morris needs trajectories to compare)")
    n = int(settings.sobol_base_samples)
    if n < 2 or n & (n - 1):
        raise ConfigError(f"experiment.sobol_base_samples: {n} is not a power of 2 (Sobol sequences need one)")
    return methods, ens.experiment_years(settings.years)


def sensitivity_tables(config: RunConfig, settings: SensitivitySettings, info: ModelInfo,
                       indicators: list[Indicator], config_dir: Path, timings: dict | None = None):
    """Sample, run (chunked) and analyse -> (sobol or None, morris or None, chunk folders, n_runs, inputs).

    `timings`, if given, receives wall-clock seconds per phase (for the benchmark).
    """
    import time

    timings = {} if timings is None else timings
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    methods, years = check_settings(settings)
    inputs = parameter_inputs(settings, config, info, config_dir) + lever_inputs(settings, info)
    if not inputs:
        raise ConfigError("experiment.parameters/levers: no inputs to vary")
    problem = salib_problem(inputs)
    base = build.model_parameters(config)
    columns = sorted({i.model_variable for i in indicators})
    times = year_end_time(list(years))
    seed = int(config.run.seed)
    sobol_table = morris_table = None
    folders, n_runs = [], 0
    if "sobol" in methods:
        start = time.perf_counter()
        samples = sobol_sample.sample(problem, int(settings.sobol_base_samples), calc_second_order=False,
                                      seed=seed)
        values, folder = ens.evaluate(input_table(base, inputs, samples), columns, times, config, "sobol")
        timings["sobol_sample_and_run_s"] = time.perf_counter() - start
        folders.append(folder)
        n_runs += len(samples)
        start = time.perf_counter()
        sobol_table = sobol_indices(problem, output_matrix(values, indicators, years, columns), inputs, seed,
                                    bool(config.run.progress))
        timings["sobol_analyse_s"] = time.perf_counter() - start
    if "morris" in methods:
        samples = morris_sample.sample(problem, int(settings.morris_trajectories),
                                       num_levels=int(settings.morris_levels), seed=seed)
        values, folder = ens.evaluate(input_table(base, inputs, samples), columns, times, config, "morris")
        folders.append(folder)
        n_runs += len(samples)
        morris_table = morris_indices(problem, samples, output_matrix(values, indicators, years, columns), inputs,
                                      int(settings.morris_levels), seed, bool(config.run.progress))
    return sobol_table, morris_table, folders, n_runs, inputs


def run_sensitivity(ctx: Context, out: Path) -> Written:
    settings = experiment_settings(ctx.config.experiment)
    indicators = select_indicators(settings.outputs, model_indicators(ctx.observations, ctx.targets),
                                       "experiment.outputs")
    sobol_table, morris_table, folders, n_runs, inputs = sensitivity_tables(ctx.config, settings, ctx.info,
                                                                            indicators, ctx.config_dir)
    if sobol_table is not None:
        sobol_table.to_csv(out / "sobol.csv", index=False)
    if morris_table is not None:
        morris_table.to_csv(out / "morris.csv", index=False)
    pd.DataFrame([vars(i) for i in inputs]).to_csv(out / "inputs.csv", index=False)
    warnings = sobol_warnings(sobol_table, int(settings.sobol_base_samples))
    for warning in warnings:
        print(f"innosd run: warning: sensitivity: {warning}", file=sys.stderr)
    if ctx.config.run.figures:
        draw_figure("sensitivity_ranking", out / "sensitivity_ranking", sobol_table, morris_table,
                    language=ctx.config.figures.language)
    return Written(folders, {"runs": n_runs, "inputs": len(inputs), "warnings": warnings,
                             "parameters": settings.parameters if isinstance(settings.parameters, str) else "listed"})
