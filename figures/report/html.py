"""Rendering the report page: the `Report` body builder (headings, notes, sortable tables,
embedded figures), the small Markdown subset of our summaries, and the page around them.

The style and the table sorting are package files (`report.css`, `report.js`) inlined
into the page, so `report.html` stays one self-contained file. Every text shown comes
from labels.yaml through `innosd.figures.labels`.
"""

from __future__ import annotations

import base64
import functools
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.figures.labels import column_label, report_keys, report_template, report_text
from innosd.figures.plots import save_figure

from innosd.errors import DataError
from innosd.rundir import FIGURES_DIR

CSS_FILE = Path(__file__).with_name("report.css")
JS_FILE = Path(__file__).with_name("report.js")
HTML_LANG = {"en": "en", "zh": "zh-CN"}  # the page's lang attribute (fonts, hyphenation, screen readers)


@functools.cache
def asset(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def esc(value) -> str:
    return html.escape(str(value))


def fmt(value) -> str:
    """A table cell: integers as is, large numbers with separators, others to 4 significant digits."""
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


class Markup(str):
    """A table cell already written as HTML (an identifier in <code>, a quote): not escaped again."""


def code(value) -> Markup:
    """An identifier (a file name, a model variable, a requirement) set as code."""
    return Markup(f"<code>{esc(value)}</code>")


def named(identifier, label: str | None) -> Markup | str:
    """A model identifier with its label in the report's language: 'LABEL <code>name</code>'.
    English has no label (the identifier is its own name) and shows the name as text."""
    if label is None:
        return str(identifier)
    return Markup(f'{esc(label)} <code class="id">{esc(identifier)}</code>')


def quote(value) -> Markup | str:
    """A source's original wording, marked as quoted material (any language)."""
    text = "" if value is None or (isinstance(value, float) and not np.isfinite(value)) else str(value)
    return Markup(f'<q class="quote">{esc(text)}</q>') if text else ""


def cell(value) -> str:
    return value if isinstance(value, Markup) else esc(fmt(value))


def table_html(frame: pd.DataFrame, caption: str = "", css_class: str = "") -> str:
    """A sortable table (click a header) that scrolls sideways on a phone."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<div class="{" ".join(["table", css_class]).strip()}"><table class="sortable">{cap}'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def grouped_table_html(groups: list[tuple[str, pd.DataFrame]], caption: str = "") -> str:
    """One table of several same-column blocks, each under a full-width title row (e.g. one
    block per indicator): the title is said once, not on every row."""
    if not groups:
        return ""
    columns = list(groups[0][1].columns)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = ""
    for title, frame in groups:
        body += f'<tr class="group"><th colspan="{len(columns)}">{esc(title)}</th></tr>'
        body += "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                        for row in frame.itertuples(index=False))
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="table"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


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


class Report:
    """Accumulates the HTML body and saves each figure into `figures/` as it goes."""

    def __init__(self, folder: Path, language: str):
        self.folder, self.language = folder, language
        self.parts: list[str] = []
        self.figures: list[Path] = []
        (folder / FIGURES_DIR).mkdir()

    def text(self, group: str, key: str, **fields) -> str:
        """A report text of labels.yaml in the report's language."""
        return report_text(group, key, self.language, **fields)

    def sentence(self, key: str, code: dict[str, str] | None = None, **fields) -> str:
        """A `text` sentence of labels.yaml as HTML: every field escaped, those in `code`
        (file names, overrides) set in <code>."""
        values = {k: esc(v) for k, v in fields.items()}
        values.update({k: f"<code>{esc(v)}</code>" for k, v in (code or {}).items()})
        return esc(report_template("text", key, self.language)).format(**values)

    def heading(self, key: str) -> None:
        self.parts.append(f'<h2 id="{key}">{esc(self.text("headings", key))}</h2>')

    def absent(self, key: str) -> None:
        """A section without inputs: one line saying which command makes them, on the page only
        (a printed report for a planner leaves the empty section and the command out)."""
        heading = f'<h2 id="{key}">'
        if self.parts and self.parts[-1].startswith(heading):
            self.parts[-1] = self.parts[-1].replace(heading, f'<h2 id="{key}" class="screen">', 1)
        self.parts.append(f'<p class="absent screen">{esc(self.text("absent", key))}</p>')

    def note(self, message: str) -> None:
        self.parts.append(f'<p class="note">{esc(message)}</p>')

    def html(self, fragment: str) -> None:
        self.parts.append(fragment)

    def table(self, frame: pd.DataFrame, caption_key: str = "", css_class: str = "", **fields) -> None:
        """A sortable table with headers in the report's language; the caption is a
        `captions` key of labels.yaml. css_class "screen" keeps a long table out of the PDF."""
        frame = frame.rename(columns=lambda c: column_label(c, self.language))
        self.parts.append(table_html(frame, self.text("captions", caption_key, **fields) if caption_key else "",
                                     css_class))

    def figure(self, name: str, fig, caption: str) -> None:
        """Save the figure (PNG/PDF/SVG) and embed its PNG; the file names are for the page
        only (a printed report has no folder beside it)."""
        paths = save_figure(fig, self.folder / FIGURES_DIR / name)
        png = next(p for p in paths if p.suffix == ".png")
        self.figures.extend(paths)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        files = self.text("text", "figure_files", name=name)
        self.parts.append(f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
                          f'<figcaption>{esc(caption)} <code class="files">{esc(files)}</code></figcaption></figure>')

    def figure_or_note(self, name: str, make, caption: str) -> None:
        """A figure whose table turned out unusable becomes a one-line note, not a failed report."""
        try:
            fig = make()
        except DataError as err:
            self.parts.append(f'<p class="absent">{esc(name)}: {esc(err)}</p>')
            return
        self.figure(name, fig, caption)


def page(report: Report, created: str, commit: str) -> str:
    """The whole page: title, provenance line, contents, the sections, style and script inlined."""
    title = report.text("page", "title")
    nav = "".join(f'<li><a href="#{key}">{esc(report.text("headings", key))}</a></li>'
                  for key in report_keys("headings"))
    built = report.text("page", "built", created=created, commit=commit)
    return (f'<!DOCTYPE html><html lang="{HTML_LANG[report.language]}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{asset(CSS_FILE)}</style></head><body><h1>{esc(title)}</h1><p>{esc(built)}</p>"
            f"<nav><ul>{nav}</ul></nav>"
            + "\n".join(report.parts) + f"<script>{asset(JS_FILE)}</script></body></html>")
