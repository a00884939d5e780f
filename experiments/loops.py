"""Loop dominance of one run (`innosd loops`): Loops That Matter scores (innosd.model.loops)
written as tables and figures, per key variable.

`run_loops` computes, `write_folder` writes, atomically: loops.csv (every loop: id, polarity,
variables, partition, shares), loop_scores.csv (time, loop, loop score, relative score; loops
beyond REPORTED_LOOPS per group summed as other+/other-), variables.csv (key variable -> the loop
variables driving it), variable_scores.csv (each loop's share in driving each key variable),
dominance.csv (per key variable and step: the dominant loop, reinforcing and balancing shares),
dominance_periods.csv (the same as periods), a figure per key variable (drawn from the saved
CSVs), config.yaml and metadata.json. The command line is `innosd.experiments.commands.loops`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
from innosd.model import MODEL_FILE
from innosd.model import loops as L
from innosd.model.indicators import KEY_INDICATORS

from innosd.errors import DataError, closest

LOOPS_FILE = "loops.csv"
LOOP_SCORES_FILE = "loop_scores.csv"
VARIABLES_FILE = "variables.csv"
VARIABLE_SCORES_FILE = "variable_scores.csv"
DOMINANCE_FILE = "dominance.csv"
PERIODS_FILE = "dominance_periods.csv"


def default_out(stamp: dt.datetime) -> Path:
    return Path("outputs") / "loops" / stamp.strftime("%Y-%m-%d") / stamp.strftime("%H-%M-%S")


def default_variables(model_path: Path, analysis: L.LoopAnalysis) -> list[str]:
    """The project model's key indicators; for any other model, its stocks."""
    if Path(model_path).resolve() == MODEL_FILE.resolve():
        return [i.model_variable for i in KEY_INDICATORS]
    graph = analysis.graph
    return list(dict.fromkeys(graph.labels[n] for n in graph.nodes if n[0] == "S" and n not in graph.internal))


def _other(rest: pd.DataFrame, value: str, keys: list[str]) -> list[pd.DataFrame]:
    """The rows of `rest` summed per `keys` and sign, as loops other+ and other-."""
    out = []
    for sign, name in ((1, "other+"), (-1, "other-")):
        part = rest[np.sign(rest[value]) == sign]
        if not part.empty:
            out.append(part.groupby(keys, as_index=False)[value].sum().assign(loop_id=name))
    return out


def reported_scores(analysis: L.LoopAnalysis) -> pd.DataFrame:
    """The partition-wide score table: per partition the REPORTED_LOOPS loops of largest mean
    |relative score| one by one, the rest summed by sign."""
    loops, scores = analysis.loops, analysis.scores
    keep = set(loops.sort_values("mean_abs_relative", ascending=False).groupby("partition")
               .head(L.REPORTED_LOOPS)["loop_id"])
    rest = scores[~scores["loop_id"].isin(keep)]
    frames = [scores[scores["loop_id"].isin(keep)]] + _other(rest, "relative_score", ["time", "partition"])
    return pd.concat(frames, ignore_index=True)[["time", "partition", "loop_id", "loop_score", "relative_score"]]


def reported_variable_scores(analysis: L.LoopAnalysis, share: np.ndarray) -> pd.DataFrame:
    """One variable's loop shares: the REPORTED_LOOPS loops of largest mean |share| one by one,
    the rest summed by sign (other+, other-)."""
    mean = np.abs(share).mean(axis=1) if share.size else np.zeros(0)
    keep = [i for i in np.argsort(-mean)[:L.REPORTED_LOOPS] if mean[i] > 0]
    table = L.variable_scores(analysis, share, keep)
    rest = np.delete(share, keep, axis=0)
    times = analysis.times[1:]
    extra = [pd.DataFrame({"time": times, "loop_id": name, "share": part})
             for name, part in (("other+", np.clip(rest, 0, None).sum(axis=0)),
                                ("other-", np.clip(rest, None, 0).sum(axis=0))) if np.any(part)]
    return pd.concat([table] + extra, ignore_index=True)[["time", "loop_id", "partition", "relative_score", "share"]]


def run_loops(model_path: Path, params: dict, variables: list[str] | None):
    """(analysis, key variable -> {entry node: weight per step})."""
    analysis = L.analyse(model_path, params)
    names = variables or default_variables(model_path, analysis)
    return analysis, L.resolve_variables(analysis, names, Path(model_path).name)


def _slug(name: str) -> str:
    return re.sub(r"[^\w]+", "_", name.strip().lower()).strip("_")[:60] or "variable"


def top_loops(analysis: L.LoopAnalysis, share: np.ndarray, n: int) -> pd.DataFrame:
    """The `n` loops with the largest mean |share| in driving one variable, with their variables."""
    mean = np.abs(share).mean(axis=1) if share.size else np.zeros(0)
    top = [i for i in np.argsort(-mean)[:n] if mean[i] > 0]
    return analysis.loops.loc[top, ["loop_id", "polarity", "variables"]].assign(mean_abs_share=mean[top])


def entries_text(analysis: L.LoopAnalysis, weights: dict) -> str:
    """'a (0.70) b (0.30)': the loop variables through which loops drive a variable, by weight."""
    by_label: dict[str, float] = {}
    for e, w in weights.items():
        label = analysis.graph.labels[e]
        by_label[label] = by_label.get(label, 0.0) + float(np.mean(w))
    return "; ".join(f"{k} ({v:.2f})" for k, v in sorted(by_label.items(), key=lambda kv: -kv[1]))


def write_folder(out: Path, analysis: L.LoopAnalysis, per_variable: dict[str, dict], config: dict,
                 model_path: Path, command: str, language: str = "en") -> dict[str, np.ndarray]:
    """Write the folder; returns each key variable's share matrix (loops x steps)."""
    from innosd.figures.loops_figures import loop_dominance_figure
    from innosd.figures.plots import save_figure
    from innosd.rundir import atomic_directory, write_metadata
    project = Path(model_path).resolve() == MODEL_FILE.resolve()
    polarity = analysis.loops.set_index("loop_id")["polarity"]
    shares = {name: L.variable_shares(analysis, weights) for name, weights in per_variable.items()}
    with atomic_directory(out) as tmp:
        analysis.loops.to_csv(tmp / LOOPS_FILE, index=False)
        reported_scores(analysis).to_csv(tmp / LOOP_SCORES_FILE, index=False)
        rows, tables, doms, periods = [], [], [], []
        for name, weights in per_variable.items():
            wanted = set(L.variable_nodes(name, analysis.graph))
            through = [lid for lid, nodes in zip(analysis.loops["loop_id"], analysis.loop_nodes) if wanted & nodes]
            rows.append(dict(variable=name, entries=entries_text(analysis, weights),
                             loops_through_variable=len(through), figure=f"loops_{_slug(name)}"))
            tables.append(reported_variable_scores(analysis, shares[name]).assign(variable=name))
            d = L.dominance(analysis, shares[name])
            doms.append(d.assign(polarity=d["loop_id"].map(polarity), variable=name))
            p = L.summary(d)
            periods.append(p.assign(polarity=p["loop_id"].map(polarity), variable=name))
        pd.DataFrame(rows).to_csv(tmp / VARIABLES_FILE, index=False)
        pd.concat(tables, ignore_index=True).to_csv(tmp / VARIABLE_SCORES_FILE, index=False)
        pd.concat(doms, ignore_index=True).to_csv(tmp / DOMINANCE_FILE, index=False)
        pd.concat(periods, ignore_index=True).to_csv(tmp / PERIODS_FILE, index=False)
        saved = pd.read_csv(tmp / VARIABLE_SCORES_FILE)  # figures from the saved tables only
        saved_loops = pd.read_csv(tmp / LOOPS_FILE)
        for name in per_variable:
            mine = saved[saved["variable"] == name]
            if mine.empty:
                continue
            fig = loop_dominance_figure(mine, saved_loops, name, language, time_label=None if project else "time")
            save_figure(fig, tmp / f"loops_{_slug(name)}")
        write_metadata(tmp, "loops", seed=None, command=command, model_file=model_path, config=config,
                       extra={"variables": list(per_variable), "method": analysis.method,
                              "loops_found": int(analysis.n_loops)})
    return shares


def check_params(model, params: dict, model_name: str) -> None:
    unknown = [k for k in params if k not in model.parameters.index]
    if unknown:
        raise DataError(f"{unknown[0]!r} is not a constant of {model_name}"
                        + closest(str(unknown[0]), list(model.parameters.index)))
