"""Loop dominance of one run (`innosd loops`): Loops That Matter scores (innosd.model.loops)
written as tables and figures, per key variable.

`run_loops` computes, `write_folder` writes, atomically: loops.csv (the reported loops: id, family,
polarity, variables, partition, shares; every loop of the enumeration with `all_loops`),
loop_families.csv (loops grouped by the model sectors their variables belong to and by polarity),
family_shares.csv (each family's share in driving each key variable, mean over each year),
family_draws.csv (with posterior draws: the dominant family per variable and year in each draw),
loop_scores.csv (time, loop, loop score, relative score; loops beyond REPORTED_LOOPS per group
summed as other+/other-), variables.csv (key variable -> the loop variables driving it),
variable_scores.csv (each reported loop's share in driving each key variable), dominance.csv (per
key variable and step: the dominant loop, reinforcing and balancing shares), dominance_periods.csv
(the same as periods), figures drawn from the saved CSVs, config.yaml and metadata.json. The
command line is `innosd.experiments.commands.loops`; the main job calls `write_main_job_loops`.
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
from innosd.rundir import FAMILY_DRAWS_FILE, FAMILY_SHARES_FILE, LOOP_FAMILIES_FILE, LOOPS_FILE

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


def sector_groups(model_path: Path) -> dict[str, str] | None:
    """Normalised variable name -> its `.Sector` group in the model file; None for a model without
    groups (its loop families are then the sets of stocks the loops pass through)."""
    from innosd.figures.structure import sector_of_variables
    owner = sector_of_variables(Path(model_path).read_text(encoding="utf-8", errors="replace"))
    return owner or None


def family_share_table(analysis: L.LoopAnalysis, shares: dict[str, np.ndarray], family_index: np.ndarray,
                       families: pd.DataFrame) -> pd.DataFrame:
    """variable, year, family, share: each family's share in driving each variable, averaged over the
    year's TIME STEPs; families that never act on a variable are left out."""
    frames = []
    for name, share in shares.items():
        years, values = L.annual_means(analysis.times[1:], L.family_shares(share, family_index, len(families)))
        for f in np.flatnonzero(np.abs(values).max(axis=1) > 0) if values.size else []:
            frames.append(pd.DataFrame({"variable": name, "year": years, "family": families.at[f, "family"],
                                        "share": values[f]}))
    columns = ["variable", "year", "family", "share"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def dominant_families(table: pd.DataFrame) -> pd.DataFrame:
    """Per variable and year of a family_shares table: the family of largest |share|."""
    if table.empty:
        return table.assign(family=[])[["variable", "year", "family", "share"]]
    pick = table.assign(_abs=table["share"].abs()).sort_values(["variable", "year", "_abs", "family"],
                                                                 ascending=[True, True, False, True])
    return pick.drop_duplicates(["variable", "year"]).drop(columns="_abs").reset_index(drop=True)


def draw_families(model_path: Path, params: dict, draws: pd.DataFrame, variables: list[str],
                  group_of: dict[str, str] | None, families: pd.DataFrame) -> pd.DataFrame:
    """The dominant loop family per variable and year in each posterior draw (one LTM run per draw,
    the draw's constants over `params`): variable, draw, year, family (the point run's id; empty for a
    family the point run does not have), groups, polarity, share."""
    known = {(g, p): f for f, g, p in zip(families["family"], families["groups"], families["polarity"])}
    frames = []
    for number, row in draws.reset_index(drop=True).iterrows():
        analysis = L.analyse(model_path, {**params, **row.to_dict()})
        table, index = L.families(analysis, group_of)
        per_variable = L.resolve_variables(analysis, variables, Path(model_path).name)
        shares = {name: L.variable_shares(analysis, weights) for name, weights in per_variable.items()}
        top = dominant_families(family_share_table(analysis, shares, index, table))
        keyed = table.set_index("family")
        top = top.assign(draw=int(number), groups=top["family"].map(keyed["groups"]),
                         polarity=top["family"].map(keyed["polarity"]))
        top["family"] = [known.get((g, p), "") for g, p in zip(top["groups"], top["polarity"])]
        frames.append(top)
    columns = ["variable", "draw", "year", "family", "groups", "polarity", "share"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def write_folder(out: Path, analysis: L.LoopAnalysis, per_variable: dict[str, dict], config: dict,
                 model_path: Path, command: str, language: str = "en", all_loops: bool = False,
                 figures: bool = True, draws: pd.DataFrame | None = None, seed: int | None = None,
                 extra: dict | None = None, partition_scores: bool = True) -> dict[str, np.ndarray]:
    """Write the folder; returns each key variable's share matrix (loops x steps).

    `draws`: posterior draws (rows of constants) to repeat the family analysis on (family_draws.csv);
    `figures`: the per-variable and family figures (the report draws its own from the tables);
    `partition_scores`: loop_scores.csv, built from every loop at every step (~7.5M rows on the
    project model: seconds and ~0.5 GB), which the report does not read."""
    from innosd.figures.loops_figures import family_dominance_figure, loop_dominance_figure
    from innosd.figures.plots import save_figure
    from innosd.rundir import atomic_directory, write_metadata
    project = Path(model_path).resolve() == MODEL_FILE.resolve()
    polarity = analysis.loops.set_index("loop_id")["polarity"]
    shares = {name: L.variable_shares(analysis, weights) for name, weights in per_variable.items()}
    group_of = sector_groups(model_path)
    families, family_index = L.families(analysis, group_of)
    family_of = dict(zip(analysis.loops["loop_id"], families["family"].to_numpy()[family_index]))
    family_table = family_share_table(analysis, shares, family_index, families)
    draw_table = None
    if draws is not None and len(draws):
        draw_table = draw_families(model_path, dict(config.get("params") or {}), draws, list(per_variable),
                                   group_of, families)
    with atomic_directory(out) as tmp:
        loop_scores = reported_scores(analysis) if partition_scores else pd.DataFrame(columns=["loop_id"])
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
        variable_table = pd.concat(tables, ignore_index=True)
        loops = analysis.loops.assign(family=analysis.loops["loop_id"].map(family_of))
        loops = loops[["loop_id", "family"] + [c for c in analysis.loops.columns if c != "loop_id"]]
        if not all_loops:  # the loops any table names; the enumeration is --all-loops
            named = set(loop_scores["loop_id"]) | set(variable_table["loop_id"]) | set(families["strongest_loop"]) \
                | {lid for d in doms for lid in d["loop_id"]}
            loops = loops[loops["loop_id"].isin(named)].drop(columns="nodes")
        loops.to_csv(tmp / LOOPS_FILE, index=False)
        families.to_csv(tmp / LOOP_FAMILIES_FILE, index=False)
        family_table.to_csv(tmp / FAMILY_SHARES_FILE, index=False)
        if draw_table is not None:
            draw_table.to_csv(tmp / FAMILY_DRAWS_FILE, index=False)
        if partition_scores:
            loop_scores.to_csv(tmp / LOOP_SCORES_FILE, index=False)
        pd.DataFrame(rows).to_csv(tmp / VARIABLES_FILE, index=False)
        variable_table.to_csv(tmp / VARIABLE_SCORES_FILE, index=False)
        pd.concat(doms, ignore_index=True).to_csv(tmp / DOMINANCE_FILE, index=False)
        pd.concat(periods, ignore_index=True).to_csv(tmp / PERIODS_FILE, index=False)
        if figures:
            saved = pd.read_csv(tmp / VARIABLE_SCORES_FILE)  # figures from the saved tables only
            saved_loops = pd.read_csv(tmp / LOOPS_FILE)
            for name in per_variable:
                mine = saved[saved["variable"] == name]
                if mine.empty:
                    continue
                fig = loop_dominance_figure(mine, saved_loops, name, language, time_label=None if project else "time")
                save_figure(fig, tmp / f"loops_{_slug(name)}")
            saved_shares = pd.read_csv(tmp / FAMILY_SHARES_FILE)
            if not saved_shares.empty:
                fig = family_dominance_figure(saved_shares, pd.read_csv(tmp / LOOP_FAMILIES_FILE), list(per_variable),
                                              language, time_label=None if project else "time")
                save_figure(fig, tmp / "loop_families")
        write_metadata(tmp, "loops", seed=seed, command=command, model_file=model_path, config=config,
                       extra={"variables": list(per_variable), "method": analysis.method,
                              "loops_found": int(analysis.n_loops), "families": int(len(families)),
                              "draws": int(len(draws)) if draws is not None else 0, **(extra or {})})
    return shares


def posterior_draws(parameter_set, params_dir: Path, n: int, seed: int) -> pd.DataFrame:
    """`n` posterior draws of the parameter set (chosen by `seed`); one line if it has none."""
    from innosd.calibration.handoff import choose_draws, load_posterior_draws
    if parameter_set is None:
        raise DataError("--draws: the model file's own values have no posterior draws; use a calibrated parameter set")
    draws = load_posterior_draws(parameter_set, Path(params_dir))
    return choose_draws(draws, min(n, len(draws)), seed, Path(params_dir) / str(parameter_set.posterior_draws))


def check_params(model, params: dict, model_name: str) -> None:
    unknown = [k for k in params if k not in model.parameters.index]
    if unknown:
        raise DataError(f"{unknown[0]!r} is not a constant of {model_name}"
                        + closest(str(unknown[0]), list(model.parameters.index)))
