"""Tier 5: the model file's Vensim sketch section (figures/sketch.py).

It must match the equations (regenerate with `innosd sketch --write` after editing them),
define every variable in exactly one view (read by PySD's own sketch grammar), and change
nothing PySD or the compiler compute."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from innosd.figures import sketch
from innosd.figures.structure import dependencies
from innosd.model import MODEL_FILE


def test_the_sketch_section_matches_the_equations():
    assert MODEL_FILE.read_text(encoding="utf-8") == sketch.with_sketch(MODEL_FILE), \
        "the .mdl's sketch section is out of date: run `innosd sketch --write` and commit the model file"


def test_pysd_reads_every_variable_into_exactly_one_sector_view():
    from pysd.translators.vensim.vensim_file import VensimFile

    model = VensimFile(MODEL_FILE)
    model.parse()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "no sketch" / "single view" warnings would fail here
        model.parse_sketch([])
    views = model.sections[0].views_dict
    variables = {name.replace(" ", "_").lower() for name in dependencies(MODEL_FILE)}
    assert sum(len(v) for v in views.values()) == len(variables)
    assert set().union(*views.values()) == variables
    assert {"firm_ladder", "incubation", "finance", "scenario_levers"} <= set(views)


def test_pysd_and_the_compiler_ignore_the_sketch(tmp_path, monkeypatch):
    from innosd.model import compile_model
    from innosd.model.abstract import parse

    head, views, _ = sketch.split_model(MODEL_FILE.read_text(encoding="utf-8"))
    assert views.count("*") >= 5  # the file holds the diagram, not an empty sketch
    bare = tmp_path / "no_sketch.mdl"
    bare.write_text(head, encoding="utf-8")
    with_views = tmp_path / MODEL_FILE.name
    shutil.copy(MODEL_FILE, with_views)

    def equations(path):
        return {e.name: [repr(c.ast) for c in e.components] for e in parse(path).sections[0].elements}

    assert equations(bare) == equations(with_views)
    monkeypatch.setenv("INNOSD_CACHE_DIR", str(tmp_path / "cache"))
    reference = compile_model(with_views).run()
    stripped = compile_model(bare).run()
    assert list(stripped.columns) == list(reference.columns)
    np.testing.assert_array_equal(stripped.to_numpy(), reference.to_numpy())


def test_a_sketch_record_per_variable_with_valves_clouds_and_arrows():
    text = sketch.sketch_text(MODEL_FILE)
    lines = text.splitlines()
    assert lines[0].startswith(sketch.SKETCH_MARKER) and sketch.SKETCH_END in lines
    kinds = {line.split(",")[0] for line in lines if line[:1].isdigit()}
    assert {"10", "11", "12", "1"} <= kinds
    with pytest.raises(Exception):
        sketch.main(["no_such_model.mdl", "--check"])
