"""How the report shows the names and values its tables carry, in the report's language:
model identifiers beside their label (levers, constants, flows, outside-world uncertainties),
requirements ('rd_intensity@2025 >= 0.034') in display units, yes/no, relative lever changes.
Every text comes from labels.yaml; the sections call these instead of printing raw names.
"""

from __future__ import annotations

import re

from innosd.figures.labels import indicator_label, indicator_scale, lever_ids, lever_label, report_text, text, \
    variable_label
from innosd.figures.report.html import Markup, code, named
from innosd.model.info import lever_of


def short(value: float) -> str:
    """A headline number: thousands with separators, smaller ones to 3 significant digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def lever_id(name: str) -> str | None:
    """The lever id behind a table's name for it: 'fiscal_st', 'fiscal_st.change' or the model
    constant 'fiscal st scenario change'; None for anything else."""
    text = str(name)
    if text.endswith(".change"):
        text = text[: -len(".change")]
    from_constant = lever_of(text.replace("_", " "))
    if from_constant:
        return from_constant
    return text if text in lever_ids() else None


def lever_cell(lever: str, language: str) -> Markup | str:
    """A lever in a table: 'fiscal S&T spending' (en); in Chinese its label beside <code>fiscal_st</code>."""
    label = lever_label(lever, language)
    return label if language == "en" else named(lever, label)


def input_cell(name: str, language: str) -> Markup | str:
    """A sensitivity/PRIM/parameter input: a lever (by its label) or a model constant (by name,
    with its Chinese label in the Chinese report)."""
    lever = lever_id(name)
    if lever:
        return lever_cell(lever, language)
    return variable_cell(name, language)


def variable_cell(name: str, language: str) -> Markup | str:
    """A model variable's name; in Chinese its label beside it (the identifier as code)."""
    if language == "en":
        return str(name)
    label = variable_label(name, language)
    return named(name, label) if label else code(name)


def input_text(name: str, language: str) -> str:
    """An input as plain text for a sentence: the lever's label, else the variable's label or name."""
    lever = lever_id(name)
    if lever:
        return lever_label(lever, language)
    return variable_label(name, language) or str(name)


def yes_no(value, language: str) -> str:
    truthy = str(value).strip().lower() in ("true", "1", "yes")
    return report_text("text", "yes" if truthy else "no", language)


def kind_cell(kind: str, language: str) -> str:
    """'lever' / 'parameter' (an input's kind) in the report's language."""
    key = {"lever": "kind_lever", "parameter": "kind_parameter", "world": "kind_world"}.get(str(kind))
    return text(key, language) if key else str(kind)


REQUIREMENT = re.compile(r"^(?P<indicator>[a-z0-9_]+)@(?P<year>\d{4})\s*(?P<op>>=|<=)\s*(?P<value>\S+)$")


def requirement_text(requirement: str, language: str) -> str:
    """'rd_intensity@2025 >= 0.034' -> 'R&D intensity (R&D / GDP) ≥ 3.4 % of GDP (2025)' in display units."""
    found = REQUIREMENT.match(str(requirement).strip())
    if not found:
        return str(requirement)
    try:
        number = float(found["value"])
    except ValueError:
        return str(requirement)
    scale, unit = indicator_scale(found["indicator"], "", language)
    sign = "≥" if found["op"] == ">=" else "≤"
    return (f"{indicator_label(found['indicator'], language)} {sign} {short(number * scale)} {unit} "
            f"({found['year']})").replace("  ", " ")


def requirement_cell(requirement: str, language: str) -> Markup | str:
    text = requirement_text(requirement, language)
    return text if language == "en" or text != str(requirement) else code(requirement)


def change_text(change: float) -> str:
    """A lever's relative change as percent: +50%."""
    return f"{float(change):+.0%}"
