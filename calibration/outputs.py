"""Write a calibration result into a run folder (files and columns as in docs/outputs.md).

The caller provides the (temporary, atomically renamed) folder and the provenance
attributes; this module only turns a `CalibrationResult` into files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from innosd.calibration import tables
from innosd.calibration.priors import to_natural
from innosd.calibration.workflow import CalibrationResult

PARAMETER_COLUMNS = ["parameter", "units", "prior", "prior_lower", "prior_upper", "prior_mean", "prior_sd",
                     "posterior_mean", "posterior_sd", "p05", "p50", "p95", "shrinkage", "rhat", "ess_bulk",
                     "ess_tail", "identified", "at_bound", "sampled"]
# The convergence rule of summary.md (Vehtari, Gelman, Simpson, Carpenter & Buerkner 2021): split
# rank-normalised R-hat at most 1.01 and bulk and tail ESS at least 400 for every free constant.
RHAT_OK = 1.01
ESS_OK = 400
# Profile threshold: a 95% profile-likelihood interval spans where -log posterior is within
# chi2(1, 0.95) / 2 = 1.92 of its minimum (Raue et al. 2009).
PROFILE_DELTA = 3.84 / 2


def _max_or_nan(values: np.ndarray) -> float:
    """Largest finite value; NaN if none (emcee gives NaN when a walker never moved)."""
    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    return float(finite.max()) if finite.size else float("nan")


def observation_labels(table: pd.DataFrame) -> list[str]:
    return [f"{i}@{int(y)}" if pd.notna(y) else f"{i}@t={t:g}"
            for i, y, t in zip(table["indicator"], table["year"], table["time"])]


def inference_data(result: CalibrationResult, attrs: dict[str, str]):
    """ArviZ InferenceData: posterior, prior, posterior_predictive (every observation, with its
    observation error), log_likelihood (likelihood rows only, for LOO), observed_data and
    sample_stats; provenance attrs on every group. Walkers are the chains."""
    import warnings

    import arviz as az

    names = result.names
    natural = to_natural(result.priors, result.flat).reshape(result.chain.shape)
    prior_nat = to_natural(result.priors, result.prior_draws)
    table = result.observations.table
    labels = observation_labels(table)
    mask = result.observations.likelihood_mask
    likelihood_labels = [label for label, m in zip(labels, mask) if m]
    walkers, draws = result.chain.shape[:2]
    chain_coords = {"chain": np.arange(walkers), "draw": np.arange(draws)}
    with warnings.catch_warnings():  # "more chains than draws" is expected: walkers are the chains
        warnings.simplefilter("ignore", UserWarning)
        idata = az.from_dict(
            posterior={n: natural[:, :, j] for j, n in enumerate(names)},
            prior={n: prior_nat[None, :, j] for j, n in enumerate(names)},
            sample_stats={"lp": result.log_prob},
        )
        idata.add_groups(
            posterior_predictive=xr.Dataset({"y": (("chain", "draw", "observation"), result.replicated)},
                                            coords={**chain_coords, "observation": labels}),
            log_likelihood=xr.Dataset({"y": (("chain", "draw", "likelihood_observation"),
                                             result.pointwise_log_likelihood)},
                                      coords={**chain_coords, "likelihood_observation": likelihood_labels}),
            observed_data=xr.Dataset({"y": (("observation",), table["observed"].to_numpy(dtype=float))},
                                     coords={"observation": labels}),
        )
    for group in idata.groups():
        dataset = getattr(idata, group)
        dataset.attrs.update({k: str(v) for k, v in attrs.items()})
    idata.sample_stats.attrs["acceptance_fraction_mean"] = float(np.mean(result.acceptance))
    idata.sample_stats.attrs["acceptance_fraction_min"] = float(np.min(result.acceptance))
    idata.sample_stats.attrs["autocorr_steps_max"] = _max_or_nan(result.autocorr_steps)
    idata.observed_data.attrs["sigma"] = ",".join(f"{s:g}" for s in result.fit["sigma"])
    idata.observed_data.attrs["in_likelihood"] = ",".join(str(bool(m)).lower() for m in mask)
    idata.posterior.attrs["converged"] = str(convergence_verdict(result)["converged"]).lower()
    idata.posterior.attrs["sampler"] = str(result.sampler_info.get("method", "emcee"))
    if result.log_evidence is not None:  # SMC's estimate of log p(data): quoted by --compare-models
        idata.posterior.attrs["log_evidence"] = f"{result.log_evidence:.3f}"
    return idata


# Pareto-k thresholds of PSIS-LOO (Vehtari, Simpson, Gelman, Yao & Gabry 2024): above 0.7 the
# importance-sampling estimate of that observation's elpd is unreliable; 0.5-0.7 is ok but worse.
PARETO_K_BAD = 0.7
PARETO_K_OK = 0.5


def loo_table(result: CalibrationResult) -> tuple[pd.DataFrame, dict]:
    """PSIS-LOO (ArviZ) per likelihood observation, and the totals (elpd_loo, its SE, p_loo,
    Pareto-k counts). Walkers of one ensemble are not independent chains, but LOO only needs
    posterior draws."""
    import warnings

    import arviz as az

    table = result.observations.table[result.observations.likelihood_mask]
    draws = result.pointwise_log_likelihood
    with warnings.catch_warnings():  # a high Pareto k is reported in the table, not as a warning
        warnings.simplefilter("ignore")
        # ArviZ takes the chain layout from a posterior group (for the relative efficiency)
        loo = az.loo(az.from_dict(posterior={"lp": result.log_prob}, log_likelihood={"y": draws}),
                     pointwise=True)
    k = np.asarray(loo.pareto_k).ravel()
    pointwise = np.asarray(loo.loo_i).ravel()
    frame = pd.DataFrame({"indicator": table["indicator"].to_numpy(), "year": table["year"].to_numpy(),
                          "time": table["time"].to_numpy(),
                          "elpd_loo": pointwise, "pareto_k": k})
    totals = {"elpd_loo": float(loo.elpd_loo), "se": float(loo.se), "p_loo": float(loo.p_loo),
              "n": int(len(k)), "k_bad": int((k > PARETO_K_BAD).sum()),
              "k_ok": int(((k > PARETO_K_OK) & (k <= PARETO_K_BAD)).sum()), "k_good": int((k <= PARETO_K_OK).sum())}
    return frame, totals


def write_tables(folder: Path, result: CalibrationResult) -> None:
    result.fit.to_csv(folder / "fit.csv", index=False)
    loo_table(result)[0].to_csv(folder / "loo.csv", index=False)
    result.parameters[PARAMETER_COLUMNS].to_csv(folder / "parameters.csv", index=False)
    result.correlations.to_csv(folder / "correlations.csv")
    result.profiles.to_csv(folder / "profiles.csv", index=False)
    result.starts.to_csv(folder / "optimisation_starts.csv", index=False)


def timing_lines(result: CalibrationResult) -> list[str]:
    t = result.timings
    total = sum(t.seconds.values())
    lines = [f"| {stage} | {t.seconds[stage]:.1f} s | {t.evaluations[stage]:,} |" for stage in t.seconds]
    core = t.seconds.get("optimisation", 0.0) + t.seconds.get("mcmc", 0.0)
    core_evals = t.evaluations.get("optimisation", 0) + t.evaluations.get("mcmc", 0)
    return (["| stage | wall time | model evaluations |", "|---|---|---|"] + lines
            + [f"| **optimisation + MCMC** | **{core:.1f} s** | **{core_evals:,}** |",
               f"| all stages | {total:.1f} s | {sum(t.evaluations.values()):,} |"])


def _profile_verdict(profile: pd.DataFrame) -> str:
    values = profile["neg_log_posterior"].to_numpy()
    rise = values.max() - values.min()
    grid = profile["value"].to_numpy()
    inside = grid[values <= values.min() + PROFILE_DELTA]
    span = f"{inside.min():.4g} to {inside.max():.4g}"
    if rise < PROFILE_DELTA:
        return f"flat (rises by {rise:.2f} < {PROFILE_DELTA:.2f} over {grid.min():.4g}-{grid.max():.4g}): not pinned down alone"
    at_edge = inside.min() <= grid.min() or inside.max() >= grid.max()
    return (f"95% profile interval {span}" + (" (open at the grid edge)" if at_edge else "")
            + f"; rises by {rise:.1f}")


def converged(parameters: pd.DataFrame) -> bool:
    """The rule: every free constant has R-hat <= RHAT_OK and bulk and tail ESS >= ESS_OK."""
    return bool((parameters["rhat"] <= RHAT_OK).all() and (parameters["ess_bulk"] >= ESS_OK).all()
                and (parameters["ess_tail"] >= ESS_OK).all())


def convergence_verdict(result: CalibrationResult) -> dict:
    """The verdict as plain values (summary.md, the hand-off, posterior.nc attributes)."""
    p = result.parameters
    return {"converged": converged(p), "rule": f"split rank-normalised R-hat <= {RHAT_OK}, bulk and tail ESS >= {ESS_OK}",
            "rhat_max": round(float(p["rhat"].max()), 4), "ess_bulk_min": round(float(p["ess_bulk"].min()), 1),
            "ess_tail_min": round(float(p["ess_tail"].min()), 1),
            "acceptance_mean": round(float(np.mean(result.acceptance)), 3),
            "optimiser_converged": bool(result.starts["converged"].all())}


def sampler_line(result: CalibrationResult) -> str:
    info = result.sampler_info
    if info.get("method") != "smc_hmc":
        return (f"emcee ensemble, {info.get('walkers', result.chain.shape[0])} walkers, "
                f"{info.get('steps', '?')} steps.")
    return (f"tempered SMC (Del Moral, Doucet & Jasra 2006) of {info['particles']} particles, {info['stages']} "
            f"temperatures, {info['smc_steps']} random-walk steps; log evidence {result.log_evidence:.2f}; then "
            f"{info['chains']} independent HMC chains from its particles, {info['warmup']} warm-up + "
            f"{info['iterations']} iterations of {info['leapfrogs']} leapfrog steps (step {info['step_size']:.3f} "
            "in posterior sds, finite-difference gradients).")


def convergence_lines(result: CalibrationResult) -> list[str]:
    p = result.parameters
    verdict = convergence_verdict(result)
    lines = [("**Converged**" if verdict["converged"] else "**Not converged**")
             + f" by the rule ({verdict['rule']} for every free constant): R-hat max {verdict['rhat_max']:.3f}, "
             f"bulk ESS min {verdict['ess_bulk_min']:.0f}, tail ESS min {verdict['ess_tail_min']:.0f}, "
             f"acceptance {verdict['acceptance_mean']:.2f}."
             + ("" if verdict["converged"] else " Posterior quantiles are indicative only; raise "
                + ("`calibration.sampler.iterations`" if result.sampler_info.get("method") == "smc_hmc"
                   else "`calibration.sampler.steps` (and `burn`)") + " for a final analysis."), ""]
    if result.inert:
        lines += [f"Drawn from the prior, not sampled ({len(result.inert)}): "
                  + ", ".join(f"`{n}`" for n in result.inert)
                  + ". No observed value depends on them (moving each to either bound changes no simulated "
                  "observation), so their posterior is exactly their prior.", ""]
    starts = result.starts
    lines += ["Optimiser (L-BFGS-B on the unit box; gradient by forward differences): "
              + ("every start converged." if starts["converged"].all() else
                 f"**{int((~starts['converged']).sum())} of {len(starts)} starts did not converge** "
                 "(they stopped at the iteration limit or in a line search; the sampler starts from the best).")
              , "", "| start | from | -log posterior | iterations | converged | projected gradient norm | message |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.start} | {r['from']} | {r.neg_log_posterior:.4f} | {r.iterations} | {r.converged} | "
              f"{r.gradient_norm:.2g} | {r.message} |" for _, r in starts.iterrows()]
    piled = p[p["at_bound"].astype(str).str.len() > 0]
    lines += ["", "**Posterior piled at a prior bound** (the bound, not the data, sets that end of the interval; "
              "widen the prior if its source allows): "
              + (", ".join(f"`{r.parameter}` at its {r.at_bound} bound "
                           f"({r.prior_lower if r.at_bound == 'lower' else r.prior_upper:g}; p05-p95 "
                           f"{r.p05:.4g}-{r.p95:.4g})" for r in piled.itertuples()) or "none") + "."]
    return lines


def fixed_lines(fixed) -> list[str]:
    """The constants `calibration.fixed` holds at a sourced value: (name, value, source) each."""
    if not fixed:
        return []
    return ([f"Held at a sourced value, not calibrated ({len(fixed)}; `calibration.fixed`): the data are silent "
             "about them (posterior about as wide as the prior) or they move only together with another "
             "constant, so freeing them added dimensions the sampler had to explore without evidence.", ""]
            + [f"- `{n}` = {v:g}: {source}" for n, v, source in fixed] + [""])


def summary_markdown(result: CalibrationResult, name: str, run_dir: str, git_commit: str, fixed=()) -> str:
    p = result.parameters
    fit = result.fit
    pinned = p[p["identified"]]["parameter"].tolist()
    pairs = tables.strong_pairs(result.correlations)
    combos = tables.pinned_combinations(result.priors, result.prior_draws, result.flat, p)
    in_pairs = {a for a, b, _ in pairs} | {b for a, b, _ in pairs}
    loose = [n for n in p.loc[~p["identified"], "parameter"] if n not in in_pairs]
    partial = [n for n in p.loc[~p["identified"], "parameter"] if n in in_pairs]
    lk = fit[fit["in_likelihood"]]
    window = fit[fit["year"].between(2014, 2016) | fit["year"].isna()]  # the user's time-stamped rows: all
    missed = window[~window["within_error"]]
    bad_rhat = p[p["rhat"] > RHAT_OK]
    out = [f"# Calibration `{name}`", "",
           f"Run folder `{run_dir}`, git commit `{git_commit}`, seed {result.seed}. "
           f"{len(result.names)} free constants, {int(lk.shape[0])} observations in the likelihood "
           f"({fit.shape[0] - lk.shape[0]} more compared as checks).", "",
           *fixed_lines(fixed),
           "## Convergence", "",
           *convergence_lines(result), "",
           "## What the data pin down", "",
           f"**Pinned down by the data alone** (posterior variance at most {1 - tables.IDENTIFIED_SHRINKAGE:.0%} "
           f"of the prior's, on the prior's working scale): "
           + (", ".join(f"`{n}` ({v:.0%} shrinkage)" for n, v in zip(pinned, p.loc[p['identified'], 'shrinkage']))
              or "none") + ".", "",
           f"**Pinned down only in combination** (little shrinkage alone, but posterior correlation "
           f"|r| >= {tables.COMBINATION_CORRELATION} with another constant): "
           + (", ".join(f"`{n}`" for n in partial) or "none") + ".", ""]
    if pairs:
        out += ["Strongly correlated pairs (working scale):", ""]
        out += [f"- `{a}` and `{b}`: r = {r:+.2f}" for a, b, r in pairs[:15]] + [""]
    if combos:
        out += [f"Combinations the data fix although their members are loose (directions of the "
                f"prior-standardised posterior with sd <= {tables.COMBINATION_SD_RATIO} of the prior's):", ""]
        out += [f"- sd ratio {sd:.2f}: {label}" for sd, label in combos[:10]] + [""]
    out += ["**Not informed by these data** (posterior close to the prior): "
            + (", ".join(f"`{n}`" for n in loose) or "none") + ". Their spread is carried into every "
            "projection through the posterior draws; it is prior knowledge, not evidence from 2013-2016.", ""]
    if not result.profiles.empty:
        out += ["### Profile likelihoods", ""]
        for param, group in result.profiles.groupby("parameter", sort=False):
            out.append(f"- `{param}`: {_profile_verdict(group)}")
        out.append("")
    out += ["## Fit", "",
            f"`within_error` means the observation lies within {tables.WITHIN_ERROR_SIGMAS:g} stated sigmas "
            "(log scale) of the posterior median. Only likelihood rows count as evidence; check rows "
            "(derived, circular or exogenous figures, kept out of the likelihood) are reported separately.", ""]
    checks = window[~window["in_likelihood"]]
    lk_window = window[window["in_likelihood"]]
    out += [f"- Likelihood rows 2014-2016 within their stated error: {int(lk_window['within_error'].sum())} of "
            f"{len(lk_window)}; within one sigma: "
            f"{int((np.abs(np.log1p(lk_window['error_rel'])) <= lk_window['sigma']).sum())}.",
            f"- Check rows 2014-2016 (not in the likelihood) within their stated error: "
            f"{int(checks['within_error'].sum())} of {len(checks)}.",
            f"- Likelihood rows inside their 90% posterior predictive band (model and observation error; "
            f"`p05`-`p95` of fit.csv): {int(lk['in_band'].sum())} of {len(lk)}.",
            f"- Mean absolute relative error (likelihood rows): {np.mean(np.abs(lk['error_rel'])):.1%}.", ""]
    _, loo = loo_table(result)
    out += ["### Predictive accuracy (PSIS-LOO, ArviZ)", "",
            f"elpd_loo {loo['elpd_loo']:.2f} (SE {loo['se']:.2f}), effective parameters p_loo {loo['p_loo']:.1f}, "
            f"over {loo['n']} likelihood observations. Pareto k: {loo['k_good']} good (<= {PARETO_K_OK}), "
            f"{loo['k_ok']} ok ({PARETO_K_OK}-{PARETO_K_BAD}), {loo['k_bad']} bad (> {PARETO_K_BAD}: that "
            "observation's LOO estimate is unreliable; it is influential, often one figure per parameter). "
            "Per observation: loo.csv. Compare two calibrations with `innosd calibrate --compare RUN_A RUN_B`.", ""]
    if len(missed):
        out += ["Observations 2014-2016 the calibrated model does **not** reproduce within their stated error:", ""]
        out += [f"- `{r.indicator}` {r.year}: observed {r.observed:.4g}, posterior median {r.median:.4g} "
                f"({r.error_rel:+.1%}, sigma {r.sigma:g})" + ("" if r.in_likelihood else " [check only]")
                for r in missed.itertuples()] + [""]
    else:
        out += ["Every 2014-2016 observation is reproduced within its stated error.", ""]
    out += ["## Sampler diagnostics", "",
            f"- Acceptance fraction: mean {np.mean(result.acceptance):.2f} "
            f"(walkers {np.min(result.acceptance):.2f}-{np.max(result.acceptance):.2f}).",
            f"- Split rank-normalised R-hat (ArviZ, "
            f"{'independent HMC chains' if result.sampler_info.get('method') == 'smc_hmc' else 'walkers as chains'}): "
            f"max {p['rhat'].max():.3f}"
            + (f"; {len(bad_rhat)} of {len(p)} above {RHAT_OK} (worst: "
               + ", ".join(f"`{r.parameter}` {r.rhat:.3f}" for r in bad_rhat.nlargest(5, 'rhat').itertuples()) + ")"
               if len(bad_rhat) else f", all <= {RHAT_OK}") + ".",
            f"- Bulk ESS: min {p['ess_bulk'].min():.0f}, median {p['ess_bulk'].median():.0f}; "
            f"tail ESS: min {p['ess_tail'].min():.0f}, median {p['ess_tail'].median():.0f}.",
            f"- Integrated autocorrelation time (sampled constants): max {_max_or_nan(result.autocorr_steps):.0f} "
            f"{result.autocorr_unit} (retained chain {result.chain.shape[1]} draws x {result.chain.shape[0]} "
            f"{'chains' if result.sampler_info.get('method') == 'smc_hmc' else 'walkers'}).",
            f"- Sampler: {sampler_line(result)}", "",
            "## Timing (shared 2-core machine; other jobs were running)", ""]
    out += timing_lines(result) + [""]
    return "\n".join(out)
