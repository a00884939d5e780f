"""Compare two calibration runs (e.g. two model variants fitted to the same figures) by PSIS-LOO.

    compare_runs(folder_a, folder_b) -> markdown text

Reads each run's `posterior.nc` (its `log_likelihood` group) through ArviZ; the two runs must
score the same likelihood observations, or their elpd values are not comparable. The
difference's SE is from the pointwise differences (Vehtari, Gelman & Gabry 2017, eq. 24).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from innosd.errors import DataError

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
    evidence = idata.posterior.attrs.get("log_evidence")
    return loo, labels, evidence, idata.posterior.attrs.get("model_file", "")


def compare_runs(folder_a: Path, folder_b: Path) -> str:
    """A markdown comparison: elpd_loo of each, the difference B - A with its SE, Pareto-k counts,
    and the log evidence where a nested sampler ran (none does by default)."""
    loo_a, labels_a, evidence_a, model_a = _loo(folder_a)
    loo_b, labels_b, evidence_b, model_b = _loo(folder_b)
    if labels_a != labels_b:
        only = sorted(set(labels_a) ^ set(labels_b))
        raise DataError(f"{folder_a} and {folder_b} score different likelihood observations "
                        f"(e.g. {', '.join(only[:3]) or 'a different order'}); their LOO values are not comparable")
    diff = np.asarray(loo_b.loo_i).ravel() - np.asarray(loo_a.loo_i).ravel()
    se = float(np.sqrt(len(diff) * np.var(diff)))
    lines = ["| run | model | elpd_loo | SE | p_loo | Pareto k > 0.7 | log evidence |", "|---|---|---|---|---|---|---|"]
    for name, folder, loo, evidence, model in (("A", folder_a, loo_a, evidence_a, model_a),
                                               ("B", folder_b, loo_b, evidence_b, model_b)):
        k = np.asarray(loo.pareto_k).ravel()
        lines.append(f"| {name} `{folder}` | {model or '?'} | {float(loo.elpd_loo):.2f} | {float(loo.se):.2f} | "
                     f"{float(loo.p_loo):.1f} | {int((k > 0.7).sum())} of {len(k)} | "
                     f"{evidence if evidence is not None else 'not computed (no nested sampler ran)'} |")
    verdict = ("B predicts better" if diff.sum() > 2 * se else "A predicts better" if diff.sum() < -2 * se
               else "no clear difference (|difference| < 2 SE)")
    lines += ["", f"elpd_loo difference B - A: {diff.sum():+.2f} (SE {se:.2f}) over {len(diff)} observations: {verdict}."]
    return "\n".join(lines)
