"""`innosd report`: one self-contained HTML report and a PDF from saved run folders.

`build_report(run_dirs)` reads whatever the folders hold (scenario runs and sweeps,
projection/attainment/sensitivity/policy experiments, calibration, validation; file
contract in `docs/outputs.md`), draws the report figures from those tables, and writes

    <out_dir>/report/report.html   figures embedded (base64 PNG), sortable HTML tables
    <out_dir>/report/report.pdf    the same page printed by headless Chromium
    <out_dir>/report/figures/      every figure as PNG (300 dpi), PDF and SVG
    <out_dir>/report/metadata.json provenance: inputs, git commit, versions, language

atomically (a rebuilt report replaces the old one only once complete). It never
re-simulates. Sections whose inputs are absent say so in one line.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from innosd.calibration.data import OBSERVATIONS_PATH, TARGETS_PATH, load_observations, load_targets
from innosd.figures import report_figures as rf
from innosd.figures.labels import check_language, indicator_label, scenario_label, text
from innosd.figures.plots import FIRST_YEAR, HIGHLIGHT_YEARS, KEY_INDICATORS, LAST_YEAR, save_figure, year_end_series

from innosd.errors import ConfigError, DataError, InnosdError
from innosd.rundir import SOURCE_ROOT, atomic_directory, file_sha256, git_commit, now_utc, write_metadata

MODEL_DIR = SOURCE_ROOT / "model"
DEFAULT_MODEL = MODEL_DIR / "guangzhou_innovation.mdl"
SCENARIO_DIR = SOURCE_ROOT / "scenarios" / "scenario"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Printing a page of a few MB of embedded images takes seconds; two minutes means Chromium hung.
CHROMIUM_TIMEOUT_S = 120
# Files that make a folder an innosd output folder (docs/outputs.md).
KNOWN_FILES = ("metadata.json", "results.nc", "projections.csv", "attainment.csv", "sobol.csv", "morris.csv",
               "policy_candidates.csv", "fit.csv", "parameters.csv", "validation.md", "validation.csv",
               "targets.csv")


# ----------------------------------------------------------------------------- inputs

@dataclass
class Folder:
    """One output folder and what it says about itself."""

    path: Path
    metadata: dict
    config: dict

    @functools.cached_property
    def files(self) -> set[str]:
        """File names in the folder, listed once (kind, collect and the run table all ask)."""
        return {p.name for p in self.path.iterdir() if p.is_file()}

    @property
    def kind(self) -> str:
        files = self.files
        if "validation.md" in files or "validation.csv" in files:
            return "validation"  # before calibration: validation writes its own fit.csv (MAPE, Theil)
        if "posterior.nc" in files or "parameters.csv" in files or "fit.csv" in files:
            return "calibration"
        if self.metadata.get("experiment"):
            return f"experiment: {self.metadata['experiment']}"
        if "results.nc" in files:
            return "scenario run"
        if "comparison.csv" in files:
            return "sweep"
        return "output folder"

    @property
    def scenario(self) -> str | None:
        scenario = self.metadata.get("scenario") or (self.config.get("scenario") or {}).get("name")
        return str(scenario) if scenario else None


@dataclass
class Inputs:
    """Everything the report draws, gathered from the folders (tables concatenated)."""

    folders: list[Folder]
    projections: pd.DataFrame | None = None
    attainment: pd.DataFrame | None = None
    sobol: pd.DataFrame | None = None
    morris: pd.DataFrame | None = None
    candidates: pd.DataFrame | None = None
    policy_best: str | None = None
    fit: pd.DataFrame | None = None
    parameters: pd.DataFrame | None = None
    correlations: pd.DataFrame | None = None
    posterior_nc: Path | None = None
    calibration_summary: str | None = None
    validation_md: str | None = None
    validation: pd.DataFrame | None = None
    sources: dict[str, list[Path]] = field(default_factory=dict)  # table -> folders it came from
    notes: dict[str, str] = field(default_factory=dict)  # table -> what was left out and why


def _mapping(path: Path, value) -> dict:
    """A file's top level must be a mapping (docs/outputs.md); anything else is one line."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a mapping at the top level, got {type(value).__name__}")
    return value


def _read_yaml(path: Path) -> dict:
    try:
        return _mapping(path, yaml.safe_load(path.read_text(encoding="utf-8"))) if path.is_file() else {}
    except yaml.YAMLError as err:
        raise DataError(f"{path}: malformed YAML: {str(err).splitlines()[0]}") from None


def _read_json(path: Path) -> dict:
    try:
        return _mapping(path, json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: malformed JSON: {err.msg} at line {err.lineno}") from None


def _is_output_folder(path: Path) -> bool:
    return any((path / name).is_file() for name in KNOWN_FILES)


def discover(run_dirs: list[Path]) -> list[Folder]:
    """The given folders and, for a sweep, its run sub-folders; one-line error if none is one."""
    found: list[Path] = []
    for given in map(Path, run_dirs):
        if not given.is_dir():
            raise ConfigError(f"{given}: no such run folder; give folders written by innosd run/calibrate/validate "
                              "(e.g. outputs/multirun/DATE/TIME)")
        children = sorted((p for p in given.iterdir() if p.is_dir() and not p.name.startswith(".")
                           and p.name != "report" and _is_output_folder(p)), key=_natural_key)
        if not _is_output_folder(given) and not children and not (given / "comparison.csv").is_file():
            raise DataError(f"{given}: not an innosd output folder (none of {', '.join(KNOWN_FILES)} "
                            "in it or in its sub-folders)")
        for path in ([given] if _is_output_folder(given) or (given / "comparison.csv").is_file() else []) + children:
            if path.resolve() not in {p.resolve() for p in found}:
                found.append(path)
    return [Folder(p, _read_json(p / "metadata.json"), _read_yaml(p / "config.yaml")) for p in found]


def _natural_key(path: Path):
    """'10_x' after '2_x': sweep sub-folders are numbered."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: unreadable CSV: {str(err).splitlines()[0]}") from None


def deterministic_projections(folder: Folder, observations: pd.DataFrame) -> pd.DataFrame | None:
    """Projections of a single deterministic run (results.nc): the value as median, no band."""
    path = folder.path / "results.nc"
    if not path.is_file():
        return None
    units = observations.drop_duplicates("indicator").set_index("indicator")["unit"]
    rows = []
    try:
        ds = xr.open_dataset(path)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable netCDF results: {str(err).splitlines()[0] if str(err) else err}") \
            from None
    with ds:
        if "draw" in ds.dims:
            return None  # an ensemble writes projections.csv alongside; never summarise twice
        scenario = folder.scenario or ds.attrs.get("scenario", folder.path.name)
        for ind in KEY_INDICATORS:
            if ind.variable not in ds:
                continue
            series = year_end_series(ds, ind.variable)
            series = series[(series.index >= FIRST_YEAR) & (series.index <= LAST_YEAR)]
            for year, value in series.items():
                rows.append({"scenario": scenario, "indicator": ind.id, "model_variable": ind.variable,
                             "unit": units.get(ind.id, ind.unit), "year": int(year), "median": float(value),
                             "p05": float(value), "p25": float(value), "p75": float(value), "p95": float(value),
                             "key_year": int(year) in HIGHLIGHT_YEARS})
    return pd.DataFrame(rows) if rows else None


def deterministic_attainment(folder: Folder) -> pd.DataFrame | None:
    """targets.csv of a deterministic run as attainment rows (probability 1 = met, 0 = not met)."""
    path = folder.path / "targets.csv"
    if not path.is_file():
        return None
    table = _read_csv(path)
    if not {"met", "indicator", "year", "target"} <= set(table.columns):
        raise DataError(f"{path}: expected columns indicator, year, target, met (see docs/outputs.md)")
    table = table[table["met"].astype(str).isin(("True", "False"))]
    if table.empty:
        return None
    return pd.DataFrame({
        "scenario": folder.scenario or folder.path.name, "indicator": table["indicator"],
        "model_variable": table.get("model_variable"), "year": table["year"].astype(int), "target": table["target"],
        "direction": table.get("direction"), "unit": table.get("unit"),
        "probability": (table["met"].astype(str) == "True").astype(float), "median": table.get("projected"),
        "p05": table.get("projected"), "p95": table.get("projected"), "plan": table.get("plan"),
        "source": table.get("source")})


def _concat(frames: list[pd.DataFrame], keys: list[str] | None = None) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    return table.drop_duplicates(keys, keep="first").reset_index(drop=True) if keys else table


def collect(folders: list[Folder], observations: pd.DataFrame) -> Inputs:
    """Read every table the report can use; ensembles take precedence over deterministic runs."""
    inputs = Inputs(folders)
    tables: dict[str, list[pd.DataFrame]] = {}

    def add(name: str, frame: pd.DataFrame | None, folder: Folder) -> None:
        if frame is not None and len(frame):
            tables.setdefault(name, []).append(frame)
            inputs.sources.setdefault(name, []).append(folder.path)

    for folder in folders:
        files = folder.files
        for name in ("projections", "attainment", "sobol", "morris", "parameters", "validation"):
            if f"{name}.csv" in files:
                add(name, _read_csv(folder.path / f"{name}.csv"), folder)
        if "fit.csv" in files and folder.kind == "calibration":  # validation's fit.csv is MAPE/Theil
            add("fit", _read_csv(folder.path / "fit.csv"), folder)
        if "policy_candidates.csv" in files:
            add("candidates", _read_csv(folder.path / "policy_candidates.csv"), folder)
        if "correlations.csv" in files and inputs.correlations is None:
            inputs.correlations = _read_csv(folder.path / "correlations.csv", index_col=0)
        if "posterior.nc" in files and inputs.posterior_nc is None:
            inputs.posterior_nc = folder.path / "posterior.nc"
        if "summary.md" in files and inputs.calibration_summary is None:
            inputs.calibration_summary = (folder.path / "summary.md").read_text(encoding="utf-8")
        if "validation.md" in files and inputs.validation_md is None:
            inputs.validation_md = (folder.path / "validation.md").read_text(encoding="utf-8")
        if "policy_best.yaml" in files and inputs.policy_best is None:
            inputs.policy_best = (folder.path / "policy_best.yaml").read_text(encoding="utf-8")
    # deterministic runs fill in scenarios that no ensemble covers
    for folder in folders:
        if "projections.csv" not in folder.files:
            add("projections", deterministic_projections(folder, observations), folder)
        if "attainment.csv" not in folder.files:
            add("attainment", deterministic_attainment(folder), folder)
    inputs.projections = _concat(tables.get("projections", []), ["scenario", "indicator", "year"])
    inputs.attainment = _concat(tables.get("attainment", []), ["scenario", "indicator", "year", "target"])
    for name, keys in (("projections", ["scenario", "indicator", "year"]),
                       ("attainment", ["scenario", "indicator", "year", "target"])):
        kept, every = getattr(inputs, name), _concat(tables.get(name, []))
        if kept is not None and len(every) > len(kept):
            inputs.notes[name] = (f"{len(every) - len(kept)} rows of {name} for scenarios that appear in more than "
                                  f"one folder were left out: each scenario is shown from the first folder that "
                                  f"has it ({', '.join(str(p) for p in inputs.sources[name][:3])}"
                                  f"{', ...' if len(inputs.sources[name]) > 3 else ''}); an ensemble comes before "
                                  "a single deterministic run.")
    inputs.sobol = _concat(tables.get("sobol", []))
    inputs.morris = _concat(tables.get("morris", []))
    inputs.candidates = _concat(tables.get("candidates", []))
    inputs.fit = _concat(tables.get("fit", []))
    inputs.parameters = _concat(tables.get("parameters", []), ["parameter"])
    inputs.validation = _concat(tables.get("validation", []))
    return inputs


# ----------------------------------------------------------------------------- HTML pieces

def esc(value) -> str:
    return html.escape(str(value))


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"  # counts and money: thousands separators, no exponent
        return f"{value:.4g}"
    return "" if value is None else str(value)


def table_html(frame: pd.DataFrame, caption: str = "") -> str:
    """A sortable table (click a header) that scrolls sideways on a phone."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<div class="table"><table class="sortable">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def markdown_html(source: str) -> str:
    """The small Markdown subset our summaries use: headings, lists, pipe tables, code, paragraphs."""
    out, para, lines = [], [], source.splitlines()

    def inline(s: str) -> str:
        s = esc(s)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)

    def flush() -> None:
        if para:
            out.append("<p>" + inline(" ".join(para)) + "</p>")
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + esc("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
            continue
        if re.match(r"^#{1,6} ", line):
            flush()
            level = min(6, len(line) - len(line.lstrip("#")) + 2)  # nested under the report's h2
            out.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                    rows.append(cells)
                i += 1
            if rows:
                width = len(rows[0])
                out.append(table_html(pd.DataFrame([r[:width] + [""] * (width - len(r)) for r in rows[1:]],
                                                   columns=rows[0])))
            continue
        elif re.match(r"^\s*[-*] ", line):
            flush()
            items = []
            while i < len(lines) and re.match(r"^\s*[-*] ", lines[i]):
                items.append("<li>" + inline(re.sub(r"^\s*[-*] ", "", lines[i])) + "</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


CSS = """
body{font-family:"DejaVu Sans","Noto Sans CJK SC",sans-serif;max-width:60em;margin:0 auto;padding:0 1em 3em;
line-height:1.45;color:#222}
h1{font-size:1.6em;border-bottom:2px solid #1b4f72;padding-bottom:.2em}
h2{font-size:1.3em;color:#1b4f72;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1.05em}
figure{margin:1em 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.table{overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:.82em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f4f6;cursor:pointer;white-space:nowrap}
th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
tr:nth-child(even) td{background:#fafafa}
caption{text-align:left;font-weight:bold;padding:.3em 0}
.absent,.note{color:#777;font-style:italic}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.8em}
p,li,td{overflow-wrap:anywhere}
td{min-width:5em;max-width:40em}
nav ul{columns:2;font-size:.9em}
@page{size:A4;margin:12mm}
@media print{h2{page-break-before:auto}figure{page-break-inside:avoid}.table{overflow:visible}}
"""

# Click a header to sort by it (numbers numerically); a few lines, no library.
SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
var table=th.closest('table'),body=table.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th);
var asc=!th.classList.contains('asc');
table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});
th.classList.add(asc?'asc':'desc');var rows=Array.prototype.slice.call(body.rows);
function key(r){var t=r.cells[i]?r.cells[i].textContent.trim():'';var n=parseFloat(t.replace(/,/g,''));
return isNaN(n)||!/^[-+]?[\\d.,]+(e[-+]?\\d+)?%?$/i.test(t)?t.toLowerCase():n}
rows.sort(function(a,b){var x=key(a),y=key(b);if(typeof x!==typeof y){x=String(x);y=String(y)}
return (x<y?-1:x>y?1:0)*(asc?1:-1)});rows.forEach(function(r){body.appendChild(r)})})});
"""


# ----------------------------------------------------------------------------- report

HEADINGS = {
    "run": {"en": "What was run", "zh": "运行内容"},
    "projections": {"en": "Projections for 2020, 2025 and 2035", "zh": "2020、2025、2035年预测"},
    "attainment": {"en": "Target attainment", "zh": "目标达成"},
    "sensitivity": {"en": "Sensitivity", "zh": "敏感性分析"},
    "policy": {"en": "Policy search", "zh": "政策搜索"},
    "calibration": {"en": "Calibration fit and identifiability", "zh": "校准拟合与可识别性"},
    "validation": {"en": "Validation", "zh": "模型检验"},
    "structure": {"en": "Model structure", "zh": "模型结构"},
    "data": {"en": "Data sources", "zh": "数据来源"},
}
COLUMNS_ZH = {
    "folder": "文件夹", "kind": "类型", "scenario / experiment": "情景/实验", "parameter set": "参数集",
    "uncertainty": "不确定性", "git commit": "代码版本", "created": "创建时间", "seed": "随机种子",
    "scenario": "情景", "description": "说明", "command": "命令", "levers (relative change, start, ramp)": "政策杠杆（相对变化、起始年、过渡年数）",
    "indicator": "指标", "unit": "单位", "year": "年份", "target": "目标值", "direction": "方向",
    "probability": "达成概率", "median": "中位数", "plan": "规划", "value": "数值", "region": "地区",
    "source": "来源", "quote": "原文", "flow": "流量", "from": "流出存量", "to": "流入存量",
    "parameter": "参数", "output": "输出", "input": "输入", "input_kind": "输入类型",
}
CAPTIONS_ZH = {
    "Folders this report was built from": "本报告所用的运行文件夹",
    "Scenarios and their policy levers": "情景及其政策杠杆",
    "Median and 90% interval [p05–p95] at the plan's key years": "规划关键年份的中位数与90%区间 [p05–p95]",
    "Every modelled plan target (probability = share of posterior draws meeting it; 1/0 for a single "
    "deterministic run)": "全部可模拟的规划目标（概率 = 达成目标的后验抽样比例；单次确定性运行为1/0）",
    "Every flow of the diagram, as read from the equations": "图中全部流量（直接读自模型方程）",
    "Observations": "观测数据", "Plan targets": "规划目标",
    "Parameters: prior, posterior, convergence (rhat, ESS) and identifiability":
        "参数：先验、后验、收敛性（rhat、ESS）与可识别性",
    "Validation tests": "检验项目",
}
ABSENT = {
    "projections": "No projections in the given folders (run `innosd run` or `innosd run +experiment=projections`).",
    "attainment": "No target attainment in the given folders (run `innosd run +experiment=attainment`).",
    "sensitivity": "No sensitivity results in the given folders (sobol.csv/morris.csv; "
                   "run `innosd run +experiment=sensitivity`).",
    "policy": "No policy search in the given folders (policy_candidates.csv; "
              "run `innosd run +experiment=policy_search`).",
    "calibration": "No calibration in the given folders (fit.csv/parameters.csv; run `innosd calibrate`); "
                   "the runs used the parameter sets listed above.",
    "validation": "No validation in the given folders (validation.md; run `innosd validate`).",
}


class Report:
    """Accumulates the HTML body and saves each figure into `figures/` as it goes."""

    def __init__(self, folder: Path, language: str):
        self.folder, self.language = folder, language
        self.parts: list[str] = []
        self.figures: list[Path] = []
        (folder / "figures").mkdir()

    def heading(self, key: str) -> None:
        self.parts.append(f'<h2 id="{key}">{esc(HEADINGS[key][self.language])}</h2>')

    def absent(self, key: str) -> None:
        self.parts.append(f'<p class="absent">{esc(ABSENT[key])}</p>')

    def html(self, fragment: str) -> None:
        self.parts.append(fragment)

    def table(self, frame: pd.DataFrame, caption: str = "") -> None:
        """A sortable table; in Chinese with translated headers and caption where we have them."""
        if self.language == "zh":
            frame = frame.rename(columns=lambda c: COLUMNS_ZH.get(c, c))
            caption = CAPTIONS_ZH.get(caption, caption)
        self.parts.append(table_html(frame, caption))

    def figure(self, name: str, fig, caption: str) -> None:
        """Save the figure (PNG/PDF/SVG) and embed its PNG."""
        paths = save_figure(fig, self.folder / "figures" / name)
        png = next(p for p in paths if p.suffix == ".png")
        self.figures.extend(paths)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        self.parts.append(f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
                          f"<figcaption>{esc(caption)} (figures/{esc(name)}.png/.pdf/.svg)</figcaption></figure>")

    def figure_or_note(self, name: str, make, caption: str) -> None:
        """A figure whose table turned out unusable becomes a one-line note, not a failed report."""
        try:
            fig = make()
        except DataError as err:
            self.parts.append(f'<p class="absent">{esc(name)}: {esc(err)}</p>')
            return
        self.figure(name, fig, caption)


def _levers_text(levers: dict) -> str:
    parts = []
    for lever, setting in (levers or {}).items():
        if isinstance(setting, dict):
            change = float(setting.get("change", 0.0))
            parts.append(f"{lever}: {change:+.0%} from {setting.get('start', '?'):g} over "
                         f"{setting.get('ramp_years', '?'):g} y" if isinstance(setting.get("start"), (int, float))
                         else f"{lever}: {change:+.0%}")
    return "; ".join(parts) or "none (2016 policies continue)"


def _parameter_set_text(folder: Folder) -> str:
    ps = folder.metadata.get("parameter_set") or folder.config.get("parameter_set") or {}
    if isinstance(ps, str):
        return ps
    if not ps:
        return "model file defaults" if folder.kind == "scenario run" else ""
    source = ps.get("source") or {}
    where = f" from {source.get('run_dir')}" if isinstance(source, dict) and source.get("run_dir") else ""
    return f"{ps.get('name', '?')} ({ps.get('statistic', '')}){where}"


def _uncertainty_text(folder: Folder) -> str:
    meta = folder.metadata
    uncertainty = meta.get("uncertainty") if isinstance(meta.get("uncertainty"), dict) else {}
    mode = uncertainty.get("mode") or meta.get("uncertainty_mode") or ""
    draws = uncertainty.get("draws") or meta.get("draws")
    return f"{mode} ({draws} draws)" if mode and draws else str(mode)


def _what_text(folder: Folder) -> str:
    experiment = folder.metadata.get("experiment")
    if experiment:
        names = folder.metadata.get("scenarios") or []
        return f"{experiment} ({', '.join(map(str, names))})" if names else str(experiment)
    return folder.scenario or ""


def scenario_rows(inputs: Inputs) -> list[dict]:
    """Each scenario's description and levers: from the run's own config.yaml, else (for an
    experiment, which records only names) from the current scenario file, saying so."""
    rows: dict[str, dict] = {}
    for f in inputs.folders:
        sc = f.config.get("scenario") or {}
        if isinstance(sc, dict) and sc.get("name") and f.scenario == sc["name"] and sc["name"] not in rows:
            rows[sc["name"]] = {"scenario": sc["name"], "description": " ".join(str(sc.get("description", "")).split()),
                                "levers (relative change, start, ramp)": _levers_text(sc.get("levers"))}
    named = [str(n) for f in inputs.folders for n in (f.metadata.get("scenarios") or [])]
    if inputs.projections is not None:
        named += [str(n) for n in inputs.projections["scenario"].unique()]
    for name in dict.fromkeys(named):
        path = SCENARIO_DIR / f"{name}.yaml"
        if name in rows or not path.is_file():
            continue
        sc = _read_yaml(path)
        rows[name] = {"scenario": name, "description": " ".join(str(sc.get("description", "")).split())
                      + f" [from the current {path.relative_to(SOURCE_ROOT)}; the experiment records only the name]",
                      "levers (relative change, start, ramp)": _levers_text(sc.get("levers"))}
    return list(rows.values())


def section_run(report: Report, inputs: Inputs) -> None:
    report.heading("run")
    rows = [{"folder": str(f.path), "kind": f.kind, "scenario / experiment": _what_text(f),
             "parameter set": _parameter_set_text(f), "uncertainty": _uncertainty_text(f),
             "git commit": str(f.metadata.get("git_commit", "unknown"))[:12],
             "created": f.metadata.get("created", ""), "seed": f.metadata.get("seed", ""),
             "command": f.metadata.get("command", "")} for f in inputs.folders]
    report.table(pd.DataFrame(rows), "Folders this report was built from")
    scenarios = scenario_rows(inputs)
    if scenarios:
        report.table(pd.DataFrame(scenarios), "Scenarios and their policy levers")
    overrides = sorted({o for f in inputs.folders for o in (f.config.get("overrides") or [])})
    params = {k: v for f in inputs.folders for k, v in (f.config.get("params") or {}).items()}
    if overrides or params:
        report.html(f"<p>Command-line overrides: <code>{esc(' '.join(overrides) or 'none')}</code>; "
                    f"{len(params)} model constants set explicitly (values in each folder's config.yaml).</p>")


def key_year_table(projections: pd.DataFrame, language: str) -> pd.DataFrame:
    """Rows indicator x scenario; columns the key years as 'median [p05–p95]' in display units."""
    from innosd.figures.labels import indicator_scale

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
            band = "" if r["p95"] == r["p05"] else f" [{_fmt(r['p05'] * scale)}–{_fmt(r['p95'] * scale)}]"
            row[str(year)] = f"{_fmt(r['median'] * scale)}{band}"
        rows.append(row)
    return pd.DataFrame(rows)


def section_projections(report: Report, inputs: Inputs, observations, targets) -> None:
    report.heading("projections")
    if inputs.projections is None:
        return report.absent("projections")
    lang = report.language
    if "projections" in inputs.notes:
        report.html(f'<p class="note">{esc(inputs.notes["projections"])}</p>')
    report.table(key_year_table(inputs.projections, lang), "Median and 90% interval [p05–p95] at the plan's key years")
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
    report.figure_or_note("attainment_heatmap", lambda: rf.attainment_heatmap(inputs.attainment, language=lang),
                          text("attainment_title", lang))
    table = inputs.attainment.assign(indicator=inputs.attainment["indicator"].map(
        lambda i: indicator_label(i, lang)))
    cols = [c for c in ("scenario", "indicator", "year", "target", "direction", "unit", "probability", "median",
                        "p05", "p95", "plan") if c in table.columns]
    report.table(table[cols], "Every modelled plan target (probability = share of posterior draws meeting it; "
                              "1/0 for a single deterministic run)")


def section_sensitivity(report: Report, inputs: Inputs) -> None:
    report.heading("sensitivity")
    if inputs.sobol is None and inputs.morris is None:
        return report.absent("sensitivity")
    lang = report.language
    report.figure_or_note("sensitivity_ranking", lambda: rf.sensitivity_ranking(inputs.sobol, inputs.morris,
                                                                                language=lang),
                          text("sensitivity_title", lang))
    for name, table, value in (("Sobol indices", inputs.sobol, "ST"), ("Morris screening", inputs.morris,
                                                                       "mu_star")):
        if table is not None:
            top = table.sort_values(["output", value], ascending=[True, False]).groupby("output").head(rf.TOP_INPUTS)
            report.table(top, f"{name}: the {rf.TOP_INPUTS} most influential inputs per output")


def section_policy(report: Report, inputs: Inputs) -> None:
    report.heading("policy")
    if inputs.candidates is None:
        return report.absent("policy")
    lang = report.language
    report.figure_or_note("pareto_front", lambda: rf.pareto_front(inputs.candidates, language=lang),
                          text("pareto_title", lang))
    if inputs.policy_best:
        report.html("<p>Cheapest feasible lever setting (<code>policy_best.yaml</code>, copy into "
                    "<code>scenarios/scenario/</code> to run it):</p><pre>" + esc(inputs.policy_best) + "</pre>")


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
        report.table(inputs.parameters, "Parameters: prior, posterior, convergence (rhat, ESS) and identifiability")
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
        report.table(inputs.validation, "Validation tests")


def model_file_of(inputs: Inputs) -> tuple[Path, str]:
    """The model the runs used (by name, in model/) and a note if it changed since."""
    meta = next((f.metadata for f in inputs.folders if f.metadata.get("model_file")), {})
    path = MODEL_DIR / meta.get("model_file", DEFAULT_MODEL.name)
    if not path.is_file():
        return DEFAULT_MODEL, f"the runs name model file {meta.get('model_file')!r}, not found in model/; drawn " \
                              f"from {DEFAULT_MODEL.name}"
    recorded, current = meta.get("model_sha256"), file_sha256(path)
    if recorded and recorded != current:
        return path, (f"note: {path.name} has changed since the runs (sha256 {recorded[:12]} recorded, "
                      f"{current[:12]} now); the diagram shows the current file")
    return path, f"{path.name}, sha256 {current[:12]}" + (" (as recorded by the runs)" if recorded else "")


def section_structure(report: Report, inputs: Inputs) -> None:
    from innosd.figures.structure import read_structure

    report.heading("structure")
    lang = report.language
    path, note = model_file_of(inputs)
    report.html(f"<p>Drawn from the model file itself: {esc(note)}.</p>")
    report.figure("structure_diagram", rf.structure_diagram(path, language=lang), text("structure_title", lang))
    flows = read_structure(path).flows
    table = pd.DataFrame([{"flow": f.name, "from": f.source or "(outside)", "to": f.target or "(outside)"}
                          for f in flows])
    report.table(table, "Every flow of the diagram, as read from the equations")


def section_data(report: Report, observations: pd.DataFrame, targets: pd.DataFrame) -> None:
    report.heading("data")
    lang = report.language
    report.html(f"<p>Observations: <code>{esc(OBSERVATIONS_PATH.relative_to(SOURCE_ROOT))}</code> "
                f"({len(observations)} figures, sha256 {file_sha256(OBSERVATIONS_PATH)[:12]}); plan targets: "
                f"<code>{esc(TARGETS_PATH.relative_to(SOURCE_ROOT))}</code> ({len(targets)} targets, sha256 "
                f"{file_sha256(TARGETS_PATH)[:12]}). Each row names its source and quotes it.</p>")
    for name, frame in (("Observations", observations), ("Plan targets", targets)):
        cols = [c for c in ("indicator", "year", "value", "unit", "region", "direction", "source", "quote")
                if c in frame.columns]
        shown = frame[cols].assign(indicator=frame["indicator"].map(lambda i: indicator_label(i, lang)))
        report.table(shown, name)


def _page(report: Report, title: str, provenance: dict) -> str:
    lang = report.language
    nav = "".join(f'<li><a href="#{k}">{esc(v[lang])}</a></li>' for k, v in HEADINGS.items())
    meta = (f"Built {esc(provenance['created'])} from saved run folders (never re-simulated); innosd commit "
            f"{esc(provenance['git_commit'])}." if lang == "en" else
            f"生成于 {esc(provenance['created'])}，仅读取已保存的运行结果（未重新模拟）；innosd 代码版本 "
            f"{esc(provenance['git_commit'])}。")
    return (f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p>{meta}</p><nav><ul>{nav}</ul></nav>"
            + "\n".join(report.parts) + f"<script>{SORT_JS}</script></body></html>")


TITLE = {"en": "Guangzhou innovation ecosystem: scenario report", "zh": "广州创新生态系统：情景分析报告"}


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_CANDIDATES) if p), None)


def print_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the HTML to PDF with headless Chromium in a fresh, throw-away profile."""
    chromium = find_chromium()
    if chromium is None:
        raise InnosdError("the PDF needs Chromium and none is installed; install the Debian package chromium "
                          "(sudo apt-get install chromium) or pass --no-pdf")
    with tempfile.TemporaryDirectory(prefix="innosd-chromium-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise InnosdError(f"Chromium did not print {html_path.name} within {CHROMIUM_TIMEOUT_S} s; "
                              "rerun, or pass --no-pdf") from None
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InnosdError(f"Chromium failed to print the PDF (exit {done.returncode}): {last}")


A4_PORTRAIT_IN = (8.27, 11.69)


def figures_pdf(report: Report, pdf_path: Path, title: str, provenance: dict) -> None:
    """Without Chromium: a PDF of the report's figures (one per page) with a title page."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(pdf_path) as pdf:
        page = plt.figure(figsize=A4_PORTRAIT_IN)
        page.text(0.08, 0.92, title, fontsize=16, fontweight="bold")
        page.text(0.08, 0.88, f"Built {provenance['created']} from saved run folders; commit "
                              f"{provenance['git_commit'][:12]}.", fontsize=9)
        page.text(0.08, 0.85, "Figures only: the full report with its tables is report.html "
                              "(install Chromium to print it).", fontsize=9)
        pdf.savefig(page)
        plt.close(page)
        for png in (p for p in report.figures if p.suffix == ".png"):
            page = plt.figure(figsize=A4_PORTRAIT_IN)
            ax = page.add_axes((0.04, 0.04, 0.92, 0.9))
            ax.imshow(plt.imread(png))
            ax.set_axis_off()
            ax.set_title(png.stem.replace("_", " "))
            pdf.savefig(page)
            plt.close(page)


def default_language(folders: list[Folder]) -> str:
    """`figures.language` from the first run's config, if the run recorded one; else English."""
    for f in folders:
        value = (f.config.get("figures") or {}).get("language") if isinstance(f.config.get("figures"), dict) else None
        if value:
            return str(value)
    return "en"


def build_report(run_dirs: list[Path], out_dir: Path | None = None, language: str | None = "en",
                 pdf: bool = True) -> Path:
    """Build `<out_dir>/report/` (default: inside the first run folder) and return that folder.

    `language=None` takes `figures.language` from the runs' config.yaml (default English).
    """
    if not run_dirs:
        raise ConfigError("innosd report: give at least one run folder (e.g. outputs/multirun/DATE/TIME)")
    folders = discover([Path(p) for p in run_dirs])
    language = check_language(language or default_language(folders))
    observations, targets = load_observations(), load_targets()
    inputs = collect(folders, observations)
    final = Path(out_dir if out_dir is not None else run_dirs[0]) / "report"
    staging = final.with_name(f".report.{dt.datetime.now():%Y%m%d-%H%M%S-%f}")
    provenance = {"created": now_utc(), "git_commit": git_commit(), "inputs": [str(f.path) for f in folders],
                  "language": language, "table_sources": {k: [str(p) for p in v] for k, v in inputs.sources.items()}}
    with atomic_directory(staging) as tmp:
        report = Report(tmp, language)
        section_run(report, inputs)
        section_projections(report, inputs, observations, targets)
        section_attainment(report, inputs)
        section_sensitivity(report, inputs)
        section_policy(report, inputs)
        section_calibration(report, inputs)
        section_validation(report, inputs)
        section_structure(report, inputs)
        section_data(report, observations, targets)
        html_path = tmp / "report.html"
        html_path.write_text(_page(report, TITLE[language], provenance), encoding="utf-8")
        provenance["figures"] = sorted(p.name for p in report.figures)
        provenance["pdf"] = "not built (--no-pdf)"
        if pdf and find_chromium():
            print_pdf(html_path, tmp / "report.pdf")
            provenance["pdf"] = "report.pdf: the HTML printed by headless Chromium"
        elif pdf:
            figures_pdf(report, tmp / "report.pdf", TITLE[language], provenance)
            provenance["pdf"] = "report.pdf: figures only (Chromium not installed; tables are in report.html)"
            print("innosd report: Chromium not found (Debian package chromium): report.pdf holds the figures "
                  "only; the tables are in report.html", file=sys.stderr)
        write_metadata(tmp, "report", seed=None, command="innosd report " + " ".join(map(str, run_dirs)),
                       model_file=model_file_of(inputs)[0],
                       recorded={k: provenance[k] for k in ("created", "git_commit")},
                       extra={k: provenance[k] for k in ("inputs", "language", "table_sources", "figures", "pdf")})
    _swap_into_place(staging, final)
    return final


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace an older report only now that the new one is complete."""
    if final.exists():
        old = final.with_name(f".report.old.{os.getpid()}")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
