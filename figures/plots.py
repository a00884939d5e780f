"""Figures drawn from saved results only: house style, primitives that take an `ax`,
and one function per figure. No `plt.show()`; callers save with `save_figure`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # library code draws off-screen; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from innosd.model.indicators import KEY_INDICATORS, MODELLED_REGION, Indicator  # noqa: E402
from innosd.model.results import year_end  # noqa: E402

STYLE = Path(__file__).with_name("innosd.mplstyle")
HIGHLIGHT_YEARS = (2020, 2025, 2035)
FIRST_YEAR, LAST_YEAR = 2013, 2035


# Print resolution of the raster copy; PDF and SVG are vector (house rule: PNG at 300 dpi).
PNG_DPI = 300
FIGURE_FORMATS = ("png", "pdf", "svg")
# Fan-chart shading: the 90% band lighter than the 50% band so both stay readable in print.
BAND_90_ALPHA, BAND_50_ALPHA = 0.15, 0.32
KEY_YEAR_STYLE = {"color": "#999999", "lw": 0.7, "ls": ":", "zorder": 0}
OBSERVED_STYLE = {"marker": "o", "ls": "none", "color": "black", "ms": 3.5, "zorder": 5}
TARGET_STYLE = {"marker": "^", "ls": "none", "ms": 6, "mfc": "none", "mec": "#b03a2e", "mew": 1.3, "zorder": 6}


def use_style(language: str = "en") -> None:
    """The house style, with a font that can draw the language's labels."""
    from innosd.figures.labels import font_families

    plt.style.use(str(STYLE))
    plt.rcParams["font.family"] = font_families(language)
    plt.rcParams["axes.unicode_minus"] = language == "en"  # not every CJK face has U+2212


def mark_key_years(ax, years=HIGHLIGHT_YEARS) -> None:
    """Dotted vertical lines at the plan's key years (2020, 2025, 2035)."""
    for year in years:
        ax.axvline(year, **KEY_YEAR_STYLE)


def plot_fan(ax, years, p05, p25, median, p75, p95, color, label: str | None = None) -> None:
    """Median line with 50% and 90% bands; with no spread (one deterministic run) just the line."""
    ax.fill_between(years, p05, p95, color=color, alpha=BAND_90_ALPHA, lw=0)
    ax.fill_between(years, p25, p75, color=color, alpha=BAND_50_ALPHA, lw=0)
    ax.plot(years, median, color=color, label=label)


def plot_points(ax, years, values, style: dict, label: str | None = None) -> None:
    """Observations or targets as markers (style: OBSERVED_STYLE or TARGET_STYLE)."""
    if len(values):
        ax.plot(years, values, label=label, **style)


def shared_legend(fig, axes, ncol_max: int = 5, extra: dict | None = None) -> None:
    """One legend under the figure with each label once (panels share scenarios);
    `extra` adds proxy handles (label -> artist), e.g. for uncertainty bands."""
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    handles.update(extra or {})
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=min(ncol_max, len(handles)), bbox_to_anchor=(0.5, -0.01))


def panel_grid(n_panels: int, ncols: int = 2, panel_height_in: float = 2.4, width_in: float = 8.5):
    """A figure with `n_panels` axes in a grid; unused cells hidden. Returns (fig, axes list)."""
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width_in, panel_height_in * nrows + 0.6), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


def year_end_series(ds: xr.Dataset, variable: str) -> pd.Series:
    """One run's year-end values of `variable` as a Series over calendar year (model.results)."""
    return year_end(ds[variable]).to_series()


def plot_indicator(ax, runs: Mapping[str, xr.Dataset], indicator: Indicator,
                   observations: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                   language: str = "en") -> None:
    """One indicator: a line per scenario, observations as points, targets as markers."""
    from innosd.figures.labels import indicator_label, indicator_scale, text

    scale, unit = indicator_scale(indicator.id, indicator.unit, language)
    for name, ds in runs.items():
        if indicator.model_variable not in ds:
            continue
        series = year_end_series(ds, indicator.model_variable)
        series = series[(series.index >= FIRST_YEAR) & (series.index <= LAST_YEAR)]
        ax.plot(series.index, series.to_numpy() * scale, label=name)
    if observations is not None:
        obs = observations[observations["model_variable"] == indicator.model_variable]
        plot_points(ax, obs["year"], obs["value"] * scale, OBSERVED_STYLE, text("observed", language))
    if targets is not None:
        tgt = targets[(targets["model_variable"] == indicator.model_variable) & (targets["region"] == MODELLED_REGION)]
        plot_points(ax, tgt["year"], tgt["value"] * scale, TARGET_STYLE, text("plan_target", language))
    mark_key_years(ax)
    ax.set_title(indicator_label(indicator.id, language))
    ax.set_xlabel(text("year_end", language))
    ax.set_ylabel(unit)
    ax.set_xlim(FIRST_YEAR - 0.5, LAST_YEAR + 0.5)


def key_indicators_figure(runs: Mapping[str, xr.Dataset], observations: pd.DataFrame | None = None,
                          targets: pd.DataFrame | None = None, indicators=KEY_INDICATORS, language: str = "en"):
    """Grid of key indicators 2013-2035, scenarios overlaid, observations and targets marked."""
    from innosd.figures.labels import text

    use_style(language)
    fig, axes = panel_grid(len(indicators))
    for ax, indicator in zip(axes, indicators):
        plot_indicator(ax, runs, indicator, observations, targets, language)
    shared_legend(fig, axes)
    fig.suptitle(f"{text('key_indicators_title', language)} ({text('key_years_note', language)})", fontweight="bold")
    fig.tight_layout(rect=(0, 0.04, 1, 0.98))
    return fig


def save_figure(fig, stem: Path, formats=FIGURE_FORMATS) -> list[Path]:
    """Save one figure as `stem`.png (300 dpi), .pdf and .svg (for editors) and close it."""
    paths = []
    for fmt in formats:
        path = Path(stem).with_name(Path(stem).name + f".{fmt}")
        fig.savefig(path, dpi=PNG_DPI if fmt == "png" else "figure", bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths
