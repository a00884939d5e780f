"""Model files the compiled core cannot read are refused in one line naming the file, the
line and the construct; never an empty run that exits 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from innosd.errors import ModelError
from innosd.model.abstract import parse

SUITE = Path(__file__).resolve().parents[1] / "sd-test-models"


@pytest.mark.parametrize("model", ["samples/teacup/teacup_legacy.stmx",
                                   "samples/SIR/SIR_legacy.stmx",
                                   "tests/comparisons/comparisons.stmx"])
def test_legacy_xmile_is_refused_not_run_empty(model):
    # these parse (in PySD too) to the four control variables only
    with pytest.raises(ModelError) as err:
        parse(SUITE / model)
    msg = str(err.value)
    assert "\n" not in msg
    assert Path(model).name in msg and "legacy XMILE layout" in msg
    assert "directly under <model>" in msg


def test_xmile_reader_failure_names_line_and_variable():
    # PySD's reader fails with a bare "list index out of range" on this file
    f = SUITE / "samples/arrays/non-a2a/non-a2a-gf.stmx"
    with pytest.raises(ModelError) as err:
        parse(f)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{f}: line 26: cannot read XMILE aux 'Converter 1'")
    assert "element by element" in msg


@pytest.mark.parametrize("model, variable", [("samples/teacup/teacup.xmile", "Teacup Temperature"),
                                             # the pre-standard namespace, 1.0 layout
                                             ("tests/comparisons/comparisons.xmile", "lt")])
def test_standard_xmile_still_parses(model, variable):
    am = parse(SUITE / model)
    names = {el.name for el in am.sections[0].elements}
    assert variable in names


def test_get_direct_constants_are_parameters_reread_when_the_file_changes(tmp_path):
    from innosd.model import compile_model
    (tmp_path / "c.csv").write_text("2.5,7\n")
    f = tmp_path / "m.mdl"
    f.write_text("{UTF-8}\nk= GET DIRECT CONSTANTS('c.csv', ',', 'A1')\n~ Dmnl\n~ |\n"
                 "s= INTEG(k, 0)\n~ Dmnl\n~ |\nINITIAL TIME= 0\n~ Year\n~ |\n"
                 "FINAL TIME= 2\n~ Year\n~ |\nTIME STEP= 1\n~ Year\n~ |\n"
                 "SAVEPER= 1\n~ Year\n~ |\n")
    model = compile_model(f)
    assert model.parameters.loc["k", "default"] == 2.5
    assert model.run()["s"].tolist() == [0.0, 2.5, 5.0]
    assert model.run({"k": 1.0})["s"].tolist() == [0.0, 1.0, 2.0]  # a parameter like any
    (tmp_path / "c.csv").write_text("4,7\n")
    model = compile_model(f)  # same model file, changed data: rebuilt, not the stale cache
    assert model.parameters.loc["k", "default"] == 4.0
    assert model.run()["s"].tolist() == [0.0, 4.0, 8.0]


def test_the_same_model_text_in_another_folder_reads_that_folders_data(tmp_path):
    """The cache key is the model text; a data file named relatively is the one beside the
    model being compiled, not the one beside an earlier copy (which still exists, unchanged)."""
    from innosd.model import compile_model
    text = ("{UTF-8}\nk= GET DIRECT CONSTANTS('c.csv', ',', 'A1')\n~ Dmnl\n~ |\n"
            "s= INTEG(k, 0)\n~ Dmnl\n~ |\nINITIAL TIME= 0\n~ Year\n~ |\n"
            "FINAL TIME= 2\n~ Year\n~ |\nTIME STEP= 1\n~ Year\n~ |\nSAVEPER= 1\n~ Year\n~ |\n")
    values = {}
    for name, value in (("first", "3.5"), ("second", "6")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "c.csv").write_text(f"{value},7\n")
        (folder / "m.mdl").write_text(text)
        values[name] = float(compile_model(folder / "m.mdl").parameters.loc["k", "default"])
    assert values == {"first": 3.5, "second": 6.0}
