"""report.pdf: the report's HTML rendered by WeasyPrint (a Python dependency: a fresh
machine needs no browser), or printed by headless Chromium where WeasyPrint cannot run."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from innosd.errors import InnosdError

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Printing a page of a few MB of embedded images takes seconds; two minutes means Chromium hung.
CHROMIUM_TIMEOUT_S = 120


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


def weasyprint_pdf(html_path: Path, pdf_path: Path) -> None:
    """Render the HTML with WeasyPrint (no browser needed: a pip dependency plus Pango)."""
    import weasyprint  # heavy (Pango via cffi): only when a PDF is made

    weasyprint.HTML(filename=str(html_path)).write_pdf(str(pdf_path))


def weasyprint_problem() -> str | None:
    """None if WeasyPrint can render here, else why not (one line)."""
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "WeasyPrint is not installed (pip install weasyprint)"
    except OSError as err:  # its system libraries (Pango) are missing
        return f"WeasyPrint cannot load its libraries ({str(err).splitlines()[0]}; Debian: apt-get install " \
               "libpango-1.0-0 libpangoft2-1.0-0)"
    return None


def render_pdf(html_path: Path, pdf_path: Path) -> str:
    """report.pdf from the same HTML: WeasyPrint, else headless Chromium; which one, as a sentence.

    Neither available is a one-line error (never a PDF silently missing its tables)."""
    problem = weasyprint_problem()
    if problem is None:
        weasyprint_pdf(html_path, pdf_path)
        return "report.pdf: the HTML rendered by WeasyPrint"
    if find_chromium():
        print_pdf(html_path, pdf_path)
        return "report.pdf: the HTML printed by headless Chromium"
    raise InnosdError(f"report.pdf: {problem}, and no Chromium is installed (Debian package chromium); "
                      "install either, or pass --no-pdf")
