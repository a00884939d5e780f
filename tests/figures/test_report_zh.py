"""The Chinese report is wholly Chinese: built from small saved results of every kind (runs,
experiments, calibration, validation, backtest), its text outside code, quotes and links has
no English prose — no run of three or more English words. Model identifiers may appear (as
code, beside their Chinese label); acronyms (GDP, R&D, PRIM) and file paths are not prose.
The same check on the English report finds plenty, so it can fail."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from innosd.calibration.data import load_observations, load_targets
from innosd.figures import labels
from innosd.figures.report import build_report
from innosd.figures.structure import read_structure
from innosd.model import MODEL_FILE
from test_report import (
    write_backtest,
    write_calibration,
    write_deterministic_run,
    write_experiment,
    write_loops,
    write_validation,
)

from innosd.rundir import SOURCE_ROOT

# Elements whose text is not the report's prose: code and identifiers, quoted source wording,
# the page's script and style.
NOT_PROSE_TAGS = {"code", "pre", "q", "script", "style"}
# A word of prose: two or more letters with a lower-case one (GDP, FTE, R&D are acronyms).
WORD = r"(?=[A-Za-z'’-]*[a-z])[A-Za-z][A-Za-z'’-]+"
PROSE_RUN = re.compile(rf"{WORD}(?:[\s,;:()&\-]+{WORD}){{2,}}")
# Links and file paths are names, not prose.
NOT_WORDS = re.compile(r"(https?://|www\.)\S+|\S*[/\\]\S*|\S+\.(?:csv|md|yaml|json|nc|txt|png|pdf|svg|html)\b")
SHOWN_RUNS = 8  # runs quoted in a failure message


class ProseFinder(HTMLParser):
    """Collects runs of English words in the text outside NOT_PROSE_TAGS elements."""

    VOID = {"img", "br", "meta", "link", "hr", "input", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.runs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data):
        if NOT_PROSE_TAGS.intersection(self.open):
            return
        self.runs += PROSE_RUN.findall(NOT_WORDS.sub(" ", data))


def english_runs(page: str) -> list[str]:
    finder = ProseFinder()
    finder.feed(page)
    # the alt text of images repeats the caption: captions are checked as text
    return finder.runs


def build(root, language: str):
    folders = [write_deterministic_run(root / "run" / "0_baseline", load_targets()),
               write_experiment(root / "experiment"), write_calibration(root / "calibration"),
               write_validation(root / "validation"), write_backtest(root / "backtest"), write_loops(root / "loops")]
    out = build_report([root / "run", *folders[1:]], out_dir=root / f"report_{language}", language=language,
                       pdf=False)
    return (out / "report.html").read_text(encoding="utf-8")


@pytest.fixture()
def quick_figures(monkeypatch):
    """PNG only, at screen resolution (the text is checked, not the pictures)."""
    from innosd.figures import plots
    from innosd.figures.report import html

    monkeypatch.setattr(plots, "PNG_DPI", 40)
    monkeypatch.setattr(html, "save_figure", lambda fig, stem: plots.save_figure(fig, stem, formats=("png",)))


def test_chinese_report_has_no_english_prose(tmp_path, quick_figures):
    page = build(tmp_path, "zh")
    runs = english_runs(page)
    assert not runs, f"{len(runs)} runs of English words in the Chinese report, e.g. {runs[:SHOWN_RUNS]}"
    # what the check skips is really there: identifiers as code beside their label, quotes
    assert '<code class="id">hte exit rate</code>' in page and '<q class="quote">' in page


def test_the_prose_check_finds_english():
    runs = english_runs("<p>高企 the high tech enterprises <code>hte exit rate</code></p>"
                        "<q>By the end of 2016</q><p>R&amp;D/GDP 3 % of GDP, see calibration/data/x.csv</p>")
    assert runs == ["the high tech enterprises"]


def test_every_name_a_report_table_shows_has_a_chinese_label():
    """Flows of the structure diagram, the calibrated parameters, the outside world, the levers,
    the plans, regions and sources of the data files."""
    import yaml

    flows = {name for f in read_structure(MODEL_FILE).flows for name in (f.name, f.source, f.target) if name}
    params = set(yaml.safe_load((SOURCE_ROOT / "scenarios" / "params" / "calibrated.yaml").read_text())["params"])
    world = yaml.safe_load((SOURCE_ROOT / "scenarios" / "world" / "default.yaml").read_text())["uncertainties"]
    names = flows | params | set(world) | {c for spec in world.values() for c in spec.get("constants") or []}
    missing = sorted(n for n in names if not labels.variable_label(n, "zh"))
    assert not missing, f"no Chinese label in figures/labels.yaml (variables/stocks): {missing}"
    assert not [w for w in world if labels.world_source(w, "", "zh") == ""]
    levers = re.findall(r"^(\w[\w ]*) scenario change =", MODEL_FILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert levers and not [v for v in levers if v.replace(" ", "_") not in labels.lever_ids()]
    observations, targets = load_observations(), load_targets()
    for region in set(observations["region"]) | set(targets["region"]):
        assert labels.region_label(region, "zh") != region, region
    tags = {re.findall(r"\[[^\]]+\]", p)[-1] for p in targets["plan"]}
    assert not [t for t in tags if not labels.plan_label(t, "zh")]
    urls = {s.split(" | ")[0] for s in list(observations["source"]) + list(targets["source"]) if " | " in s}
    assert not sorted(u for u in urls if not labels.source_label(u, "zh"))


def test_the_outside_world_table_reads_its_ranges_from_a_run_when_the_sweep_has_none(tmp_path):
    """A sweep's config.yaml records only its jobs; its world.csv came first and left the
    world table out of the main job's report."""
    import figure_fixtures as fx
    from innosd.figures.report import inputs, uncertainty

    from innosd.rundir import write_metadata

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    fx.make_world().to_csv(sweep / "world.csv", index=False)
    write_metadata(sweep, "experiment", seed=0, command="innosd run -m", recorded={"git_commit": "abc"},
                   config={"jobs": []}, extra={"experiment": "projections", "parameter_set": {"name": "calibrated"}})
    found = inputs.collect(inputs.discover([sweep, write_experiment(tmp_path / "experiment")]), load_observations())
    table = uncertainty.world_rows(found, "zh")
    assert table is not None and len(table) == len(fx.WORLD_CONFIG["uncertainties"])
