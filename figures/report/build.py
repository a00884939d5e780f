"""`build_report(run_dirs)`: read the folders, draw every section, write the report folder."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

from innosd.calibration.data import load_observations, load_targets
from innosd.figures.labels import check_language
from innosd.figures.report import html, inputs, sections, summary
from innosd.figures.report.pdf import render_pdf

from innosd.errors import ConfigError
from innosd.rundir import REPORT_DIR, REPORT_HTML_FILE, REPORT_PDF_FILE, atomic_directory, git_commit, now_utc, \
    write_metadata


def build_report(run_dirs: list[Path], out_dir: Path | None = None, language: str | None = "en",
                 pdf: bool = True) -> Path:
    """Build `<out_dir>/report/` (default: inside the first run folder) and return that folder.

    `language=None` takes `figures.language` from the runs' config.yaml (default English).
    """
    if not run_dirs:
        raise ConfigError("innosd report: give at least one run folder (e.g. outputs/multirun/DATE/TIME)")
    folders = inputs.discover([Path(p) for p in run_dirs])
    language = check_language(language or inputs.default_language(folders))
    observations, targets = load_observations(), load_targets()
    found = inputs.collect(folders, observations)
    final = Path(out_dir if out_dir is not None else run_dirs[0]) / REPORT_DIR
    staging = final.with_name(f".{REPORT_DIR}.{dt.datetime.now():%Y%m%d-%H%M%S-%f}")
    created, commit = now_utc(), git_commit()
    with atomic_directory(staging) as tmp:
        report = html.Report(tmp, language)
        # looked up on the module at call time, so a test can make one section fail
        summary.section_summary(report, found)
        sections.section_run(report, found)
        sections.section_projections(report, found, observations, targets)
        sections.section_attainment(report, found)
        sections.section_sensitivity(report, found)
        sections.section_response(report, found)
        sections.section_loops(report, found)
        sections.section_policy(report, found)
        sections.section_discovery(report, found)
        sections.section_calibration(report, found)
        sections.section_validation(report, found)
        sections.section_bands(report, found)
        sections.section_backtest(report, found)
        sections.section_structure(report, found)
        sections.section_provenance(report, found)
        sections.section_data(report, observations, targets)
        html_path = tmp / REPORT_HTML_FILE
        html_path.write_text(html.page(report, created, commit), encoding="utf-8")
        how = render_pdf(html_path, tmp / REPORT_PDF_FILE) if pdf else "not built (--no-pdf)"
        write_metadata(tmp, "report", seed=None, command="innosd report " + " ".join(map(str, run_dirs)),
                       model_file=sections.model_file_of(found)[0],
                       recorded={"created": created, "git_commit": commit},
                       extra={"inputs": [str(f.path) for f in folders], "language": language,
                              "table_sources": {k: [str(p) for p in v] for k, v in found.sources.items()},
                              "figures": sorted(p.name for p in report.figures), "pdf": how})
    _swap_into_place(staging, final)
    return final


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace an older report only now that the new one is complete."""
    if final.exists():
        old = final.with_name(f".{REPORT_DIR}.old.{os.getpid()}")
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
