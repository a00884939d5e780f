"""`innosd app MODEL.mdl`: SyntheSim without Vensim, for any model the compiler reads.

A slider for every (unsubscripted) constant whose equation declares a finite range
(`units [min, max]` in Vensim); the chosen variables (the stocks first) as lines, redrawn
on every move from one compiled run. Constants without a finite range are listed, not
offered: a slider needs both ends, and guessing them would invent a range the modeller
never declared.
"""

from __future__ import annotations

import html
import math
import time
from pathlib import Path

import panel as pn
from bokeh.models import ColumnDataSource, Legend
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from innosd.errors import InnosdError
from innosd.figures.labels import text
from innosd.model import compile_model
from innosd.model.info import Constant, model_info
from innosd.experiments.app.page import counter
from innosd.scenarios.build import check_range

CONTROL = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")
TEACUP = Path(__file__).with_name("examples") / "teacup.mdl"  # the SD community's sample (MIT), see its README
SLIDER_POSITIONS = 200  # steps across a declared range
MAX_DEFAULT_LINES = 6


def ranged_constants(path: Path) -> list[Constant]:
    """The constants a page offers: a finite declared range, simulation control excluded."""
    return [c for c in model_info(path).constants.values()
            if c.name not in CONTROL and math.isfinite(c.lower) and math.isfinite(c.upper) and c.lower < c.upper]


class ModelPage:
    """One tab's page for a user's model."""

    def __init__(self, path: Path, language: str = "en"):
        self.path = Path(path)
        self.language = language
        self.model = compile_model(self.path)
        self.info = model_info(self.path)
        self.constants = ranged_constants(self.path)
        self.runs = 0
        self.last_good: dict[str, float] = {}
        self.sliders = {c.name: pn.widgets.FloatSlider(
            label=f"{c.name} ({c.units}); {text('app_baseline_value', language, value=f'{c.default:g}')}",
            start=c.lower, end=c.upper, value=c.default, step=(c.upper - c.lower) / SLIDER_POSITIONS, width=300,
            css_classes=["constant-slider"]) for c in self.constants}
        for slider in self.sliders.values():
            slider.param.watch(lambda *_: self.recompute(), "value_throttled")
        variables = [c for c in self.model.columns if c not in CONTROL]
        chosen = (self.model.stocks or variables)[:MAX_DEFAULT_LINES]
        self.variable_select = pn.widgets.MultiChoice(label=text("app_variables", language), options=variables,
                                                      value=chosen, width=300)
        self.variable_select.param.watch(lambda *_: self.recompute(), "value")
        self.status = pn.pane.HTML("")
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False)
        self.source = ColumnDataSource()
        self.baseline = self.model.run()
        self.fig = figure(width=800, height=420, x_axis_label=str(self.info.units.get("Time", "time")),
                          title=self.path.name)
        self.plot = pn.pane.Bokeh(self.fig)
        self._draw_lines()
        self.recompute()

    def values(self) -> dict[str, float]:
        """The sliders' values, checked against the declared ranges (the server's own check)."""
        return {name: check_range(slider.value, name, self.info, name) for name, slider in self.sliders.items()}

    def _draw_lines(self) -> None:
        self.fig.renderers = []
        for legend in self.fig.select(type=Legend):
            legend.items = []
        for k, variable in enumerate(self.variable_select.value):
            color = Category10_10[k % 10]
            self.fig.line("time", f"base_{k}", source=self.source, color=color, line_dash="dashed", alpha=0.6)
            self.fig.line("time", f"run_{k}", source=self.source, color=color, line_width=2, legend_label=variable)

    def recompute(self) -> None:
        started = time.perf_counter()
        try:
            frame = self.model.run(self.values())
        except InnosdError as err:  # a value outside a declared range: refused, sliders put back
            self._fail(str(err))
            with pn.io.hold():
                for name, slider in self.sliders.items():
                    slider.value = self.last_good.get(name, slider.value)
            return
        except Exception as err:  # the model failed for these values: say so, keep serving
            return self._fail(f"{type(err).__name__}: {err}")
        with pn.io.hold():
            if len(self.fig.renderers) != 2 * len(self.variable_select.value):
                self._draw_lines()
            data = {"time": frame.index.to_numpy()}
            for k, variable in enumerate(self.variable_select.value):
                data[f"run_{k}"] = frame[variable].to_numpy()
                data[f"base_{k}"] = self.baseline[variable].to_numpy()
            self.source.data = data
            self.last_good = {name: slider.value for name, slider in self.sliders.items()}
            self.runs += 1
            self.alert.visible = False
            self.status.object = counter(self.runs) + " " + html.escape(text(
                "app_model_status", self.language, run=self.runs, model=self.path.name,
                ms=f"{(time.perf_counter() - started) * 1e3:.0f}"))

    def _fail(self, message: str) -> None:
        with pn.io.hold():
            self.alert.object = text("app_error", self.language, message=html.escape(message))
            self.alert.visible = True
            self.runs += 1
            self.status.object = counter(self.runs)

    def view(self):
        sliders = list(self.sliders.values()) or [pn.pane.HTML(f"<p>{text('app_no_ranges', self.language)}</p>",
                                                               width=300)]
        sidebar = pn.Column(pn.pane.HTML(f"<h3>{text('app_constants', self.language)}</h3>"), *sliders,
                            self.variable_select, width=330)
        main = pn.Column(pn.pane.HTML(f"<h2>{html.escape(text('app_model_page', self.language, model=self.path.name))}"
                                      "</h2>"), self.status, self.alert, self.plot)
        return pn.Row(sidebar, main)
