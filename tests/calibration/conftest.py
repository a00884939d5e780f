"""One numba thread for the calibration tests, as `innosd calibrate` uses by default
(`run.threads` in scenarios/calibrate.yaml): small ensemble batches run faster without
waking a thread pool on the shared machine."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_numba_thread():
    from innosd.experiments.calibrate import use_threads

    use_threads(1)
