"""ACTIVE INITIAL and SMOOTH initialisation as Vensim documents them, derived by hand.

Vensim's manual: ACTIVE INITIAL(active, initial) is `initial` while the model
initialises and `active` during the run; SMOOTH/SMOOTH3 start at their input's value
*at initialisation*, and an INTEG's initial value is evaluated at initialisation too.
So a smooth of an ACTIVE INITIAL variable starts at the initial value, not at the run
value.  `models/active_initial_smooth.mdl` (dt = 1): demand = ACTIVE INITIAL(10 + Time, 100).

World3-03 (issue 16: "differs from PySD by up to 6.7%") is settled by
`models/active_initial_fractional.mdl` below and by `test_world3.py` (opt-in; Vensim's
own output): the compiled core follows Vensim; PySD 3.14 loses the first step of a SMOOTH
whose initial value is an integer literal (its state array gets an integer dtype and the
first input is truncated), see tests/engine/sd_models_report.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from innosd.model import compile_model
from tests.engine import sdmodels as S

MODELS = Path(__file__).parent / "models"
MODEL = MODELS / "active_initial_smooth.mdl"

# smoothed demand: s0 = 100 (demand at initialisation); s(n+1) = s + (demand(n) - s) / 2
SMOOTHED = [100.0, 55.0, 33.0, 22.5, 17.75]     # 100 + (10-100)/2, 55 + (11-55)/2, ...
# SMOOTH3, 3 stages of 1 day each, all starting at 100: the run value reaches the output
# after three steps
PERCEIVED = [100.0, 100.0, 100.0, 10.0]
# backlog: 2 * demand at initialisation = 200; then + (demand - smoothed demand)
BACKLOG = [200.0, 110.0, 66.0, 45.0, 35.5]       # 200 + (10-100), 110 + (11-55), ...

# Hand-worked arithmetic is exact in binary (halves and quarters): only float64 rounding
EXACT_ATOL = 1e-12


def test_first_steps_follow_vensim_initialisation(tmp_path):
    run = compile_model(MODEL).run()
    assert np.array_equal(run["demand"].to_numpy(), [10.0, 11.0, 12.0, 13.0, 14.0])
    assert np.allclose(run["smoothed demand"].to_numpy(), SMOOTHED, rtol=0, atol=EXACT_ATOL)
    assert np.allclose(run["perceived demand"].to_numpy()[:4], PERCEIVED, rtol=0, atol=EXACT_ATOL)
    assert np.allclose(run["backlog"].to_numpy(), BACKLOG, rtol=0, atol=EXACT_ATOL)
    reference = S.pysd_model_run(MODEL, tmp_path)
    assert not S.compare(run, reference, S.PYSD_RTOL, S.PYSD_ATOL)


# `models/active_initial_fractional.mdl` (dt = 1): demand = ACTIVE INITIAL(Time + 0.5, 1),
# i.e. World3-03's `food ratio = ACTIVE INITIAL(food per capita / subsistence food per
# capita, 1)`: an integer literal as the initial value and a run value that is not whole.
FRACTIONAL = MODELS / "active_initial_fractional.mdl"
DEMAND = [0.5, 1.5, 2.5, 3.5, 4.5]
# SMOOTH(demand, 2): s0 = 1 (demand at initialisation); s(n+1) = s + (demand(n) - s) / 2
FRACTIONAL_SMOOTHED = [1.0, 0.75, 1.125, 1.8125, 2.65625]   # 1 + (0.5-1)/2, 0.75 + (1.5-0.75)/2
# SMOOTHI(demand, 2, 2): s0 = 2 (explicit); then as above
FRACTIONAL_ANCHORED = [2.0, 1.25, 1.375, 1.9375, 2.71875]   # 2 + (0.5-2)/2, 1.25 + (1.5-1.25)/2
# SMOOTH3(demand, 3) and DELAY3(demand, 3): three 1-day stages, all starting at 1; stage 1
# goes 1 -> 0.5 -> 1.5 -> 2.5, stage 2 1 -> 1 -> 0.5 -> 1.5, stage 3 (the output)
# 1 -> 1 -> 1 -> 0.5 -> 1.5
FRACTIONAL_THIRD_ORDER = [1.0, 1.0, 1.0, 0.5, 1.5]
# PySD 3.14 (pysd/py_backend/statefuls.py, Smooth.ddt: `targets = np.roll(self.state, 1)`,
# then `targets[0] = self.input_func()`): a smooth whose initial value is the integer 1 or 2
# has an integer state array, so its first input 0.5 is truncated to 0 -- one step with the
# wrong input, and the error then decays with the smoothing time.  Delays divide by the
# delay time first (float), so DELAY3 is not affected.
PYSD_SMOOTHED = [1.0, 0.5, 1.0, 1.75, 2.625]       # 1 + (0-1)/2, then as above
PYSD_ANCHORED = [2.0, 1.0, 1.25, 1.875, 2.6875]    # 2 + (0-2)/2, then as above


def test_integer_initial_values_do_not_truncate_the_first_input(tmp_path):
    run = compile_model(FRACTIONAL).run()
    assert np.array_equal(run["demand"].to_numpy(), DEMAND)
    for column, expected in (("smoothed demand", FRACTIONAL_SMOOTHED),
                             ("anchored demand", FRACTIONAL_ANCHORED),
                             ("perceived demand", FRACTIONAL_THIRD_ORDER),
                             ("delayed demand", FRACTIONAL_THIRD_ORDER)):
        assert np.allclose(run[column].to_numpy(), expected, rtol=0, atol=EXACT_ATOL), column
    # The evidence quoted in sd_models_report.md: PySD differs here, by the truncation above
    # and by nothing else.  If a PySD release fixes it, this fails: update the report.
    reference = S.pysd_model_run(FRACTIONAL, tmp_path)
    assert np.allclose(reference["smoothed demand"].to_numpy(), PYSD_SMOOTHED, rtol=0, atol=EXACT_ATOL)
    assert np.allclose(reference["anchored demand"].to_numpy(), PYSD_ANCHORED, rtol=0, atol=EXACT_ATOL)
    assert np.allclose(reference["delayed demand"].to_numpy(), FRACTIONAL_THIRD_ORDER,
                       rtol=0, atol=EXACT_ATOL)
