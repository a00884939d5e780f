"""What each policy lever means, what it scales and what it costs.

The lever list and each lever's meaning come from the model (`innosd.model.info`: every
`<lever> scenario change` constant and its comment), so a lever added to the .mdl shows up
here without code changes; `scenarios/levers.yaml` adds what the .mdl cannot hold: the
variable the lever scales and its cost model (unit costs with their basis and source).

    docs = lever_docs(model_info())          # {lever: LeverDoc}, every lever of the model
    docs["talent"].cost                      # {'talent programme admissions': 0.01}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from innosd.errors import ConfigError, closest, expect_mapping
from innosd.model.info import ModelInfo, lever_constant, lever_names
from innosd.scenarios import CONFIG_DIR, compose

LEVERS_FILE = CONFIG_DIR / "levers.yaml"
COST_BASES = ("model", "assumption", "sourced")
COST_UNIT = "100 million yuan (亿元), nominal"


@dataclass(frozen=True)
class LeverDoc:
    """One lever: its id, meaning (the .mdl comment), declared range of `change`, the variable
    it scales, and its cost model ({model variable: unit cost in 亿元 per unit x year})."""

    lever: str
    meaning: str
    lower: float
    upper: float
    scales: str                 # model variable multiplied by (1 + change x ramp); "" if unknown
    cost: dict[str, float]      # empty: no cost model
    basis: str                  # model | assumption | sourced | "" (no cost model)
    source: str


def _meaning(comment: str) -> str:
    """The .mdl comment without its 'Policy lever:' prefix, on one line."""
    text = " ".join(str(comment).replace("\\", " ").split())
    return text.split(":", 1)[1].strip() if text.lower().startswith("policy lever") and ":" in text else text


def lever_docs(info: ModelInfo, path: Path = LEVERS_FILE) -> dict[str, LeverDoc]:
    """Every lever of the model with its documentation; one-line errors for a malformed file."""
    raw = expect_mapping(compose.check_yaml(path), f"{path}: (top level)", ConfigError) if path.is_file() else {}
    levers = lever_names(info)
    for name in raw:
        if name not in levers:
            raise ConfigError(f"{path}: {name}: not a lever of the model{closest(str(name), levers)}; "
                              f"levers: {', '.join(levers)}")
    docs = {}
    for lever in levers:
        constant = info.constants[lever_constant(lever)]
        entry = expect_mapping(raw.get(lever) or {}, f"{path}: {lever}", ConfigError)
        scales = str(entry.get("scales", ""))
        cost = expect_mapping(entry.get("cost") or {}, f"{path}: {lever}.cost", ConfigError)
        for variable in [scales, *cost] if scales else list(cost):
            if variable not in info.units:
                raise ConfigError(f"{path}: {lever}: {variable!r} is not a model variable"
                                  f"{closest(str(variable), info.units)}")
        try:
            cost = {str(k): float(v) for k, v in cost.items()}
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: {lever}.cost: unit costs must be numbers, got {entry.get('cost')!r}") from None
        basis = str(entry.get("basis", "")) if cost else ""
        if cost and basis not in COST_BASES:
            raise ConfigError(f"{path}: {lever}.basis: {basis!r} is not one of {', '.join(COST_BASES)}")
        docs[lever] = LeverDoc(lever, _meaning(constant.comment), constant.lower, constant.upper, scales, cost,
                               basis, " ".join(str(entry.get("source", "")).split()))
    return docs
