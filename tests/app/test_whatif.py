"""Tier 5: the what-if page's engine and page objects, without a browser.

The page's numbers are `innosd run`'s: a saved scenario run by the command the page prints
gives the same probabilities and quantiles, value for value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from innosd.errors import ConfigError
from innosd.experiments.cli import main as cli_main

MIX = {"fiscal_st": {"change": 0.5, "start": 2017, "ramp_years": 2.0},
       "talent": {"change": 2.0, "start": 2018, "ramp_years": 1.0}}


def _saved_run(engine, name, tmp_path, capsys):
    command = engine.command_for(name).split()
    assert command[:2] == ["innosd", "run"]
    code = cli_main([*command[1:], f"run.output_dir={tmp_path / 'out'}", "run.figures=false", "run.progress=false"])
    out = capsys.readouterr()
    assert code == 0, out.err
    (folder,) = (tmp_path / "out").glob("experiments/*/*_attainment")
    return pd.read_csv(folder / "attainment.csv")


def test_saved_scenario_reproduces_the_page_numbers(engine, configs_here, tmp_path, capsys):
    outcome = engine.evaluate(MIX)
    path = engine.save_scenario("app_test_mix", "Fiscal +50% and talent x3 (test).", MIX)
    assert path.parent == configs_here / "scenario"
    written = _saved_run(engine, "app_test_mix", tmp_path, capsys)
    page = outcome.attainment
    assert len(written) == len(page)
    for column in ("probability", "median", "p05", "p95"):
        np.testing.assert_array_equal(written[column].to_numpy(), page[column].to_numpy(), err_msg=column)
    baseline = engine.baseline.attainment["probability"].to_numpy()
    assert (page["probability"].to_numpy() != baseline).any()  # the mix moves some odds


def test_cost_is_zero_at_the_baseline_and_positive_for_more_spending(engine):
    assert engine.evaluate({"talent": {"change": 2.0}}).cost[0] > 0  # its unit cost (levers.yaml)
    mean, error = engine.evaluate({"fiscal_st": {"change": 1.0}}).cost
    assert mean > 0 and 0 <= error < mean
    assert engine.evaluate({"fiscal_st": {"change": 0.0}}).cost is None


@pytest.mark.parametrize("levers, fragment", [
    ({"talent": {"change": 99.0}}, "outside the declared range"),
    ({"talent": {"start": 1990}}, "outside the declared range"),
    ({"no_such_lever": {"change": 1.0}}, "unknown lever"),
])
def test_the_server_refuses_settings_outside_the_model(engine, levers, fragment):
    with pytest.raises(ConfigError, match=fragment):
        engine.evaluate(levers)


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\\b", "has.dot", "", " lead", "with space", "x" * 65])
def test_scenario_names_are_validated_and_nothing_is_written(engine, name):
    folder = engine.scenario_folder().parent
    before = sorted(p for p in folder.parent.rglob("*"))
    with pytest.raises(ConfigError, match="scenario name"):
        engine.save_scenario(name, "description", MIX)
    assert sorted(p for p in folder.parent.rglob("*")) == before


def test_an_existing_scenario_is_overwritten_only_when_confirmed(engine):
    path = engine.save_scenario("app_test_twice", "first", MIX)
    with pytest.raises(ConfigError, match="exists"):
        engine.save_scenario("app_test_twice", "second", MIX)
    assert "first" in path.read_text(encoding="utf-8")
    engine.save_scenario("app_test_twice", "second", MIX, overwrite=True)
    assert "second" in path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="description"):
        engine.save_scenario("app_test_blank", "  ", MIX)
    assert not list(path.parent.glob(".*tmp"))  # no temporary file left behind


def test_sliders_come_from_the_model_with_range_unit_and_baseline(engine, app_config_dir):
    from innosd.experiments.app.page import PlanPage
    from innosd.model.info import lever_constant, lever_names

    page = PlanPage("calibrated", engine.base.uncertainty.draws, engine.seed, "en", app_config_dir)
    assert list(page.sliders) == lever_names(engine.info)
    for lever, settings in page.sliders.items():
        for setting, widget in settings.items():
            constant = engine.info.constants[lever_constant(lever, setting)]
            assert (widget.start, widget.end) == (constant.lower, constant.upper)
            assert widget.value == constant.default and f"{constant.default:g}" in widget.label
            assert constant.units in widget.label


def test_a_failing_run_shows_a_message_and_the_page_keeps_serving(engine, app_config_dir, monkeypatch):
    from innosd.experiments.app.page import PlanPage

    page = PlanPage("calibrated", engine.base.uncertainty.draws, engine.seed, "en", app_config_dir)
    page.view()

    def broken(*_args, **_kwargs):
        raise FloatingPointError("the kernel overflowed")

    monkeypatch.setattr(page.engine, "evaluate", broken)
    page.sliders["talent"]["change"].value = 2.0
    page.recompute()
    assert page.alert.visible and "the kernel overflowed" in page.alert.object
    monkeypatch.undo()
    page.recompute()
    assert not page.alert.visible and page.outcome.levers["talent"]["change"] == 2.0
    page.sliders["talent"]["change"].value = 50.0  # outside [-1, 10]: as if a browser sent it
    page.recompute()
    assert page.alert.visible and "outside the declared range" in page.alert.object
    assert page.outcome.levers["talent"]["change"] == 2.0  # the last good outcome stays on the page
    assert page.sliders["talent"]["change"].value == 2.0   # and the refused value is not kept


def test_the_language_switch_redraws_in_chinese(engine, app_config_dir):
    from innosd.experiments.app.page import PlanPage

    page = PlanPage("calibrated", engine.base.uncertainty.draws, engine.seed, "en", app_config_dir)
    page.view()
    page.language_select.value = "zh"
    assert "达成概率" in page.table.object and "基准值" in page.sliders["talent"]["change"].label


def test_any_vensim_model_gets_a_slider_per_constant_with_a_declared_range():
    from innosd.experiments.app.model_page import TEACUP, ModelPage

    page = ModelPage(TEACUP)
    page.view()
    assert sorted(page.sliders) == ["Characteristic Time", "Room Temperature"]  # FINAL TIME etc. declare none
    slider = page.sliders["Characteristic Time"]
    assert (slider.start, slider.end, slider.value) == (1.0, 30.0, 10.0)
    before = np.array(page.source.data["run_0"])
    slider.value = 5.0
    page.recompute()
    after = np.array(page.source.data["run_0"])
    assert not np.allclose(before, after) and after[-1] < before[-1]  # a faster cooling cup
    slider.value = 500.0  # outside [1, 30]
    page.recompute()
    assert page.alert.visible and "outside the declared range" in page.alert.object
    assert slider.value == 5.0


def test_the_outside_world_is_drawn_or_held_and_the_page_says_which(engine, app_config_dir, configs_here, tmp_path,
                                                                     capsys):
    from innosd.experiments.app.page import PlanPage

    page = PlanPage("calibrated", engine.base.uncertainty.draws, engine.seed, "en", app_config_dir)
    page.view()
    assert engine.world_mode == "sample"
    for name, _ in engine.world_assumptions():  # every named uncertainty is listed with its range
        assert name.replace("_", " ") in page.world_list.object
    page.world_select.value = "central"
    held = page.engine
    assert held.world_mode == "central" and "uncertainty.world=central" in held.command_for("x")
    assert "held at the model file" in page.world_list.object.lower()
    # holding the outside world narrows the 2025 R&D-intensity band (the economy is part of it)
    def width(outcome):
        table = outcome.attainment
        row = table[(table["indicator"] == "rd_intensity") & (table["year"] == 2025)].iloc[0]
        return row["p95"] - row["p05"]
    assert width(held.baseline) < width(engine.baseline)
    # and the command the page prints for a saved scenario reproduces the held numbers too
    mix = {"talent": {"change": 1.0, "start": 2018, "ramp_years": 1.0}}
    outcome = held.evaluate(mix)
    held.save_scenario("app_world_held", "Talent x2 with the outside world held (test).", mix, overwrite=True)
    written = _saved_run(held, "app_world_held", tmp_path, capsys)
    np.testing.assert_array_equal(written["probability"].to_numpy(), outcome.attainment["probability"].to_numpy())


def test_the_engine_cache_keeps_the_most_recently_used_few(monkeypatch, tmp_path):
    """Switching settings must not hold every engine ever built (each holds its ensembles)."""
    from innosd.experiments.app import page

    built = []
    monkeypatch.setattr(page, "WhatIf", lambda *key: built.append(key) or object())
    monkeypatch.setattr(page, "_engines", type(page._engines)())
    first = page.engine_for("calibrated", 50, 0, tmp_path)
    for draws in (100, 200, 500):
        page.engine_for("calibrated", draws, 0, tmp_path)
    assert page.engine_for("calibrated", 50, 0, tmp_path) is first  # reused, now the most recent
    page.engine_for("calibrated", 1000, 0, tmp_path)  # evicts the least recently used (100 draws)
    assert len(page._engines) == page.ENGINES_KEPT
    page.engine_for("calibrated", 100, 0, tmp_path)
    assert len(built) == 6  # 5 distinct settings, and 100 draws built again after its eviction
