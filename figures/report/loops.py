"""The report's loop-dominance section: which feedback loop families drive the key variables
over time (Loops That Matter, from a saved `innosd loops` folder: family_shares.csv,
loop_families.csv, family_draws.csv), placed after the response curves it helps explain.
Same contract as `sections`: saved tables only, every text from labels.yaml, a one-line note
when the inputs are absent.
"""

from __future__ import annotations

import pandas as pd
from innosd.figures import loops_figures as lf
from innosd.figures.labels import lever_label, report_keys, scenario_label
from innosd.figures.plots import HIGHLIGHT_YEARS
from innosd.figures.report.display import variable_cell
from innosd.figures.report.html import Report, code, esc
from innosd.figures.report.inputs import Inputs

from innosd.rundir import FAMILY_DRAWS_FILE, FAMILY_SHARES_FILE, LOOP_FAMILIES_FILE, RunFolder

# A family "acts on" a variable in a year when its share is at least this: smaller shares are
# round-off of near-cancelling loops, not a mechanism a reader should be told about.
ACTING_SHARE = 0.01
# The net (reinforcing minus balancing) share must move by more than this between two key years
# before the text says the balance shifted: year-to-year noise of the annual means is about 0.01.
SHIFT = 0.02
# A key variable's note (loops_notes) and the lever whose reach it explains (response.csv's lever id)
NOTE_LEVERS = {"post subsidy rate effective": "post_subsidy"}
# First year the report's reading covers: 2010-2016 is the spin-up and calibration window.
FIRST_READ_YEAR = 2017


def signed(value: float) -> str:
    """+0.52, -0.48; never -0.00 (a sum of shares that cancel is round-off, not a sign)."""
    return f"{round(float(value), 2) + 0.0:+.2f}"


def family_names(families: pd.DataFrame, language: str) -> dict[str, str]:
    return {f: lf.family_label(g, p, language) for f, g, p in
            zip(families["family"], families["groups"], families["polarity"])}


def signed_totals(shares: pd.DataFrame, families: pd.DataFrame) -> pd.DataFrame:
    """Per variable and year: the reinforcing and the balancing families' shares added up."""
    polarity = families.set_index("family")["polarity"]
    frame = shares.assign(polarity=shares["family"].map(polarity))
    out = frame.pivot_table(index=["variable", "year"], columns="polarity", values="share", aggfunc="sum")
    return out.reindex(columns=["R", "B"]).fillna(0.0)


def agreement(draws: pd.DataFrame | None, dominant: pd.DataFrame, variable: str, year: int) -> str:
    """'3/4': in how many posterior draws the dominant family of `year` is the point run's."""
    if draws is None or draws.empty:
        return "–"
    mine = draws[(draws["variable"] == variable) & (draws["year"] == year)]
    point = dominant[(dominant["variable"] == variable) & (dominant["year"] == year)]
    if mine.empty or point.empty:
        return "–"
    same = int((mine["family"].fillna("") == point["family"].iloc[0]).sum())
    return f"{same}/{draws['draw'].nunique()}"


def dominant_table(shares: pd.DataFrame) -> pd.DataFrame:
    pick = shares.assign(_abs=shares["share"].abs()).sort_values(["variable", "year", "_abs", "family"],
                                                                 ascending=[True, True, False, True])
    return pick.drop_duplicates(["variable", "year"]).drop(columns="_abs")


def loops_table(shares: pd.DataFrame, families: pd.DataFrame, draws: pd.DataFrame | None, variables: list[str],
                language: str, report: Report) -> pd.DataFrame:
    """One row per variable and key year: the dominant family and its share, the reinforcing and
    balancing families' shares, and how many posterior draws have the same dominant family."""
    names = family_names(families, language)
    dominant = dominant_table(shares)
    totals = signed_totals(shares, families)
    rows = []
    for variable in variables:
        for year in HIGHLIGHT_YEARS:
            top = dominant[(dominant["variable"] == variable) & (dominant["year"] == year)]
            if top.empty:
                continue
            family = top["family"].iloc[0]
            r, b = totals.loc[(variable, year)] if (variable, year) in totals.index else (0.0, 0.0)
            rows.append({"variable": variable_cell(variable, language), "year": year,
                         report.text("text", "loops_dominant"): f"{family}: {names.get(family, family)}",
                         "share": signed(top['share'].iloc[0]),
                         report.text("text", "loops_reinforcing_share"): signed(r),
                         report.text("text", "loops_balancing_share"): signed(b),
                         report.text("text", "loops_same_in_draws"): agreement(draws, dominant, variable, year)})
    return pd.DataFrame(rows)


# variables of a family's strongest loop the table names before "..." (the whole loop: loops.csv)
SHOWN_LOOP_VARIABLES = 6


def shortened(variables: str) -> str:
    names = str(variables).split(" -> ")[:-1]
    return " -> ".join(names[:SHOWN_LOOP_VARIABLES]) + (" -> ..." if len(names) > SHOWN_LOOP_VARIABLES else
                                                          f" -> {names[0]}" if names else "")


def families_shown(shares: pd.DataFrame, families: pd.DataFrame, language: str) -> pd.DataFrame:
    """The families any key variable's table or figure names: sectors, polarity, loops, strongest loop."""
    named = set(dominant_table(shares)["family"]) | set(
        shares.assign(a=shares["share"].abs()).groupby("family")["a"].mean().nlargest(lf.FAMILIES_SHOWN).index)
    rows = []
    for row in families[families["family"].isin(named)].itertuples():
        rows.append({"family": row.family, "sectors": lf.family_label(row.groups, row.polarity, language),
                     "loops": int(row.loops), "strongest_loop": code(f"{row.strongest_loop}: {shortened(row.strongest_variables)}")})
    return pd.DataFrame(rows)


def reading(report: Report, shares: pd.DataFrame, families: pd.DataFrame, variable: str,
            response: pd.DataFrame | None = None) -> str:
    """What the saved shares say about one variable, in the report's language: the sectors whose
    loops act on it, and whether the balance of reinforcing and balancing loops shifts."""
    lang = report.language
    mine = shares[(shares["variable"] == variable) & (shares["year"] >= FIRST_READ_YEAR)]
    acting = mine[mine["share"].abs() >= ACTING_SHARE]["family"].unique()
    groups = sorted({g for f in acting for g in str(families.set_index("family").at[f, "groups"]).split(" + ")})
    sectors = report.text("text", "loops_list_separator").join(lf.group_label(g, lang) for g in groups)
    parts = [report.text("text", "loops_sectors", variable=lf.variable_display(variable, lang),
                         sectors=sectors or report.text("text", "none"))]
    totals = signed_totals(shares[shares["variable"] == variable], families)
    first, last = HIGHLIGHT_YEARS[1], HIGHLIGHT_YEARS[-1]
    both = {families.set_index("family").at[f, "polarity"] for f in acting} >= {"R", "B"}
    if both and (variable, first) in totals.index and (variable, last) in totals.index:
        net_first = float(totals.loc[(variable, first)].sum())
        net_last = float(totals.loc[(variable, last)].sum())
        trend = "loops_shift_balancing" if net_last < net_first - SHIFT else \
            "loops_shift_reinforcing" if net_last > net_first + SHIFT else "loops_shift_none"
        parts.append(report.text("text", "loops_net", first=first, last=last, net_first=signed(net_first),
                                 net_last=signed(net_last), trend=report.text("text", trend)))
    parts.append(response_link(report, response, variable))
    notes = report_keys("loops_notes")
    if variable in notes:
        active = mine[mine["share"].abs() >= 0.5]
        year = int(active["year"].min()) if len(active) else "–"
        parts.append(report.text("loops_notes", variable, year=year))
        if variable in NOTE_LEVERS:
            parts.append(lever_reach(report, response, NOTE_LEVERS[variable]))
    return " ".join(p for p in parts if p)


def lever_ranges(response: pd.DataFrame, variable: str) -> pd.Series:
    """Per lever: how far its response curve moves `variable` (the spread of the medians over the
    lever's changes, relative to the median at no change), largest first; empty if no curve."""
    rows = response[response["model_variable"] == variable] if "model_variable" in response.columns else response[:0]
    if rows.empty:
        return pd.Series(dtype=float)
    rows = rows[rows["year"] == rows["year"].max()]
    base = rows[rows["change"] == 0].groupby("lever")["median"].first()
    spread = rows.groupby("lever")["median"].agg(lambda m: m.max() - m.min())
    return (spread / base.reindex(spread.index).abs()).dropna().sort_values(ascending=False)


def response_link(report: Report, response: pd.DataFrame | None, variable: str) -> str:
    """'In the response curves above, incubator support moves it by 233% of its 2025 value over the
    lever's range; the next lever, maker-space support, by 6.6%' (from response.csv)."""
    if response is None:
        return ""
    ranges = lever_ranges(response, variable)
    if len(ranges) < 2:
        return ""
    year = int(response.loc[response["model_variable"] == variable, "year"].max())
    first, second = ranges.index[:2]
    return report.text("text", "loops_response", year=year, lever=lever_label(first, report.language),
                       moved=percent(ranges.iloc[0]), next=lever_label(second, report.language),
                       next_moved=percent(ranges.iloc[1]))


def lever_reach(report: Report, response: pd.DataFrame | None, lever: str) -> str:
    """'In the response curves above, R&D post-subsidy moves no output by more than 0.2% ...'."""
    if response is None or "model_variable" not in response.columns or lever not in set(response["lever"]):
        return ""
    widest = max(float(lever_ranges(response, v).get(lever, 0.0)) for v in response["model_variable"].unique())
    return report.text("text", "loops_lever_reach", lever=lever_label(lever, report.language), moved=percent(widest))


def percent(share: float) -> str:
    """0.0015 -> '0.15%', 2.33 -> '233%': two significant digits, at least one decimal below 10%."""
    value = 100 * float(share)
    return f"{value:.2g}%" if value < 10 else f"{value:.0f}%"


def _table(folder: RunFolder, name: str) -> pd.DataFrame | None:
    return folder.table(name) if folder.has(name) else None


def section_loops(report: Report, inputs: Inputs) -> None:
    report.heading("loops")
    folder = inputs.loops_folder
    if folder is None:
        return report.absent("loops")
    lang = report.language
    shares, families = _table(folder, FAMILY_SHARES_FILE), _table(folder, LOOP_FAMILIES_FILE)
    draws = _table(folder, FAMILY_DRAWS_FILE)
    if shares is None or families is None or shares.empty:
        return report.absent("loops")
    meta = folder.metadata
    variables = [v for v in (meta.get("variables") or list(dict.fromkeys(shares["variable"])))
                 if (shares["variable"] == v).any()]
    params = meta.get("parameter_set") or folder.config.get("parameters") or "?"
    scenario = meta.get("scenario") or folder.config.get("scenario") or "baseline"
    report.html("<p>" + report.sentence("loops_intro", code={"parameter_set": str(params)},
                                        loops=f"{int(meta.get('loops_found', 0)):,}",
                                        families=int(meta.get("families", len(families))),
                                        scenario=scenario_label(str(scenario), lang)) + "</p>")
    report.figure_or_note("loop_families", lambda: lf.family_dominance_figure(shares, families, variables, lang),
                          report.text("text", "loops_figure"))
    report.table(loops_table(shares, families, draws, variables, lang, report), "loops_dominant")
    for variable in variables:
        report.html(f"<p>{esc(reading(report, shares, families, variable, inputs.response))}</p>")
    report.table(families_shown(shares, families, lang), "loop_families")
    n_draws = int(meta.get("draws") or 0)
    where = {"files": f"{LOOP_FAMILIES_FILE}, {FAMILY_SHARES_FILE}, {FAMILY_DRAWS_FILE}, loops.csv",
             "command": "innosd loops --all-loops"}
    key = "loops_uncertainty_draws" if n_draws else "loops_uncertainty_one_run"
    report.html(f'<p class="note">{report.sentence(key, code=where, draws=n_draws)}</p>')
