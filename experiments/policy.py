"""Policy search: the cheapest lever settings that reach plan targets with a required
probability, and the Pareto front of cost against probability.

Cost (100 million yuan, nominal) is the extra public outlay the levers imply over
[cost_from, cost_to + 1), cost_to defaulting to the last target year (a 2025 target is paid
for until 2025, not 2035), against the same scenario with the searched levers at zero, per
posterior draw, averaged over draws:

    cost = mean_d  sum_terms unit_cost * sum_{t in window} dt * ( x(levers, d) - x(zero, d) )

with dt the model's TIME STEP (the Euler sums the model integrates; the run is saved at
every step for this). The terms are the model's fiscal flows (fiscal S&T, post-subsidy,
risk pool, guidance fund: unit cost 1, always counted) plus each searched lever's cost
model in `scenarios/levers.yaml` (e.g. talent: 0.01 亿元 per programme admission, a stated
assumption). `lever_cost` is the same arithmetic as a pure function for one run.

Probability = share of draws meeting every chosen target at once (year-end values), with
its Monte Carlo standard error; when no setting reaches the required probability the
summary gives the best achievable probability, its mix and the binding target (the one
its draws miss most often).

Search (documented, deterministic for a seed): a scrambled Sobol sample of `samples`
points in the lever box plus the all-zero point; then `refine_rounds` rounds of
`refine_samples` Sobol points in a box around the cheapest feasible point (or, if none is
feasible yet, the most probable), its half-width shrinking by `refine_shrink` each round.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from innosd.experiments import ensemble as ens
from innosd.experiments import projections as proj
from innosd.experiments.dask_exec import run_chunked
from innosd.model import MODEL_FILE
from innosd.rundir import POLICY_BEST_FILE, POLICY_CANDIDATES_FILE, POLICY_SUMMARY_FILE
from innosd.model.info import ModelInfo, lever_constant, lever_names
from innosd.experiments.context import Context, Written, draw_figure
from innosd.model.results import TIME_MATCH_TOLERANCE, time_index, year_end_time

from innosd.errors import ConfigError, ModelError, closest
from innosd.scenarios.levers import LeverDoc, lever_docs
from innosd.scenarios.schema import PolicySettings, RunConfig, experiment_settings

# Public money the model itself pays out (亿元/Year): counted in every search at unit cost 1.
FISCAL_FLOWS = ("fiscal st expenditure", "rd post subsidy paid", "risk pool appropriations",
                "guidance fund injection")
# Rows per chunk when every time step is saved: bounds one chunk's output buffer to ~25 MB.
FINE_GRID_CHUNK_ROWS = 1024


@dataclass(frozen=True)
class OutlayTask:
    """Per run: the target variables at their year ends, then each cost term's integral over [start, stop)."""

    model_path: str
    target_columns: tuple[str, ...]
    target_times: tuple[float, ...]
    cost_columns: tuple[str, ...]
    start: float
    stop: float
    time_step: float

    def __call__(self, chunk: pd.DataFrame) -> np.ndarray:
        from innosd.model import compile_model

        chunk = chunk.reset_index(drop=True).assign(SAVEPER=self.time_step)  # save every step
        columns = list(dict.fromkeys([*self.target_columns, *self.cost_columns]))
        ds = compile_model(self.model_path).run_ensemble(chunk, return_columns=columns)
        t = ds["time"].to_numpy()
        window = (t >= self.start - TIME_MATCH_TOLERANCE) & (t < self.stop - TIME_MATCH_TOLERANCE)
        integrals = [ds[c].to_numpy()[:, window].sum(axis=1) * self.time_step for c in self.cost_columns]
        at = time_index(t, self.target_times)
        picked = [ds[column].to_numpy()[:, i] for column, i in zip(self.target_columns, at)]
        return np.column_stack([*picked, *integrals])


def cost_terms(levers: list[str], docs: dict[str, LeverDoc]) -> dict[str, float]:
    """{model variable: unit cost} of a search: the fiscal flows plus each lever's cost model."""
    terms = {flow: 1.0 for flow in FISCAL_FLOWS}
    for lever in levers:
        for variable, unit_cost in docs[lever].cost.items():
            terms[variable] = unit_cost  # the fiscal levers' terms are the fiscal flows themselves
    return terms


def lever_cost(extra_integrals: dict[str, float], terms: dict[str, float]) -> float:
    """Cost (亿元) of one run: sum of unit cost x the extra time integral of each term's variable."""
    return float(sum(unit_cost * float(extra_integrals.get(variable, 0.0)) for variable, unit_cost in terms.items()))


def uncosted_levers(levers: list[str], docs: dict[str, LeverDoc]) -> list[str]:
    return [lever for lever in levers if not docs[lever].cost]


def lever_box(levers: Any, info: ModelInfo) -> dict[str, tuple[float, float]]:
    """{lever: (min, max)} within each lever's declared range; one-line errors otherwise."""
    valid = lever_names(info)
    if not isinstance(levers, dict) or not levers:
        raise ConfigError("experiment.levers: give a mapping lever: [min change, max change] with at least one "
                          f"lever; valid levers: {', '.join(valid)}")
    box = {}
    for lever, bounds in levers.items():
        if lever not in valid:
            raise ConfigError(f"experiment.levers.{lever}: unknown lever{closest(str(lever), valid)}; "
                              f"valid levers: {', '.join(valid)}")
        try:
            lower, upper = (float(v) for v in bounds)
        except (TypeError, ValueError):
            raise ConfigError(f"experiment.levers.{lever}: {bounds!r} is not [min change, max change]") from None
        constant = info.constants[lever_constant(lever)]
        if not constant.lower <= lower <= upper <= constant.upper:
            raise ConfigError(f"experiment.levers.{lever}: [{lower:g}, {upper:g}] is not an ordered range within "
                              f"the declared range [{constant.lower:g}, {constant.upper:g}]")
        box[lever] = (lower, upper)
    return box


def sobol_points(box: dict[str, tuple[float, float]], n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    if n < 1 or n & (n - 1):
        raise ConfigError(f"experiment.samples/refine_samples: {n} is not a power of 2 (Sobol points)")
    unit = qmc.Sobol(d=len(box), scramble=True, seed=seed).random(n)
    lower = np.array([b[0] for b in box.values()])
    upper = np.array([b[1] for b in box.values()])
    return lower + unit * (upper - lower)


def refine_box(box: dict[str, tuple[float, float]], centre: np.ndarray, fraction: float):
    """A box of `fraction` of each range around `centre`, clipped to `box`."""
    out = {}
    for (lever, (lower, upper)), c in zip(box.items(), centre):
        half = fraction * (upper - lower) / 2
        out[lever] = (max(lower, c - half), min(upper, c + half))
    return out


def candidate_table(base: pd.DataFrame, levers: list[str], settings: np.ndarray) -> pd.DataFrame:
    """Every lever setting (rows of `settings`) x every draw (rows of `base`)."""
    n_draws = len(base)
    table = pd.concat([base] * len(settings), ignore_index=True)
    for j, lever in enumerate(levers):
        table[lever_constant(lever)] = np.repeat(settings[:, j], n_draws)
    return table


def pareto_mask(cost: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """True where no other candidate is at most as costly and at least as probable, one strictly."""
    mask = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        dominated = (cost <= cost[i]) & (probability >= probability[i]) & \
                    ((cost < cost[i]) | (probability > probability[i]))
        mask[i] = not dominated.any()
    return mask


def evaluate_settings(settings_array: np.ndarray, levers: list[str], base: pd.DataFrame, targets: pd.DataFrame,
                      terms: dict[str, float], window: tuple[float, float], config: RunConfig, info: ModelInfo,
                      label: str):
    """(cost integrals (setting, draw, term), met (setting, draw, target), chunk folder)."""
    task = OutlayTask(str(MODEL_FILE), tuple(targets["model_variable"]),
                      tuple(year_end_time(targets["year"].to_numpy())), tuple(terms), window[0], window[1],
                      float(base_time_step(config, info)))
    table = ens.fill_defaults(candidate_table(base, levers, settings_array))
    exec_settings = dataclasses.replace(ens.exec_settings(config),
                                        chunk_size=min(int(config.run.chunk_size), FINE_GRID_CHUNK_ROWS))
    values, folder = run_chunked(table, task, exec_settings, ens.chunk_cache(config), label, MODEL_FILE)
    if not np.isfinite(values).all():
        raise ModelError(f"{label}: non-finite model values for some lever settings; narrow experiment.levers")
    values = values.reshape(len(settings_array), len(base), -1)
    n_targets = len(targets)
    met = np.stack([proj.meets(values[:, :, k], float(t.value), t.direction)
                    for k, t in enumerate(targets.itertuples(index=False))], axis=2)
    return values[:, :, n_targets:], met, folder


def base_time_step(config: RunConfig, info: ModelInfo) -> float:
    return float(config.params.get("TIME STEP", info.constants["TIME STEP"].default))


def cost_window(policy: PolicySettings, targets: pd.DataFrame) -> tuple[int, int]:
    """[cost_from, cost_to] in years; cost_to null = the last target year (the targets' own horizon)."""
    cost_to = int(policy.cost_to) if policy.cost_to is not None else int(targets["year"].max())
    if not ens.FIRST_YEAR - 6 <= int(policy.cost_from) <= cost_to <= ens.LAST_YEAR:
        raise ConfigError(f"experiment.cost_from/cost_to: {policy.cost_from}..{cost_to} is not an ordered "
                          f"range of years up to {ens.LAST_YEAR}")
    return int(policy.cost_from), cost_to


def search(config: RunConfig, policy: PolicySettings, info: ModelInfo, targets: pd.DataFrame):
    """Run the documented search; returns (candidates DataFrame, chunk folders, runs, cost terms)."""
    box = lever_box(policy.levers, info)
    levers = list(box)
    required = float(policy.required_probability)
    if not 0.0 < required <= 1.0:
        raise ConfigError(f"experiment.required_probability: {required:g} is not in (0, 1]")
    first, last = cost_window(policy, targets)
    terms = cost_terms(levers, lever_docs(info))
    window = (float(first), year_end_time(last))
    base = ens.run_table(config, ens.posterior_draws(config))
    seed = int(config.run.seed)
    stages = [("initial", np.vstack([np.zeros(len(levers)), sobol_points(box, int(policy.samples), seed)]))]
    outlays, mets, settings_rows, stage_names, folders = [], [], [], [], []
    zero_integrals = None
    for round_number in range(int(policy.refine_rounds) + 1):
        name, points = stages[-1]
        integrals, met, folder = evaluate_settings(points, levers, base, targets, terms, window, config, info,
                                                   f"policy {name}")
        folders.append(folder)
        if zero_integrals is None:
            zero_integrals = integrals[0]  # the first point is every searched lever at zero
        unit_costs = np.array(list(terms.values()))
        outlays.append(((integrals - zero_integrals) @ unit_costs).mean(axis=1))
        mets.append(met)
        settings_rows.append(points)
        stage_names += [name] * len(points)
        if round_number == int(policy.refine_rounds):
            break
        cost_all, prob_all = np.concatenate(outlays), np.concatenate(mets).all(axis=2).mean(axis=1)
        all_points = np.vstack(settings_rows)
        feasible = prob_all >= required
        best = np.flatnonzero(feasible)[np.argmin(cost_all[feasible])] if feasible.any() else \
            np.lexsort((cost_all, -prob_all))[0]
        fraction = float(policy.refine_shrink) ** (round_number + 1)
        refined = sobol_points(refine_box(box, all_points[best], fraction), int(policy.refine_samples),
                               seed + round_number + 1)
        stages.append((f"refine {round_number + 1}", refined))
    cost = np.concatenate(outlays)
    met = np.concatenate(mets)  # (setting, draw, target)
    probability = met.all(axis=2).mean(axis=1)
    per_target = met.mean(axis=1)  # (setting, target)
    frame = pd.DataFrame(np.vstack(settings_rows), columns=[f"{lever}.change" for lever in levers])
    frame["cost_100m_yuan"] = cost
    frame["probability"] = probability
    frame["mc_se"] = proj.mc_standard_error(probability, len(base))
    described = [proj.describe_target(t) for t in targets.itertuples(index=False)]
    frame["binding_target"] = [described[int(np.argmin(row))] for row in per_target]
    frame["pareto"] = pareto_mask(cost, probability)
    frame["feasible"] = probability >= required
    frame["stage"] = stage_names
    return frame, folders, len(frame) * len(base), terms


def ranked(candidates: pd.DataFrame) -> pd.DataFrame:
    """Feasible settings first, cheapest first; then the rest, most probable first."""
    order = candidates.assign(_infeasible=~candidates["feasible"].astype(bool),
                              _key=np.where(candidates["feasible"], candidates["cost_100m_yuan"],
                                            -candidates["probability"]))
    return order.sort_values(["_infeasible", "_key", "cost_100m_yuan"]).drop(columns=["_infeasible", "_key"])


def search_summary(candidates: pd.DataFrame, policy: PolicySettings, targets: pd.DataFrame, draws: int,
                   window: tuple[int, int]) -> dict:
    """The answer in a few fields: feasible or not, the mix, its cost and probability (MC error),
    and, when nothing reaches the required probability, the best achievable and its binding target."""
    best = ranked(candidates).iloc[0]
    mix = {c[: -len(".change")]: round(float(best[c]), 4) for c in candidates.columns if c.endswith(".change")}
    return {"feasible": bool(best["feasible"]), "required_probability": float(policy.required_probability),
            "probability": float(best["probability"]), "mc_se": float(best["mc_se"]), "draws": int(draws),
            "cost_100m_yuan": float(best["cost_100m_yuan"]), "cost_years": list(window), "mix": mix,
            "binding_target": str(best["binding_target"]),
            "targets": [proj.describe_target(t) for t in targets.itertuples(index=False)],
            "warning": proj.draws_warning(draws)}


def best_scenario(candidates: pd.DataFrame, config: RunConfig, policy: PolicySettings,
                  targets: pd.DataFrame, window: tuple[int, int]) -> dict | None:
    """The cheapest feasible setting as a scenario YAML mapping (None if nothing is feasible)."""
    feasible = candidates[candidates["feasible"]]
    if feasible.empty:
        return None
    row = feasible.sort_values(["cost_100m_yuan", "probability"], ascending=[True, False]).iloc[0]
    levers = {lever: {k: v for k, v in dataclasses.asdict(setting).items() if v is not None}
              for lever, setting in config.scenario.levers.items()}
    for column in candidates.columns:
        if column.endswith(".change"):  # start and ramp as in the scenario (model defaults if it has none)
            lever = column[: -len(".change")]
            levers[lever] = {**levers.get(lever, {}), "change": round(float(row[column]), 4)}
    wanted = ", ".join(proj.describe_target(t) for t in targets.itertuples(index=False))
    return {"name": "policy_best",
            "description": (f"Cheapest lever setting found by `innosd run +experiment=policy_search` on top of "
                            f"scenario {config.scenario.name!r}: extra public outlay "
                            f"{row['cost_100m_yuan']:.1f} (100 million yuan, {window[0]}-{window[1]}) "
                            f"for a probability of {row['probability']:.2f} (MC s.e. {row['mc_se']:.2f}) of "
                            f"meeting {wanted} (required {float(policy.required_probability):g}); parameter set "
                            f"{config.parameter_set.name!r}."),
            "levers": levers}


def run_policy_search(ctx: Context, out: Path) -> Written:
    policy = experiment_settings(ctx.config.experiment)
    names = list(policy.targets) if not isinstance(policy.targets, str) else [policy.targets]
    targets = proj.distinct_requirements(proj.select_targets(names, ctx.targets, "experiment.targets"))
    candidates, folders, runs, terms = search(ctx.config, policy, ctx.info, targets)
    draws = runs // len(candidates)
    window = cost_window(policy, targets)
    ranked(candidates).to_csv(out / POLICY_CANDIDATES_FILE, index=False)
    summary = search_summary(candidates, policy, targets, draws, window)
    (out / POLICY_SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    best = best_scenario(candidates, ctx.config, policy, targets, window)
    if best is not None:
        (out / POLICY_BEST_FILE).write_text(yaml.safe_dump(best, allow_unicode=True, sort_keys=False),
                                            encoding="utf-8")
    else:
        print(f"innosd run: policy_search: no evaluated lever setting reaches probability "
              f"{float(policy.required_probability):g}; best achievable {summary['probability']:.2f} "
              f"(MC s.e. {summary['mc_se']:.2f}) with {summary['mix']}, binding target {summary['binding_target']}",
              file=sys.stderr)
    if ctx.config.run.figures:
        draw_figure("pareto_front", out / "pareto_front", candidates, language=ctx.config.figures.language)
    docs = lever_docs(ctx.info)
    searched = list(lever_box(policy.levers, ctx.info))
    return Written(folders, {"runs": runs, "targets": summary["targets"],
                             "required_probability": float(policy.required_probability),
                             "levers_without_cost_model": uncosted_levers(searched, docs),
                             "cost_terms": terms, "cost_years": list(window),
                             "cost_bases": {lv: docs[lv].basis or "none" for lv in searched},
                             "cost_formula": "mean over draws of sum_terms unit_cost * sum_{t in [cost_from, "
                                             "cost_to+1)} TIME STEP * (x - x with the searched levers at zero), "
                                             "100 million yuan; terms in cost_terms"})
