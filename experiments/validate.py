"""The system-dynamics validation battery on one model, as one table (`innosd validate`,
and `innosd run`'s main sweep): dimensional consistency, mass balance, extreme conditions,
reality checks (`reality_checks.yaml` beside the model), integration error, behaviour
reproduction (project model: observations.csv) and sensitivity of conclusions (project
model: scenarios x posterior draws). `run_battery` computes, `write_folder` writes
`validation.md`, `validation.csv`, the detail tables, `config.yaml` and `metadata.json`
atomically. The command line is `innosd.experiments.commands.validate`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from innosd.model import MODEL_FILE
from innosd.model import validation as V
from innosd.model.abstract import parse
from innosd.model.indicators import KEY_INDICATORS
from innosd.model.results import year_end, year_end_index, year_end_time

from innosd.errors import DataError, InnosdError, ModelError
from innosd.scenarios import build, compose

PROJECT_MODEL = MODEL_FILE
REALITY_CHECKS_FILE = "reality_checks.yaml"
KEY_YEARS = (2020, 2025, 2035)
CONCLUSION_YEARS = (2025, 2035)
# Halving DT or switching to RK4 may move a key indicator by less than this: numerical
# error well below the model's parameter uncertainty (Sterman 2000, ch. 21, the DT test).
INTEGRATION_TOLERANCE = 0.02
# Fit: an indicator whose 2013-2016 MAPE exceeds this is flagged (warn). A judgement
# threshold: in observations.csv two sources for the same modelled figure differ by at most
# ~4% (incubators and maker spaces, 2016), so 25% is a misfit well beyond data disagreement.
BEHAVIOUR_WARN_MAPE = 0.25
# A scenario's direction against baseline is "robust" if at least this share of draws agree.
ROBUST_SHARE = 0.9
# Effects smaller than this (relative to baseline) are read as "no effect", not a direction.
MATERIAL_EFFECT = 1e-3
DEFAULT_DRAWS = 100


# ------------------------------------------------------------------ runs

def member(ds, i: int, variables) -> pd.DataFrame:
    """Run `i` of an ensemble as a frame indexed by time."""
    return pd.DataFrame({v: ds[v].values[i] for v in variables}, index=ds["time"].values)


def ensemble(model, rows: list[dict[str, float]], base: dict[str, float], columns) -> object:
    """One run per row: `base` values, then the row's own; everything else at defaults."""
    table = pd.DataFrame([{**base, **r} for r in rows])
    defaults = model.parameters["default"]
    table = table.fillna({c: float(defaults[c]) for c in table.columns}).reset_index(drop=True)
    return model.run_ensemble(table, return_columns=list(columns))


def parameter_set(name: str | None, project: bool, params_dir: Path):
    """(params dict, description, ParameterSet or None) for the run."""
    from innosd.calibration.handoff import load_parameter_set
    if name is None:
        if not project or not (params_dir / "calibrated.yaml").is_file():
            why = "" if not project else f" ({params_dir / 'calibrated.yaml'} does not exist yet)"
            return {}, f"model file defaults{why}", None
        name = "calibrated"
    ps = load_parameter_set(name, params_dir)
    return dict(ps.params), f"parameter set {ps.name!r} ({ps.statistic})", ps


# ------------------------------------------------------------------ tests

def check_units(abstract_model):
    from innosd.model.units import check_abstract_model
    equations = check_abstract_model(abstract_model)
    return V.units_check(equations), pd.DataFrame([asdict(e) for e in equations])


def check_mass_balance(model, abstract_model, base):
    params = model.parameters
    control = model.control_values(base)
    step = control["TIME STEP"]
    if control["SAVEPER"] == step:  # e.g. SAVEPER = TIME STEP: every step is saved already
        frame = model.run(base)
    elif "SAVEPER" in params.index:
        frame = model.run({**base, "SAVEPER": step})
    else:
        return V.CheckResult("mass balance", "every stock = initial value + integrated net flow", V.WARN,
                             f"SAVEPER ({control['SAVEPER']:g}) is computed, not a constant, and differs from "
                             f"TIME STEP ({step:g}); cannot save every step"), pd.DataFrame()
    errors = V.mass_balance_errors(frame, V.stock_flows(abstract_model), step)
    return V.mass_balance_check(errors), errors


def check_extremes_and_reality(model, base, checks_path: Path):
    params = model.parameters
    constants = V.levers_and_free_parameters(params)
    cases = V.extreme_cases(constants)
    variables = list(model.columns)
    if checks_path.is_file():
        checks, directional = V.load_reality_checks(checks_path, params.index, variables)
        source = f"{checks_path.name}"
    else:
        checks, directional, source = [], [], f"{checks_path.name} (not found)"
    stocks = model.stocks
    dir_rows = []
    for d in directional:
        lo, hi = V.directional_range(params.loc[d.constant])
        dir_rows += [{d.constant: lo}, {d.constant: hi}]
    rows = [{r.constant: r.value} for r in cases.itertuples()] + dir_rows + [{}] + [c.set for c in checks]
    needed = sorted(set(stocks) | {d.variable for d in directional}
                    | {e.variable for c in checks for e in c.expect})
    ds = ensemble(model, rows, base, needed)
    n_cases = len(cases)
    violations = [V.stock_violations({s: ds[s].values[i] for s in stocks}) for i in range(n_cases)]
    outcomes = []
    for k, d in enumerate(directional):
        low, high = member(ds, n_cases + 2 * k, [d.variable]), member(ds, n_cases + 2 * k + 1, [d.variable])
        outcomes.append(V.directional_holds(d, low, high))
    extreme = V.extreme_conditions_check(cases, violations, outcomes)
    cases = cases.assign(problems=["; ".join(f"{s} {w}" for s, w in v.items()) for v in violations])
    base_index = n_cases + len(dir_rows)
    baseline = member(ds, base_index, needed)
    results = []
    for j, check in enumerate(checks):
        run = member(ds, base_index + 1 + j, needed)
        results.append((check, [V.expectation_holds(e, run, baseline) for e in check.expect]))
    reality = V.reality_checks_check(results, source)
    directional_table = pd.DataFrame(outcomes, columns=["expectation", "held", "evidence"])
    return extreme, reality, cases, directional_table


def key_variables(model, project: bool) -> list[str]:
    if project:
        return [i.model_variable for i in KEY_INDICATORS if i.model_variable in model.columns]
    return list(model.stocks)


def check_integration(model, base, project: bool):
    params = model.parameters
    reference = model.run(base)
    variables = key_variables(model, project)
    times = {str(y): year_end_time(y) for y in KEY_YEARS if year_end_time(y) in reference.index} if project \
        else {"final time": float(reference.index[-1])}
    changes = {"RK4 vs Euler": V.relative_changes(reference, model.run(base, method="rk4"), variables, times)}
    if "TIME STEP" in params.index:
        step = float(base.get("TIME STEP", params.loc["TIME STEP", "default"]))
        halved = model.run({**base, "TIME STEP": step / 2})
        changes["TIME STEP halved"] = V.relative_changes(reference, halved, variables, times)
    result = V.integration_check(changes, INTEGRATION_TOLERANCE,
                                 "numerical error well below parameter uncertainty",
                                 "/".join(times) if project else "the final time (stocks)")
    table = pd.concat([t.assign(comparison=k) for k, t in changes.items()], ignore_index=True)
    return result, table


def check_behaviour(model, base, description: str):
    from innosd.calibration.data import load_observations
    obs = load_observations()
    obs = obs[(obs["model_variable"] != "") & (obs["region"] == "Guangzhou")]
    obs = obs[obs["model_variable"].isin(model.columns) & (obs["value"] != 0)]
    frame = model.run(base, return_columns=sorted(obs["model_variable"].unique()))
    at = year_end_index(frame.index.to_numpy(), obs["year"].to_numpy(), missing="nan")
    rows = []
    for r, hit in zip(obs.itertuples(index=False), at):
        if hit >= 0:
            rows.append({"indicator": r.indicator, "model_variable": r.model_variable, "year": int(r.year),
                         "observed": float(r.value), "simulated": float(frame[r.model_variable].iloc[hit]),
                         "source": r.source})
    pairs = pd.DataFrame(rows, columns=["indicator", "model_variable", "year", "observed", "simulated", "source"])
    table = V.fit_table(pairs)
    check = V.behaviour_check(table, description, BEHAVIOUR_WARN_MAPE,
                              "sources for one figure differ by <= ~4%")
    return check, table, pairs


def scenario_levers() -> dict[str, dict[str, float]]:
    """Scenario name -> the lever constants it sets (through the run config, as `innosd run`)."""
    from innosd.model.info import model_info
    info = model_info(MODEL_FILE)
    return {name: build.model_parameters(build.compose_run_config([f"scenario={name}"], info))
            for name in compose.options("scenario")}


def world_rows(draws: pd.DataFrame, held: set[str], seed: int) -> tuple[list[dict[str, float]], list[str]]:
    """One outside-world draw (scenarios/world/, as `innosd run` samples it) per posterior draw,
    so "robust" means robust to the economy too; and the names of the uncertainties drawn."""
    from innosd.model.info import model_info
    info = model_info(MODEL_FILE)
    config = build.compose_run_config([f"run.seed={seed}"], info)
    samples = build.world_draws(config, info, len(draws), held | set(draws.columns))
    values = build.world_values(config.world, samples, held | set(draws.columns))
    return [{c: float(v[i]) for c, v in values.items()} for i in range(len(draws))], list(samples.columns)


def check_conclusions(model, base, ps, n_draws: int, seed: int, project: bool, params_dir: Path):
    if not project:
        return V.conclusions_check(None, "scenarios and posterior draws exist only for the project model",
                                   ROBUST_SHARE), pd.DataFrame()
    if ps is None or not ps.posterior_draws:
        why = "no posterior draws yet (no calibrated parameter set with a draws file in scenarios/params)" \
            if ps is None else f"parameter set {ps.name!r} has no posterior draws"
        return V.conclusions_check(None, why, ROBUST_SHARE), pd.DataFrame()
    from innosd.calibration.handoff import choose_draws, load_posterior_draws
    every = load_posterior_draws(ps, params_dir)  # read once; at most the draws the file holds
    draws = choose_draws(every, min(n_draws, len(every)), seed, Path(params_dir) / ps.posterior_draws)
    scenarios = scenario_levers()
    variables = key_variables(model, True)
    names = ["baseline"] + [s for s in scenarios if s != "baseline"]
    point_rows = [scenarios.get(name, {}) for name in names]
    levers = {constant for values in scenarios.values() for constant in values}
    worlds, world_names = world_rows(draws, levers | set(base), seed)
    draw_rows = [{**d, **w, **scenarios.get(name, {})} for name in names
                 for d, w in zip(draws.to_dict("records"), worlds)]
    ds = ensemble(model, point_rows + draw_rows, base, variables)
    n, out = len(draws), []
    at_year_end = year_end(ds[variables], CONCLUSION_YEARS)
    for v in variables:
        for year in CONCLUSION_YEARS:
            values = at_year_end[v].sel(year=year).values
            for name, point, agreement in V.scenario_agreements(values, names, n, MATERIAL_EFFECT):
                out.append({"scenario": name, "indicator": v, "year": year, "point_difference": point,
                            "agreement": agreement})
    table = pd.DataFrame(out, columns=["scenario", "indicator", "year", "point_difference", "agreement"])
    reason = (f"{n} posterior draws of {ps.name!r}, each with an outside-world draw "
              f"({', '.join(world_names) or 'none: held central'}), x {len(names) - 1} scenarios")
    return V.conclusions_check(table, reason, ROBUST_SHARE), table


# ------------------------------------------------------------------ output

def markdown_table(results: list[V.CheckResult]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")
    lines = ["| test | checks | result | evidence |", "|---|---|---|---|"]
    lines += [f"| {cell(r.test)} | {cell(r.checks)} | {r.result} | {cell(r.evidence)} |" for r in results]
    return "\n".join(lines)


def default_out(stamp: dt.datetime) -> Path:
    return Path("outputs") / "validation" / stamp.strftime("%Y-%m-%d") / stamp.strftime("%H-%M-%S")


def write_folder(out: Path, results, details: dict[str, pd.DataFrame], config: dict, model_path: Path,
                 seed: int, argv: list[str]) -> None:
    from innosd.rundir import atomic_directory, write_metadata
    with atomic_directory(out) as tmp:
        table = pd.DataFrame([asdict(r) for r in results], columns=["test", "checks", "result", "evidence"])
        table.to_csv(tmp / "validation.csv", index=False)
        header = (f"# Validation of {model_path.name}\n\n"
                  f"Overall: **{V.worst(r.result for r in results)}** "
                  f"({sum(r.result == V.FAIL for r in results)} fail, "
                  f"{sum(r.result == V.WARN for r in results)} warn).\n\n")
        (tmp / "validation.md").write_text(header + markdown_table(results) + "\n", encoding="utf-8")
        for name, frame in details.items():
            if frame is not None and not frame.empty:
                frame.to_csv(tmp / f"{name}.csv", index=False)
        write_metadata(tmp, "validation", seed=int(seed), command="innosd validate " + " ".join(argv),
                       model_file=model_path, config=config)


def default_params_dir(name: str | None) -> Path:
    """The folder `innosd run params=NAME` reads: ./params (the user's hand-off) first, then the shipped sets."""
    try:
        return compose.find_parameter_set(name or "calibrated")
    except InnosdError:
        return compose.params_dirs()[-1]


def run_battery(model_path: Path, params_name: str | None, n_draws: int, seed: int,
                params_dir: Path | None = None):
    """Every test on one model: (results, detail tables, resolved config)."""
    from innosd.model import compile_model
    project = model_path.resolve() == PROJECT_MODEL.resolve()
    abstract_model = parse(model_path)
    model = compile_model(model_path)
    params_dir = Path(params_dir) if params_dir else default_params_dir(params_name)
    base, description, ps = parameter_set(params_name, project, params_dir)
    unknown = [k for k in base if k not in model.parameters.index]
    if unknown:
        raise DataError(f"parameter set: {unknown[0]!r} is not a constant of {model_path.name}")
    results, details = [], {}
    r, details["units"] = check_units(abstract_model)
    results.append(r)
    r, details["mass_balance"] = check_mass_balance(model, abstract_model, base)
    results.append(r)
    extreme, reality, details["extreme_conditions"], details["directional"] = \
        check_extremes_and_reality(model, base, model_path.parent / REALITY_CHECKS_FILE)
    results += [extreme, reality]
    r, details["integration"] = check_integration(model, base, project)
    results.append(r)
    if project:
        r, details["fit_statistics"], details["fit_points"] = check_behaviour(model, base, description)
    else:
        r = V.CheckResult("behaviour reproduction", "fit to observations", V.WARN,
                          "observations exist only for the project model")
    results.append(r)
    r, details["conclusions"] = check_conclusions(model, base, ps, n_draws, seed, project, params_dir)
    results.append(r)
    config = {"model": str(model_path), "parameters": description, "params": base, "draws": n_draws,
              "seed": seed, "integration_tolerance": INTEGRATION_TOLERANCE,
              "behaviour_warn_mape": BEHAVIOUR_WARN_MAPE, "robust_share": ROBUST_SHARE}
    return results, details, config
