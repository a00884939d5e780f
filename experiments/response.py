"""Response curves: each lever's relative change against a few outcomes, with bands.

For every chosen lever and every value of `experiment.changes` (clipped to the lever's
declared range), the scenario runs over the parameter set's posterior draws, each paired
with its outside-world draw exactly as `innosd run` pairs them (`ensemble.run_table`), with
only that lever's `change` replaced (start year and ramp as in the scenario, else the
model file's). The same draws serve every point of every curve (common random numbers),
so a curve's shape is the lever's effect, not sampling noise. Per lever, change, indicator
and year: the median and 5/25/75/95% over the draws, and, where targets.csv has an
official or derived target for that indicator and year, the share of draws meeting the
strictest one with its Monte Carlo standard error.

One lever moves at a time (the others as the scenario sets them): a curve answers "what
does this lever alone buy", not how levers interact (`+experiment=sensitivity` ranks
interactions; `+experiment=policy_search` searches mixes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from innosd.calibration.data import target_status
from innosd.errors import ConfigError, closest
from innosd.experiments import ensemble as ens
from innosd.experiments import projections as proj
from innosd.experiments.context import Context, Written, draw_figure
from innosd.model.indicators import Indicator, model_indicators, select_indicators
from innosd.model.info import ModelInfo, lever_constant, lever_names
from innosd.model.results import year_end_time
from innosd.rundir import RESPONSE_FILE
from innosd.scenarios.schema import ResponseSettings, experiment_settings

RESPONSE_COLUMNS = ["lever", "change", "output", "indicator", "model_variable", "unit", "year", "median", "p05",
                    "p25", "p75", "p95", "draws", "target", "direction", "status", "probability", "mc_se"]


def lever_grid(levers, changes, info: ModelInfo) -> dict[str, np.ndarray]:
    """{lever: sorted distinct changes within its declared range}; one-line errors otherwise."""
    valid = lever_names(info)
    chosen = valid if levers in ("all", None) else [levers] if isinstance(levers, str) else list(levers)
    if not chosen:
        raise ConfigError(f"experiment.levers: the list is empty; valid levers: {', '.join(valid)}")
    try:
        values = np.array([float(c) for c in (changes if isinstance(changes, (list, tuple)) else [changes])])
    except (TypeError, ValueError):
        raise ConfigError(f"experiment.changes: {changes!r} is not a list of numbers (relative changes)") from None
    if values.size < 2:
        raise ConfigError(f"experiment.changes: {changes!r} has fewer than 2 values; a curve needs at least 2")
    grid = {}
    for lever in chosen:
        if lever not in valid:
            raise ConfigError(f"experiment.levers: unknown lever {lever!r}{closest(str(lever), valid)}; "
                              f"valid levers: {', '.join(valid)}")
        constant = info.constants[lever_constant(lever)]
        # a value beyond the declared range is the range's end: the curve still reaches it
        grid[str(lever)] = np.unique(np.clip(values, constant.lower, constant.upper))
    return grid


def response_targets(targets: pd.DataFrame, indicators: list[Indicator], years: list[int]) -> pd.DataFrame:
    """Per indicator and year, the strictest modelled target of targets.csv (official or
    derived, as its `status` says), one row each: the line a curve is read against."""
    modelled = proj.modelled_targets(targets)
    wanted = {(i.id, y) for i in indicators for y in years}
    rows = modelled[[(ind, int(y)) in wanted for ind, y in zip(modelled["indicator"], modelled["year"])]]
    if rows.empty:
        return rows.assign(status=pd.Series(dtype=str))
    rows = rows.assign(status=[target_status(p, n) for p, n in zip(rows["plan"], rows["note"])])
    # strictest: the highest at-least (or lowest at-most) requirement
    rows = rows.assign(_key=np.where(rows["direction"] == "at_least", -rows["value"], rows["value"]))
    return rows.sort_values("_key").drop_duplicates(["indicator", "year"]).drop(columns="_key")


def response_table(values: np.ndarray, settings: list[tuple[str, float]], indicators: list[Indicator],
                   years: list[int], columns: list[str], targets: pd.DataFrame) -> pd.DataFrame:
    """(setting, draw, column, year) year-end values -> one row per setting, indicator and year."""
    draws = values.shape[1]
    by_key = {(t.indicator, int(t.year)): t for t in targets.itertuples(index=False)}
    quantiles = np.quantile(values, list(proj.QUANTILES.values()), axis=1)  # (quantile, setting, column, year)
    q = dict(zip(proj.QUANTILES, quantiles))
    frames = []
    for ind in indicators:
        c = columns.index(ind.model_variable)
        for k, year in enumerate(years):
            target = by_key.get((ind.id, int(year)))
            frame = pd.DataFrame({
                "lever": [s[0] for s in settings], "change": [s[1] for s in settings],
                "output": f"{ind.id}@{year}", "indicator": ind.id, "model_variable": ind.model_variable,
                "unit": ind.unit, "year": int(year), **{name: q[name][:, c, k] for name in proj.QUANTILES},
                "draws": draws})
            if target is None:
                frame = frame.assign(target=np.nan, direction="", status="", probability=np.nan, mc_se=np.nan)
            else:
                p = proj.meets(values[:, :, c, k], float(target.value), target.direction).mean(axis=1)
                frame = frame.assign(target=float(target.value), direction=target.direction, status=target.status,
                                     probability=p, mc_se=proj.mc_standard_error(p, draws))
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)[RESPONSE_COLUMNS]


def response_runs(base: pd.DataFrame, grid: dict[str, np.ndarray]) -> tuple[pd.DataFrame, list[tuple[str, float]]]:
    """Every (lever, change) over every row of `base` (the draws): the parameter table, settings in order."""
    settings = [(lever, float(change)) for lever, changes in grid.items() for change in changes]
    tables = []
    for lever, change in settings:
        table = base.copy()
        table[lever_constant(lever)] = change
        tables.append(table)
    return ens.fill_defaults(pd.concat(tables, ignore_index=True)), settings


def run_response(ctx: Context, out: Path) -> Written:
    settings: ResponseSettings = experiment_settings(ctx.config.experiment)
    indicators = select_indicators(settings.outputs, model_indicators(ctx.observations, ctx.targets),
                                   "experiment.outputs")
    years = ens.experiment_years(settings.years)
    grid = lever_grid(settings.levers, settings.changes, ctx.info)
    columns = sorted({i.model_variable for i in indicators})
    base = ens.run_table(ctx.config, ens.posterior_draws(ctx.config))
    table, points = response_runs(base, grid)
    values, folder = ens.evaluate(table, columns, year_end_time(np.array(years)), ctx.config, "response")
    values = values.reshape(len(points), len(base), len(columns), len(years))
    targets = response_targets(ctx.targets, indicators, years)
    response = response_table(values, points, indicators, years, columns, targets)
    response.to_csv(out / RESPONSE_FILE, index=False)
    if ctx.config.run.figures:
        for output in dict.fromkeys(response["output"]):
            draw_figure("response_curves", out / f"response_{output.replace('@', '_')}", response, output,
                        language=ctx.config.figures.language)
    return Written([folder], {
        "runs": int(len(table)), "draws": int(len(base)), "scenario": ctx.config.scenario.name,
        "levers": {lever: [float(c) for c in changes] for lever, changes in grid.items()},
        "outputs": list(dict.fromkeys(response["output"])),
        "targets": [proj.describe_target(t) for t in targets.itertuples(index=False)],
        "warning": proj.draws_warning(int(len(base)))})
