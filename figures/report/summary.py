"""The executive summary: the report's first page, answering a planner's four questions from
the saved tables only — are the targets met and how likely (joint probability per plan-year,
with its Monte Carlo error), where do the headline indicators go (medians and 90% bands),
at what cost and with which mix (the policy search), and what could make it fail (PRIM
boxes, else the binding target). Every sentence comes from labels.yaml.
"""

from __future__ import annotations

import pandas as pd
from innosd.figures.labels import indicator_label, indicator_scale, report_text, scenario_label
from innosd.figures.plots import HIGHLIGHT_YEARS
from innosd.figures.report.display import change_text, input_text, lever_id, requirement_text, short
from innosd.figures.report.html import Report, esc, grouped_table_html
from innosd.figures.report.inputs import Inputs

# The plan-year a planner is asked about first (the 2021-2025 plans), and the indicators whose
# 2020/2025/2035 values head the summary (the plans' headline innovation indicators).
SUMMARY_YEAR = 2025
HEADLINE_INDICATORS = ("rd_intensity", "high_tech_enterprises", "invention_patents_per_10k")
SHOWN_PRIM_BOXES = 2


def probability_text(p: float, se: float, interval: tuple[float, float] | None = None) -> str:
    """'0.80 ± 0.03' (share of draws ± its Monte Carlo standard error). Where no draw (or every
    draw) meets the targets the binomial standard error is 0, which would read as certainty;
    the Wilson 95% interval of the joint table says how far from 0 (or 1) the odds may be:
    '0.00 (95%: 0.00–0.02)'. The same where the error rounds to 0.00 (199 of 200 draws: ± 0.0050 shown as 0.00),
    since '0.99 ± 0.00' reads as certainty too."""
    if f"{se:.2f}" == "0.00" and interval is not None:
        return f"{p:.2f} (95%: {interval[0]:.2f}–{interval[1]:.2f})"
    return f"{p:.2f} ± {se:.2f}"


def band_text(row: pd.Series, scale: float) -> str:
    band = "" if row["p95"] == row["p05"] else f" [{short(row['p05'] * scale)}–{short(row['p95'] * scale)}]"
    return f"{short(row['median'] * scale)}{band}"


def joint_rows(joint: pd.DataFrame, language: str) -> pd.DataFrame:
    """One row per scenario: the joint probability of each plan-year shown, with MC error."""
    years = [y for y in sorted(set(joint["year"].astype(int))) if y >= 2020]
    rows = []
    for scenario, group in joint.groupby("scenario", sort=False):
        by_year = group.set_index(group["year"].astype(int))
        row = {report_text("summary", "scenario", language): scenario_label(scenario, language)}
        for year in years:
            if year in by_year.index:
                r = by_year.loc[year]
                row[report_text("summary", "joint_column", language, year=year, n=int(r["targets"]))] = \
                    probability_text(float(r["probability"]), float(r["mc_se"]),
                                     (float(r["ci_low"]), float(r["ci_high"])))
        binding = by_year.loc[SUMMARY_YEAR, "binding_target"] if SUMMARY_YEAR in by_year.index else ""
        row[report_text("summary", "binding_column", language)] = requirement_text(binding, language)
        rows.append(row)
    return pd.DataFrame(rows)


def headline_groups(projections: pd.DataFrame, language: str) -> list[tuple[str, pd.DataFrame]]:
    """Per headline indicator (its label and display unit): scenario x median [5–95%] in 2020,
    2025, 2035 — one small table each, so the summary fits its page without repeating names."""
    groups = []
    for indicator in (i for i in HEADLINE_INDICATORS if i in set(projections["indicator"])):
        table = projections[projections["indicator"] == indicator]
        scale, unit = indicator_scale(indicator, str(table["unit"].iloc[0]), language)
        rows = []
        for scenario, group in table.groupby("scenario", sort=False):
            by_year = group.set_index(group["year"].astype(int))
            row = {report_text("summary", "scenario", language): scenario_label(scenario, language)}
            for year in HIGHLIGHT_YEARS:
                row[str(year)] = band_text(by_year.loc[year], scale) if year in by_year.index else "–"
            rows.append(row)
        groups.append((f"{indicator_label(indicator, language)} ({unit})", pd.DataFrame(rows)))
    return groups


def policy_sentence(summary: dict | None, language: str) -> str:
    if not summary:
        return report_text("summary", "no_policy", language)
    mix = ", ".join(f"{input_text(lever, language)} {change_text(change)}" for lever, change in summary["mix"].items()
                    if abs(change) >= 0.005)
    fields = dict(cost=f"{summary['cost_100m_yuan']:,.1f}", first=summary["cost_years"][0],
                  last=summary["cost_years"][1], mix=mix or report_text("summary", "no_change", language),
                  probability=probability_text(summary["probability"], summary["mc_se"]),
                  required=f"{summary['required_probability']:g}",
                  targets="; ".join(requirement_text(r, language) for r in summary["targets"]),
                  binding=requirement_text(summary["binding_target"], language), draws=summary["draws"])
    key = "policy_feasible" if summary["feasible"] else "policy_infeasible"
    return report_text("summary", key, language, **fields)


def limit_text(name: str, lower: float, upper: float, language: str) -> str:
    """A PRIM box edge: a lever's relative change as percent, any other input in its own unit."""
    if lever_id(name):
        return f"{input_text(name, language)} {change_text(lower)}–{change_text(upper)}"
    return f"{input_text(name, language)} {short(lower)}–{short(upper)}"


def failure_sentences(inputs: Inputs, language: str) -> list[str]:
    """PRIM boxes where the targets are missed; else the binding target of the least likely scenario."""
    boxes = inputs.prim_boxes
    if boxes is not None and len(boxes):
        sentences = []
        for number, group in list(boxes.groupby("box"))[:SHOWN_PRIM_BOXES]:
            limits = "; ".join(limit_text(r.input, r.lower, r.upper, language) for r in group.itertuples(index=False))
            first = group.iloc[0]
            sentences.append(report_text("summary", "prim_box", language, n=int(number), limits=limits,
                                         density=f"{first['density']:.0%}", coverage=f"{first['coverage']:.0%}"))
        return sentences
    joint = inputs.joint
    if joint is not None and len(joint) and SUMMARY_YEAR in set(joint["year"].astype(int)):
        year_rows = joint[joint["year"].astype(int) == SUMMARY_YEAR]
        worst = year_rows.loc[year_rows["probability"].idxmin()]
        return [report_text("summary", "binding", language, scenario=scenario_label(worst["scenario"], language),
                            target=requirement_text(worst["binding_target"], language),
                            probability=f"{float(worst['binding_probability']):.2f}"),
                report_text("summary", "no_prim", language)]
    return [report_text("summary", "no_prim", language)]


def section_summary(report: Report, inputs: Inputs) -> None:
    """The executive summary (first page)."""
    report.heading("summary")
    report.html('<div class="summary">')  # printed smaller: the whole summary fits page 1
    lang = report.language
    if inputs.joint is not None and len(inputs.joint):
        draws = int(inputs.joint["draws"].max())
        report.html(f"<p>{esc(report.text('summary', 'joint_intro', draws=draws))}</p>")
        report.table(joint_rows(inputs.joint, lang), "summary_joint")
        column = inputs.joint["warning"] if "warning" in inputs.joint.columns else []
        warning = next((w for w in column if isinstance(w, str) and w), "")
        if warning:
            report.note(report.text("summary", "few_draws", draws=draws))
    else:
        report.absent("summary")
    if inputs.projections is not None:
        report.html(grouped_table_html(headline_groups(inputs.projections, lang),
                                       report.text("captions", "summary_headline")))
    items = [policy_sentence(inputs.policy_summary, lang), *failure_sentences(inputs, lang),
             report.text("summary", "held_fixed")]
    report.html("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in items) + "</ul></div>")
