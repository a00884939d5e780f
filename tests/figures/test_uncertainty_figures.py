"""Tier 5: the band-source and backtest figures draw from their saved tables in both
languages and refuse a table without its columns in one line."""

from __future__ import annotations

import figure_fixtures as fx
import matplotlib.pyplot as plt
import pytest
from innosd.figures import uncertainty_figures as uf

from innosd.errors import DataError


@pytest.mark.parametrize("language", ["en", "zh"])
def test_variance_shares_figure_stacks_to_one(language):
    fig = uf.variance_shares_figure(fx.make_variance_shares(), language=language)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(fx.INDICATORS)
    for ax in axes:  # each bar stack (parameters + world + interaction) reaches 1
        tops = {}
        for patch in ax.patches:
            x = round(patch.get_x(), 9)
            tops[x] = max(tops.get(x, 0.0), patch.get_y() + patch.get_height())
        assert len(tops) == 3 and all(t == pytest.approx(1.0) for t in tops.values())
    plt.close(fig)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_backtest_figure_has_a_row_per_scored_observation(language):
    points, _ = fx.make_backtest_tables()
    fig = uf.backtest_figure(points, 2015, language=language)
    assert len(fig.axes[0].get_yticks()) == len(points)
    plt.close(fig)


def test_a_table_without_its_columns_is_one_line():
    with pytest.raises(DataError) as err:
        uf.variance_shares_figure(fx.make_variance_shares().drop(columns="share_world"))
    assert "share_world" in str(err.value) and "\n" not in str(err.value)
