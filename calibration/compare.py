"""Compare two calibration runs (e.g. two model variants fitted to the same figures) by PSIS-LOO.

    compare_runs(folder_a, folder_b) -> markdown text
    check_same_rows(observations_a, observations_b, name_a, name_b)   before calibrating two variants

Reads each run's `posterior.nc` (its `log_likelihood` and `observed_data` groups) through ArviZ;
the two runs must score the same likelihood observations (labels and observed values), or their
elpd values are not comparable. The
difference's SE is from the pointwise differences (Vehtari, Gelman & Gabry 2017, eq. 24).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from innosd.calibration.likelihood import ObservationSet
from innosd.calibration.outputs import PARETO_K_BAD, observation_labels

from innosd.errors import ConfigError, DataError

POSTERIOR_FILE = "posterior.nc"


def _loo(folder: Path):
    import arviz as az

    path = Path(folder) / POSTERIOR_FILE
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected the folder of an `innosd calibrate` run")
    try:
        idata = az.from_netcdf(str(path))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not readable as ArviZ InferenceData ({' '.join(str(err).split())})") from None
    if "log_likelihood" not in idata.groups():
        raise DataError(f"{path}: no log_likelihood group (a calibration from before issue 13); rerun it")
    with warnings.catch_warnings():  # high Pareto k values are reported, not warned about
        warnings.simplefilter("ignore")
        loo = az.loo(idata, pointwise=True)
    labels = [str(v) for v in idata.log_likelihood["likelihood_observation"].to_numpy()]
    observed = dict(zip((str(v) for v in idata.observed_data["observation"].to_numpy()),
                        idata.observed_data["y"].to_numpy().tolist()))
    attrs = idata.posterior.attrs
    return (loo, [(label, observed.get(label)) for label in labels], attrs.get("log_evidence"),
            attrs.get("model_file", ""), attrs.get("converged", "?"))


def scored_rows(observations: ObservationSet) -> list[tuple[str, float]]:
    """(label, observed value) of every likelihood row, in the order the log-likelihood stores them."""
    table = observations.table
    mask = observations.likelihood_mask
    return [(label, float(value)) for label, value, m in
            zip(observation_labels(table), table["observed"], mask) if m]


def _difference(rows_a: list[tuple[str, float]], rows_b: list[tuple[str, float]]) -> str:
    """'' if the two score the same rows with the same observed values; else what differs, briefly."""
    labels_a, labels_b = [r[0] for r in rows_a], [r[0] for r in rows_b]
    if labels_a != labels_b:
        only = sorted(set(labels_a) ^ set(labels_b))
        return f"different likelihood observations (e.g. {', '.join(only[:3]) or 'a different order'})"
    changed = [a[0] for a, b in zip(rows_a, rows_b) if not np.isclose(a[1], b[1], rtol=1e-12, atol=0.0)]
    return f"different observed values (e.g. {', '.join(changed[:3])})" if changed else ""


def check_same_rows(observations_a: ObservationSet, observations_b: ObservationSet, name_a: str, name_b: str) -> None:
    """One line (ConfigError) unless both calibrations score the same observation rows with the same
    values: before spending minutes on two calibrations whose LOO could not be compared."""
    problem = _difference(scored_rows(observations_a), scored_rows(observations_b))
    if problem:
        raise ConfigError(f"{name_a} and {name_b} score {problem}; their LOO values would not be comparable "
                          "(give both the same calibration.observations)")


def compare_runs(folder_a: Path, folder_b: Path) -> str:
    """A markdown comparison: elpd_loo of each, the difference B - A with its SE, Pareto-k counts,
    and the log evidence where the sampler estimated it (`calibration.sampler.method=smc_hmc`;
    emcee, the default, does not)."""
    loo_a, labels_a, evidence_a, model_a, converged_a = _loo(folder_a)
    loo_b, labels_b, evidence_b, model_b, converged_b = _loo(folder_b)
    problem = _difference(labels_a, labels_b)
    if problem:
        raise DataError(f"{folder_a} and {folder_b} score {problem}; their LOO values are not comparable")
    diff = np.asarray(loo_b.loo_i).ravel() - np.asarray(loo_a.loo_i).ravel()
    se = float(np.sqrt(len(diff) * np.var(diff)))
    lines = ["| run | model | converged (R-hat, ESS rule) | elpd_loo | SE | p_loo | Pareto k > 0.7 | log evidence |",
             "|---|---|---|---|---|---|---|---|"]
    bad_k = 0
    for name, folder, loo, evidence, model, converged in (
            ("A", folder_a, loo_a, evidence_a, model_a, converged_a),
            ("B", folder_b, loo_b, evidence_b, model_b, converged_b)):
        k = np.asarray(loo.pareto_k).ravel()
        bad_k += int((k > PARETO_K_BAD).sum())
        lines.append(f"| {name} `{folder}` | {model or '?'} | {converged} | {float(loo.elpd_loo):.2f} | "
                     f"{float(loo.se):.2f} | {float(loo.p_loo):.1f} | {int((k > PARETO_K_BAD).sum())} of {len(k)} | "
                     f"{evidence if evidence is not None else 'not computed (emcee; smc_hmc estimates it)'} |")
    verdict = ("B predicts better" if diff.sum() > 2 * se else "A predicts better" if diff.sum() < -2 * se
               else "no clear difference (|difference| < 2 SE)")
    lines += ["", f"elpd_loo difference B - A: {diff.sum():+.2f} (SE {se:.2f}) over {len(diff)} observations: {verdict}."]
    caveats = []
    unconverged = [n for n, c in (("A", converged_a), ("B", converged_b)) if c != "true"]
    if unconverged:
        caveats.append(f"{' and '.join(unconverged)} did not meet the convergence rule (summary.md): "
                        "the elpd values are indicative only")
    if bad_k:
        caveats.append(f"{bad_k} pointwise estimates have Pareto k > {PARETO_K_BAD} (PSIS-LOO unreliable there; "
                       "refit without those observations, or K-fold, for a firm verdict)")
    if caveats:
        lines.append("Caveats: " + "; ".join(caveats) + ".")
    return "\n".join(lines)
