"""The what-if page (Panel on Bokeh): one `PlanPage` per browser tab, so tabs never share state.

Widgets come from the model, never from a list here: a slider per lever setting (change,
start year, ramp) with the constant's meaning, unit, declared range and baseline value
(`whatif.lever_controls`, i.e. `innosd.model.info`). Every change re-runs the posterior
draws (`whatif.WhatIf.evaluate`) and updates the Bokeh data sources in one document
message; the run counter (`#run-counter`) changes in that same message, which is what the
latency benchmark and the browser tests wait for.

Bokeh (not the house matplotlib style) draws the page's charts: redrawing means sending new
numbers to figures already in the browser, which keeps a slider move well under the
300 ms the issue asks for; the colours and band shading follow figures/plots.py.
"""

from __future__ import annotations

import html
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure

from innosd.errors import InnosdError
from innosd.experiments.app.whatif import Outcome, WhatIf, moved_levers
from innosd.figures.labels import indicator_label, indicator_scale, scenario_label, sector_label, stock_label, text
from innosd.figures.plots import BAND_50_ALPHA, BAND_90_ALPHA, HIGHLIGHT_YEARS
from innosd.figures.structure import dependencies, layout, reached_stocks, read_structure
from innosd.model import MODEL_FILE
from innosd.model.indicators import KEY_INDICATORS
from innosd.model.info import lever_constant
from innosd.scenarios import CONFIG_DIR, compose

FAN_COLOR, BASELINE_COLOR, TARGET_COLOR, MOVED_COLOR = "#1f77b4", "#7f7f7f", "#b03a2e", "#e67e22"
FAN_WIDTH, FAN_HEIGHT = 360, 240
DEFAULT_INDICATORS = tuple(i.id for i in KEY_INDICATORS[:6])
# Slider steps: the lever change in hundredths, years whole, ramps in the model's 1/16-year step
STEPS = {"change": 0.05, "start": 1.0, "ramp_years": 0.0625}
DRAW_CHOICES = (50, 100, 200, 500, 1000)
FIRST_SHOWN_PLAN_YEAR = 2017  # targets before the calibration data end (2016) are history, not odds

# Engines kept for switching back and forth between settings. Each holds its draws' ensembles
# (1000 draws x every lever x 2017-2035 is tens of MB), and the page offers params x draws x world
# combinations, so the cache is bounded: least recently used goes first.
ENGINES_KEPT = 4
_engines: OrderedDict[tuple, WhatIf] = OrderedDict()


def engine_for(params: str, draws: int, seed: int, config_dir: Path, world: str = "sample") -> WhatIf:
    """One engine per (parameter set, draws, seed, outside world), shared by the tabs (it holds no page state)."""
    key = (params, int(draws), int(seed), str(config_dir), world)
    if key in _engines:
        _engines.move_to_end(key)
    else:
        _engines[key] = WhatIf(params, draws, seed, config_dir, world)
        while len(_engines) > ENGINES_KEPT:
            _engines.popitem(last=False)
    return _engines[key]


def snap(value: float, setting: str) -> float:
    """The slider's value on its step grid (the browser's float arithmetic adds 1e-16s)."""
    step = STEPS[setting]
    return round(round(float(value) / step) * step, 6)


def counter(run: int) -> str:
    return f'<span id="run-counter" style="display:none">{run}</span>'


class PlanPage:
    """The page of one tab: widgets, the current outcome, the figures."""

    def __init__(self, params: str = "calibrated", draws: int = 200, seed: int = 0, language: str = "en",
                 config_dir: Path = CONFIG_DIR):
        self.config_dir = Path(config_dir)
        self.language = language
        self.engine = engine_for(params, draws, seed, self.config_dir)
        self.runs = 0
        self.compute_seconds: list[float] = []  # each evaluation's server time (the benchmark reads it)
        self.outcome: Outcome = self.engine.baseline
        self.language_select = pn.widgets.RadioButtonGroup(label="language", options=["en", "zh"], value=language)
        self.params_select = pn.widgets.Select(label=text("app_parameter_set", language),
                                               options=compose.options("params", self.config_dir), value=params)
        self.draws_select = pn.widgets.Select(label=text("app_draws", language),
                                              options=sorted({*DRAW_CHOICES, int(draws)}), value=int(draws))
        self.world_select = pn.widgets.RadioButtonGroup(
            label=text("app_world", language), value="sample",
            options={text("app_world_sample", language): "sample", text("app_world_central", language): "central"})
        self.world_list = pn.pane.HTML(self._world_html(), width=300)
        ids = [i.id for i in self.engine.indicators]
        self.indicator_select = pn.widgets.MultiChoice(
            label=text("app_indicators", language), value=[i for i in DEFAULT_INDICATORS if i in ids],
            options={indicator_label(i, language): i for i in ids}, width=300)
        self.sliders = self._lever_sliders()
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.fans = pn.GridBox(ncols=3)
        self.sources: dict[str, ColumnDataSource] = {}
        self.table = pn.pane.HTML("", sizing_mode="stretch_width")
        self.cost = pn.pane.HTML("", sizing_mode="stretch_width")
        self.diagram_source = ColumnDataSource()
        self.lever_source = ColumnDataSource()
        self.save_name = pn.widgets.TextInput(label=text("app_save_name", language), placeholder="my_mix")
        self.save_description = pn.widgets.TextAreaInput(label=text("app_save_description", language), height=70)
        self.save_overwrite = pn.widgets.Checkbox(label=text("app_save_overwrite", language), value=False)
        self.save_button = pn.widgets.Button(label=text("app_save_button", language), color="primary")
        self.save_message = pn.pane.HTML("")
        self.reset_button = pn.widgets.Button(label=text("app_reset", language))
        self._wire()
        self._build_fans()
        self.diagram = pn.pane.Bokeh(self._diagram_figure())
        self.show(self.outcome, 0.0)

    # ------------------------------------------------------------------ widgets

    def _lever_sliders(self) -> dict[str, dict[str, pn.widgets.Widget]]:
        sliders = {}
        for lever, controls in self.engine.controls.items():
            sliders[lever] = {}
            for setting, control in controls.items():
                c = control.constant
                kind = pn.widgets.IntSlider if setting == "start" else pn.widgets.FloatSlider
                options = {} if setting == "start" else {"step": STEPS[setting]}
                sliders[lever][setting] = kind(label=self._slider_title(setting, c), start=_whole(c.lower, setting),
                                               end=_whole(c.upper, setting), value=_whole(c.default, setting),
                                               width=280, css_classes=[f"lever-{lever}-{setting}"], **options)
        return sliders

    def _slider_title(self, setting: str, constant) -> str:
        key = {"change": "app_change", "start": "app_start", "ramp_years": "app_ramp"}[setting]
        baseline = text("app_baseline_value", self.language, value=f"{constant.default:g}")
        return f"{text(key, self.language, unit=constant.units)}; {baseline}"

    def _wire(self) -> None:
        for settings in self.sliders.values():
            for widget in settings.values():
                widget.param.watch(self._changed, "value_throttled")
        self.params_select.param.watch(self._engine_changed, "value")
        self.draws_select.param.watch(self._engine_changed, "value")
        self.world_select.param.watch(self._engine_changed, "value")
        self.indicator_select.param.watch(self._indicators_changed, "value")
        self.language_select.param.watch(self._language_changed, "value")
        self.save_button.on_click(self._save)
        self.reset_button.on_click(self._reset)

    def levers(self) -> dict[str, dict[str, float]]:
        """The lever settings the widgets show (server-side values, snapped to their steps)."""
        return {lever: {setting: snap(_current(widget), setting) for setting, widget in settings.items()}
                for lever, settings in self.sliders.items()}

    # ------------------------------------------------------------------ callbacks

    def _changed(self, *_events) -> None:
        self.recompute()

    def recompute(self) -> None:
        """Re-run the draws for the widgets' settings; a failure is shown, the old figures stay."""
        started = time.perf_counter()
        try:
            outcome = self.engine.evaluate(self.levers(), self.indicator_select.value)
        except InnosdError as err:  # e.g. a value outside a declared range sent by a browser
            self.fail(str(err))
            self._restore(self.outcome.levers)
            return
        except Exception as err:  # a fault in the model or our code: the page says so and keeps serving
            self.fail(f"{type(err).__name__}: {err}")
            return
        self.outcome = outcome
        self.compute_seconds.append(time.perf_counter() - started)
        self.show(outcome, time.perf_counter() - started)

    def fail(self, message: str) -> None:
        with pn.io.hold():
            self.alert.object = text("app_error", self.language, message=html.escape(message))
            self.alert.visible = True
            self.runs += 1
            self.status.object = counter(self.runs) + " " + html.escape(message)

    def _restore(self, levers: dict[str, dict[str, float]]) -> None:
        """Put the widgets back on the last settings that ran (the refused value is not kept)."""
        with pn.io.hold():
            for lever, settings in self.sliders.items():
                for setting, widget in settings.items():
                    value = levers.get(lever, {}).get(setting, self.engine.controls[lever][setting].constant.default)
                    widget.value = _whole(value, setting)

    def _engine_changed(self, *_events) -> None:
        try:
            self.engine = engine_for(self.params_select.value, int(self.draws_select.value), self.engine.seed,
                                     self.config_dir, self.world_select.value)
            self.world_list.object = self._world_html()
        except InnosdError as err:
            self.fail(str(err))
            return
        self.recompute()

    def _indicators_changed(self, *_events) -> None:
        self._build_fans()
        self.recompute()

    def _language_changed(self, event) -> None:
        self.language = event.new
        for lever, settings in self.sliders.items():
            for setting, widget in settings.items():
                widget.label = self._slider_title(setting, self.engine.controls[lever][setting].constant)
        self.indicator_select.options = {indicator_label(i.id, self.language): i.id for i in self.engine.indicators}
        self.world_select.options = {text("app_world_sample", self.language): "sample",
                                     text("app_world_central", self.language): "central"}
        self.world_list.object = self._world_html()
        self.view_root[:] = self._sections()
        self._build_fans()
        self.diagram.object = self._diagram_figure()
        self._highlighted = None
        self.recompute()

    def _reset(self, *_events) -> None:
        with pn.io.hold():
            for lever, settings in self.sliders.items():
                for setting, widget in settings.items():
                    default = _whole(self.engine.controls[lever][setting].constant.default, setting)
                    widget.value = default
        self.recompute()

    def _save(self, *_events) -> None:
        name = self.save_name.value.strip()
        try:
            path = self.engine.save_scenario(name, self.save_description.value, self.levers(),
                                             overwrite=self.save_overwrite.value)
        except InnosdError as err:
            self.save_message.object = f'<span class="save-error" style="color:{TARGET_COLOR}">' \
                                       f'{html.escape(str(err))}</span>'
            return
        self.save_overwrite.value = False  # each overwrite is confirmed anew
        self.save_message.object = '<span class="save-ok">' + html.escape(text(
            "app_saved", self.language, path=str(path), command=self.engine.command_for(name))) + "</span>"

    # ------------------------------------------------------------------ drawing

    def _build_fans(self) -> None:
        self.sources = {}
        figures = []
        by_id = {i.id: i for i in self.engine.indicators}
        for indicator_id in self.indicator_select.value:
            indicator = by_id[indicator_id]
            scale, unit = indicator_scale(indicator.id, indicator.unit, self.language)
            source = ColumnDataSource(data={k: [] for k in ("year", "p05", "p25", "median", "p75", "p95", "base")})
            fig = figure(title=indicator_label(indicator.id, self.language), width=FAN_WIDTH, height=FAN_HEIGHT,
                         x_range=Range1d(2012.5, 2035.5), toolbar_location=None, y_axis_label=unit)
            fig.varea("year", "p05", "p95", source=source, fill_color=FAN_COLOR, fill_alpha=BAND_90_ALPHA,
                      legend_label=text("band_90", self.language))
            fig.varea("year", "p25", "p75", source=source, fill_color=FAN_COLOR, fill_alpha=BAND_50_ALPHA,
                      legend_label=text("band_50", self.language))
            fig.line("year", "median", source=source, color=FAN_COLOR, line_width=2,
                     legend_label=text("median", self.language))
            fig.line("year", "base", source=source, color=BASELINE_COLOR, line_dash="dashed",
                     legend_label=scenario_label("baseline", self.language))
            observed = self.engine.observations
            observed = observed[(observed["indicator"] == indicator.id) & (observed["region"] == "Guangzhou")]
            if len(observed):
                fig.scatter(observed["year"].to_numpy(), observed["value"].to_numpy() * scale, color="black",
                            size=5, legend_label=text("observed", self.language))
            targets = self.engine.targets[self.engine.targets["indicator"] == indicator.id]
            if len(targets):
                fig.scatter(targets["year"].to_numpy(), targets["value"].to_numpy() * scale, marker="triangle",
                            size=10, fill_color=None, line_color=TARGET_COLOR, line_width=2,
                            legend_label=text("plan_target", self.language))
            for year in HIGHLIGHT_YEARS:
                fig.line([year, year], [0, 0], alpha=0)  # keeps key years inside the x range
            fig.legend.location = "top_left"
            fig.legend.label_text_font_size = "7pt"
            fig.legend.background_fill_alpha = 0.6
            fig.legend.visible = not figures  # one legend, on the first chart
            fig.add_tools(HoverTool(tooltips=[("year", "@year"), ("median", "@median{0,0.[00]}"),
                                              ("5-95%", "@p05{0,0.[00]} – @p95{0,0.[00]}")], mode="vline"))
            self.sources[indicator.id] = source
            figures.append(pn.pane.Bokeh(fig))
        self.fans.objects = figures

    def show(self, outcome: Outcome, seconds: float) -> None:
        """Push the outcome to the browser: one held document message for every change."""
        with pn.io.hold():
            base = self.engine.baseline.projections
            projections = outcome.projections
            by_id = {i.id: i for i in self.engine.indicators}
            for indicator_id, source in self.sources.items():
                scale, _ = indicator_scale(indicator_id, by_id[indicator_id].unit, self.language)
                rows = projections[projections["indicator"] == indicator_id]
                base_rows = base[base["indicator"] == indicator_id]
                source.data = {"year": rows["year"].to_numpy(),
                               **{k: rows[k].to_numpy() * scale for k in ("p05", "p25", "median", "p75", "p95")},
                               "base": base_rows["median"].to_numpy() * scale}
            self.table.object = self._probability_table(outcome)
            self.cost.object = self._cost_text(outcome)
            self._highlight(outcome)
            self.alert.visible = False
            if seconds:
                self.runs += 1
            described = (text("app_status", self.language, run=self.runs, draws=outcome.draws,
                              params=self.engine.parameter_set, seed=self.engine.seed, ms=f"{seconds * 1e3:.0f}")
                         if self.engine.posterior is not None else text("app_point_estimate", self.language))
            self.status.object = counter(self.runs) + " " + html.escape(described)

    def _probability_table(self, outcome: Outcome) -> str:
        lang = self.language
        base = self.engine.baseline.attainment.set_index(["indicator", "year", "plan"])["probability"]
        rows = []
        shown = outcome.attainment[outcome.attainment["year"] >= FIRST_SHOWN_PLAN_YEAR]
        for r in shown.sort_values(["year", "indicator"]).itertuples(index=False):
            before = float(base.loc[(r.indicator, r.year, r.plan)])
            rows.append(_row([f"{indicator_label(r.indicator, lang)} {r.year}",
                              f"{'≥' if r.direction == 'at_least' else '≤'} {r.target:,.4g} ({html.escape(r.status)})",
                              html.escape(r.plan), _probability(r.probability, r.mc_se, (r.ci_low, r.ci_high)),
                              _delta(r.probability - before)], f'data-target="{r.indicator}@{r.year}"'))
        base_joint = self.engine.baseline.joint.set_index("year")["probability"]
        joint = [_row([f"<b>{text('app_joint', lang)} {r.year}</b> ({r.targets})",
                       html.escape(f"{text('app_binding', lang)}: {r.binding_target}"), "",
                       _probability(r.probability, r.mc_se, (r.ci_low, r.ci_high)),
                       _delta(r.probability - float(base_joint.loc[r.year]))],
                      f'data-joint="{r.year}"')
                 for r in outcome.joint.itertuples(index=False) if r.year >= FIRST_SHOWN_PLAN_YEAR]
        header = _row([text("app_target", lang), "", text("app_plan", lang), text("app_probability", lang),
                       text("app_change_vs_baseline", lang)], tag="th")
        return (f"<h3>{text('app_probabilities', lang)}</h3><table class='probabilities' "
                f"style='font-size:12px;border-collapse:collapse'>{header}{''.join(joint)}{''.join(rows)}</table>")

    def _cost_text(self, outcome: Outcome) -> str:
        lang = self.language
        held = f"<p style='color:#555'>{text('app_held_fixed', lang)}</p>"
        cost = outcome.cost
        if cost is None:
            return f"<p class='cost'>{text('app_no_cost', lang)}</p>{held}"
        start, stop = self.engine.cost_years
        parts = [text("app_cost", lang, start=start, stop=stop, mean=cost[0], error=cost[1])]
        moved = moved_levers(outcome.levers, self.engine.info)
        assumed = [lv for lv in moved if self.engine.lever_docs[lv].basis == "assumption"]
        if assumed:
            parts.append(text("app_cost_assumed", lang, levers=", ".join(assumed)))
        if outcome.uncosted:
            parts.append(text("app_uncosted", lang, levers=", ".join(outcome.uncosted)))
        return f"<p class='cost'>{html.escape(' '.join(parts))}</p>{held}"

    def _diagram_figure(self):
        structure = read_structure(MODEL_FILE)
        centres, frames = layout(structure)
        uses = dependencies(MODEL_FILE)
        stock_names = set(structure.stocks)
        self.reach = {lever: reached_stocks(lever_constant(lever), uses, stock_names) for lever in self.sliders}
        xs = [f[1] + f[3] for f in frames]
        ys = [f[2] for f in frames]
        fig = figure(width=900, height=int(900 * (-min(ys) + 1.2) / (max(xs) + 0.4)), toolbar_location=None,
                     x_range=Range1d(-0.1, max(xs) + 0.3), y_range=Range1d(min(ys) - 0.1, 0.9),
                     title=text("app_diagram", self.language))
        fig.axis.visible = False
        fig.grid.visible = False
        for sector, x0, y0, w, h in frames:
            fig.rect(x0 + w / 2, y0 + h / 2, w, h, fill_color="#f6f8fa", line_color="#bbbbbb")
            fig.text(x0 + 0.06, y0 + h - 0.05, [sector_label(sector, self.language)], text_font_size="8pt",
                     text_font_style="bold", text_baseline="top")
        for flow in structure.flows:
            if flow.source and flow.target:
                (sx, sy), (tx, ty) = centres[flow.source], centres[flow.target]
                fig.segment(sx, sy, tx, ty, line_color="#ff7f0e", line_alpha=0.5)
        names = list(centres)
        self.diagram_source.data = {"x": [centres[s][0] for s in names], "y": [centres[s][1] for s in names],
                                    "name": names, "label": [stock_label(s, self.language) for s in names],
                                    "line": ["#1f77b4"] * len(names), "width": [1.0] * len(names)}
        fig.rect("x", "y", 1.0, 0.42, source=self.diagram_source, fill_color="white", line_color="line",
                 line_width="width")
        fig.text("x", "y", "label", source=self.diagram_source, text_font_size="6pt", text_align="center",
                 text_baseline="middle")
        # levers: a marker above the mean position of the stocks they first act on
        lever_x, lever_y, labels, from_x, from_y, to_x, to_y, to_lever = [], [], [], [], [], [], [], []
        for k, (lever, reached) in enumerate(self.reach.items()):
            points = [centres[s] for s in reached if s in centres]
            if not points:
                continue
            x = float(np.mean([p[0] for p in points])) + 0.3 * ((k % 3) - 1)
            y = max(p[1] for p in points) + 0.32
            lever_x.append(x), lever_y.append(y), labels.append(lever)
            for px, py in points:
                from_x.append(x), from_y.append(y), to_x.append(px), to_y.append(py), to_lever.append(lever)
        self.lever_source.data = {"x": lever_x, "y": lever_y, "lever": labels, "color": ["#bbbbbb"] * len(labels)}
        self.link_source = ColumnDataSource({"x0": from_x, "y0": from_y, "x1": to_x, "y1": to_y, "lever": to_lever,
                                             "alpha": [0.0] * len(to_x)})
        fig.segment("x0", "y0", "x1", "y1", source=self.link_source, line_color=MOVED_COLOR, line_alpha="alpha",
                    line_dash="dotted", line_width=1.5)
        fig.scatter("x", "y", source=self.lever_source, marker="diamond", size=14, fill_color="color",
                    line_color="#555555")
        fig.text("x", "y", "lever", source=self.lever_source, text_font_size="6pt", y_offset=-9,
                 text_align="center")
        return fig

    def _highlight(self, outcome: Outcome) -> None:
        moved = set(moved_levers(outcome.levers, self.engine.info))
        if moved == getattr(self, "_highlighted", None):
            return  # nothing to send: the diagram is the largest figure on the page
        self._highlighted = moved
        acted = {s for lever in moved for s in self.reach.get(lever, [])}
        names = self.diagram_source.data.get("name", [])
        self.diagram_source.patch({"line": [(i, MOVED_COLOR if n in acted else "#1f77b4") for i, n in enumerate(names)],
                                   "width": [(i, 3.0 if n in acted else 1.0) for i, n in enumerate(names)]})
        levers = self.lever_source.data.get("lever", [])
        self.lever_source.patch({"color": [(i, MOVED_COLOR if lv in moved else "#bbbbbb")
                                           for i, lv in enumerate(levers)]})
        links = self.link_source.data.get("lever", [])
        self.link_source.patch({"alpha": [(i, 0.9 if lv in moved else 0.0) for i, lv in enumerate(links)]})

    # ------------------------------------------------------------------ layout

    def _world_html(self) -> str:
        """The outside-world assumptions the runs draw (or hold at the model file's values)."""
        lang = self.language
        rows = "".join(f"<li>{html.escape(name.replace('_', ' '))}: {u.lower:g} to {u.upper:g} {html.escape(u.unit)}"
                       f" ({html.escape(u.distribution)})</li>" for name, u in self.engine.world_assumptions())
        held = self.engine.world_mode != "sample"
        note = text("app_world_held" if held else "app_world_drawn", lang)
        return f"<b>{html.escape(text('app_world', lang))}</b><br><small>{html.escape(note)}<ul>{rows}</ul></small>"

    def _lever_cards(self) -> list:
        cards = []
        for lever, settings in self.sliders.items():
            meaning = self.engine.controls[lever]["change"].constant.comment
            cards.append(pn.Card(pn.pane.HTML(f"<small>{html.escape(meaning)}</small>", width=280),
                                 *settings.values(), title=lever, collapsed=False, width=310,
                                 css_classes=[f"lever-{lever}"]))
        return cards

    def _sections(self) -> list:
        lang = self.language
        sidebar = pn.Column(self.language_select, self.params_select, self.draws_select, self.world_select,
                            self.world_list, self.indicator_select,
                            pn.pane.HTML(f"<h3>{text('app_levers', lang)}</h3>"), self.reset_button,
                            *self._lever_cards(), width=330)
        save = pn.Column(pn.pane.HTML(f"<h3>{text('app_save_title', lang)}</h3>"), self.save_name,
                         self.save_description, self.save_overwrite, self.save_button, self.save_message)
        main = pn.Column(pn.pane.HTML(f"<h2>{text('app_title', lang)}</h2>"), self.status, self.alert, self.fans,
                         self.table, self.cost, save, self.diagram, sizing_mode="stretch_width")
        return [sidebar, main]

    def view(self) -> pn.viewable.Viewable:
        self.view_root = pn.Row(*self._sections())
        return self.view_root


# ----------------------------------------------------------------------------- small helpers

def _whole(value: float, setting: str):
    return int(round(value)) if setting == "start" else float(value)


def _current(widget) -> float:
    """The value the server holds; `value_throttled` lags `value` only while a drag is under way."""
    return widget.value


def _row(cells: list[str], attributes: str = "", tag: str = "td") -> str:
    inner = "".join(f"<{tag} style='padding:2px 8px;border-bottom:1px solid #eee'>{c}</{tag}>" for c in cells)
    return f"<tr {attributes}>{inner}</tr>"


def _probability(p: float, mc_se: float, interval: tuple[float, float]) -> str:
    """The share of draws ± its MC standard error; at 0 or 1 (standard error 0, which would read
    as certainty) the Wilson 95% interval instead, as the report does."""
    if not np.isfinite(p):
        return "–"
    spread = f"± {mc_se:.3f}" if mc_se > 0 else f"(95%: {interval[0]:.3f}–{interval[1]:.3f})"
    return f"<span class='p'>{p:.3f}</span> {spread}"


def _delta(d: float) -> str:
    if not np.isfinite(d):
        return ""
    color = "#1e8449" if d > 0 else TARGET_COLOR if d < 0 else "#555"
    return f"<span class='delta' style='color:{color}'>{d:+.3f}</span>"
