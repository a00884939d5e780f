"""`innosd report`: one self-contained HTML report and a PDF from saved run folders.

`build_report(run_dirs)` reads whatever the folders hold (scenario runs and sweeps,
projection/attainment/sensitivity/policy experiments, calibration, validation; file
contract in `docs/outputs.md`, read through `innosd.rundir`), draws the report figures
from those tables, and writes

    <out_dir>/report/report.html   figures embedded (base64 PNG), sortable HTML tables
    <out_dir>/report/report.pdf    the same page printed by headless Chromium
    <out_dir>/report/figures/      every figure as PNG (300 dpi), PDF and SVG
    <out_dir>/report/metadata.json provenance: inputs, git commit, versions, language

atomically (a rebuilt report replaces the old one only once complete). It never
re-simulates. Sections whose inputs are absent say so in one line.

    inputs.py    the folders (innosd.rundir's reader) and the tables gathered from them
    sections.py  one function per section
    html.py      rendering: the page body, tables, figures, the Markdown subset, the page;
                 report.css and report.js are inlined package files
    pdf.py       printing by headless Chromium (or a figures-only PDF without it)
    build.py     build_report: the sections in order, written atomically
Every text shown is in figures/labels.yaml (`report`, `report_columns`).
"""

from innosd.figures.report.build import build_report

__all__ = ["build_report"]
