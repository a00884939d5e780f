"""Display names in English and Chinese, and the font that can draw them.

Names come from `figures/labels.yaml` (indicator ids of the data files, the model's
sectors and stocks, axis labels, and every text of the report); no translated string
lives in Python. Chinese needs a CJK font; it is looked
up among the system fonts and, if none is installed, drawing stops with one line naming
the Debian package to install (the project's `.ci/run` installs it).
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from innosd.errors import InnosdError
# the language codes a config may name are part of the schema (scenarios sits below figures)
from innosd.scenarios.languages import LANGUAGES, check_language, language_hint  # noqa: F401

LABELS_FILE = Path(__file__).with_name("labels.yaml")
CJK_FONT_PACKAGE = "fonts-noto-cjk"
# Face names matplotlib reports for the CJK fonts we know; the Noto .ttc files expose
# their first face (JP), which covers all simplified-Chinese characters we use.
CJK_FAMILY_HINTS = ("Noto Sans CJK", "Noto Serif CJK", "Source Han Sans", "WenQuanYi", "AR PL")
CJK_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "notoserifcjk")  # lower-case file names


class FontError(InnosdError):
    """A font needed for the requested language is not installed."""


@functools.cache
def _table() -> dict:
    return yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))


def text(key: str, language: str = "en", **fields) -> str:
    """A heading or axis label (`text` section of labels.yaml), with `{field}`s filled in."""
    entry = _table()["text"][key]
    return entry[check_language(language)].format(**fields)


def indicator_label(indicator_id: str, language: str = "en") -> str:
    """The indicator's display name; an unknown id is shown as is (never guessed)."""
    entry = _table()["indicators"].get(indicator_id)
    return entry[check_language(language)] if entry else indicator_id


def indicator_scale(indicator_id: str, data_unit: str, language: str = "en") -> tuple[float, str]:
    """(factor, unit) to display an indicator: e.g. a Dmnl fraction as percent."""
    entry = _table()["indicators"].get(indicator_id) or {}
    if "scale" in entry:
        return float(entry["scale"]), entry["unit"][check_language(language)]
    return 1.0, unit_label(data_unit, language)


def lever_label(lever: str, language: str = "en") -> str:
    """A policy lever's display name; a lever labels.yaml lacks is shown by its id."""
    entry = (_table().get("levers") or {}).get(lever)
    return entry[check_language(language)] if entry else lever


def unit_label(unit: str, language: str = "en") -> str:
    if check_language(language) == "en" or not isinstance(unit, str):
        return unit if isinstance(unit, str) else ""
    return _table()["units"].get(unit, unit)


def sector_label(sector: str, language: str = "en") -> str:
    entry = _table()["sectors"].get(sector)
    return entry[check_language(language)] if entry else sector


def sector_keys() -> set[str]:
    """The model sectors labels.yaml names (the .mdl's `.Sector` groups)."""
    return set(_table()["sectors"])


def stock_label(stock: str, language: str = "en") -> str:
    entry = _table()["stocks"].get(stock) or {}
    return entry.get(check_language(language), stock)


def lever_ids() -> set[str]:
    return set(_table().get("levers") or {})


def variable_label(name: str, language: str = "en") -> str | None:
    """The Chinese name of a model variable (a flow, constant or stock; underscores may stand
    for spaces), None where labels.yaml has none; English has no label (the name is the label)."""
    if check_language(language) == "en":
        return None
    table = _table()
    for key in (str(name), str(name).replace("_", " ")):
        found = (table.get("variables") or {}).get(key) or (table.get("stocks") or {}).get(key, {}).get(language)
        if found:
            return found
    return None


def region_label(region: str, language: str = "en") -> str:
    entry = (_table().get("regions") or {}).get(str(region)) or {}
    return entry.get(check_language(language), str(region))


def plan_label(tag: str, language: str = "en") -> str | None:
    """A plan's name from its bracketed tag ('[003]'), None for a tag labels.yaml lacks."""
    entry = (_table().get("plans") or {}).get(str(tag)) or {}
    return entry.get(check_language(language))


def source_label(where: str, language: str = "en") -> str | None:
    """The Chinese description of a data source (by its URL or seed file), None if absent."""
    if check_language(language) == "en":
        return None
    return (_table().get("sources") or {}).get(str(where))


def world_source(name: str, source: str, language: str = "en") -> str:
    """An outside-world uncertainty's `source` text in the report's language."""
    if check_language(language) == "en":
        return source
    return (_table().get("world") or {}).get(str(name), source)


def scenario_label(name: str, language: str = "en") -> str:
    """Scenario names are file names (`incubator_doubling`): with spaces, or the Chinese name."""
    entry = (_table().get("scenarios") or {}).get(str(name)) or {}
    return entry.get(check_language(language), str(name).replace("_", " "))


def scenario_description(name: str, description: str, language: str = "en") -> str:
    """A scenario's description in the report's language: the file's own (English) text, or
    labels.yaml's `description_zh` for Chinese (the file's text when none is given)."""
    if check_language(language) == "en":
        return description
    entry = (_table().get("scenarios") or {}).get(str(name)) or {}
    return entry.get(f"description_{language}", description)


def report_template(group: str, key: str, language: str = "en") -> str:
    """The report's own text (`report` section of labels.yaml: page, headings, absent,
    captions, kinds, text), its `{field}`s not filled in."""
    return _table()["report"][group][key][check_language(language)]


def report_text(group: str, key: str, language: str = "en", **fields) -> str:
    """A report text with its `{field}`s filled in."""
    return report_template(group, key, language).format(**fields)


def report_keys(group: str) -> list[str]:
    """The keys of a `report` group in file order (the headings give the sections' order)."""
    return list(_table()["report"][group])


def column_label(column: str, language: str = "en") -> str:
    """A report table's column header: in English the column name (or, for a snake_case name,
    its words from `report_columns_en`), translated in Chinese."""
    if check_language(language) == "en":
        return (_table().get("report_columns_en") or {}).get(column, column)
    return (_table().get("report_columns") or {}).get(column, column)


def indicator_ids() -> set[str]:
    return set(_table()["indicators"])


@functools.cache
def cjk_font_family() -> str:
    """The family name of an installed CJK font, registered with matplotlib."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for hint in CJK_FAMILY_HINTS:
        for name in sorted(known):
            if name.startswith(hint):
                return name
    # matplotlib's font cache may predate the font's installation: register the files
    # (all weights, so bold titles stay bold) and use the family of the regular face
    paths = [p for p in sorted(font_manager.findSystemFonts())
             if any(h in Path(p).name.lower() for h in CJK_FILE_HINTS)]
    for path in paths:
        font_manager.fontManager.addfont(path)
    regular = [p for p in paths if "bold" not in Path(p).name.lower()] or paths
    if regular:
        return font_manager.FontProperties(fname=regular[0]).get_name()
    raise FontError(f"Chinese figure labels need a CJK font and none is installed; install the Debian "
                    f"package {CJK_FONT_PACKAGE} (sudo apt-get install {CJK_FONT_PACKAGE}) or use "
                    "figures.language=en")


def font_families(language: str) -> list[str]:
    """rcParams['font.family'] for a language: Chinese first falls back to DejaVu for Latin."""
    if check_language(language) == "zh":
        return [cjk_font_family(), "DejaVu Sans"]
    return ["DejaVu Sans"]
