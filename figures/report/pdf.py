"""report.pdf: the HTML page printed by headless Chromium, or, without Chromium, a PDF of
the report's figures with a title page (the tables are then in report.html only)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from innosd.figures.labels import report_text
from innosd.figures.plots import use_style
from matplotlib.backends.backend_pdf import PdfPages

from innosd.errors import InnosdError

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Printing a page of a few MB of embedded images takes seconds; two minutes means Chromium hung.
CHROMIUM_TIMEOUT_S = 120
A4_PORTRAIT_IN = (8.27, 11.69)


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


def figures_pdf(figures: list[Path], pdf_path: Path, language: str, created: str, commit: str) -> None:
    """Without Chromium: a PDF of the report's figures (one per page) with a title page."""
    use_style(language)  # a font that can draw the title page's language
    with PdfPages(pdf_path) as pdf:
        page = plt.figure(figsize=A4_PORTRAIT_IN)
        page.text(0.08, 0.92, report_text("page", "title", language), fontsize=16, fontweight="bold")
        page.text(0.08, 0.88, report_text("page", "built_pdf", language, created=created, commit=commit[:12]),
                  fontsize=9)
        page.text(0.08, 0.85, report_text("page", "figures_only_pdf", language), fontsize=9)
        pdf.savefig(page)
        plt.close(page)
        for png in (p for p in figures if p.suffix == ".png"):
            page = plt.figure(figsize=A4_PORTRAIT_IN)
            ax = page.add_axes((0.04, 0.04, 0.92, 0.9))
            ax.imshow(plt.imread(png))
            ax.set_axis_off()
            ax.set_title(png.stem.replace("_", " "))
            pdf.savefig(page)
            plt.close(page)
