"""How much of a projection band is the economy and how much is the model.

A band (p05-p95 over an ensemble) mixes two sources of uncertainty: the model's parameters
(the calibration's posterior draws) and the outside world (the named uncertainties of
`scenarios/world/`, drawn beside them). `variance_shares` splits the variance of every
indicator and year on a full grid of K posterior draws x M outside-world draws (every draw
of one paired with every draw of the other), as a two-way analysis of variance:

    total = parameters (variance of the K row means) + world (of the M column means)
            + interaction (what neither main effect explains)

On a full grid the three sums of squares are non-negative and add up to the total exactly,
so the shares lie in [0, 1] and sum to 1. They are first-order (main-effect) shares in the
sense of Sobol; with finite K and M each main effect carries a small upward bias of about
interaction / (M or K), stated in the table as the grid sizes. The grid is its own ensemble,
separate from the paired draws of the projections; its draws come from the same seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from innosd.experiments import ensemble as ens
from innosd.model import MODEL_FILE
from innosd.model.indicators import Indicator
from innosd.model.info import model_info
from innosd.model.results import year_of_time
from innosd.scenarios import build
from innosd.scenarios.schema import RunConfig

SHARE_COLUMNS = ["share_parameters", "share_world", "share_interaction"]
VARIANCE_COLUMNS = ["scenario", "indicator", "model_variable", "year", "grid_median", "grid_sd",
                    *SHARE_COLUMNS, "parameter_draws", "world_draws"]
# A total variance below this share of the squared mean is no band at all (e.g. an input
# fixed before 2017): its shares are undefined (NaN), not 0/0 noise.
NO_SPREAD_RELATIVE = 1e-20


def variance_shares(values: np.ndarray) -> dict[str, np.ndarray]:
    """Two-way ANOVA shares of a (K, M, ...) grid: axis 0 the parameter draws, axis 1 the
    outside-world draws; returns share arrays of shape (...), NaN where nothing varies."""
    k, m = values.shape[:2]
    grand = values.mean(axis=(0, 1))
    total = ((values - grand) ** 2).sum(axis=(0, 1))
    parameters = m * ((values.mean(axis=1) - grand) ** 2).sum(axis=0)
    world = k * ((values.mean(axis=0) - grand) ** 2).sum(axis=0)
    interaction = np.maximum(total - parameters - world, 0.0)  # >= 0 exactly; rounding may dip below
    spread = total > NO_SPREAD_RELATIVE * np.maximum(grand ** 2, np.finfo(float).tiny) * k * m
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {name: np.where(spread, part / (parameters + world + interaction), np.nan)
                  for name, part in zip(SHARE_COLUMNS, (parameters, world, interaction))}
    return shares


def grid_inputs(config: RunConfig, n_parameters: int, n_world: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(posterior draws, world draws, K) of the K x M grid, row i * M + j = (draw i, world j)."""
    draws = ens.posterior_draws(config)
    draws = draws.iloc[:min(n_parameters, len(draws))].reset_index(drop=True)
    world = build.world_draws(config, model_info(MODEL_FILE), n_world, ens.held_constants(config, draws))
    k, m = len(draws), len(world)
    grid_draws = draws.iloc[np.repeat(np.arange(k), m)].reset_index(drop=True)
    grid_world = world.iloc[np.tile(np.arange(m), k)].reset_index(drop=True)
    return grid_draws, grid_world, k


def decomposition_table(configs: dict[str, RunConfig], indicators: list[Indicator], first_year: int,
                        last_year: int, label: str) -> tuple[pd.DataFrame | None, list]:
    """variance_shares.csv for every scenario (None if nothing to split: no posterior draws,
    the outside world held central, or no grid configured), and the chunk folders used."""
    first = next(iter(configs.values()))
    grid = first.uncertainty.decomposition
    if grid is None or ens.resolve_mode(first) == "none" or first.uncertainty.world == "central" \
            or not first.world.uncertainties:
        return None, []
    n_parameters, n_world = (int(x) for x in grid)
    columns = sorted({i.model_variable for i in indicators})
    times = ens.year_end_times(first_year, last_year)
    years = year_of_time(times).astype(int)
    frames, folders = [], []
    for scenario, config in configs.items():
        grid_draws, grid_world, k = grid_inputs(config, n_parameters, n_world)
        if grid_world.shape[1] == 0:
            return None, folders  # every world constant is held (command line or posterior)
        table = ens.run_table(config, grid_draws, grid_world)
        values, folder = ens.evaluate(table, columns, times, config, f"{label}: variance shares")
        folders.append(folder)
        m = n_world
        shaped = values.reshape(k, m, len(columns), len(times))
        shares = variance_shares(shaped)
        median = np.median(shaped.reshape(k * m, len(columns), len(times)), axis=0)
        sd = shaped.reshape(k * m, len(columns), len(times)).std(axis=0, ddof=1)
        for ind in indicators:
            c = columns.index(ind.model_variable)
            frames.append(pd.DataFrame({
                "scenario": scenario, "indicator": ind.id, "model_variable": ind.model_variable, "year": years,
                "grid_median": median[c], "grid_sd": sd[c], **{s: shares[s][c] for s in SHARE_COLUMNS},
                "parameter_draws": k, "world_draws": m}))
    return pd.concat(frames, ignore_index=True)[VARIANCE_COLUMNS], folders
