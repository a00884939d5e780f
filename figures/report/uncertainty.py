"""The report's sections on where the bands come from (variance shares, the outside world)
and on the out-of-sample backtest. Same contract as `sections`: saved tables only, every
text from labels.yaml, a one-line note when the inputs are absent.
"""

from __future__ import annotations

import pandas as pd
from innosd.figures import uncertainty_figures as uf
from innosd.figures.labels import indicator_label, report_keys, report_text, scenario_label, world_source
from innosd.figures.plots import HIGHLIGHT_YEARS
from innosd.figures.report.display import variable_cell
from innosd.figures.report.html import Report, code, fmt
from innosd.figures.report.inputs import Inputs
from innosd.model.indicators import KEY_INDICATORS


def percent(value) -> str:
    return "–" if pd.isna(value) else f"{float(value):.0%}"


def shares_table(shares: pd.DataFrame, scenario: str, language: str) -> pd.DataFrame:
    """The outside world's share of each key indicator's variance at the key years, for the
    scenario the figure shows (the other scenarios' shares are in variance_shares.csv; they
    differ little, since the levers move medians more than spreads): one row per indicator."""
    keys = [i.id for i in KEY_INDICATORS]
    rows = shares[shares["indicator"].isin(keys) & shares["year"].isin(HIGHLIGHT_YEARS)
                  & (shares["scenario"] == scenario)]
    table = []
    for indicator, group in rows.groupby("indicator", sort=False):
        by_year = group.set_index(group["year"].astype(int))
        row = {"indicator": indicator_label(indicator, language)}
        for year in HIGHLIGHT_YEARS:
            row[report_text("text", "world_share_year", language, year=year)] = \
                percent(by_year.loc[year, "share_world"]) if year in by_year.index else "–"
        table.append(row)
    return pd.DataFrame(table)


def distribution_text(name: str, language: str) -> str:
    return report_text("distributions", name, language) if name in report_keys("distributions") else name


def world_rows(inputs: Inputs, language: str = "en") -> pd.DataFrame | None:
    """Each outside-world uncertainty: what it sets, its range and the band of its draws."""
    config = (inputs.world_config or {}).get("uncertainties") or {}
    draws = inputs.world
    if not config or draws is None:
        return None
    rows = []
    for name, spec in config.items():
        drawn = "–"
        if name in draws.columns:
            low, high = draws[name].quantile([0.05, 0.95])
            drawn = f"{fmt(low)}–{fmt(high)}"
        constants = spec.get("constants") or []
        rows.append({"uncertainty_name": variable_cell(name, language),
                     "constants": variable_cell(constants[0], language) if len(constants) == 1
                     else code("; ".join(constants)),
                     "distribution": distribution_text(str(spec.get("distribution", "")), language),
                     "lower": spec.get("lower"), "upper": spec.get("upper"), "drawn (p05–p95)": drawn,
                     "source": world_source(name, " ".join(str(spec.get("source", "")).split()), language)})
    return pd.DataFrame(rows)


def section_bands(report: Report, inputs: Inputs) -> None:
    report.heading("bands")
    shares = inputs.variance_shares
    if shares is None:
        return report.absent("bands")
    lang = report.language
    grid = shares.iloc[0]
    report.html(f"<p>{report.sentence('bands_intro', parameters=int(grid['parameter_draws']), world=int(grid['world_draws']))}</p>")
    scenario = uf.SHARES_SCENARIO if uf.SHARES_SCENARIO in set(shares["scenario"]) else str(shares["scenario"].iloc[0])
    report.figure_or_note("variance_shares", lambda: uf.variance_shares_figure(shares, language=lang),
                          report.text("headings", "bands") + f" ({scenario_label(scenario, lang)})")
    report.table(shares_table(shares, scenario, lang), "variance_shares", scenario=scenario_label(scenario, lang))
    world = world_rows(inputs, lang)
    if world is not None:
        report.table(world, "world")


def note_text(note, language: str) -> str:
    """A backtest note (experiments/backtest writes a few fixed sentences) in the report's language."""
    if not isinstance(note, str) or not note:
        return ""
    return report_text("backtest_notes", note, language) if note in report_keys("backtest_notes") else note


def backtest_scores(scores: pd.DataFrame, language: str) -> pd.DataFrame:
    indicator = scores["indicator"].map(lambda i: report_text("text", "all_indicators", language) if i == "all"
                                        else indicator_label(i, language))
    shown = scores.assign(indicator=indicator)
    if "model_variable" in shown.columns:
        shown = shown.assign(model_variable=shown["model_variable"].map(
            lambda v: variable_cell(v, language) if isinstance(v, str) and v else ""))
    if "note" in shown.columns:
        shown = shown.assign(note=shown["note"].map(lambda n: note_text(n, language)))
    return shown


def backtest_points(points: pd.DataFrame, language: str) -> pd.DataFrame:
    shown = points.assign(indicator=points["indicator"].map(lambda i: indicator_label(i, language)))
    if "model_variable" in shown.columns:
        shown = shown.assign(model_variable=shown["model_variable"].map(lambda v: variable_cell(v, language)))
    if "source" in shown.columns:
        shown = shown.assign(source=shown["source"].map(lambda v: code(str(v).split(" | ")[0])))
    for column in ("covered", "covered_model"):
        if column in shown.columns:
            shown[column] = shown[column].map(lambda v: report_text("text", "yes" if str(v) == "True" else "no",
                                                                    language))
    return shown


def section_backtest(report: Report, inputs: Inputs) -> None:
    report.heading("backtest")
    folder = inputs.backtest_folder
    if inputs.backtest is None or folder is None:
        return report.absent("backtest")
    lang = report.language
    meta = folder.metadata
    until = int(meta.get("until", 0))
    world = meta.get("world") if isinstance(meta.get("world"), dict) else {}
    report.html(f"<p>{report.sentence('backtest_intro', until=until, calibration=meta.get('calibration', ''), draws=meta.get('draws', ''), world=world.get('mode', ''), scenario=scenario_label(str(meta.get('scenario', 'baseline')), lang))}</p>")
    report.table(backtest_scores(inputs.backtest, lang), "backtest")
    if inputs.backtest_points is not None:
        points = inputs.backtest_points
        report.figure_or_note("backtest", lambda: uf.backtest_figure(points, until, language=lang),
                              report.text("headings", "backtest"))
        # twenty columns per observation: on the page; the PDF has the figure and the scores
        report.table(backtest_points(points, lang), "backtest_points", css_class="screen")
