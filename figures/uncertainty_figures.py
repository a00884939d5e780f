"""Figures of where a band comes from and how well bands did out of sample, drawn from the saved
tables `variance_shares.csv` (innosd run, +experiment=projections) and `backtest_points.csv`
(innosd backtest); see docs/outputs.md. Same contract as `report_figures`: DataFrames in, a
matplotlib Figure in the house style out; nothing here simulates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from innosd.figures.labels import indicator_label, scenario_label, text
from innosd.figures.plots import HIGHLIGHT_YEARS, OBSERVED_STYLE, panel_grid, shared_legend, use_style
from innosd.figures.report_figures import _colors, _require
from innosd.model.indicators import KEY_INDICATORS

SHARE_COLUMNS = ("share_parameters", "share_world", "share_interaction")
SHARE_LABELS = {"share_parameters": "share_parameters", "share_world": "share_world",
                "share_interaction": "share_interaction"}  # text keys of labels.yaml
SHARES_SCENARIO = "baseline"  # the scenario drawn when a table holds several (the report's table lists all)


def shares_for_figure(shares: pd.DataFrame) -> pd.DataFrame:
    """The key indicators at the key years of one scenario (baseline if present)."""
    frame = _require(shares, ("scenario", "indicator", "year", *SHARE_COLUMNS), "variance_shares.csv")
    scenarios = list(dict.fromkeys(frame["scenario"]))
    scenario = SHARES_SCENARIO if SHARES_SCENARIO in scenarios else scenarios[0]
    keys = [i.id for i in KEY_INDICATORS]
    picked = frame[(frame["scenario"] == scenario) & frame["indicator"].isin(keys)
                   & frame["year"].isin(HIGHLIGHT_YEARS)].dropna(subset=list(SHARE_COLUMNS))
    return _require(picked, ("indicator",), f"variance_shares.csv ({scenario}, key indicators and years)")


def variance_shares_figure(shares: pd.DataFrame, language: str = "en"):
    """Stacked bars per key indicator and key year: how much of the band's variance is the
    model's parameters, the outside world, and their interaction."""
    use_style(language)
    frame = shares_for_figure(shares)
    indicators = [i for i in dict.fromkeys(frame["indicator"])]
    fig, axes = panel_grid(len(indicators), ncols=3, panel_height_in=2.0)
    colors = dict(zip(SHARE_COLUMNS, _colors()))
    for ax, indicator in zip(axes, indicators):
        rows = frame[frame["indicator"] == indicator].sort_values("year")
        x = np.arange(len(rows))
        bottom = np.zeros(len(rows))
        for column in SHARE_COLUMNS:
            values = rows[column].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, color=colors[column], width=0.6, label=text(SHARE_LABELS[column], language))
            bottom += values
        ax.set_xticks(x, [str(int(y)) for y in rows["year"]])
        ax.set_ylim(0, 1)
        ax.set_title(indicator_label(indicator, language))
        ax.set_ylabel(text("variance_share", language))
    shared_legend(fig, axes)
    scenario = scenario_label(str(frame["scenario"].iloc[0]), language)
    fig.suptitle(text("variance_shares_title", language, scenario=scenario), fontweight="bold")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return fig


def backtest_figure(points: pd.DataFrame, until: int, language: str = "en"):
    """Each scored observation: its growth over the base year against the projected growth
    (median and the central band of the draws); levels with no base-year observation are
    shown as observed over the projected median level instead."""
    use_style(language)
    frame = _require(points, ("indicator", "year", "observed", "observed_growth", "median_growth",
                              "growth_low", "growth_high", "median", "band_low", "band_high"),
                     "backtest_points.csv")
    frame = frame.reset_index(drop=True)
    fig, ax = panel_grid(1, ncols=1, panel_height_in=max(2.5, 0.32 * len(frame) + 1.0))
    ax = ax[0]
    y = np.arange(len(frame))[::-1]
    color = _colors()[0]
    growth = frame["observed_growth"].notna().to_numpy()
    # with a base-year observation: growth (observed/base - 1); without: level relative to the projected median
    low = np.where(growth, frame["growth_low"], frame["band_low"] / frame["median"] - 1)
    high = np.where(growth, frame["growth_high"], frame["band_high"] / frame["median"] - 1)
    mid = np.where(growth, frame["median_growth"], 0.0)
    observed = np.where(growth, frame["observed_growth"], frame["observed"] / frame["median"] - 1)
    ax.hlines(y, low, high, color=color, lw=4, alpha=0.35, label=text("backtest_band", language))
    ax.plot(mid, y, "|", color=color, ms=12, mew=2, label=text("median", language))
    ax.plot(observed, y, label=text("observed", language), **OBSERVED_STYLE)
    ax.axvline(0, color="#999999", lw=0.7)
    labels = [f"{indicator_label(r.indicator, language)} {int(r.year)}" + ("" if g else " *")
              for r, g in zip(frame.itertuples(), growth)]
    ax.set_yticks(y, labels)
    ax.set_xlabel(text("backtest_axis", language, until=until))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:+.0%}")
    shared_legend(fig, [ax])
    fig.suptitle(text("backtest_title", language, until=until), fontweight="bold")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig
