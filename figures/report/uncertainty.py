"""The report's sections on where the bands come from (variance shares, the outside world)
and on the out-of-sample backtest. Same contract as `sections`: saved tables only, every
text from labels.yaml, a one-line note when the inputs are absent.
"""

from __future__ import annotations

import pandas as pd
from innosd.figures import uncertainty_figures as uf
from innosd.figures.labels import indicator_label, scenario_label
from innosd.figures.plots import HIGHLIGHT_YEARS
from innosd.figures.report.html import Report, fmt
from innosd.figures.report.inputs import Inputs
from innosd.model.indicators import KEY_INDICATORS


def percent(value) -> str:
    return "–" if pd.isna(value) else f"{float(value):.0%}"


def shares_table(shares: pd.DataFrame, language: str) -> pd.DataFrame:
    keys = [i.id for i in KEY_INDICATORS]
    rows = shares[shares["indicator"].isin(keys) & shares["year"].isin(HIGHLIGHT_YEARS)]
    return pd.DataFrame({"scenario": rows["scenario"].map(lambda s: scenario_label(s, language)),
                         "indicator": rows["indicator"].map(lambda i: indicator_label(i, language)),
                         "year": rows["year"].astype(int),
                         **{c: rows[c].map(percent) for c in uf.SHARE_COLUMNS}})


def world_rows(inputs: Inputs) -> pd.DataFrame | None:
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
        rows.append({"uncertainty_name": name, "constants": "; ".join(spec.get("constants") or []),
                     "distribution": spec.get("distribution", ""), "lower": spec.get("lower"),
                     "upper": spec.get("upper"), "drawn (p05–p95)": drawn,
                     "source": " ".join(str(spec.get("source", "")).split())})
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
    report.table(shares_table(shares, lang), "variance_shares")
    world = world_rows(inputs)
    if world is not None:
        report.table(world, "world")


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
    scores = inputs.backtest.assign(indicator=inputs.backtest["indicator"].map(lambda i: indicator_label(i, lang)))
    report.table(scores, "backtest")
    if inputs.backtest_points is not None:
        points = inputs.backtest_points
        report.figure_or_note("backtest", lambda: uf.backtest_figure(points, until, language=lang),
                              report.text("headings", "backtest"))
        report.table(points.assign(indicator=points["indicator"].map(lambda i: indicator_label(i, lang))),
                     "backtest_points")
