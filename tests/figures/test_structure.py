"""The structure diagram's content is read from the model file: stocks, flows and sectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from innosd.figures.structure import Flow, read_structure, sector_of_variables

from innosd.errors import ModelError

MODEL_FILE = Path(__file__).resolve().parents[2] / "model" / "guangzhou_innovation.mdl"

CONTROL = """
********************************************************
	.Control
********************************************************~
		Simulation Control Parameters
	|

FINAL TIME  = 10
	~	Year
	~	The final time for the simulation.
	|

INITIAL TIME  = 0
	~	Year
	~	The initial time for the simulation.
	|

SAVEPER  = 1
	~	Year [0,?]
	~	The frequency with which output is stored.
	|

TIME STEP  = 1
	~	Year [0,?]
	~	The time step for the simulation.
	|

\\\\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
///---\\\\\\
"""


def element(equation: str, units: str = "widget") -> str:
    return f"{equation}\n\t~\t{units}\n\t~\t\n\t|\n\n"


def tiny_model() -> str:
    """Two sectors: seeds -> plants (a transfer), plants die out, a counter of plantings,
    and 'planting' reaching plants as a pure sum of two flows out of two stocks."""
    alpha = ("{UTF-8}\n********************************************************\n\t.Nursery\n"
             "********************************************************~\n\t\tThe nursery.\n\t|\n\n"
             + element("seeds = INTEG(sowing - germination, 100)")
             + element("sowing = 10", "widget/Year")
             + element("germination = seeds * 0.5", "widget/Year")
             + element("cuttings = INTEG(- grafting, 20)")
             + element("grafting = cuttings * 0.1", "widget/Year"))
    beta = ("********************************************************\n\t.Field\n"
            "********************************************************~\n\t\tThe field.\n\t|\n\n"
            + element("plants = INTEG(planting - plants / lifetime, 0)")
            + element("planting = germination + grafting", "widget/Year")
            + element("lifetime = 5", "Year")
            + element("plantings counted = INTEG(planting, 0)"))
    return alpha + beta + CONTROL


@pytest.fixture()
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.mdl"
    path.write_text(tiny_model(), encoding="utf-8")
    return path


def test_tiny_model_stocks_sectors_and_flows(tiny):
    structure = read_structure(tiny)
    assert structure.sectors == {"Nursery": ["seeds", "cuttings"], "Field": ["plants", "plantings counted"]}
    flows = set(structure.flows)
    assert Flow("sowing", None, "seeds") in flows                     # from outside the boundary
    assert Flow("germination", "seeds", "plants") in flows            # traced through 'planting' = a + b
    assert Flow("grafting", "cuttings", "plants") in flows            # ... and a leading unary minus
    assert Flow("plants / lifetime", "plants", None) in flows         # an unnamed outflow, rendered
    assert Flow("planting", None, "plantings counted") in flows       # a counter is a co-flow, not a drain
    assert not any(f.source == "seeds" and f.target is None for f in flows)  # the transfer is drawn once
    assert len(flows) == 5


def test_diagram_follows_an_edit_of_the_model(tiny):
    """Add a stock and a flow to the file: the structure changes with it (no cached stale copy)."""
    text = tiny.read_text(encoding="utf-8").replace(
        "plants = INTEG(planting - plants / lifetime, 0)",
        "plants = INTEG(planting - plants / lifetime - harvest, 0)\n\t~\twidget\n\t~\t\n\t|\n\n"
        "harvest = plants * 0.2\n\t~\twidget/Year\n\t~\t\n\t|\n\n"
        "barns = INTEG(harvest, 0)")
    tiny.write_text(text, encoding="utf-8")
    structure = read_structure(tiny)
    assert structure.sectors["Field"] == ["plants", "barns", "plantings counted"]
    assert Flow("harvest", "plants", "barns") in set(structure.flows)


def test_project_model_stocks_match_the_integs_in_the_file():
    text = MODEL_FILE.read_text(encoding="utf-8")
    integs = {m.strip() for m in re.findall(r"^([^\n=~|]+?)\s*=\s*INTEG\s*\(", text, flags=re.MULTILINE)}
    structure = read_structure(MODEL_FILE)
    assert set(structure.stocks) == integs
    owner = sector_of_variables(text)
    assert owner["tech_firms"] == "Firm ladder" and owner["incubators"] == "Incubation"
    assert Flow("pool entries", "eligible tech firms", "hte cultivation pool") in set(structure.flows)


def test_missing_model_file_is_one_line(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        read_structure(tmp_path / "missing.mdl")
