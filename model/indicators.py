"""The indicator catalogue: one entry type for every indicator the model computes.

An indicator is an id of the data files (calibration/data observations.csv and
targets.csv), the model variable that computes it and its unit as the data files state
it. Its display names (en/zh) and display scale live in figures/labels.yaml only. The
data, the experiments, the figures and the report all use this one type.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from innosd.errors import ConfigError, closest

MODELLED_REGION = "Guangzhou"  # the data files also hold other cities for comparison


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry: data-file id, the model variable computing it, the data files' unit."""

    id: str
    model_variable: str
    unit: str


# The ten indicators every report, run summary and integration check shows first, in this
# order (units as in the data files; tests check they agree with the files).
KEY_INDICATORS = (
    Indicator("high_tech_enterprises", "high tech enterprises", "firms"),
    Indicator("tech_innovation_enterprises", "tech innovation enterprises database count", "firms"),
    Indicator("incubators", "incubators", "incubators"),
    Indicator("maker_spaces", "maker spaces", "maker spaces"),
    Indicator("rd_expenditure", "rd expenditure annual", "100 million yuan/Year"),
    Indicator("rd_intensity", "rd intensity", "Dmnl"),
    Indicator("rd_personnel_fte", "rd personnel fte", "FTE"),
    Indicator("invention_patents_per_10k", "invention patents per 10k", "patents per 10k residents"),
    Indicator("tech_contract_turnover", "tech contract turnover annual", "100 million yuan/Year"),
    Indicator("neeq_listed_firms", "neeq listed firms", "firms"),
)


def model_indicators(observations: pd.DataFrame, targets: pd.DataFrame) -> list[Indicator]:
    """Every Guangzhou indicator of observations.csv/targets.csv with a model variable (first unit seen)."""
    rows = pd.concat([observations[["indicator", "model_variable", "unit", "region"]],
                      targets[["indicator", "model_variable", "unit", "region"]]])
    rows = rows[(rows["region"] == MODELLED_REGION)
                & rows["model_variable"].fillna("").astype(str).str.strip().ne("")]
    first = rows.drop_duplicates("indicator")
    return [Indicator(r.indicator, r.model_variable, r.unit) for r in first.itertuples(index=False)]


def select_indicators(names: list[str] | str, available: list[Indicator], key: str) -> list[Indicator]:
    """`all` or a list of indicator ids; unknown ids -> one-line error with the valid ones."""
    if names in ("all", None):
        return list(available)
    by_id = {i.id: i for i in available}
    chosen = []
    for name in names if isinstance(names, list) else [names]:
        if name not in by_id:
            raise ConfigError(f"{key}: unknown indicator {name!r}{closest(str(name), by_id)}; "
                              f"valid indicators: {', '.join(sorted(by_id))}")
        chosen.append(by_id[name])
    if not chosen:
        raise ConfigError(f"{key}: the list of indicators is empty")
    return chosen
