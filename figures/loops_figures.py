"""Loop dominance figures drawn from the saved tables of `innosd loops` (variable_scores.csv,
loops.csv; docs/outputs.md): the share of each feedback loop in driving a variable over time,
stacked, reinforcing loops above zero and balancing loops below. DataFrames in, a matplotlib Figure in the house style out; nothing here simulates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from innosd.figures.labels import text
from innosd.figures.plots import use_style  # first: it selects the off-screen backend
import matplotlib.pyplot as plt  # noqa: E402
from innosd.figures.report_figures import _colors, _require

# loops drawn one by one per panel; the rest are summed as "other loops" (a legend of more
# than this many colours is not readable, and the CSV keeps every reported loop)
LOOPS_PER_PANEL = 6
# how many variables of a loop its legend entry names before "..."
LEGEND_VARIABLES = 3
OTHER_COLOR = "#bbbbbb"


def _legend(loop_id: str, variables: str) -> str:
    names = variables.split(" -> ")[:-1]
    shown = " → ".join(names[:LEGEND_VARIABLES]) + (" → …" if len(names) > LEGEND_VARIABLES else "")
    return f"{loop_id}: {shown}"


def loop_dominance_figure(table: pd.DataFrame, loops: pd.DataFrame, variable: str, language: str = "en",
                          time_label: str | None = None):
    """Stacked shares of the loops driving `variable` over time (its rows of variable_scores.csv)."""
    use_style(language)
    frame = _require(table, ("time", "loop_id", "share"), "variable_scores.csv")
    _require(loops, ("loop_id", "variables"), "loops.csv")
    wide = frame.pivot_table(index="time", columns="loop_id", values="share", aggfunc="sum").fillna(0.0)
    named = [c for c in wide.columns if not str(c).startswith("other")]
    ranked = sorted(named, key=lambda c: -wide[c].abs().mean())[:LOOPS_PER_PANEL]
    rest = wide.drop(columns=ranked)
    variables = loops.set_index("loop_id")["variables"]
    colors = _colors()
    fig, ax = plt.subplots(figsize=(9.0, 3.2))
    t = wide.index.to_numpy(dtype=float)
    up, down = np.zeros(len(t)), np.zeros(len(t))
    layers = [(wide[c].to_numpy(), colors[i % len(colors)], _legend(c, variables.get(c, c)))
              for i, c in enumerate(ranked)]
    if len(rest.columns):
        layers.append((rest.to_numpy().T, OTHER_COLOR, text("loops_other", language)))
    for values, color, label in layers:
        # a layer is one loop, or the rest of them: positive parts stack up, negative parts down
        pos = np.clip(values, 0, None).reshape(-1, len(t)).sum(axis=0)
        neg = np.clip(values, None, 0).reshape(-1, len(t)).sum(axis=0)
        ax.fill_between(t, up, up + pos, color=color, lw=0, label=label, step="post")
        ax.fill_between(t, down, down + neg, color=color, lw=0, step="post")
        up, down = up + pos, down + neg
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylim(-1.02, 1.02)
    ax.set_ylabel(text("loops_relative_score", language))
    ax.set_xlabel(time_label or text("year", language))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.set_title(text("loops_title", language, variable=variable))
    return fig
