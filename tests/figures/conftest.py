"""Session fixtures for the figure and report tests (table builders: figure_fixtures.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from innosd.calibration.data import load_observations, load_targets


@pytest.fixture(scope="session")
def observations() -> pd.DataFrame:
    return load_observations()


@pytest.fixture(scope="session")
def targets() -> pd.DataFrame:
    return load_targets()
