"""The report's sections, one function each, in the order of `report.headings` in
labels.yaml. Each draws from `Inputs` (saved tables only) and says in one line when its
inputs are absent; every text comes from labels.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.calibration.data import OBSERVATIONS_PATH, TARGETS_PATH
from innosd.figures import report_figures as rf
from innosd.figures.labels import (
    indicator_label,
    indicator_scale,
    lever_label,
    plan_label,
    region_label,
    report_keys,
    report_template,
    report_text,
    scenario_description,
    scenario_label,
    source_label,
    text,
    unit_label,
)
from innosd.figures.plots import HIGHLIGHT_YEARS
from innosd.figures.report.display import (
    input_cell,
    kind_cell,
    lever_id,
    requirement_cell,
    short,  # noqa: F401 (compact_key_years)
    variable_cell,
    yes_no,
)
from innosd.figures.report.html import Markup, Report, code, esc, fmt, markdown_html, quote
from innosd.figures.report.inputs import Inputs
from innosd.figures.report.summary import section_summary  # noqa: F401 (one module per section)
from innosd.figures.report.loops import section_loops  # noqa: F401 (sections of HEADINGS)
from innosd.figures.report.uncertainty import section_backtest, section_bands  # noqa: F401 (sections of HEADINGS)
from innosd.figures.structure import read_structure
from innosd.model import MODEL_FILE
from innosd.model.indicators import KEY_INDICATORS
from innosd.scenarios import CONFIG_DIR

from innosd.rundir import POLICY_BEST_FILE, SOURCE_ROOT, RunFolder, file_sha256, read_yaml_mapping

SCENARIO_DIR = CONFIG_DIR / "scenario"
# en/zh of every section heading, as labels.yaml has them (section key -> language -> text)
HEADINGS = {key: {lang: report_text("headings", key, lang) for lang in ("en", "zh")}
            for key in report_keys("headings")}
SHOWN_SOURCES = 3  # folders named in a "rows left out" note before "..."


def shown_path(path: Path) -> str:
    """A shipped file's path as a reader finds it in the source tree (or just its name)."""
    try:
        return str(Path(path).relative_to(SOURCE_ROOT))
    except ValueError:
        return Path(path).name


# ----------------------------------------------------------------------------- what was run

def kind_text(folder: RunFolder, language: str) -> str:
    kind = folder.kind or "unknown"
    return report_text("kinds", kind, language, name=folder.metadata.get("experiment", ""))


def levers_text(levers: dict | None, language: str) -> str:
    parts = []
    for lever, setting in (levers or {}).items():
        if isinstance(setting, dict):
            change = f"{float(setting.get('change', 0.0)):+.0%}"
            start, ramp = setting.get("start"), setting.get("ramp_years", "?")
            name = lever_label(lever, language)
            if isinstance(start, (int, float)):
                parts.append(report_text("text", "lever_ramp", language, lever=name, change=change,
                                         start=f"{start:g}", ramp=f"{ramp:g}" if isinstance(ramp, (int, float))
                                         else ramp))
            else:
                parts.append(report_text("text", "lever", language, lever=name, change=change))
    return "; ".join(parts) or report_text("text", "no_levers", language)


def parameter_set_text(folder: RunFolder, language: str) -> Markup | str:
    """'<code>calibrated</code> (posterior median) from <code>outputs/calibration/...</code>'."""
    ps = folder.metadata.get("parameter_set") or folder.config.get("parameter_set") or {}
    if isinstance(ps, str):
        return code(ps)
    if not ps:
        return report_text("text", "model_defaults", language) if folder.kind == "run" else ""
    source = ps.get("source") or {}
    where = (esc(report_template("text", "parameter_set_from", language)).format(
        run_dir=f"<code>{esc(source['run_dir'])}</code>") if isinstance(source, dict) and source.get("run_dir")
        else "")
    statistic = str(ps.get("statistic", ""))
    known = statistic in report_keys("statistics")
    shown = esc(report_text("statistics", statistic, language)) if known else f"<code>{esc(statistic)}</code>"
    return Markup(f"<code>{esc(ps.get('name', '?'))}</code> ({shown}){where}")


def uncertainty_text(folder: RunFolder, language: str) -> str:
    meta = folder.metadata
    uncertainty = meta.get("uncertainty") if isinstance(meta.get("uncertainty"), dict) else {}
    mode = str(uncertainty.get("mode") or meta.get("uncertainty_mode") or "")
    draws = uncertainty.get("draws") or meta.get("draws")
    shown = report_text("modes", mode, language) if mode in report_keys("modes") else mode
    return report_text("text", "draws", language, mode=shown, draws=draws) if mode and draws else shown


def what_text(folder: RunFolder) -> str:
    experiment = folder.metadata.get("experiment")
    if experiment:
        names = folder.metadata.get("scenarios") or []
        return f"{experiment} ({', '.join(map(str, names))})" if names else str(experiment)
    return folder.scenario or ""


def scenario_rows(inputs: Inputs, language: str) -> list[dict]:
    """Each scenario's description and levers: from the run's own config.yaml, else (for an
    experiment, which records only names) from the current scenario file, saying so."""
    rows: dict[str, dict] = {}
    levers_column = "levers (relative change, start, ramp)"
    for f in inputs.folders:
        sc = f.config.get("scenario") or {}
        if isinstance(sc, dict) and sc.get("name") and f.scenario == sc["name"] and sc["name"] not in rows:
            rows[sc["name"]] = {"scenario": scenario_label(sc["name"], language),
                                "description": scenario_description(sc["name"], " ".join(
                                    str(sc.get("description", "")).split()), language),
                                levers_column: levers_text(sc.get("levers"), language)}
    named = [str(n) for f in inputs.folders for n in (f.metadata.get("scenarios") or [])]
    if inputs.projections is not None:
        named += [str(n) for n in inputs.projections["scenario"].unique()]
    for name in dict.fromkeys(named):
        path = SCENARIO_DIR / f"{name}.yaml"
        if name in rows or not path.is_file():
            continue
        sc = read_yaml_mapping(path)
        rows[name] = {"scenario": scenario_label(name, language),
                      "description": scenario_description(name, " ".join(str(sc.get("description", "")).split()),
                                                          language),
                      levers_column: levers_text(sc.get("levers"), language)}
    return list(rows.values())


def section_run(report: Report, inputs: Inputs) -> None:
    """The scenarios and their levers (folders, commands and overrides: the provenance appendix)."""
    report.heading("run")
    scenarios = scenario_rows(inputs, report.language)
    if scenarios:
        report.table(pd.DataFrame(scenarios), "scenarios")


def shown_folder(path: Path, root: Path) -> str:
    """A folder relative to the report's first input (the sweep), as a reader finds it there."""
    try:
        relative = Path(path).relative_to(root)
        return str(relative) if str(relative) != "." else Path(path).name
    except ValueError:
        return str(path)


def section_provenance(report: Report, inputs: Inputs) -> None:
    """Appendix: every folder the report was built from, its parameter set, commit and command."""
    report.heading("provenance")
    lang = report.language
    root = inputs.folders[0].path if inputs.folders else Path(".")
    report.html(f"<p>{report.sentence('folders_root', code={'root': str(root)})}</p>")
    rows = [{"folder": code(shown_folder(f.path, root)), "kind": kind_text(f, lang),
             "scenario / experiment": code(what_text(f)), "parameter set": parameter_set_text(f, lang),
             "uncertainty": uncertainty_text(f, lang),
             "git commit": code(str(f.metadata.get("git_commit", "unknown"))[:12]),
             "created": f.metadata.get("created", ""), "seed": f.metadata.get("seed", ""),
             "command": code(f.metadata.get("command", ""))} for f in inputs.folders]
    report.table(pd.DataFrame(rows), "folders")
    overrides = sorted({o for f in inputs.folders for o in (f.config.get("overrides") or [])})
    params = {k: v for f in inputs.folders for k, v in (f.config.get("params") or {}).items()}
    if overrides or params:
        shown = " ".join(overrides) or report.text("text", "none")
        report.html(f"<p>{report.sentence('overrides', code={'overrides': shown}, n=len(params))}</p>")


# ----------------------------------------------------------------------------- results

def key_year_table(projections: pd.DataFrame, language: str) -> pd.DataFrame:
    """Rows indicator x scenario; columns the key years as 'median [p05–p95]' in display units."""
    rows = []
    indicators = list(dict.fromkeys(projections["indicator"]))
    scenarios = list(dict.fromkeys(projections["scenario"]))
    ordered = projections.assign(_i=projections["indicator"].map(indicators.index),
                                 _s=projections["scenario"].map(scenarios.index)).sort_values(["_i", "_s", "year"])
    # indicator-major, so the scenarios of one indicator sit next to each other for comparison
    for (indicator, scenario), group in ordered.groupby(["indicator", "scenario"], sort=False):
        scale, unit = indicator_scale(indicator, str(group["unit"].iloc[0]), language)
        row = {"indicator": indicator_label(indicator, language), "unit": unit,
               "scenario": scenario_label(scenario, language)}
        by_year = group.set_index("year")
        for year in HIGHLIGHT_YEARS:
            if year not in by_year.index:
                row[str(year)] = "–"
                continue
            r = by_year.loc[year]
            band = "" if r["p95"] == r["p05"] else f" [{fmt(r['p05'] * scale)}–{fmt(r['p95'] * scale)}]"
            row[str(year)] = f"{fmt(r['median'] * scale)}{band}"
        rows.append(row)
    return pd.DataFrame(rows)


def compact_key_years(projections: pd.DataFrame, language: str, baseline: str = "baseline") -> pd.DataFrame:
    """Rows indicator x key year; the baseline as 'median [p05–p95]', every other scenario as its
    median (their bands are in projections.csv and the fan charts), in display units."""
    scenarios = list(dict.fromkeys(projections["scenario"]))
    banded = baseline if baseline in scenarios else scenarios[0]
    rows = []
    for indicator, group in projections.groupby("indicator", sort=False):
        scale, unit = indicator_scale(indicator, str(group["unit"].iloc[0]), language)
        for year in HIGHLIGHT_YEARS:
            at = group[group["year"].astype(int) == year].set_index("scenario")
            if at.empty:
                continue
            row = {"indicator": f"{indicator_label(indicator, language)} ({unit})", "year": year}
            for scenario in [banded, *(s for s in scenarios if s != banded)]:
                if scenario not in at.index:
                    continue
                r = at.loc[scenario]
                cell = short(r["median"] * scale)
                if scenario == banded and r["p95"] != r["p05"]:
                    cell += f" [{short(r['p05'] * scale)}–{short(r['p95'] * scale)}]"
                row[scenario_label(scenario, language)] = cell
            rows.append(row)
    return pd.DataFrame(rows)


def section_projections(report: Report, inputs: Inputs, observations, targets) -> None:
    report.heading("projections")
    if inputs.projections is None:
        return report.absent("projections")
    lang = report.language
    key_ids = [i.id for i in KEY_INDICATORS]
    shown = inputs.projections[inputs.projections["indicator"].isin(key_ids)]
    shown = shown if len(shown) else inputs.projections
    report.table(compact_key_years(shown, lang), "key_years_compact")
    indicators = list(dict.fromkeys(shown["indicator"]))
    groups = [indicators[k:k + rf.PANELS_PER_FIGURE] for k in range(0, len(indicators), rf.PANELS_PER_FIGURE)]
    for number, group in enumerate(groups, start=1):
        part = shown[shown["indicator"].isin(group)]
        suffix = f"_{number}" if len(groups) > 1 else ""
        report.figure_or_note(f"projection_fans{suffix}",
                              lambda part=part: rf.projection_fans(part, observations, targets, language=lang),
                              text("projections_title", lang))
    scenarios = list(dict.fromkeys(shown["scenario"]))
    if "baseline" in scenarios and len(scenarios) > 1:
        report.figure_or_note("scenario_difference", lambda: rf.scenario_difference(shown, language=lang),
                              text("difference_title", lang, baseline=scenario_label("baseline", lang)))


def plan_tag(plan: str) -> str:
    """'... plan 2018-2020 [003]' -> '[003]' (the bracketed tag the data files give every plan)."""
    found = re.findall(r"\[[^\]]+\]", str(plan))
    return found[-1] if found else str(plan)


def attainment_matrix(attainment: pd.DataFrame, language: str) -> pd.DataFrame:
    """One row per distinct requirement (never two targets merged), its status and plans, and the
    probability ± MC standard error under each scenario as columns."""
    table = attainment.assign(status=attainment.get("status", pd.Series("official", index=attainment.index)))
    keys = ["indicator", "year", "target", "direction", "status"]
    scenarios = list(dict.fromkeys(table["scenario"]))
    rows = []
    for key, group in table.groupby(keys, sort=False):
        indicator, year, target, direction, status = key
        scale, unit = indicator_scale(indicator, str(group["unit"].iloc[0]), language)
        sign = "≥" if direction == "at_least" else "≤"
        row = {"indicator": indicator_label(indicator, language), "year": int(year),
               "target": f"{sign} {fmt(float(target) * scale)} {unit}",
               "status": report_text("status", str(status), language),
               "plan": " ".join(dict.fromkeys(plan_tag(p) for p in group["plan"]))}
        by_scenario = group.drop_duplicates("scenario").set_index("scenario")
        for scenario in scenarios:
            if scenario in by_scenario.index:
                row[scenario_label(scenario, language)] = f"{float(by_scenario.loc[scenario, 'probability']):.2f}"
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["year", "indicator"]).reset_index(drop=True)


def plans_note(plans: pd.Series, language: str) -> str:
    """'[000] plan name; [003] ...': the plans a table names by tag."""
    tags = dict.fromkeys(plan_tag(p) for p in plans)
    return "; ".join(f"{tag} {plan_label(tag, language) or tag}" for tag in tags)


def section_attainment(report: Report, inputs: Inputs) -> None:
    report.heading("attainment")
    if inputs.attainment is None:
        return report.absent("attainment")
    lang = report.language
    report.figure_or_note("attainment_heatmap", lambda: rf.attainment_heatmap(inputs.attainment, language=lang),
                          text("attainment_title", lang))
    # the heat map shows every target's value and probability: the table (plans, status) on the page
    report.table(attainment_matrix(inputs.attainment, lang), "attainment", css_class="screen")
    report.note(report.text("text", "plans_legend", plans=plans_note(inputs.attainment["plan"], lang)))
    if "mc_se" in inputs.attainment.columns and inputs.attainment["mc_se"].notna().any():
        report.note(report.text("text", "attainment_mc_se", se=f"{inputs.attainment['mc_se'].max():.3f}",
                                draws=int(inputs.attainment["draws"].max())))


def output_cell(output: str, language: str):
    """A sensitivity output 'indicator@year' as the indicator's label and year."""
    indicator, _, year = str(output).partition("@")
    return f"{indicator_label(indicator, language)} ({year})" if year else indicator_label(indicator, language)


def sensitivity_table(table: pd.DataFrame, value: str, language: str) -> pd.DataFrame:
    """The TOP_INPUTS inputs per output by `value`, names labelled, indices to 3 digits."""
    top = table.sort_values(["output", value], ascending=[True, False]).groupby("output").head(rf.TOP_INPUTS)
    shown = top.assign(output=top["output"].map(lambda o: output_cell(o, language)),
                       input=top["input"].map(lambda i: input_cell(i, language)))
    if "input_kind" in shown.columns:
        shown = shown.assign(input_kind=shown["input_kind"].map(lambda k: kind_cell(k, language)))
    return shown


def section_sensitivity(report: Report, inputs: Inputs) -> None:
    report.heading("sensitivity")
    if inputs.sobol is None and inputs.morris is None:
        return report.absent("sensitivity")
    lang = report.language
    report.figure_or_note("sensitivity_ranking", lambda: rf.sensitivity_ranking(inputs.sobol, inputs.morris,
                                                                                language=lang),
                          text("sensitivity_title", lang))
    for caption, table, value in (("sobol_top", inputs.sobol, "ST"), ("morris_top", inputs.morris, "mu_star")):
        if table is not None:
            report.table(sensitivity_table(table, value, lang), caption, n=rf.TOP_INPUTS)


RESPONSE_COLUMNS_SHOWN = (-0.5, 0.0, 0.5, 1.0)  # changes shown as columns; the curve's highest point follows


def response_matrix(response: pd.DataFrame, output: str, language: str) -> pd.DataFrame:
    """One output's table, one row per lever (the levers that move it most first): the median
    at a few changes and at the lever's highest change, in display units, and the probability
    of the target at the lowest, zero and highest change where targets.csv has one."""
    group = response[response["output"] == output]
    scale, _ = indicator_scale(str(group["indicator"].iloc[0]), str(group["unit"].iloc[0]), language)
    lever_column = report_text("text", "response_lever", language)
    highest_column = report_text("text", "response_highest", language)
    probability_column = report_text("text", "response_probability", language)
    rows = []
    for lever in rf.response_levers(group, limit=len(group)):
        curve = group[group["lever"] == lever].sort_values("change")
        medians = dict(zip(curve["change"].astype(float), curve["median"].astype(float)))
        row = {lever_column: lever_label(lever, language)}
        row.update({change_label(c): short(medians[c] * scale) if c in medians else "" for c in RESPONSE_COLUMNS_SHOWN})
        top = curve.iloc[-1]
        row[highest_column] = f"{short(float(top['median']) * scale)} ({change_label(float(top['change']))})"
        if curve["probability"].notna().any():
            ends = curve.iloc[[0, int(np.argmin(np.abs(curve["change"].to_numpy()))), -1]]
            row[probability_column] = " → ".join(f"{p:.2f}" for p in ends["probability"])
        rows.append(row)
    return pd.DataFrame(rows)


def change_label(change: float) -> str:
    """A relative change as a column header: -50%, 0, +100%."""
    return "0" if change == 0 else f"{change:+.0%}"


def section_response(report: Report, inputs: Inputs) -> None:
    report.heading("response")
    if inputs.response is None:
        return report.absent("response")
    lang = report.language
    for output in dict.fromkeys(inputs.response["output"]):
        label = rf._output_label(output, lang)
        report.figure_or_note(f"response_{output.replace('@', '_')}",
                              lambda output=output: rf.response_curves(inputs.response, output, language=lang),
                              text("response_title", lang, output=label))
        _, unit = indicator_scale(output.partition("@")[0], str(
            inputs.response.loc[inputs.response["output"] == output, "unit"].iloc[0]), lang)
        report.table(response_matrix(inputs.response, output, lang), "response", output=f"{label} ({unit})")
    report.note(report.text("text", "response_note", draws=int(inputs.response["draws"].max())))


POLICY_ROWS_SHOWN = 10  # the ranked candidates shown; the full table is policy_candidates.csv


def candidates_table(candidates: pd.DataFrame, language: str) -> pd.DataFrame:
    """The ranked candidates: each lever's relative change as percent under the lever's name,
    cost, probability ± MC error, the binding target in words, feasible/Pareto as yes/no."""
    shown = candidates.head(POLICY_ROWS_SHOWN).drop(columns=["stage"], errors="ignore")
    rows = []
    for row in shown.to_dict("records"):
        out = {}
        for column, value in row.items():
            lever = lever_id(column) if column.endswith(".change") else None
            if lever:
                out[lever_label(lever, language)] = f"{float(value):+.0%}"
            elif column == "binding_target":
                out[column] = requirement_cell(value, language)
            elif column in ("feasible", "pareto"):
                out[column] = yes_no(value, language)
            elif column == "probability" and "mc_se" in row:
                out[column] = f"{float(value):.2f} ± {float(row['mc_se']):.2f}"
            elif column != "mc_se":
                out[column] = value
        rows.append(out)
    return pd.DataFrame(rows)


def section_policy(report: Report, inputs: Inputs) -> None:
    report.heading("policy")
    if inputs.candidates is None:
        return report.absent("policy")
    lang = report.language
    report.figure_or_note("pareto_front", lambda: rf.pareto_front(inputs.candidates, language=lang),
                          text("pareto_title", lang))
    report.table(candidates_table(inputs.candidates, lang), "policy_ranked")
    if inputs.policy_best:
        sentence = report.sentence("policy_best", code={"file": POLICY_BEST_FILE,
                                                        "folder": f"{shown_path(SCENARIO_DIR)}/"})
        # a scenario file to copy: for the page (the summary states the mix in words)
        report.html(f'<div class="screen"><p>{sentence}</p><pre>{esc(inputs.policy_best)}</pre></div>')


def prim_table(boxes: pd.DataFrame, language: str) -> pd.DataFrame:
    """PRIM box limits: a lever's as relative change (percent), names labelled."""
    rows = []
    for row in boxes.drop(columns=["restricted"], errors="ignore").to_dict("records"):
        lever = lever_id(row["input"])
        limits = {k: (f"{float(row[k]):+.0%}" if lever else row[k]) for k in ("lower", "upper")}
        rows.append({**row, **limits, "input": input_cell(row["input"], language),
                     "input_kind": kind_cell(row.get("input_kind", ""), language)})
    return pd.DataFrame(rows)


def section_discovery(report: Report, inputs: Inputs) -> None:
    report.heading("discovery")
    if inputs.robustness is None and inputs.prim_boxes is None:
        return report.absent("discovery")
    if inputs.robustness is not None:
        table = inputs.robustness.assign(scenario=inputs.robustness["scenario"].map(
            lambda s: scenario_label(s, report.language)))
        report.table(table, "robustness")
    if inputs.prim_boxes is not None and len(inputs.prim_boxes):
        report.table(prim_table(inputs.prim_boxes, report.language), "prim_boxes")


def parameters_table(parameters: pd.DataFrame, language: str) -> pd.DataFrame:
    """Calibration parameters: names labelled, units and prior family in the report's language."""
    shown = parameters.assign(parameter=parameters["parameter"].map(lambda p: variable_cell(p, language)))
    if "units" in shown.columns:
        shown = shown.assign(units=shown["units"].map(lambda u: unit_label(u, language)))
    if "prior" in shown.columns:
        shown = shown.assign(prior=shown["prior"].map(lambda p: report_text("distributions", p, language)
                                                      if p in report_keys("distributions") else p))
    if "identified" in shown.columns:
        shown = shown.assign(identified=shown["identified"].map(lambda v: yes_no(v, language)))
    return shown


def section_calibration(report: Report, inputs: Inputs) -> None:
    report.heading("calibration")
    if inputs.fit is None and inputs.parameters is None:
        return report.absent("calibration")
    lang = report.language
    if inputs.calibration_summary:
        # summary.md is written by `innosd calibrate` in English: the Chinese report points to it
        if lang == "en":
            report.html(markdown_html(inputs.calibration_summary))
        else:
            report.html(f"<p>{report.sentence('calibration_summary_file', code={'file': 'summary.md'})}</p>")
    if inputs.fit is not None:
        report.figure_or_note("calibration_fit", lambda: rf.calibration_fit(inputs.fit, language=lang),
                              text("fit_title", lang))
    if inputs.parameters is not None:
        report.figure_or_note("prior_posterior", lambda: rf.prior_posterior(inputs.parameters, inputs.posterior_nc,
                                                                            language=lang),
                              text("prior_posterior_title", lang))
        report.table(parameters_table(inputs.parameters, lang), "parameters")
    if inputs.correlations is not None:
        report.figure_or_note("pairwise_correlations",
                              lambda: rf.pairwise_correlations(inputs.correlations, language=lang),
                              text("correlations_title", lang))


def first_clause(evidence) -> str:
    """The evidence's summary (its first clause): the counts, not every case listed."""
    return str(evidence).split("; ")[0] if isinstance(evidence, str) else ""


def validation_table(validation: pd.DataFrame, language: str) -> pd.DataFrame:
    """One row per test: its name, what it checks and the result in the report's language; the
    English report adds the evidence's summary (validation.md has every case)."""
    rows = []
    for row in validation.to_dict("records"):
        test, result = str(row.get("test", "")), str(row.get("result", ""))
        known = test in report_keys("validation_tests")
        out = {"test": report_text("validation_tests", test, language) if known else code(test),
               "checks": report_text("validation_checks", test, language) if known else row.get("checks", ""),
               "result": report_text("results", result, language) if result in report_keys("results") else result}
        if language == "en" or not known:
            out["evidence"] = first_clause(row.get("evidence"))
        rows.append(out)
    return pd.DataFrame(rows)


def section_validation(report: Report, inputs: Inputs) -> None:
    report.heading("validation")
    if inputs.validation_md is None and inputs.validation is None:
        return report.absent("validation")
    if inputs.validation is not None:
        results = set(inputs.validation["result"].astype(str))
        overall = next((r for r in ("fail", "warn", "pass") if r in results), "pass")
        report.html(f"<p>{esc(report.text('text', 'validation_overall', result=report.text('results', overall)))}</p>")
        report.table(validation_table(inputs.validation, report.language), "validation")
        report.html(f"<p>{report.sentence('validation_details', code={'file': 'validation.md'})}</p>")
    elif report.language == "en":
        report.html(markdown_html(inputs.validation_md))
    else:
        report.html(f"<p>{report.sentence('validation_details', code={'file': 'validation.md'})}</p>")


# ----------------------------------------------------------------------------- model and data

def model_file_of(inputs: Inputs, language: str = "en") -> tuple[Path, str]:
    """The model the runs used (by name, beside the project model) and a note if it changed since."""
    meta = next((f.metadata for f in inputs.folders if f.metadata.get("model_file")), {})
    path = MODEL_FILE.with_name(meta.get("model_file", MODEL_FILE.name))
    if not path.is_file():
        return MODEL_FILE, report_text("text", "model_missing", language, file=repr(meta.get("model_file")),
                                       default=MODEL_FILE.name)
    recorded, current = meta.get("model_sha256"), file_sha256(path)
    if recorded and recorded != current:
        return path, report_text("text", "model_changed", language, file=path.name, recorded=recorded[:12],
                                 current=current[:12])
    return path, report_text("text", "model_hash_recorded" if recorded else "model_hash", language, file=path.name,
                             sha=current[:12])


def section_structure(report: Report, inputs: Inputs) -> None:
    report.heading("structure")
    lang = report.language
    path, note = model_file_of(inputs, lang)
    report.html(f"<p>{report.sentence('structure_source', note=note)}</p>")
    report.figure("structure_diagram", rf.structure_diagram(path, language=lang), text("structure_title", lang))
    outside = report.text("text", "outside")
    table = pd.DataFrame([{"flow": variable_cell(f.name, lang),
                           "from": variable_cell(f.source, lang) if f.source else outside,
                           "to": variable_cell(f.target, lang) if f.target else outside}
                          for f in read_structure(path).flows])
    # 80-odd rows: the page keeps them, the PDF (for reading, not for checking the model) does not
    report.table(table, "flows", css_class="screen")
    report.html(f'<p class="print">{esc(report.text("text", "flows_in_html", n=len(table)))}</p>')


def source_parts(source: str) -> tuple[str, str]:
    """A data file's `source`: (where: URL or seed file, what it is incl. confidence)."""
    where, _, rest = str(source).partition(" | ")
    return where.strip(), rest.strip()


def source_description(source: str, language: str) -> str:
    where, rest = source_parts(source)
    if language == "en":
        return rest
    return source_label(where, language) or (report_text("text", "seed_document", language)
                                              if re.fullmatch(r"\d{3}_[0-9a-f]+\.txt", where) else "")


def sources_table(frames: list[pd.DataFrame], language: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every distinct source, numbered S1, S2, ...: where (URL or file), what it is; and the
    number of each source string."""
    numbers: dict[str, str] = {}
    rows = []
    for source in dict.fromkeys(str(s) for frame in frames for s in frame["source"]):
        where, _ = source_parts(source)
        numbers[source] = f"S{len(rows) + 1}"
        rows.append({"no.": numbers[source], "where": code(where),
                     "what": source_description(source, language)})
    return pd.DataFrame(rows), numbers


def value_cell(indicator: str, value, unit: str, language: str) -> str:
    """A data file's value in the indicator's display unit (percent for intensities)."""
    scale, shown_unit = indicator_scale(indicator, str(unit), language)
    try:
        return f"{fmt(float(value) * scale)} {shown_unit}".strip()
    except (TypeError, ValueError):
        return f"{value} {shown_unit}".strip()


def data_rows(frame: pd.DataFrame, numbers: dict[str, str], language: str, with_quote: bool) -> pd.DataFrame:
    rows = []
    for row in frame.to_dict("records"):
        value = value_cell(row["indicator"], row["value"], row.get("unit", ""), language)
        out = {"indicator": indicator_label(row["indicator"], language), "year": row["year"]}
        if "direction" in row:  # a target: '≥ 6,000 firms'
            sign = {"at_least": "≥", "at_most": "≤"}.get(str(row["direction"]), str(row["direction"]))
            out["target"] = f"{sign} {value}"
        else:
            out["value"] = value
        out["region"] = region_label(row.get("region", ""), language)
        if "plan" in row:
            out["plan"] = plan_tag(row["plan"])
        out["source"] = numbers[str(row["source"])]
        if with_quote:
            out["quote"] = quote(row.get("quote"))
        rows.append(out)
    return pd.DataFrame(rows)


def section_data(report: Report, observations: pd.DataFrame, targets: pd.DataFrame) -> None:
    report.heading("data")
    lang = report.language
    sentence = report.sentence("data_sources", code={"observations": shown_path(OBSERVATIONS_PATH),
                                                      "targets": shown_path(TARGETS_PATH)},
                               n_observations=len(observations), observations_sha=file_sha256(OBSERVATIONS_PATH)[:12],
                               n_targets=len(targets), targets_sha=file_sha256(TARGETS_PATH)[:12])
    report.html(f"<p>{sentence}</p>")
    plans = pd.DataFrame([{"plan": tag, "name": plan_label(tag, lang) or tag}
                          for tag in dict.fromkeys(plan_tag(p) for p in targets["plan"])])
    report.table(plans, "plans")
    sources, numbers = sources_table([observations, targets], lang)
    report.table(sources, "sources")
    # The plan targets with their wording stay in the PDF (a planner checks them there); the
    # observations' quotes (long table rows, often the same yearbook row) only on the page
    report.table(data_rows(targets, numbers, lang, with_quote=True), "targets")
    report.table(data_rows(observations, numbers, lang, with_quote=True), "observations", css_class="screen")
    report.table(data_rows(observations, numbers, lang, with_quote=False), "observations", css_class="print")
    report.html(f'<p class="print">{esc(report.text("text", "quotes_in_html"))}</p>')


