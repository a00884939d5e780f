"""Policy search: the cheapest lever settings that reach plan targets with a required
probability, and the Pareto front of cost against probability.

Cost (100 million yuan, nominal) is the extra fiscal outlay the levers imply over
[cost_from, cost_to + 1) (default 2017-2035), against the same scenario with the searched
levers at zero, per posterior draw, averaged over draws:

    cost = mean_d  sum_{t in [2017, 2036)} dt * ( fiscal st expenditure
                                               + rd post subsidy paid
                                               + risk pool appropriations
                                               + guidance fund injection )(levers, d)
         - the same sum with the searched levers at zero (same draw d)

with dt the model's TIME STEP, i.e. exactly the Euler sums the model integrates (the run
is saved at every step for this). Levers without a fiscal variable in the model (HTE
cultivation and pass rate, incubators, maker spaces, talent) cost nothing here; the
model's post-subsidy is paid inside the fiscal S&T budget line but its payments are not
deducted from other fiscal uses, so it is counted as extra outlay.

Probability = share of draws meeting every chosen target at once (year-end values).

Search (documented, deterministic for a seed): a scrambled Sobol sample of `samples`
points in the lever box plus the all-zero point; then `refine_rounds` rounds of
`refine_samples` Sobol points in a box around the cheapest feasible point (or, if none is
feasible yet, the most probable), its half-width shrinking by `refine_shrink` each round.
"""

from __future__ import annotations

import dataclasses
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
from innosd.model.info import ModelInfo, lever_constant, lever_names
from innosd.experiments.context import Context, Written, draw_figure
from innosd.model.results import TIME_MATCH_TOLERANCE, time_index, year_end_time

from innosd.errors import ConfigError, ModelError, closest
from innosd.scenarios import build
from innosd.scenarios.schema import PolicySettings, RunConfig, experiment_settings

FISCAL_FLOWS = ("fiscal st expenditure", "rd post subsidy paid", "risk pool appropriations",
                "guidance fund injection")
COSTED_LEVERS = ("fiscal_st", "post_subsidy", "risk_pool", "guidance_fund")
# Rows per chunk when every time step is saved: bounds one chunk's output buffer to ~25 MB.
FINE_GRID_CHUNK_ROWS = 1024


@dataclass(frozen=True)
class OutlayTask:
    """Per run: the target variables at their year ends, then the fiscal outlay over [start, stop)."""

    model_path: str
    target_columns: tuple[str, ...]
    target_times: tuple[float, ...]
    start: float
    stop: float
    time_step: float

    def __call__(self, chunk: pd.DataFrame) -> np.ndarray:
        from innosd.model import compile_model

        chunk = chunk.reset_index(drop=True).assign(SAVEPER=self.time_step)  # save every step
        columns = list(dict.fromkeys([*self.target_columns, *FISCAL_FLOWS]))
        ds = compile_model(self.model_path).run_ensemble(chunk, return_columns=columns)
        t = ds["time"].to_numpy()
        window = (t >= self.start - TIME_MATCH_TOLERANCE) & (t < self.stop - TIME_MATCH_TOLERANCE)
        outlay = sum(ds[f].to_numpy()[:, window].sum(axis=1) for f in FISCAL_FLOWS) * self.time_step
        at = time_index(t, self.target_times)
        picked = [ds[column].to_numpy()[:, i] for column, i in zip(self.target_columns, at)]
        return np.column_stack([*picked, outlay])


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


def dedupe_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct requirement (several plans may state the same target)."""
    return targets.drop_duplicates(["model_variable", "year", "value", "direction"]).reset_index(drop=True)


def evaluate_settings(settings_array: np.ndarray, levers: list[str], base: pd.DataFrame, targets: pd.DataFrame,
                      policy: PolicySettings, config: RunConfig, info: ModelInfo, label: str):
    """(outlay per setting x draw, probability-of-all-targets per setting, chunk folder)."""
    task = OutlayTask(str(MODEL_FILE), tuple(targets["model_variable"]),
                      tuple(year_end_time(targets["year"].to_numpy())), float(policy.cost_from),
                      year_end_time(policy.cost_to), float(base_time_step(config, info)))
    table = ens.fill_defaults(candidate_table(base, levers, settings_array))
    exec_settings = dataclasses.replace(ens.exec_settings(config),
                                        chunk_size=min(int(config.run.chunk_size), FINE_GRID_CHUNK_ROWS))
    values, folder = run_chunked(table, task, exec_settings, ens.chunk_cache(config), label, MODEL_FILE)
    if not np.isfinite(values).all():
        raise ModelError(f"{label}: non-finite model values for some lever settings; narrow experiment.levers")
    values = values.reshape(len(settings_array), len(base), -1)
    met = np.ones(values.shape[:2], dtype=bool)
    for k, t in enumerate(targets.itertuples(index=False)):
        met &= proj.meets(values[:, :, k], float(t.value), t.direction)
    return values[:, :, -1], met.mean(axis=1), folder


def base_time_step(config: RunConfig, info: ModelInfo) -> float:
    return float(config.params.get("TIME STEP", info.constants["TIME STEP"].default))


def search(config: RunConfig, policy: PolicySettings, info: ModelInfo, targets: pd.DataFrame):
    """Run the documented search; returns (candidates DataFrame, chunk folders, runs)."""
    box = lever_box(policy.levers, info)
    levers = list(box)
    required = float(policy.required_probability)
    if not 0.0 < required <= 1.0:
        raise ConfigError(f"experiment.required_probability: {required:g} is not in (0, 1]")
    if not ens.FIRST_YEAR - 6 <= int(policy.cost_from) <= int(policy.cost_to) <= ens.LAST_YEAR:
        raise ConfigError(f"experiment.cost_from/cost_to: {policy.cost_from}..{policy.cost_to} is not an ordered "
                          f"range of years up to {ens.LAST_YEAR}")
    base = ens.run_table(config, ens.posterior_draws(config))
    seed = int(config.run.seed)
    stages = [("initial", np.vstack([np.zeros(len(levers)), sobol_points(box, int(policy.samples), seed)]))]
    outlays, probabilities, settings_rows, stage_names, folders = [], [], [], [], []
    zero_outlay = None
    for round_number in range(int(policy.refine_rounds) + 1):
        name, points = stages[-1]
        outlay, probability, folder = evaluate_settings(points, levers, base, targets, policy, config, info,
                                                        f"policy {name}")
        folders.append(folder)
        if zero_outlay is None:
            zero_outlay = outlay[0]  # the first point is every searched lever at zero
        outlays.append((outlay - zero_outlay).mean(axis=1))
        probabilities.append(probability)
        settings_rows.append(points)
        stage_names += [name] * len(points)
        if round_number == int(policy.refine_rounds):
            break
        cost_all, prob_all = np.concatenate(outlays), np.concatenate(probabilities)
        all_points = np.vstack(settings_rows)
        feasible = prob_all >= required
        best = np.flatnonzero(feasible)[np.argmin(cost_all[feasible])] if feasible.any() else \
            np.lexsort((cost_all, -prob_all))[0]
        fraction = float(policy.refine_shrink) ** (round_number + 1)
        refined = sobol_points(refine_box(box, all_points[best], fraction), int(policy.refine_samples),
                               seed + round_number + 1)
        stages.append((f"refine {round_number + 1}", refined))
    cost = np.concatenate(outlays)
    probability = np.concatenate(probabilities)
    frame = pd.DataFrame(np.vstack(settings_rows), columns=[f"{lever}.change" for lever in levers])
    frame["cost_100m_yuan"] = cost
    frame["probability"] = probability
    frame["pareto"] = pareto_mask(cost, probability)
    frame["feasible"] = probability >= required
    frame["stage"] = stage_names
    return frame, folders, len(frame) * len(base)


def best_scenario(candidates: pd.DataFrame, config: RunConfig, policy: PolicySettings,
                  targets: pd.DataFrame) -> dict | None:
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
                            f"scenario {config.scenario.name!r}: extra fiscal outlay "
                            f"{row['cost_100m_yuan']:.1f} (100 million yuan, {policy.cost_from}-{policy.cost_to}) "
                            f"for a probability of {row['probability']:.2f} of meeting {wanted} "
                            f"(required {float(policy.required_probability):g}); parameter set "
                            f"{config.parameter_set.name!r}."),
            "levers": levers}


def run_policy_search(ctx: Context, out: Path) -> Written:
    policy = experiment_settings(ctx.config.experiment)
    names = list(policy.targets) if not isinstance(policy.targets, str) else [policy.targets]
    targets = dedupe_targets(proj.select_targets(names, ctx.targets, "experiment.targets"))
    candidates, folders, runs = search(ctx.config, policy, ctx.info, targets)
    candidates.to_csv(out / "policy_candidates.csv", index=False)
    best = best_scenario(candidates, ctx.config, policy, targets)
    if best is not None:
        (out / "policy_best.yaml").write_text(yaml.safe_dump(best, allow_unicode=True, sort_keys=False),
                                              encoding="utf-8")
    else:
        print(f"innosd run: policy_search: no evaluated lever setting reaches probability "
              f"{float(policy.required_probability):g}; see policy_candidates.csv (no policy_best.yaml)")
    if ctx.config.run.figures:
        draw_figure("pareto_front", out / "pareto_front", candidates, language=ctx.config.figures.language)
    uncosted = [lv for lv in lever_box(policy.levers, ctx.info) if lv not in COSTED_LEVERS]
    described = [proj.describe_target(t) for t in targets.itertuples(index=False)]
    return Written(folders, {"runs": runs, "targets": described,
                             "required_probability": float(policy.required_probability),
                             "levers_without_fiscal_cost": uncosted,
                             "cost_formula": "mean over draws of sum_{t in [cost_from, cost_to+1)} TIME STEP * "
                                             "(" + " + ".join(FISCAL_FLOWS) + ") minus the same with the searched "
                                             "levers at zero, 100 million yuan"})
