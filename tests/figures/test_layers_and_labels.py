"""figures/ stays a reader of saved folders: no module imports innosd.experiments, and the
report's text lives in labels.yaml (en and zh, same fields), not in Python."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import innosd.figures
import pytest
import yaml
from innosd.figures import labels
from innosd.figures.report import sections

FIGURES_DIR = Path(innosd.figures.__file__).parent
FORBIDDEN = "innosd.experiments"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def imported_modules(source: str) -> set[str]:
    """Every module an `import` or `from ... import` statement names, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imports_forbidden(source: str) -> bool:
    return any(name == FORBIDDEN or name.startswith(FORBIDDEN + ".") for name in imported_modules(source))


def figures_modules() -> list[Path]:
    modules = sorted(FIGURES_DIR.rglob("*.py"))
    assert FIGURES_DIR / "report" / "build.py" in modules  # the walk reaches the report package
    return modules


def test_the_import_check_catches_every_spelling():
    for offender in ("import innosd.experiments.run", "from innosd.experiments import ensemble",
                     "from innosd import experiments", "def f():\n    from innosd.experiments.engine import x\n"):
        assert imports_forbidden(offender), offender
    assert not imports_forbidden("from innosd import rundir\nimport innosd.experimental_thing")


@pytest.mark.parametrize("module", figures_modules(), ids=lambda p: str(p.relative_to(FIGURES_DIR)))
def test_no_figures_module_imports_experiments(module):
    assert not imports_forbidden(module.read_text(encoding="utf-8")), f"{module} imports {FORBIDDEN}"


@pytest.mark.parametrize("module", sorted((FIGURES_DIR / "report").glob("*.py")), ids=lambda p: p.name)
def test_report_modules_hold_no_translated_text(module):
    """Chinese text (and so any translation) of the report lives in labels.yaml only."""
    found = CJK.findall(module.read_text(encoding="utf-8"))
    assert not found, f"{module.name} holds Chinese text {''.join(found[:10])!r}; move it to labels.yaml"


def _entries(tree, path=""):
    if isinstance(tree, dict) and set(tree) == {"en", "zh"}:
        yield path, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _entries(value, f"{path}.{key}" if path else key)


def test_every_report_text_has_both_languages_with_the_same_fields():
    table = yaml.safe_load(labels.LABELS_FILE.read_text(encoding="utf-8"))
    entries = list(_entries(table["report"]))
    groups = {"page", "headings", "absent", "captions", "kinds", "text", "status", "summary", "distributions",
              "directions", "results", "validation_tests", "validation_checks", "backtest_notes", "statistics",
              "modes", "loops_notes"}
    assert groups == set(table["report"]) and len(entries) == sum(len(table["report"][g]) for g in groups)

    def fields(s):
        return {f for _, f, _, _ in string.Formatter().parse(s) if f}

    for path, entry in entries:
        assert isinstance(entry["en"], str) and isinstance(entry["zh"], str) and entry["zh"], path
        assert fields(entry["en"]) == fields(entry["zh"]), path
        assert CJK.search(entry["zh"]) or path == "report.text.figure_files", f"{path}: zh is not Chinese"
    assert set(table["report"]["absent"]) < set(sections.HEADINGS)
    for key in sections.HEADINGS:  # a section function for every heading
        assert callable(getattr(sections, f"section_{key}")), key
