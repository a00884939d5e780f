"""The report's sections, one function each, in the order of `report.headings` in
labels.yaml. Each draws from `Inputs` (saved tables only) and says in one line when its
inputs are absent; every text comes from labels.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from innosd.calibration.data import OBSERVATIONS_PATH, TARGETS_PATH
from innosd.figures import report_figures as rf
from innosd.figures.labels import indicator_label, indicator_scale, report_keys, report_text, scenario_label, text
from innosd.figures.plots import HIGHLIGHT_YEARS
from innosd.figures.report.html import Report, esc, fmt, markdown_html
from innosd.figures.report.inputs import Inputs
from innosd.figures.structure import read_structure
from innosd.model import MODEL_FILE
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
            if isinstance(start, (int, float)):
                parts.append(report_text("text", "lever_ramp", language, lever=lever, change=change,
                                         start=f"{start:g}", ramp=f"{ramp:g}" if isinstance(ramp, (int, float))
                                         else ramp))
            else:
                parts.append(report_text("text", "lever", language, lever=lever, change=change))
    return "; ".join(parts) or report_text("text", "no_levers", language)


def parameter_set_text(folder: RunFolder, language: str) -> str:
    ps = folder.metadata.get("parameter_set") or folder.config.get("parameter_set") or {}
    if isinstance(ps, str):
        return ps
    if not ps:
        return report_text("text", "model_defaults", language) if folder.kind == "run" else ""
    source = ps.get("source") or {}
    where = (report_text("text", "parameter_set_from", language, run_dir=source["run_dir"])
             if isinstance(source, dict) and source.get("run_dir") else "")
    return f"{ps.get('name', '?')} ({ps.get('statistic', '')}){where}"


def uncertainty_text(folder: RunFolder, language: str) -> str:
    meta = folder.metadata
    uncertainty = meta.get("uncertainty") if isinstance(meta.get("uncertainty"), dict) else {}
    mode = uncertainty.get("mode") or meta.get("uncertainty_mode") or ""
    draws = uncertainty.get("draws") or meta.get("draws")
    return report_text("text", "draws", language, mode=mode, draws=draws) if mode and draws else str(mode)


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
            rows[sc["name"]] = {"scenario": sc["name"], "description": " ".join(str(sc.get("description", "")).split()),
                                levers_column: levers_text(sc.get("levers"), language)}
    named = [str(n) for f in inputs.folders for n in (f.metadata.get("scenarios") or [])]
    if inputs.projections is not None:
        named += [str(n) for n in inputs.projections["scenario"].unique()]
    for name in dict.fromkeys(named):
        path = SCENARIO_DIR / f"{name}.yaml"
        if name in rows or not path.is_file():
            continue
        sc = read_yaml_mapping(path)
        rows[name] = {"scenario": name, "description": " ".join(str(sc.get("description", "")).split())
                      + report_text("text", "from_current_scenario", language, path=shown_path(path)),
                      levers_column: levers_text(sc.get("levers"), language)}
    return list(rows.values())


def section_run(report: Report, inputs: Inputs) -> None:
    report.heading("run")
    lang = report.language
    rows = [{"folder": str(f.path), "kind": kind_text(f, lang), "scenario / experiment": what_text(f),
             "parameter set": parameter_set_text(f, lang), "uncertainty": uncertainty_text(f, lang),
             "git commit": str(f.metadata.get("git_commit", "unknown"))[:12],
             "created": f.metadata.get("created", ""), "seed": f.metadata.get("seed", ""),
             "command": f.metadata.get("command", "")} for f in inputs.folders]
    report.table(pd.DataFrame(rows), "folders")
    scenarios = scenario_rows(inputs, lang)
    if scenarios:
        report.table(pd.DataFrame(scenarios), "scenarios")
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


def left_out_note(report: Report, inputs: Inputs, table: str) -> None:
    left = inputs.left_out.get(table)
    if left is None:
        return
    folders = ", ".join(str(p) for p in left.sources[:SHOWN_SOURCES]) + (
        ", ..." if len(left.sources) > SHOWN_SOURCES else "")
    report.note(report.text("text", "rows_left_out", n=left.rows, table=table, folders=folders))


def section_projections(report: Report, inputs: Inputs, observations, targets) -> None:
    report.heading("projections")
    if inputs.projections is None:
        return report.absent("projections")
    lang = report.language
    left_out_note(report, inputs, "projections")
    report.table(key_year_table(inputs.projections, lang), "key_years")
    report.figure_or_note("projection_fans", lambda: rf.projection_fans(inputs.projections, observations, targets,
                                                                        language=lang),
                          text("projections_title", lang))
    scenarios = list(dict.fromkeys(inputs.projections["scenario"]))
    if "baseline" in scenarios and len(scenarios) > 1:
        report.figure_or_note("scenario_difference", lambda: rf.scenario_difference(inputs.projections,
                                                                                    language=lang),
                              text("difference_title", lang, baseline=scenario_label("baseline", lang)))


def section_attainment(report: Report, inputs: Inputs) -> None:
    report.heading("attainment")
    if inputs.attainment is None:
        return report.absent("attainment")
    lang = report.language
    left_out_note(report, inputs, "attainment")
    report.figure_or_note("attainment_heatmap", lambda: rf.attainment_heatmap(inputs.attainment, language=lang),
                          text("attainment_title", lang))
    table = inputs.attainment.assign(indicator=inputs.attainment["indicator"].map(
        lambda i: indicator_label(i, lang)))
    cols = [c for c in ("scenario", "indicator", "year", "target", "direction", "unit", "probability", "median",
                        "p05", "p95", "plan") if c in table.columns]
    report.table(table[cols], "attainment")


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
            top = table.sort_values(["output", value], ascending=[True, False]).groupby("output").head(rf.TOP_INPUTS)
            report.table(top, caption, n=rf.TOP_INPUTS)


def section_policy(report: Report, inputs: Inputs) -> None:
    report.heading("policy")
    if inputs.candidates is None:
        return report.absent("policy")
    lang = report.language
    report.figure_or_note("pareto_front", lambda: rf.pareto_front(inputs.candidates, language=lang),
                          text("pareto_title", lang))
    if inputs.policy_best:
        sentence = report.sentence("policy_best", code={"file": POLICY_BEST_FILE,
                                                        "folder": f"{shown_path(SCENARIO_DIR)}/"})
        report.html(f"<p>{sentence}</p><pre>{esc(inputs.policy_best)}</pre>")


def section_calibration(report: Report, inputs: Inputs) -> None:
    report.heading("calibration")
    if inputs.fit is None and inputs.parameters is None:
        return report.absent("calibration")
    lang = report.language
    if inputs.calibration_summary:
        report.html(markdown_html(inputs.calibration_summary))
    if inputs.fit is not None:
        report.figure_or_note("calibration_fit", lambda: rf.calibration_fit(inputs.fit, language=lang),
                              text("fit_title", lang))
    if inputs.parameters is not None:
        report.figure_or_note("prior_posterior", lambda: rf.prior_posterior(inputs.parameters, inputs.posterior_nc,
                                                                            language=lang),
                              text("prior_posterior_title", lang))
        report.table(inputs.parameters, "parameters")
    if inputs.correlations is not None:
        report.figure_or_note("pairwise_correlations",
                              lambda: rf.pairwise_correlations(inputs.correlations, language=lang),
                              text("correlations_title", lang))


def section_validation(report: Report, inputs: Inputs) -> None:
    report.heading("validation")
    if inputs.validation_md is None and inputs.validation is None:
        return report.absent("validation")
    if inputs.validation_md:
        report.html(markdown_html(inputs.validation_md))
    elif inputs.validation is not None:
        report.table(inputs.validation, "validation")


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
    table = pd.DataFrame([{"flow": f.name, "from": f.source or outside, "to": f.target or outside}
                          for f in read_structure(path).flows])
    report.table(table, "flows")


def section_data(report: Report, observations: pd.DataFrame, targets: pd.DataFrame) -> None:
    report.heading("data")
    lang = report.language
    sentence = report.sentence("data_sources", code={"observations": shown_path(OBSERVATIONS_PATH),
                                                      "targets": shown_path(TARGETS_PATH)},
                               n_observations=len(observations), observations_sha=file_sha256(OBSERVATIONS_PATH)[:12],
                               n_targets=len(targets), targets_sha=file_sha256(TARGETS_PATH)[:12])
    report.html(f"<p>{sentence}</p>")
    for caption, frame in (("observations", observations), ("targets", targets)):
        cols = [c for c in ("indicator", "year", "value", "unit", "region", "direction", "source", "quote")
                if c in frame.columns]
        shown = frame[cols].assign(indicator=frame["indicator"].map(lambda i: indicator_label(i, lang)))
        report.table(shown, caption)
