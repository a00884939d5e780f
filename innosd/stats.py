"""Summaries of draws shared by every layer: one spelling for "the central band"."""

from __future__ import annotations

import numpy as np

# The house band: 90% central, the 5th to 95th percentile of the draws, everywhere a band is shown
# (projections, the calibration's fit, the backtest) unless a caller asks for another level.
BAND_LEVEL = 0.90


def central_band(values: np.ndarray, level: float = BAND_LEVEL, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): the `level` central interval of `values` over `axis`, equal tails."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"band level must lie in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail], axis=axis)
    return low, high
