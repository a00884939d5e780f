"""`innosd report` builds from fixture run folders (a deterministic run, an experiment, a
calibration, a validation), writes every figure in three formats, opens in headless
Chromium with every image loaded, and fails with one line (leaving nothing) on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import figure_fixtures as fx
import numpy as np
import pandas as pd
import pytest
import yaml
from innosd.experiments import cli
from innosd.experiments.results import target_attainment, to_dataset
from innosd.figures.labels import report_text
from innosd.model.indicators import KEY_INDICATORS
from innosd.figures.report import build, build_report, html, inputs, pdf, sections

from innosd.rundir import write_metadata

from innosd.errors import InnosdError

A4_PT = (595, 842)  # ISO A4 in PostScript points (210 x 297 mm)

# The fixture run's indicators grow from these 2013 year-end values (realistic magnitudes).
RUN_START = {"high tech enterprises": 1500.0, "rd intensity": 0.019, "incubators": 100.0}
CHROMIUM_TIMEOUT_S = 120  # a cold headless start on two loaded cores takes ~5-20 s
# Not a skip: the PDF and the in-browser check are part of the report's contract, and
# the test environment has Chromium (.ci/run installs it); a missing one must show.
CHROMIUM_REQUIRED = "Chromium is not installed (Debian package chromium; .ci/run installs it)"


def write_deterministic_run(folder: Path, targets: pd.DataFrame, scenario: str = "baseline") -> Path:
    """A run folder as `innosd run` writes it: results.nc, targets.csv, config.yaml, metadata.json."""
    folder.mkdir(parents=True)
    times = np.arange(2010.0, 2036.25, 0.25)
    frame = pd.DataFrame({name: start * 1.1 ** (times - 2014.0) for name, start in RUN_START.items()}, index=times)
    attrs = {"scenario": scenario, "git_commit": "abc123", "model_file": "guangzhou_innovation.mdl",
             "created": "2026-11-22T00:00:00+00:00"}
    ds = to_dataset(frame, {n: "firm" for n in frame}, {}, set(), attrs)
    ds.to_netcdf(folder / "results.nc")
    target_attainment(ds, targets).to_csv(folder / "targets.csv", index=False)
    config = {"scenario": {"name": scenario, "description": "the 2016 policies continue",
                           "levers": {"incubator": {"change": 1.0, "start": 2017, "ramp_years": 4}}},
              "params": {}, "run": {"seed": 0}, "overrides": [f"scenario={scenario}"]}
    write_metadata(folder, "run", seed=0, command=f"innosd run scenario={scenario}", config=config, recorded=attrs,
                   extra={"scenario": scenario, "uncertainty": {"mode": "none"},
                          "parameter_set": {"name": "model_defaults", "statistic": "model file defaults"}})
    return folder


def write_experiment(folder: Path) -> Path:
    folder.mkdir(parents=True)
    fx.make_projections().to_csv(folder / "projections.csv", index=False)
    fx.make_attainment().to_csv(folder / "attainment.csv", index=False)
    fx.make_sobol().to_csv(folder / "sobol.csv", index=False)
    fx.make_morris().to_csv(folder / "morris.csv", index=False)
    fx.make_candidates().to_csv(folder / "policy_candidates.csv", index=False)
    fx.make_response().to_csv(folder / "response.csv", index=False)
    fx.make_variance_shares().to_csv(folder / "variance_shares.csv", index=False)
    fx.make_world().to_csv(folder / "world.csv", index=False)
    (folder / "policy_best.yaml").write_text("name: cheapest\nlevers:\n  incubator: {change: 0.5}\n")
    pd.DataFrame({"scenario": ["baseline", "fiscal_doubling"], "year": 2025, "targets": 1,
                  "requirements": "rd_intensity@2025 >= 0.034", "probability": [0.795, 0.985],
                  "mc_se": [0.0285, 0.0086], "ci_low": [0.73, 0.96], "ci_high": [0.85, 0.99], "draws": 200,
                  "binding_target": "rd_intensity@2025 >= 0.034", "binding_probability": [0.795, 0.985],
                  "warning": ""}).to_csv(folder / "joint_attainment.csv", index=False)
    (folder / "policy_summary.json").write_text(json.dumps({
        "feasible": True, "required_probability": 0.9, "probability": 0.945, "mc_se": 0.016, "draws": 200,
        "cost_100m_yuan": 26.8, "cost_years": [2017, 2025], "mix": {"post_subsidy": 0.8, "talent": 0.28},
        "binding_target": "rd_intensity@2025 >= 0.034", "targets": ["rd_intensity@2025 >= 0.034"], "warning": ""}))
    pd.DataFrame({"scenario": ["baseline", "fiscal_doubling"], "year": 2025, "satisficing": [0.795, 0.985],
                  "mc_se": [0.0285, 0.0086], "draws": 200, "margin_median": [0.1, 0.18], "mean_regret": [0.1, 0.0],
                  "p90_regret": [0.2, 0.0], "max_regret": [0.3, 0.0]}).to_csv(folder / "robustness.csv", index=False)
    pd.DataFrame({"box": 1, "input": ["rd_per_hte", "post_subsidy"], "input_kind": ["parameter", "lever"],
                  "lower": [0.015, -0.35], "upper": [0.04, 0.19], "coverage": 0.6, "density": 0.5, "mass": 0.2,
                  "cases": 100, "runs": 200, "restricted": True}).to_csv(folder / "prim_boxes.csv", index=False)
    write_metadata(folder, "experiment", seed=0, command="innosd run +experiment=projections",
                   recorded={"git_commit": "abc123"}, config={"world": fx.WORLD_CONFIG},
                   extra={"experiment": "projections", "parameter_set": {"name": "calibrated"}})
    return folder


def write_calibration(folder: Path) -> Path:
    folder.mkdir(parents=True)
    fx.make_fit().to_csv(folder / "fit.csv", index=False)
    fx.make_parameters().to_csv(folder / "parameters.csv", index=False)
    fx.make_correlations().to_csv(folder / "correlations.csv")
    fx.write_posterior_nc(folder / "posterior.nc")
    (folder / "summary.md").write_text("# Calibration summary\n\n**2 of 3** parameters identified.\n\n"
                                       "| parameter | shrinkage |\n|---|---|\n| hte exit rate | 0.8 |\n")
    write_metadata(folder, "calibration", seed=0, command="innosd calibrate", recorded={"git_commit": "abc123"})
    return folder


def write_validation(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "validation.md").write_text("# Validation\n\n- mass balance: pass\n- extreme conditions: pass\n")
    pd.DataFrame({"test": ["mass balance"], "checks": [32], "result": ["pass"], "evidence": ["max 1e-12"]}) \
        .to_csv(folder / "validation.csv", index=False)
    return folder


def write_backtest(folder: Path) -> Path:
    folder.mkdir(parents=True)
    points, scores = fx.make_backtest_tables()
    points.to_csv(folder / "backtest_points.csv", index=False)
    scores.to_csv(folder / "backtest.csv", index=False)
    write_metadata(folder, "backtest", seed=0, command="innosd backtest", recorded={"git_commit": "abc123"},
                   extra={"until": 2015, "draws": 200, "world": {"name": "default", "mode": "sample"},
                          "scenario": "baseline", "calibration": "backtest"})
    return folder


def write_loops(folder: Path) -> Path:
    """A saved `innosd loops` folder: two key variables, three loop families, two posterior draws.
    High-tech enterprises: reinforcing 0.6 -> 0.5, balancing -0.4 -> -0.5 (the balance shifts);
    national incubators: one balancing family of the incubation sector only."""
    folder.mkdir(parents=True)
    years = np.arange(2016, 2036)
    ramp = (years - years[0]) / (years[-1] - years[0])
    shares = pd.concat([
        pd.DataFrame({"variable": "high tech enterprises", "year": years, "family": "F2", "share": 0.6 - 0.1 * ramp}),
        pd.DataFrame({"variable": "high tech enterprises", "year": years, "family": "F3", "share": -0.4 - 0.1 * ramp}),
        pd.DataFrame({"variable": "national incubators", "year": years, "family": "F1", "share": -1.0})])
    shares.to_csv(folder / "family_shares.csv", index=False)
    pd.DataFrame({"family": ["F1", "F2", "F3"], "groups": ["Incubation", "Firm ladder + Incubation",
                                                           "Firm ladder + Incubation"],
                  "polarity": ["B", "R", "B"], "loops": [17, 237, 234], "active_loops": [17, 237, 234],
                  "strongest_loop": ["B8", "R4", "B20"],
                  "strongest_variables": ["national incubators -> national incubator promotions -> national incubators",
                                          "incubators -> incubation capacity -> incubators",
                                          "incubators -> incubator closures -> incubators"],
                  "mean_abs_relative": [1.1, 0.4, 0.3]}).to_csv(folder / "loop_families.csv", index=False)
    draws = pd.DataFrame({"variable": ["high tech enterprises"] * 2 + ["national incubators"] * 2,
                          "draw": [0, 1, 0, 1], "year": 2025, "family": ["F2", "F3", "F1", "F1"],
                          "groups": ["Firm ladder + Incubation"] * 2 + ["Incubation"] * 2,
                          "polarity": ["R", "B", "B", "B"], "share": [0.55, -0.52, -1.0, -1.0]})
    draws.to_csv(folder / "family_draws.csv", index=False)
    write_metadata(folder, "loops", seed=0, command="innosd run (main job): loops of the baseline",
                   recorded={"git_commit": "abc123"},
                   config={"parameters": "parameter set 'calibrated' (posterior median)", "scenario": "baseline"},
                   extra={"variables": ["high tech enterprises", "national incubators"], "method": "exhaustive",
                          "loops_found": 18105, "families": 3, "draws": 2, "parameter_set": "calibrated",
                          "scenario": "baseline"})
    return folder


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """One report from all four kinds of folder (built once: it is the slow part)."""
    from innosd.calibration.data import load_targets

    root = tmp_path_factory.mktemp("outputs")
    folders = [write_deterministic_run(root / "run" / "0_baseline", load_targets()),
               write_experiment(root / "experiment"), write_calibration(root / "calibration"),
               write_validation(root / "validation"), write_loops(root / "loops"), write_backtest(root / "backtest")]
    has_chromium = pdf.find_chromium() is not None
    out = build_report([root / "run", *folders[1:]], out_dir=root / "reports", pdf=has_chromium)
    return out, folders, has_chromium


def test_report_has_every_section_and_figure(full_report):
    out, folders, has_chromium = full_report
    page = (out / "report.html").read_text(encoding="utf-8")
    for key, heading in sections.HEADINGS.items():
        assert f'id="{key}"' in page and heading["en"] in page
    assert 'class="absent' not in page  # every section had its inputs
    # the executive summary comes first and answers: how likely, at what cost, what could make it fail
    assert page.index('id="summary"') < page.index('id="run"')
    summary = page[page.index('id="summary"'):page.index('id="run"')]
    for fragment in ("0.80 ± 0.03", "26.8", "R&amp;D post-subsidy +80%", "PRIM box 1", "rd_per_hte"):
        assert fragment in summary, fragment
    # baseline is both in the deterministic run and in the experiment: shown once, no developer note about it
    assert "rows of projections" not in page
    expected = {"projection_fans", "scenario_difference", "attainment_heatmap", "sensitivity_ranking",
                "pareto_front", "calibration_fit", "prior_posterior", "pairwise_correlations", "structure_diagram",
                "variance_shares", "backtest", "response_rd_intensity_2025", "response_high_tech_enterprises_2025",
                "loop_families"}
    stems = {p.stem for p in (out / "figures").iterdir()}
    assert stems == expected
    for stem in expected:
        for suffix in (".png", ".pdf", ".svg"):
            assert (out / "figures" / f"{stem}{suffix}").stat().st_size > 1000
    assert page.count("<img ") == len(expected)
    assert not re.search(r'<img[^>]+src="(?!data:image/png;base64,)', page)  # self-contained
    assert has_chromium, CHROMIUM_REQUIRED
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_report_tables_and_provenance(full_report):
    out, folders, _ = full_report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Incubator support: +100% from 2017 over 4 y" in page  # the scenario's lever from config.yaml
    assert "model_defaults" in page                      # the parameter set the run used
    assert "2 of 3</strong> parameters identified" in page  # calibration summary.md rendered
    assert "<td>mass balance</td>" in page and "validation.md" in page  # validation.csv shown, .md named
    assert "cheapest" in page                            # policy_best.yaml shown
    # response curves: the lever that moves R&D intensity first, its medians in percent, target odds at the ends
    response = page[page.index('id="response"'):page.index('id="policy"')]
    assert response.index("Fiscal S&amp;T spending") < response.index("Talent programmes")
    assert "3.3" in response and "3.9" in response and "0.35 → 0.50 → 0.80" in response
    meta = json.loads((out / "metadata.json").read_text())
    assert {"git_commit", "package_versions", "created", "inputs", "language"} <= set(meta)
    assert str(folders[0]) in meta["inputs"]  # the sweep's run sub-folder was found
    # the experiment's ensemble wins over the deterministic run for the same scenario
    assert meta["table_sources"]["projections"][0] == str(folders[1])


def test_report_says_where_bands_come_from_and_how_the_backtest_scored(full_report):
    out, folders, _ = full_report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "40 posterior draws x 25 outside-world draws" in page  # the grid of variance_shares.csv
    assert "<td>gdp growth after 2016</td>" in page and "0.04675–0.07825" in page  # constants, p05–p95 of draws
    assert "Calibrated with the observations up to 2015 only" in page
    scores = pd.read_csv(folders[-1] / "backtest.csv")
    assert scores["indicator"].iloc[-1] == "all" and 0 <= scores["coverage"].iloc[-1] <= 1
    assert "every scored observation" in page


def test_report_images_load_in_chromium(full_report, tmp_path):
    """Open the HTML in headless Chromium and record every image's decoded width in the DOM."""
    out, _, has_chromium = full_report
    assert has_chromium, CHROMIUM_REQUIRED
    probe = ("<script>window.addEventListener('load',function(){var imgs=document.images;"
             "document.body.setAttribute('data-images',imgs.length);var w=[];"
             "for(var i=0;i<imgs.length;i++){w.push(imgs[i].complete?imgs[i].naturalWidth:0)}"
             "document.body.setAttribute('data-widths',w.join(','));"
             "var th=document.querySelector('table.sortable th');th.click();"
             "document.body.setAttribute('data-sorted',th.className)});</script></body>")
    page = (out / "report.html").read_text(encoding="utf-8").replace("</body>", probe)
    probe_path = tmp_path / "probe.html"
    probe_path.write_text(page, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([pdf.find_chromium(), *pdf.CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                              "--virtual-time-budget=10000", "--dump-dom", probe_path.as_uri()],
                             capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S).stdout
    count = re.search(r'data-images="(\d+)"', dom)
    widths = re.search(r'data-widths="([\d,]*)"', dom)
    assert count and widths, "the page's load handler did not run"
    widths = [int(w) for w in widths.group(1).split(",") if w]
    assert int(count.group(1)) == len(widths) == 14  # nine figures, variance_shares, backtest, 2 response curves, loops
    assert all(w > 100 for w in widths), f"images that did not load: {widths}"
    assert 'data-sorted="asc"' in dom  # clicking a header sorts the table


@pytest.fixture()
def quick_figures(monkeypatch):
    """PNG only, at screen resolution: the full report above checks PNG 300 dpi + PDF + SVG;
    these tests check the report's logic and would otherwise spend most of their time encoding."""
    from innosd.figures import plots

    monkeypatch.setattr(plots, "PNG_DPI", 60)
    monkeypatch.setattr(html, "save_figure", lambda fig, stem: plots.save_figure(fig, stem, formats=("png",)))


def test_report_explains_the_response_curves_by_the_loops_behind_them(full_report):
    """The loops section follows the response curves; it names what was held fixed, reads each
    variable's sectors and shift from the saved shares, and says how many draws agree."""
    out, _, _ = full_report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.index('id="response"') < page.index('id="loops"') < page.index('id="policy"')
    section = page[page.index('id="loops"'):page.index('id="policy"')]
    assert "18,105 feedback loops" in section and "<code>calibrated</code>" in section and "Baseline" in section
    assert "national incubators: the loops acting on it (a share of at least 1% in a year from 2017 on) lie in " \
           "Incubation." in section
    # net share 0.2 in 2016 falling linearly to 0 in 2035: 0.2 * (1 - 9/19) = 0.105 in 2025
    assert "is +0.11 in 2025 and +0.00 in 2035: balancing loops gain ground" in section
    assert "no loop from another sector passes through them" in section  # the national incubators' note
    # the response curves' spread per lever, read back from the experiment's response.csv
    assert re.search(r"In the response curves above, [^.]+ moves it by [\d.]+% of its 2025 value", section)
    rows = re.findall(r"<tr><td>(national incubators|high tech enterprises)</td><td>2025</td>(.*?)</tr>", section)
    agreement = {name: re.findall(r"<td>([^<]*)</td>", cells)[-1] for name, cells in rows}
    assert agreement == {"high tech enterprises": "1/2", "national incubators": "2/2"}
    assert "repeats it on 2 posterior draws" in section


def test_report_from_a_plain_run_says_what_is_absent(tmp_path, targets, observations, quick_figures, capsys):
    run = write_deterministic_run(tmp_path / "run", targets)
    out = build_report([run], language="zh", pdf=False)
    assert out == run / "report"
    page = (out / "report.html").read_text(encoding="utf-8")
    for key in ("sensitivity", "policy", "calibration", "validation", "loops"):
        assert report_text("absent", key, "zh") in page.replace("&#x27;", "'").replace("&quot;", '"')
    assert sections.HEADINGS["attainment"]["zh"] in page and 'lang="zh-CN"' in page
    assert "<th>文件夹</th>" in page  # table headers translated too
    # targets.csv of a deterministic run becomes probabilities of exactly 0 or 1
    folder = inputs.discover([run])[0]
    attainment = inputs.deterministic_attainment(folder)
    assert set(attainment["probability"]) <= {0.0, 1.0} and len(attainment)
    projections = inputs.deterministic_projections(folder, observations)
    hte = projections[(projections["indicator"] == "high_tech_enterprises") & (projections["year"] == 2013)]
    assert hte["median"].iloc[0] == pytest.approx(RUN_START["high tech enterprises"])  # state at t = 2014
    assert {i.id for i in KEY_INDICATORS} >= set(projections["indicator"])

    # `innosd report` rebuilds it in place: the old report is replaced, nothing temporary is left
    stamp = json.loads((out / "metadata.json").read_text())["created"]
    (out / "stale.txt").write_text("from the old report")
    assert cli.main(["report", str(run), "--no-pdf"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert not (out / "stale.txt").exists() and not (out / "report.pdf").exists()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["created"] >= stamp and meta["language"] == "en"
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_pdf_without_chromium_is_the_whole_report(tmp_path, targets, monkeypatch, quick_figures):
    """A fresh machine has no browser: WeasyPrint renders the same HTML, tables and all."""
    run = write_deterministic_run(tmp_path / "run", targets)
    monkeypatch.setattr(pdf, "find_chromium", lambda: None)
    out = build_report([run], out_dir=tmp_path / "out")
    document = (out / "report.pdf").read_bytes()
    assert document[:5] == b"%PDF-"
    assert "WeasyPrint" in json.loads((out / "metadata.json").read_text())["pdf"]
    from pypdf import PdfReader

    first = PdfReader(out / "report.pdf").pages[0]
    width_pt, height_pt = float(first.mediabox.width), float(first.mediabox.height)
    assert (round(width_pt), round(height_pt)) == A4_PT
    text = "".join(page.extract_text() for page in PdfReader(out / "report.pdf").pages)
    assert report_text("headings", "summary", "en") in text  # tables and text, not only figures
    # a section without inputs says which command makes them on the page, not in the printed report
    html_page = (out / "report.html").read_text(encoding="utf-8")
    assert "+experiment=sensitivity" in html_page and "+experiment=sensitivity" not in text
    assert report_text("headings", "sensitivity", "en") not in text


def test_pdf_with_neither_renderer_is_one_line_and_no_report(tmp_path, targets, monkeypatch, quick_figures):
    run = write_deterministic_run(tmp_path / "run", targets)
    monkeypatch.setattr(pdf, "find_chromium", lambda: None)
    monkeypatch.setattr(pdf, "weasyprint_problem", lambda: "WeasyPrint is not installed (pip install weasyprint)")
    with pytest.raises(InnosdError) as err:
        build_report([run], out_dir=tmp_path / "out")
    assert "WeasyPrint" in str(err.value) and "chromium" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out" / "report").exists()


def test_language_comes_from_the_runs_config(tmp_path, targets):
    run = write_deterministic_run(tmp_path / "run", targets)
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "figures": {"language": "zh"}}))
    assert inputs.default_language(inputs.discover([run])) == "zh"


def test_failed_build_leaves_nothing(tmp_path, targets, monkeypatch, quick_figures):
    run = write_deterministic_run(tmp_path / "run", targets)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash while drawing")

    monkeypatch.setattr(sections, "section_structure", broken)
    with pytest.raises(RuntimeError):
        build_report([run], pdf=False)
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "metadata.json", "results.nc", "targets.csv"]


@pytest.mark.parametrize("argv, message", [
    (["report"], "give at least one run folder"),
    (["report", "/nonexistent/run"], "/nonexistent/run: no such run folder"),
    (["report", "RUN", "--language", "fr"], "valid languages: en, zh"),
    (["report", "RUN", "--pdf"], "unknown option '--pdf'; valid options"),
    (["report", "RUN", "--out"], "--out needs a value"),
])
def test_cli_errors_are_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_rejects_a_folder_that_is_not_an_output(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not an innosd output folder" in err and err.count("\n") == 1


def test_markdown_subset():
    page = html.markdown_html("## Fit\n\nAll **good** `x`.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h4>Fit</h4>" in page and "<strong>good</strong>" in page and "<code>x</code>" in page
    assert page.count("<li>") == 2 and "<td>1</td><td>2</td>" in page


def test_cli_options_parse():
    from innosd.experiments.commands.report import parse

    assert parse(["A", "B", "figures.language=zh", "--out=X", "--no-pdf"]) == ([Path("A"), Path("B")], Path("X"),
                                                                              "zh", False)
    assert parse(["A", "--language", "en", "--out", "Y"]) == ([Path("A")], Path("Y"), "en", True)


def test_corrupt_results_file_is_one_line(tmp_path, targets, capsys):
    run = write_deterministic_run(tmp_path / "run", targets)
    (run / "results.nc").write_bytes(b"not a netCDF file")
    assert cli.main(["report", str(run), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "results.nc: unreadable netCDF results" in err and err.count("\n") == 1
    assert not (run / "report").exists()


@pytest.mark.parametrize("name, content", [("metadata.json", "[1, 2]"), ("config.yaml", "- a\n- b\n")])
def test_folder_file_that_is_not_a_mapping_is_one_line(tmp_path, targets, capsys, name, content):
    run = write_deterministic_run(tmp_path / "run", targets)
    (run / name).write_text(content)
    assert cli.main(["report", str(run), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert f"{name}: expected a mapping at the top level, got list" in err and err.count("\n") == 1
    assert not (run / "report").exists()


def test_a_probability_at_zero_or_one_shows_its_interval_not_a_zero_error():
    from innosd.figures.report.summary import probability_text

    # 0 of 200 draws: the binomial standard error is 0, the Wilson 95% interval is 0-0.019
    assert probability_text(0.0, 0.0, (0.0, 0.0188)) == "0.00 (95%: 0.00–0.02)"
    assert probability_text(1.0, 0.0, (0.9812, 1.0)) == "1.00 (95%: 0.98–1.00)"
    assert probability_text(0.8, 0.03, (0.74, 0.85)) == "0.80 ± 0.03"
    assert probability_text(0.995, 0.004987, (0.9723, 0.9991)) == "0.99 (95%: 0.97–1.00)"  # '± 0.00' would read as certain
