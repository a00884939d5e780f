"""Every quote a lever's cost note in scenarios/levers.yaml gives is in a source document of
calibration/data/sources, verbatim (a unit cost's provenance is checkable, and a note saying
"no amount" quotes what the sources do say)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from innosd.scenarios.levers import LEVERS_FILE

SOURCES = Path(__file__).resolve().parents[2] / "calibration" / "data" / "sources"
QUOTE = re.compile(r'"([^"]*[\u4e00-\u9fff][^"]*)"')  # a double-quoted passage with Chinese in it


def test_lever_cost_quotes_are_in_the_sources():
    # compared without whitespace: the folded YAML breaks lines inside a passage
    texts = [re.sub(r"\s", "", p.read_text(encoding="utf-8")) for p in sorted(SOURCES.glob("*.txt"))]
    assert texts, f"no source documents in {SOURCES}"
    levers = yaml.safe_load(LEVERS_FILE.read_text(encoding="utf-8"))
    quoted = 0
    for lever, entry in levers.items():
        for quote in QUOTE.findall(" ".join(str(entry.get("source", "")).split())):
            passage = re.sub(r"\s", "", quote)
            assert any(passage in text for text in texts), f"{lever}: {passage!r} is not in {SOURCES}"
            quoted += 1
    assert quoted >= 10
