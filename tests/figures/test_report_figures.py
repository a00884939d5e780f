"""Every report figure renders from tiny saved tables, in English and Chinese, with labelled
axes, a non-empty plot area and no missing glyphs; labels cover every indicator id."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import figure_fixtures as fx
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from innosd.figures import labels
from innosd.figures import report_figures as rf
from innosd.figures.plots import save_figure
from innosd.figures.structure import read_structure

from innosd.errors import DataError, InnosdError

MODEL_FILE = Path(__file__).resolve().parents[2] / "model" / "guangzhou_innovation.mdl"
CJK = re.compile(r"[\u4e00-\u9fff]")
LANGUAGES = ("en", "zh")


def data_axes(fig) -> list:
    """Visible axes that hold data (colour bars are labelled by their own label)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def all_text(fig) -> str:
    parts = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]
    return " ".join(p for p in parts if isinstance(p, str))


def check_figure(fig, language: str) -> None:
    """Labelled axes, something drawn inside finite limits, and every glyph in the font."""
    axes = data_axes(fig)
    assert axes, "figure has no visible axes"
    for ax in axes:
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip(), f"unlabelled axes {ax.get_title()!r}"
        drawn = len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.images)
        assert drawn > 0, f"empty plot area in {ax.get_title()!r}"
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert np.isfinite([x0, x1, y0, y1]).all() and x1 > x0 and y1 != y0
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")  # a CJK label drawn as boxes
        fig.canvas.draw()
    if language == "zh":
        assert CJK.search(all_text(fig)), "Chinese requested but no Chinese text drawn"
    else:
        assert not CJK.search(" ".join(ax.get_xlabel() + ax.get_ylabel() for ax in axes))
    plt.close(fig)


@pytest.mark.parametrize("language", LANGUAGES)
def test_projection_fans(language, observations, targets):
    fig = rf.projection_fans(fx.make_projections(), observations, targets, language=language)
    axes = data_axes(fig)
    assert len(axes) == len(fx.INDICATORS)
    # two scenarios x (90% band + 50% band) per panel, and the observed points of 2013-2016
    assert all(len(ax.collections) >= 4 for ax in axes)
    hte = next(ax for ax in axes if ax.get_title() == labels.indicator_label("high_tech_enterprises", language))
    assert any(line.get_label() == labels.text("observed", language) for line in hte.lines)
    assert any(line.get_label() == labels.text("plan_target", language) for line in hte.lines)
    check_figure(fig, language)


def test_projection_fans_scale_rd_intensity_to_percent(observations, targets):
    fig = rf.projection_fans(fx.make_projections(spread=0.0), observations, targets)
    ax = next(a for a in data_axes(fig) if a.get_ylabel() == "% of GDP")
    medians = [line for line in ax.lines if line.get_label() == labels.scenario_label("baseline")]
    assert medians and medians[0].get_ydata()[0] == pytest.approx(1.9)  # 0.019 shown as 1.9 %
    plt.close(fig)


@pytest.mark.parametrize("language", LANGUAGES)
def test_attainment_heatmap(language):
    attainment = fx.make_attainment()
    fig = rf.attainment_heatmap(attainment, language=language)
    ax = data_axes(fig)[0]
    image = ax.images[0].get_array()
    assert image.shape == (3, 2)  # three targets x two scenarios
    assert float(image.min()) == pytest.approx(attainment["probability"].min())
    check_figure(fig, language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("methods", ["sobol", "morris", "both"])
def test_sensitivity_ranking(language, methods):
    sobol = fx.make_sobol() if methods in ("sobol", "both") else None
    morris = fx.make_morris() if methods in ("morris", "both") else None
    fig = rf.sensitivity_ranking(sobol, morris, language=language)
    axes = data_axes(fig)
    assert len(axes) == 2 * (2 if methods == "both" else 1)
    top = axes[0].get_yticklabels()[-1].get_text()
    assert top == "hte exit rate"  # the largest index is ranked first (top of the panel)
    check_figure(fig, language)


def test_sensitivity_ranking_needs_a_table():
    with pytest.raises(DataError, match="sobol.csv nor morris.csv"):
        rf.sensitivity_ranking(None, pd.DataFrame())


@pytest.mark.parametrize("language", LANGUAGES)
def test_pareto_front(language):
    candidates = fx.make_candidates()
    fig = rf.pareto_front(candidates, language=language)
    ax = data_axes(fig)[0]
    star = [line for line in ax.lines if line.get_label() == labels.text("cheapest_feasible", language)][0]
    feasible = candidates[candidates["feasible"]]
    assert star.get_xdata()[0] == pytest.approx(feasible["cost_100m_yuan"].min())
    check_figure(fig, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_response_curves_rank_levers_and_draw_the_target(language):
    response = fx.make_response()
    fig = rf.response_curves(response, "rd_intensity@2025", language=language)
    axes = data_axes(fig)
    # the lever that moves the output comes first; panels share one y scale
    assert [ax.get_title() for ax in axes] == [labels.lever_label(lv, language) for lv in ("fiscal_st", "talent")]
    assert axes[0].get_ylim() == axes[1].get_ylim()
    target = labels.text("plan_target", language)
    for ax in axes:  # the 2025 target as a dashed line, in percent like the curve
        (line,) = [ln for ln in ax.lines if ln.get_label() == target]
        assert line.get_ydata()[0] == pytest.approx(3.4)
    check_figure(fig, language)
    # no target for this indicator and year: no line
    fig = rf.response_curves(response, "high_tech_enterprises@2025", language=language)
    assert not [ln for ax in data_axes(fig) for ln in ax.lines if ln.get_label() == target]
    plt.close(fig)


def test_response_curves_name_a_missing_output():
    with pytest.raises(DataError, match="no rows for output 'patents@2025'"):
        rf.response_curves(fx.make_response(), "patents@2025")


@pytest.mark.parametrize("language", LANGUAGES)
def test_scenario_difference(language):
    projections = fx.make_projections()
    fig = rf.scenario_difference(projections, language=language)
    ax = data_axes(fig)[0]
    line = [ln for ln in ax.lines if ln.get_label() == labels.scenario_label("incubator_doubling", language)][0]
    assert line.get_ydata()[0] == pytest.approx(0.0, abs=1e-9)  # both scenarios start from 2013 data
    assert line.get_ydata()[-1] > 0
    check_figure(fig, language)


def test_scenario_difference_names_missing_baseline():
    projections = fx.make_projections()
    with pytest.raises(DataError, match="scenarios present: baseline, incubator_doubling"):
        rf.scenario_difference(projections, baseline="status_quo")


@pytest.mark.parametrize("language", LANGUAGES)
def test_calibration_fit(language):
    fig = rf.calibration_fit(fx.make_fit(), language=language)
    assert len(data_axes(fig)) == 2
    assert "3" in data_axes(fig)[0].get_title()  # 3 of 4 within error
    check_figure(fig, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_prior_posterior(language, tmp_path):
    posterior_nc = tmp_path / "posterior.nc"
    fx.write_posterior_nc(posterior_nc)
    fig = rf.prior_posterior(fx.make_parameters(), posterior_nc, language=language)
    ax = data_axes(fig)[0]
    assert len(ax.collections) == len(fx.PARAMETERS)  # one violin of posterior samples each
    check_figure(fig, language)


def test_prior_posterior_without_samples():
    fig = rf.prior_posterior(fx.make_parameters())
    ax = data_axes(fig)[0]
    assert not ax.collections and len(ax.lines) == 2 * len(fx.PARAMETERS)
    check_figure(fig, "en")


def test_prior_posterior_log_prior_on_log_scale():
    """A log-uniform prior [1, 100] puts a median of 10 half-way, not at 9/99."""
    parameters = fx.make_parameters().iloc[:1].assign(prior="loguniform [1, 100]", prior_lower=1.0, prior_upper=100.0,
                                                      p05=5.0, p50=10.0, p95=20.0)
    fig = rf.prior_posterior(parameters)
    median = [line for line in data_axes(fig)[0].lines if line.get_marker() == "o"][0]
    assert median.get_xdata()[0] == pytest.approx(0.5)
    plt.close(fig)


def test_calibration_fit_error_bars_are_log_normal():
    """sigma is a log-scale error: the bar spans observed x exp(+-2 sigma), asymmetric."""
    fit = fx.make_fit().iloc[:1].assign(observed=100.0, sigma=0.1)
    fig = rf.calibration_fit(fit)
    bars = [c for c in data_axes(fig)[0].collections if c.__class__.__name__ == "LineCollection"][0]
    (x0, low), (x1, high) = bars.get_segments()[0]
    assert low == pytest.approx(100 * np.exp(-0.2)) and high == pytest.approx(100 * np.exp(0.2))
    plt.close(fig)


@pytest.mark.parametrize("language", LANGUAGES)
def test_pairwise_correlations(language):
    fig = rf.pairwise_correlations(fx.make_correlations().reset_index(), language=language)  # as read from CSV
    ax = data_axes(fig)[0]
    assert ax.images[0].get_array()[0, 1] == pytest.approx(-0.7)
    check_figure(fig, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_structure_diagram(language):
    fig = rf.structure_diagram(MODEL_FILE, language=language)
    ax = fig.axes[0]
    structure = read_structure(MODEL_FILE)
    assert len(structure.stocks) >= 20
    box_texts = {t.get_text().replace("\n", " ") for t in ax.texts}
    # every stock is drawn, each under its label in the figure's language (model v2's age chain
    # made `tech firms` a sum of two stocks, so the check is over the stocks, not one name)
    for stock in structure.stocks:
        assert labels.stock_label(stock, language) in box_texts, stock
        if language == "zh":
            assert labels.stock_label(stock, language) != stock, f"{stock}: no Chinese label in labels.yaml"
    assert labels.sector_label("Firm ladder", language) in box_texts
    assert len(ax.patches) > len(structure.stocks) + len(structure.sectors)  # boxes, frames and arrows
    assert ax.get_title()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
        fig.canvas.draw()
    plt.close(fig)


def test_save_figure_writes_png_pdf_svg(tmp_path):
    fig = rf.attainment_heatmap(fx.make_attainment())
    paths = save_figure(fig, tmp_path / "attainment")
    assert sorted(p.suffix for p in paths) == [".pdf", ".png", ".svg"]
    from PIL import Image

    with Image.open(tmp_path / "attainment.png") as image:
        dpi = image.info["dpi"][0]
    assert dpi == pytest.approx(300, abs=1)
    assert (tmp_path / "attainment.svg").read_text().lstrip().startswith("<?xml")


def test_every_indicator_id_has_both_languages(observations, targets):
    ids = set(observations["indicator"]) | set(targets["indicator"])
    missing = ids - labels.indicator_ids()
    assert not missing, f"figures/labels.yaml lacks {sorted(missing)}"
    for indicator in ids:
        assert labels.indicator_label(indicator, "en") != indicator
        assert CJK.search(labels.indicator_label(indicator, "zh")) or "R&D" in labels.indicator_label(indicator, "zh")


def test_every_model_sector_has_a_label():
    structure = read_structure(MODEL_FILE)
    for sector in structure.sectors:
        assert CJK.search(labels.sector_label(sector, "zh")), sector


def test_unknown_language_is_one_line():
    with pytest.raises(InnosdError, match="valid languages: en, zh"):
        rf.attainment_heatmap(fx.make_attainment(), language="fr")


def test_missing_cjk_font_names_the_package(monkeypatch):
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    with pytest.raises(labels.FontError, match="fonts-noto-cjk") as err:
        labels.cjk_font_family.__wrapped__()
    assert "\n" not in str(err.value)


def test_missing_column_is_one_line():
    with pytest.raises(DataError, match=r"attainment.csv: missing column\(s\) probability"):
        rf.attainment_heatmap(fx.make_attainment().drop(columns="probability"))


def test_primitives_draw_on_a_given_axes(observations, targets):
    """The panels behind the report figures compose into a caller's own layout."""
    fig, (left, middle, right) = plt.subplots(1, 3)
    colors = {"baseline": "C0", "incubator_doubling": "C1"}
    rf.projection_panel(left, fx.make_projections(), "high_tech_enterprises", observations, targets, colors)
    rf.difference_panel(middle, fx.make_projections(), "rd_intensity", "baseline", colors)
    rf.fit_panel(right, fx.make_fit(), "rd_expenditure", "C2")
    assert left.get_title() == "High-tech enterprises" and middle.get_ylabel() == "Δ % of GDP"
    assert right.get_title().startswith("R&D expenditure")
    check_figure(fig, "en")
