"""Tier 5: the what-if page driven in a real browser (Playwright + Debian's chromium).

One served page, two tabs, a few slider moves: the displayed probabilities change, equal
what `innosd run +experiment=attainment` computes for the scenario saved from the page, the
other tab is untouched, and a value outside a lever's range sent behind the slider's back is
refused with a message while the page keeps serving. Skipped only where no Chromium exists
(CI installs it: .ci/run)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from innosd.experiments.app import browser
from innosd.experiments.cli import main as cli_main
from tests.app.conftest import APP_DRAWS, APP_SEED

pytestmark = pytest.mark.skipif(browser.chromium_path() is None,
                                reason="no Chromium executable (/usr/bin/chromium; apt-get install chromium)")
MOVES = 10            # arrow-key presses on fiscal_st's change slider: +10 x 0.05 = +0.5
WATCHED = "rd_intensity@2025"
DISPLAY_DECIMALS = 3  # the page shows probabilities to 3 decimals


@pytest.fixture(scope="module")
def served(app_config_dir):
    from innosd.experiments.app.page import PlanPage
    from innosd.experiments.app.server import start_in_thread

    PlanPage("calibrated", APP_DRAWS, APP_SEED, "en", app_config_dir)  # compile and load here, not in a tab
    server = start_in_thread(lambda: PlanPage("calibrated", APP_DRAWS, APP_SEED, "en", app_config_dir).view())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = browser.launch(playwright)
        yield launched
        launched.close()


def test_move_save_reproduce_independent_tabs_and_refused_input(served, chromium, engine, configs_here, tmp_path,
                                                                capsys):
    tab, other = browser.open_page(chromium, served.url), browser.open_page(chromium, served.url)
    before = browser.probability(tab, WATCHED)
    handle = browser.slider_handle(tab, "fiscal_st")
    for _ in range(MOVES):
        handle.focus()
        browser.press_and_time(tab, "ArrowRight")
    after = browser.probability(tab, WATCHED)
    assert after != before, f"{WATCHED}: moving fiscal_st by +0.5 left its probability at {before}"
    assert browser.run_counter(other) == 0 and browser.probability(other, WATCHED) == before  # tabs independent

    tab.locator(".bk-input[placeholder='my_mix']").fill("app_browser_mix")
    tab.locator("textarea").fill("Fiscal S&T +50% from 2017 (browser test).")
    tab.get_by_role("button", name="Save scenario").click()
    tab.locator(".save-ok").wait_for(timeout=30_000)
    saved = yaml.safe_load((configs_here / "scenario" / "app_browser_mix.yaml").read_text(encoding="utf-8"))
    assert saved["name"] == "app_browser_mix" and saved["levers"]["fiscal_st"]["change"] == pytest.approx(0.5)
    assert set(saved["levers"]) == {"fiscal_st"}  # only what moved

    command = engine.command_for("app_browser_mix").split()
    code = cli_main([*command[1:], f"run.output_dir={tmp_path / 'out'}", "run.figures=false", "run.progress=false"])
    assert code == 0, capsys.readouterr().err
    (folder,) = (tmp_path / "out").glob("experiments/*/*_attainment")
    table = pd.read_csv(folder / "attainment.csv")
    indicator, year = WATCHED.split("@")
    computed = table[(table["indicator"] == indicator) & (table["year"] == int(year))]["probability"].iloc[0]
    assert round(float(computed), DISPLAY_DECIMALS) == after

    # a value outside talent's declared change range [-1, 10], sent as if by a tampered page
    other.evaluate("""() => { for (const m of Bokeh.documents[0].all_models) {
        if (m.css_classes && m.css_classes.includes('lever-talent-change')) { m.value = 50; m.value_throttled = 50; }
    } }""")
    alert = other.locator(".alert", has_text="outside the declared range")
    alert.wait_for(timeout=30_000)
    handle = browser.slider_handle(other, "incubator")
    handle.focus()
    browser.press_and_time(other, "ArrowRight")  # still serving, from the last good settings
    assert not alert.is_visible()
    assert browser.probability(tab, WATCHED) == after  # the first tab never saw any of it


def test_a_users_model_is_served_with_its_constants_as_sliders(chromium):
    from innosd.experiments.app.model_page import TEACUP, ModelPage
    from innosd.experiments.app.server import start_in_thread

    server = start_in_thread(lambda: ModelPage(TEACUP).view())
    try:
        tab = browser.open_page(chromium, server.url)
        handles = tab.locator(".constant-slider .noUi-handle")
        assert handles.count() == 2
        first = browser.run_counter(tab)
        handles.first.focus()
        browser.press_and_time(tab, "ArrowRight")
        assert browser.run_counter(tab) == first + 1
    finally:
        server.stop()
