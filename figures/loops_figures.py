"""Loop dominance figures drawn from the saved tables of `innosd loops` (variable_scores.csv,
loops.csv, family_shares.csv, loop_families.csv; docs/outputs.md): the share of each feedback loop,
or family of loops, in driving a variable over time, stacked, reinforcing loops above zero and
balancing loops below. DataFrames in, a matplotlib Figure in the house style out; nothing here simulates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from innosd.figures.labels import sector_keys, sector_label, text, variable_label
from innosd.figures.plots import use_style  # first: it selects the off-screen backend
import matplotlib.pyplot as plt  # noqa: E402
from innosd.figures.report_figures import _colors, _require

from innosd.errors import DataError

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


# families drawn one by one over all panels of the family figure (one colour each, the same in
# every panel); the rest of a panel is "other families"
FAMILIES_SHOWN = 7


def variable_display(name: str, language: str) -> str:
    """A model variable as a reader names it: its Chinese label (the name where labels.yaml has
    none), the name itself in English."""
    return (variable_label(name, language) or name) if language != "en" else name


def group_label(group: str, language: str = "en") -> str:
    """A model sector (or, for a model without sectors, a stock) as a reader names it."""
    return sector_label(group, language) if group in sector_keys() else variable_display(group, language)


def family_label(groups: str, polarity: str, language: str = "en") -> str:
    """'Firm ladder + Incubation (reinforcing)': the sectors (or stocks) a family's loops cross,
    in the report's language, and its polarity."""
    names = [group_label(g, language) for g in str(groups).split(" + ")]
    kind = text({"R": "loops_reinforcing", "B": "loops_balancing"}.get(polarity, "loops_mixed"), language)
    return text("loops_family", language, sectors=" + ".join(names), polarity=kind)


def family_dominance_figure(shares: pd.DataFrame, families: pd.DataFrame, variables: list[str],
                            language: str = "en", time_label: str | None = None, titles: dict | None = None):
    """One panel per variable: each loop family's share in driving it, year by year (rows of
    family_shares.csv), reinforcing families stacked above zero and balancing ones below."""
    use_style(language)
    frame = _require(shares, ("variable", "year", "family", "share"), "family_shares.csv")
    table = _require(families, ("family", "groups", "polarity"), "loop_families.csv").set_index("family")
    variables = [v for v in variables if (frame["variable"] == v).any()]
    if not variables:
        raise DataError("family_shares.csv: none of the variables asked for has a row")
    strength = frame.assign(a=frame["share"].abs()).groupby("family")["a"].mean().sort_values(ascending=False)
    shown = list(strength.index[:FAMILIES_SHOWN])
    colors = _colors()
    color = {f: colors[i % len(colors)] for i, f in enumerate(shown)}
    fig, axes = plt.subplots(len(variables), 1, figsize=(9.0, 1.8 + 1.45 * len(variables)), sharex=True,
                             squeeze=False)
    drawn: dict[str, object] = {}
    for ax, name in zip(axes[:, 0], variables):
        wide = frame[frame["variable"] == name].pivot_table(index="year", columns="family", values="share",
                                                            aggfunc="sum").fillna(0.0)
        years = wide.index.to_numpy(dtype=float)
        up, down = np.zeros(len(years)), np.zeros(len(years))
        layers = [(f, wide[f].to_numpy(), color[f]) for f in shown if f in wide.columns]
        rest = [c for c in wide.columns if c not in shown]
        if rest:
            layers.append(("other", wide[rest].to_numpy().T, OTHER_COLOR))
        for family, values, c in layers:
            pos = np.clip(values, 0, None).reshape(-1, len(years)).sum(axis=0)
            neg = np.clip(values, None, 0).reshape(-1, len(years)).sum(axis=0)
            bars = ax.bar(years, pos, bottom=up, width=0.9, color=c, lw=0)
            ax.bar(years, neg, bottom=down, width=0.9, color=c, lw=0)
            drawn.setdefault(family, bars)
            up, down = up + pos, down + neg
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title((titles or {}).get(name, variable_display(name, language)), fontsize=9, loc="left")
    axes[-1, 0].set_xlabel(time_label or text("year", language))
    fig.supylabel(text("loops_relative_score", language), fontsize=8)
    labels = [family_label(table.at[f, "groups"], table.at[f, "polarity"], language) if f != "other"
              else text("loops_other_families", language) for f in drawn]
    fig.legend(list(drawn.values()), [f"{f}: {lab}" if f != "other" else lab for f, lab in zip(drawn, labels)],
               loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
