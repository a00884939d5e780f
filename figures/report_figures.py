"""One function per report figure, each drawn from the saved tables of `docs/outputs.md`.

Every function takes DataFrames (or paths) as written by the commands, a `language`
("en" or "zh"), and returns a matplotlib Figure in the house style; save it with
`figures.plots.save_figure(fig, path_without_suffix)`. Nothing here simulates.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from innosd.calibration.tables import WITHIN_ERROR_SIGMAS
from innosd.figures.labels import check_language, indicator_label, indicator_scale, lever_label, scenario_label, text
from innosd.figures.plots import (
    BAND_50_ALPHA,
    BAND_90_ALPHA,
    FIRST_YEAR,
    HIGHLIGHT_YEARS,
    LAST_YEAR,
    OBSERVED_STYLE,
    TARGET_STYLE,
    mark_key_years,
    panel_grid,
    plot_fan,
    plot_points,
    shared_legend,
    use_style,
)
from matplotlib.patches import Patch

from innosd.errors import DataError

REGION = "Guangzhou"  # the model is of Guangzhou; national/provincial targets are not drawn
TOP_INPUTS = 10       # inputs shown per sensitivity panel: beyond ten the bars are unreadable
MAX_SENSITIVITY_OUTPUTS = 4   # outputs shown (one row each); the report's table lists all
ANNOTATE_MAX_CELLS = 15       # annotate heat-map cells with numbers up to this many per side
MAX_BANDED_SCENARIOS = 3      # fans with bands per panel; more overlap into an unreadable blur
PANELS_PER_FIGURE = 6         # 3 rows x 2: one figure fits half an A4 page and is never split
# fit.csv's `sigma` is the log-scale error of the likelihood (calibration/likelihood.py); bars
# span observed x exp(+-k sigma) with calibration's k, so the posterior median falls inside a
# bar exactly when fit.csv marks the observation `within_error`.
ERROR_BAR_SIGMAS = WITHIN_ERROR_SIGMAS


def _require(frame: pd.DataFrame | None, columns: tuple[str, ...], table: str) -> pd.DataFrame:
    """A one-line error naming the table and its missing columns (contract: docs/outputs.md)."""
    if frame is None or len(frame) == 0:
        raise DataError(f"{table}: the table is empty; nothing to draw")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{table}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)} "
                        "(see docs/outputs.md)")
    return frame


def _colors() -> list[str]:
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _scenario_colors(scenarios) -> dict[str, str]:
    colors = _colors()
    return {s: colors[i % len(colors)] for i, s in enumerate(scenarios)}


def _guangzhou(frame: pd.DataFrame | None, indicator: str) -> pd.DataFrame:
    if frame is None or "indicator" not in frame.columns:
        return pd.DataFrame(columns=["year", "value"])
    rows = frame[frame["indicator"] == indicator]
    if "region" in rows.columns:
        rows = rows[rows["region"] == REGION]
    return rows


# ----------------------------------------------------------------------------- projections

PROJECTION_COLUMNS = ("scenario", "indicator", "unit", "year", "median", "p05", "p25", "p75", "p95")


def projection_panel(ax, projections: pd.DataFrame, indicator: str, observations: pd.DataFrame | None,
                     targets: pd.DataFrame | None, colors: dict[str, str], language: str = "en",
                     banded: set[str] | None = None) -> None:
    """Primitive: one indicator's fans (one per scenario, `colors` by scenario; bands only for
    the scenarios in `banded`, all if None, medians for the rest), observations, plan targets
    and the key years, on `ax`."""
    rows = projections[projections["indicator"] == indicator]
    scale, unit = indicator_scale(indicator, str(rows["unit"].iloc[0]), language)
    for scenario in colors:
        run = rows[rows["scenario"] == scenario].sort_values("year")
        if run.empty:
            continue
        years = run["year"].to_numpy()
        if banded is None or scenario in banded:
            plot_fan(ax, years, *(run[c].to_numpy() * scale for c in ("p05", "p25", "median", "p75", "p95")),
                     color=colors[scenario], label=scenario_label(scenario, language))
        else:
            ax.plot(years, run["median"].to_numpy() * scale, color=colors[scenario], lw=1.1,
                    label=scenario_label(scenario, language))
        key = run[run["year"].isin(HIGHLIGHT_YEARS)]
        ax.plot(key["year"], key["median"] * scale, "o", color=colors[scenario], ms=3)
    obs = _guangzhou(observations, indicator)
    plot_points(ax, obs["year"], obs["value"] * scale, OBSERVED_STYLE, text("observed", language))
    tgt = _guangzhou(targets, indicator)
    plot_points(ax, tgt["year"], tgt["value"] * scale, TARGET_STYLE, text("plan_target", language))
    mark_key_years(ax)
    ax.set_title(indicator_label(indicator, language))
    ax.set_xlabel(text("year_end", language))
    ax.set_ylabel(unit)
    ax.set_xlim(min(FIRST_YEAR, rows["year"].min()) - 0.5, max(LAST_YEAR, rows["year"].max()) + 0.5)


def difference_panel(ax, projections: pd.DataFrame, indicator: str, baseline: str, colors: dict[str, str],
                     language: str = "en") -> None:
    """Primitive: each scenario's median minus the baseline's for one indicator, on `ax`."""
    rows = projections[projections["indicator"] == indicator]
    scale, unit = indicator_scale(indicator, str(rows["unit"].iloc[0]), language)
    base = rows[rows["scenario"] == baseline].set_index("year")["median"]
    for scenario in (s for s in colors if s != baseline):
        run = rows[rows["scenario"] == scenario].set_index("year")["median"]
        diff = (run - base.reindex(run.index)).dropna().sort_index() * scale
        ax.plot(diff.index, diff.to_numpy(), color=colors[scenario], label=scenario_label(scenario, language))
    ax.axhline(0.0, color="black", lw=0.8)
    mark_key_years(ax)
    ax.set_title(indicator_label(indicator, language))
    ax.set_xlabel(text("year_end", language))
    ax.set_ylabel(f"Δ {unit}")  # short: the title says what the difference is against


def projection_fans(projections: pd.DataFrame, observations: pd.DataFrame, targets: pd.DataFrame,
                    language: str = "en"):
    """Key indicators by scenario as fan charts (50/90%), observations and targets marked,
    2020/2025/2035 highlighted."""
    check_language(language)
    _require(projections, PROJECTION_COLUMNS, "projections.csv")
    use_style(language)
    indicators = list(dict.fromkeys(projections["indicator"]))
    scenarios = list(dict.fromkeys(projections["scenario"]))
    colors = _scenario_colors(scenarios)
    # overlapping bands of many scenarios turn to mud: beyond a few, only the baseline keeps its bands
    banded = None if len(scenarios) <= MAX_BANDED_SCENARIOS else {s for s in scenarios if s == "baseline"}
    fig, axes = panel_grid(len(indicators), panel_height_in=2.6, width_in=7.5)
    has_spread = bool((projections["p95"] - projections["p05"]).abs().max() > 0)
    for ax, indicator in zip(axes, indicators):
        projection_panel(ax, projections, indicator, observations, targets, colors, language, banded)
    bands = {text("band_50", language): Patch(color="grey", alpha=BAND_50_ALPHA),
             text("band_90", language): Patch(color="grey", alpha=BAND_90_ALPHA)}
    shared_legend(fig, axes, ncol_max=6, extra=bands if has_spread else None)  # bands only if uncertain
    fig.suptitle(f"{text('projections_title', language)} ({text('key_years_note', language)})",
                 fontweight="bold")
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig


def _moves(projections: pd.DataFrame, indicator: str, baseline: str) -> bool:
    """Whether any scenario's median of `indicator` differs from the baseline's (relative 1e-6)."""
    rows = projections[projections["indicator"] == indicator]
    base = rows[rows["scenario"] == baseline].set_index("year")["median"]
    others = rows[rows["scenario"] != baseline]
    diff = (others.set_index("year")["median"] - base.reindex(others["year"]).to_numpy()).abs()
    return bool((diff > 1e-6 * max(1.0, float(base.abs().max()))).any())


def scenario_difference(projections: pd.DataFrame, baseline: str = "baseline", language: str = "en"):
    """Each scenario's median minus the baseline's, per indicator over the years."""
    check_language(language)
    _require(projections, PROJECTION_COLUMNS, "projections.csv")
    scenarios = list(dict.fromkeys(projections["scenario"]))
    if baseline not in scenarios:
        raise DataError(f"projections.csv: no scenario {baseline!r} to compare with; "
                        f"scenarios present: {', '.join(map(str, scenarios))}")
    others = [s for s in scenarios if s != baseline]
    if not others:
        raise DataError(f"projections.csv: only {baseline!r} present; a difference needs a second scenario")
    use_style(language)
    colors = _scenario_colors(scenarios)
    indicators = list(dict.fromkeys(projections["indicator"]))
    indicators = [i for i in indicators if _moves(projections, i, baseline)]  # no flat, empty panels
    if not indicators:
        raise DataError(f"projections.csv: no indicator differs from {baseline!r}; nothing to draw")
    fig, axes = panel_grid(len(indicators), panel_height_in=2.4, width_in=7.5)
    for ax, indicator in zip(axes, indicators):
        difference_panel(ax, projections, indicator, baseline, colors, language)
    shared_legend(fig, axes)
    fig.suptitle(text("difference_title", language, baseline=scenario_label(baseline, language)), fontweight="bold")
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig


# ----------------------------------------------------------------------------- attainment

ATTAINMENT_COLUMNS = ("scenario", "indicator", "year", "probability")


def _requirement_label(indicator: str, year: int, target: float, direction: str, status: str, unit: str,
                       language: str) -> str:
    scale, shown_unit = indicator_scale(indicator, unit, language)
    sign = "≥" if direction == "at_least" else "≤"
    value = f"{target * scale:,.0f}" if abs(target * scale) >= 1000 else f"{target * scale:.3g}"
    mark = "" if status == "official" else f" [{text('status_' + status.split()[0], language)}]"
    return f"{indicator_label(indicator, language)} {sign} {value} {shown_unit} ({year}){mark}"


def attainment_heatmap(attainment: pd.DataFrame, language: str = "en"):
    """Probability of meeting each plan target (rows: one per distinct requirement, its value and
    whether it is official, derived or a user benchmark) under each scenario (columns)."""
    check_language(language)
    _require(attainment, ATTAINMENT_COLUMNS, "attainment.csv")
    use_style(language)
    table = attainment.assign(
        status=attainment["status"] if "status" in attainment.columns else "official",
        target=attainment["target"] if "target" in attainment.columns else np.nan,
        direction=attainment["direction"] if "direction" in attainment.columns else "at_least",
        unit=attainment["unit"] if "unit" in attainment.columns else "")
    scenarios = list(dict.fromkeys(table["scenario"]))
    fields = ["indicator", "year", "target", "direction", "status"]
    keys = list(dict.fromkeys(
        (r.indicator, int(r.year), float(r.target), str(r.direction), str(r.status), str(r.unit))
        for r in table[fields + ["unit"]].itertuples(index=False)))
    keys = list({k[:5]: k for k in keys}.values())
    keys.sort(key=lambda k: (k[1], k[0], k[2]))
    grid = np.full((len(keys), len(scenarios)), np.nan)
    row_of = {k[:5]: i for i, k in enumerate(keys)}
    col_of = {s: j for j, s in enumerate(scenarios)}
    for r in table.itertuples(index=False):
        key = (r.indicator, int(r.year), float(r.target), str(r.direction), str(r.status))
        grid[row_of[key], col_of[r.scenario]] = float(r.probability)
    fig, ax = plt.subplots(figsize=(min(7.0, max(4.5, 0.75 * len(scenarios) + 4.0)), 0.26 * len(keys) + 1.9))
    cmap = plt.get_cmap("cividis").with_extremes(bad="#eeeeee")  # perceptually uniform, colour-blind safe
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, "–" if np.isnan(value) else f"{value:.0%}", ha="center", va="center", fontsize=6.5,
                color="black" if np.isnan(value) or value > 0.55 else "white")
    ax.set_xticks(range(len(scenarios)), [scenario_label(s, language) for s in scenarios], rotation=30, ha="right")
    ax.set_yticks(range(len(keys)), [_requirement_label(*k[:5], k[5], language) for k in keys], fontsize=6.5)
    ax.grid(False)
    ax.set_xlabel(text("scenario", language))
    ax.set_ylabel(text("target_year", language))
    fig.colorbar(image, ax=ax, label=text("probability", language), fraction=0.04)
    ax.set_title(text("attainment_title", language))
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- sensitivity

def _output_label(output: str, language: str) -> str:
    """`<indicator>@<year>` -> 'Indicator name, year'."""
    indicator, _, year = str(output).partition("@")
    return f"{indicator_label(indicator, language)}, {year}" if year else indicator_label(indicator, language)


def ranking_panel(ax, rows: pd.DataFrame, value: str, conf: str, inner: str | None, language: str) -> None:
    rows = rows.sort_values(value, ascending=False).head(TOP_INPUTS)[::-1]
    colors = _colors()
    kind_color = {"parameter": colors[0], "lever": colors[1]}
    bar_colors = [kind_color.get(k, colors[6]) for k in rows.get("input_kind", ["parameter"] * len(rows))]
    y = np.arange(len(rows))
    xerr = rows[conf].to_numpy() if conf in rows.columns else None
    ax.barh(y, rows[value].to_numpy(), color=bar_colors, alpha=0.55, xerr=xerr, error_kw={"lw": 0.8})
    if inner is not None and inner in rows.columns:
        ax.barh(y, rows[inner].clip(lower=0).to_numpy(), height=0.35, color=bar_colors)
    ax.set_yticks(y, rows["input"].astype(str).tolist())
    ax.set_ylabel(text("input", language))
    ax.set_xlim(left=0)


def sensitivity_ranking(sobol: pd.DataFrame | None, morris: pd.DataFrame | None, language: str = "en"):
    """Inputs ranked by Sobol total index (first order inside) and/or Morris mu*."""
    check_language(language)
    methods = []
    if sobol is not None and len(sobol):
        methods.append(("sobol", _require(sobol, ("output", "input", "S1", "ST"), "sobol.csv")))
    if morris is not None and len(morris):
        methods.append(("morris", _require(morris, ("output", "input", "mu_star"), "morris.csv")))
    if not methods:
        raise DataError("sensitivity: neither sobol.csv nor morris.csv has rows; nothing to draw")
    use_style(language)
    outputs = list(dict.fromkeys(o for _, t in methods for o in t["output"]))[:MAX_SENSITIVITY_OUTPUTS]
    fig, axes = plt.subplots(len(outputs), len(methods), figsize=(4.2 * len(methods) + 1.5, 2.9 * len(outputs)),
                             squeeze=False)
    for i, output in enumerate(outputs):
        for j, (method, table) in enumerate(methods):
            ax = axes[i, j]
            rows = table[table["output"] == output]
            if rows.empty:
                ax.set_visible(False)
                continue
            if method == "sobol":
                ranking_panel(ax, rows, "ST", "ST_conf", "S1", language)
                ax.set_xlabel(f"{text('sobol_total', language)}; {text('sobol_first', language)}")
            else:
                ranking_panel(ax, rows, "mu_star", "mu_star_conf", None, language)
                ax.set_xlabel(text("morris_mu_star", language))
            ax.set_title(_output_label(output, language))
    colors = _colors()
    fig.legend([Patch(color=colors[0]), Patch(color=colors[1])],
               [text("kind_parameter", language), text("kind_lever", language)],
               loc="lower center", ncol=2)
    fig.suptitle(text("sensitivity_title", language), fontweight="bold")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return fig


# ----------------------------------------------------------------------------- response curves

RESPONSE_COLUMNS = ("lever", "change", "output", "indicator", "unit", "median", "p05", "p25", "p75", "p95")
TARGET_LINE_STYLE = {"color": TARGET_STYLE["mec"], "lw": 1.1, "ls": "--", "zorder": 4}
SCENARIO_LINE_STYLE = {"color": "#999999", "lw": 0.7, "ls": ":", "zorder": 0}


def response_levers(rows: pd.DataFrame, limit: int = PANELS_PER_FIGURE) -> list[str]:
    """The levers whose curve moves the median most (max - min over the changes), at most `limit`."""
    spread = rows.groupby("lever")["median"].agg(lambda m: float(m.max() - m.min()))
    return list(spread.sort_values(ascending=False, kind="stable").index[:limit])


def response_panel(ax, rows: pd.DataFrame, scale: float, color: str, language: str) -> None:
    """Primitive: one lever's curve (median, 50% and 90% bands over the draws) and, if the
    table carries one, its target as a dashed line, on `ax`."""
    rows = rows.sort_values("change")
    x = rows["change"].to_numpy() * 100  # relative change shown in percent
    plot_fan(ax, x, *(rows[c].to_numpy() * scale for c in ("p05", "p25", "median", "p75", "p95")), color=color)
    ax.plot(x, rows["median"].to_numpy() * scale, "o", color=color, ms=2.5)
    ax.axvline(0, **SCENARIO_LINE_STYLE)
    if "target" in rows.columns and rows["target"].notna().any():
        first = rows[rows["target"].notna()].iloc[0]
        status = str(first.get("status", "official") or "official")
        mark = "" if status == "official" else f" [{text('status_' + status.split()[0], language)}]"
        ax.axhline(float(first["target"]) * scale, label=text("plan_target", language) + mark, **TARGET_LINE_STYLE)


def response_curves(response: pd.DataFrame, output: str, language: str = "en"):
    """One output (`indicator@year`) against each lever moved alone: the levers that move it
    most in up to PANELS_PER_FIGURE panels on one y scale (a flat panel is a lever that does
    not matter), targets of targets.csv for that indicator and year as a dashed line."""
    check_language(language)
    _require(response, RESPONSE_COLUMNS, "response.csv")
    rows = response[response["output"] == output]
    if rows.empty:
        raise DataError(f"response.csv: no rows for output {output!r}; outputs: "
                        f"{', '.join(dict.fromkeys(response['output']))}")
    use_style(language)
    indicator = str(rows["indicator"].iloc[0])
    scale, unit = indicator_scale(indicator, str(rows["unit"].iloc[0]), language)
    levers = response_levers(rows)
    fig, axes = panel_grid(len(levers), ncols=3 if len(levers) > 4 else 2, panel_height_in=2.2)
    color = _colors()[0]
    for ax, lever in zip(axes, levers):
        response_panel(ax, rows[rows["lever"] == lever], scale, color, language)
        ax.set_title(lever_label(lever, language), fontsize=9)
        ax.set_xlabel(text("response_change", language), fontsize=7.5)
        ax.set_ylabel(unit)
    low = min(ax.get_ylim()[0] for ax in axes)
    high = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(low, high)  # one scale: a flat panel reads as a lever that does not move this output
    shown = _output_label(output, language)
    shared_legend(fig, axes, extra={text("median", language): plt.Line2D([], [], color=color),
                                    text("band_50", language): Patch(color=color, alpha=BAND_50_ALPHA),
                                    text("band_90", language): Patch(color=color, alpha=BAND_90_ALPHA),
                                    text("response_scenario", language): plt.Line2D([], [], **SCENARIO_LINE_STYLE)})
    fig.suptitle(text("response_title", language, output=shown), fontweight="bold", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    return fig


# ----------------------------------------------------------------------------- policy search

def pareto_front(candidates: pd.DataFrame, language: str = "en"):
    """Every evaluated lever setting: cost against probability; Pareto front and cheapest feasible."""
    check_language(language)
    _require(candidates, ("cost_100m_yuan", "probability", "pareto", "feasible"), "policy_candidates.csv")
    use_style(language)
    table = candidates.assign(pareto=candidates["pareto"].astype(bool), feasible=candidates["feasible"].astype(bool))
    colors = _colors()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.scatter(table["cost_100m_yuan"], table["probability"], s=10, color="#bbbbbb",
               label=text("candidates", language))
    feasible = table[table["feasible"]]
    ax.scatter(feasible["cost_100m_yuan"], feasible["probability"], s=14, color=colors[2],
               label=text("feasible", language))
    front = table[table["pareto"]].sort_values("cost_100m_yuan")
    ax.step(front["cost_100m_yuan"], front["probability"], where="post", color=colors[0], marker="o", ms=4,
            label=text("pareto", language))
    if len(feasible):
        best = feasible.loc[feasible["cost_100m_yuan"].idxmin()]
        ax.plot(best["cost_100m_yuan"], best["probability"], marker="*", ms=14, color=colors[4], ls="none",
                label=text("cheapest_feasible", language))
    ax.set_xlabel(text("cost", language))
    ax.set_ylabel(text("probability", language))
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="lower right")
    ax.set_title(text("pareto_title", language))
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- scenario discovery

PRIM_COLUMNS = ("box", "input", "input_kind", "lower", "upper", "coverage", "density")


def prim_box_limits(boxes: pd.DataFrame, ranges: pd.DataFrame, language: str = "en"):
    """Each PRIM box's restricted inputs as bars within the input's sampled range (0 = min, 1 = max)."""
    check_language(language)
    _require(boxes, PRIM_COLUMNS, "prim_boxes.csv")
    use_style(language)
    colors = _colors()
    numbers = list(dict.fromkeys(boxes["box"].astype(int)))
    fig, axes = plt.subplots(len(numbers), 1, figsize=(6.5, 0.45 * len(boxes) + 1.2 * len(numbers) + 0.6),
                             squeeze=False)
    for ax, number in zip(axes[:, 0], numbers):
        rows = boxes[boxes["box"].astype(int) == number].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        for yi, row in zip(y, rows.itertuples(index=False)):
            low, high = (float(ranges.loc[row.input, "min"]), float(ranges.loc[row.input, "max"])) \
                if row.input in ranges.index else (row.lower, row.upper)
            span = (high - low) or 1.0
            ax.barh(yi, 1.0, color="#e5e5e5", height=0.6)
            ax.barh(yi, (row.upper - row.lower) / span, left=(row.lower - low) / span, height=0.6,
                    color=colors[1] if row.input_kind == "lever" else colors[0])
        ax.set_yticks(y, [str(i) for i in rows["input"]])
        ax.set_xlim(0, 1)
        first = rows.iloc[0]
        ax.set_title(text("prim_box", language, n=number, coverage=f"{first.coverage:.0%}",
                          density=f"{first.density:.0%}"))
        ax.set_xlabel(text("position_in_range", language))
    fig.legend([Patch(color=colors[0]), Patch(color=colors[1])],
               [text("kind_parameter", language), text("kind_lever", language)], loc="lower center", ncol=2)
    fig.suptitle(text("prim_title", language), fontweight="bold")
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return fig


# ----------------------------------------------------------------------------- calibration

FIT_COLUMNS = ("indicator", "year", "unit", "observed", "median", "p05", "p95")


def fit_panel(ax, fit: pd.DataFrame, indicator: str, color: str, language: str = "en") -> None:
    """Primitive: one indicator's observations (log-normal error bars) against the posterior, on `ax`."""
    rows = fit[fit["indicator"] == indicator].sort_values("year")
    scale, unit = indicator_scale(indicator, str(rows["unit"].iloc[0]), language)
    years = rows["year"].to_numpy()
    ax.fill_between(years, rows["p05"] * scale, rows["p95"] * scale, color=color, alpha=BAND_90_ALPHA + 0.1,
                    lw=0, label=text("band_90", language))
    ax.plot(years, rows["median"] * scale, "-s", color=color, ms=3, label=text("median", language))
    observed = rows["observed"].to_numpy(dtype=float) * scale
    yerr = None
    if "sigma" in rows.columns:
        spread = np.exp(ERROR_BAR_SIGMAS * rows["sigma"].to_numpy(dtype=float))
        yerr = np.vstack([observed - observed / spread, observed * spread - observed])
    ax.errorbar(years, observed, yerr=yerr, color="black", fmt="o", ms=3.5, capsize=2,
                label=text("observed", language), zorder=5)
    title = indicator_label(indicator, language)
    if "within_error" in rows.columns:
        within = rows["within_error"].astype(str).str.lower().isin(("true", "1")).sum()
        title += f"\n({text('within_error', language, n=int(within), m=len(rows))})"
    ax.set_title(title)
    ax.set_xlabel(text("year", language))
    ax.set_ylabel(unit)
    ax.set_xticks(np.unique(years.astype(int)))
    ax.margins(x=0.15)


def calibration_fit(fit: pd.DataFrame, language: str = "en"):
    """Per indicator: observations with their error against the posterior median and 90% band."""
    check_language(language)
    _require(fit, FIT_COLUMNS, "fit.csv")
    use_style(language)
    colors = _colors()
    indicators = list(dict.fromkeys(fit["indicator"]))
    fig, axes = panel_grid(len(indicators), ncols=3, panel_height_in=2.2, width_in=9.0)
    for ax, indicator in zip(axes, indicators):
        fit_panel(ax, fit, indicator, colors[0], language)
    shared_legend(fig, axes)
    fig.suptitle(text("fit_title", language), fontweight="bold")
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig


PARAMETER_COLUMNS = ("parameter", "prior_lower", "prior_upper", "p05", "p50", "p95")


def _is_log_prior(row) -> bool:
    """Log-uniform/log-normal priors are compared on the log scale, where they are flat/normal."""
    return str(getattr(row, "prior", "")).lower().startswith(("loguniform", "lognormal", "log-"))


def _prior_range(row) -> tuple[float, float]:
    """The prior's bounds; for an unbounded prior, mean +- 3 sd (covers 99.7% of a normal)."""
    lower, upper = float(row.prior_lower), float(row.prior_upper)
    if np.isfinite(lower) and np.isfinite(upper) and upper > lower:
        return lower, upper
    mean, sd = float(getattr(row, "prior_mean", np.nan)), float(getattr(row, "prior_sd", np.nan))
    if np.isfinite(mean) and np.isfinite(sd) and sd > 0:
        return mean - 3 * sd, mean + 3 * sd
    raise DataError(f"parameters.csv: parameter {row.parameter!r} has neither finite prior_lower/prior_upper "
                    "nor prior_mean/prior_sd")


def _posterior_samples(posterior, parameter: str) -> np.ndarray | None:
    """All chains' draws of one parameter (names as in the .mdl, or with underscores)."""
    for name in (parameter, parameter.replace(" ", "_"), parameter.replace("_", " ")):
        if name in posterior:
            return posterior[name].to_numpy().ravel()
    return None


def prior_posterior(parameters: pd.DataFrame, posterior_nc: Path | None = None, language: str = "en"):
    """Each parameter's posterior (90% interval, median; samples if given) within its prior range."""
    check_language(language)
    _require(parameters, PARAMETER_COLUMNS, "parameters.csv")
    use_style(language)
    colors = _colors()
    fig, ax = plt.subplots(figsize=(7.0, 0.42 * len(parameters) + 1.6))
    y_positions = np.arange(len(parameters))[::-1]
    posterior = None
    if posterior_nc is not None:
        import arviz as az

        if not Path(posterior_nc).is_file():
            raise DataError(f"{posterior_nc}: no such posterior file")
        posterior = az.from_netcdf(str(posterior_nc)).posterior
    for y, row in zip(y_positions, parameters.itertuples(index=False)):
        lower, upper = _prior_range(row)
        log_scale = _is_log_prior(row) and lower > 0

        def position(values, lower=lower, upper=upper, log_scale=log_scale):
            """0 at the prior's lower bound, 1 at its upper (log scale for log priors)."""
            values = np.asarray(values, dtype=float)
            if log_scale:
                return (np.log(values) - np.log(lower)) / (np.log(upper) - np.log(lower))
            return (values - lower) / (upper - lower)
        ax.barh(y, 1.0, left=0.0, height=0.7, color="#dddddd", zorder=1)
        if posterior is not None:
            samples = _posterior_samples(posterior, str(row.parameter))
            if samples is not None and np.ptp(samples) > 0:
                parts = ax.violinplot(position(samples), positions=[y], orientation="horizontal", widths=0.7,
                                      showextrema=False)
                for body in parts["bodies"]:
                    body.set_facecolor(colors[0])
                    body.set_alpha(0.35)
        identified = str(getattr(row, "identified", "true")).lower() in ("true", "1")
        color = colors[0] if identified else colors[4]
        ax.plot(position([row.p05, row.p95]), [y, y], color=color, lw=2.5, zorder=3)
        ax.plot(position(row.p50), y, "o", color=color, ms=5, zorder=4)
    ax.set_yticks(y_positions, parameters["parameter"].astype(str).tolist())
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.6, len(parameters) - 0.4)
    ax.set_xlabel(text("position_in_prior", language))
    ax.set_ylabel(text("parameter", language))
    fig.legend([Patch(color="#dddddd"), plt.Line2D([], [], color=colors[0], lw=2.5, marker="o"),
                plt.Line2D([], [], color=colors[4], lw=2.5, marker="o")],
               [text("prior", language), f"{text('posterior_interval', language)} ({text('identified', language)})",
                text("not_identified", language)], loc="lower center", ncol=3)
    ax.set_title(text("prior_posterior_title", language))
    legend_in = 0.45  # room under the axes for the legend
    fig.tight_layout(rect=(0, legend_in / fig.get_figheight(), 1, 1))
    return fig


def _square_matrix(correlations: pd.DataFrame) -> pd.DataFrame:
    """Accept the CSV read with or without index_col=0: parameter names as index and columns."""
    matrix = correlations
    first = matrix.columns[0]
    if not pd.api.types.is_numeric_dtype(matrix[first]):
        matrix = matrix.set_index(first)
    matrix = matrix.astype(float)
    if matrix.shape[0] != matrix.shape[1]:
        raise DataError(f"correlations.csv: expected a square parameter x parameter matrix, got {matrix.shape}")
    return matrix


def pairwise_correlations(correlations: pd.DataFrame, language: str = "en"):
    """Posterior correlation matrix of the parameters as a heat map (strong pairs = poorly separable)."""
    check_language(language)
    if correlations is None or correlations.empty:
        raise DataError("correlations.csv: the table is empty; nothing to draw")
    matrix = _square_matrix(correlations)
    use_style(language)
    n = len(matrix)
    size = min(9.0, 0.45 * n + 3.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    if n <= ANNOTATE_MAX_CELLS:
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if abs(value) > 0.6 else "black")
    names = [str(c) for c in matrix.columns]
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), [str(i) for i in matrix.index])
    ax.grid(False)
    ax.set_xlabel(text("parameter", language))
    ax.set_ylabel(text("parameter", language))
    fig.colorbar(image, ax=ax, label=text("correlation", language), fraction=0.046)
    ax.set_title(text("correlations_title", language))
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- structure

def structure_diagram(mdl_path: Path, language: str = "en"):
    """Stocks as boxes, flows as arrows, grouped by the model's sectors, read from the .mdl."""
    from innosd.figures.structure import draw_structure, read_structure

    check_language(language)
    structure = read_structure(Path(mdl_path))
    use_style(language)
    return draw_structure(structure, language)
