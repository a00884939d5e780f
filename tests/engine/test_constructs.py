"""Constructs added for issue 16 beyond the community folders' own checks
(test_sd_models.py runs allocate_*, invert_matrix, vector_order, vector_select and
get_time_value against PySD and Vensim's output):

- SMOOTH N / DELAY N whose order is not a constant expression (read once, at
  initialisation, as PySD and Vensim do): against PySD where PySD runs it, and for a
  subscripted order (PySD refuses: its order must be a scalar) against the same delay with
  each element's constant order and against hand-worked values.
- The rt helpers of the whole-vector functions on hand-worked cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innosd.errors import ModelError
from innosd.model import compile_model
from innosd.model.compiler import rt
from tests.engine import sdmodels as S

MODELS = Path(__file__).resolve().parent / "models"
# hand-worked values below are printed to 6-7 significant digits
HAND_RTOL = 1e-6


def test_non_constant_orders_match_pysd(tmp_path):
    # orders from a stock's initial value + 1, a lookup and an INITIAL of a later variable
    model = compile_model(MODELS / "variable_order.mdl")
    ours = model.run()
    reference = S.pysd_model_run(MODELS / "variable_order.mdl", tmp_path)
    problems = S.compare(ours, reference, S.PYSD_RTOL, S.PYSD_ATOL)
    assert not problems, problems[:3]


def test_subscripted_order_is_each_elements_own_order():
    model = compile_model(MODELS / "variable_order_subscripted.mdl")
    ours = model.run()
    # the orders are compiled in (they fix the number of stages): another value is refused
    assert {"order[e1]", "order[e2]", "order[e3]"} <= set(model.fixed_parameters)
    with pytest.raises(ModelError):
        model.run(params={"order[e2]": 3.0})
    # order[e3] = 3 and "stock order + 1" = 3: the same third-order smooth
    np.testing.assert_array_equal(ours["smoothed[e3]"], ours["smoothed by stock"])
    # DELAY N(STEP(10, 1), 3, 0, 1) is a first-order delay: s' = in - s/3, out = s/3; from
    # t = 1 (STEP switches at t + dt/2 > 1), s = 2.5, 4.791667, 6.892361, 8.817998 at
    # t = 1.25 ... 2 (s <- s (1 - dt/3) + 10 dt, dt = 0.25), so out(2) = 8.817998 / 3
    assert ours.loc[2.0, "delayed[e1]"] == pytest.approx(2.939333, rel=HAND_RTOL)
    assert ours.loc[1.0, "delayed[e1]"] == 0.0
    # higher orders respond later to the same step
    at2 = ours.loc[2.0, ["delayed[e1]", "delayed[e2]", "delayed[e3]"]].to_numpy()
    assert at2[0] > at2[1] > at2[2] > 0.0


def test_order_below_one_is_one_line(tmp_path):
    text = (MODELS / "variable_order.mdl").read_text().replace(
        "lookup order(2.5)", "lookup order(0.5)")
    bad = tmp_path / "bad_order.mdl"
    bad.write_text(text)
    with pytest.raises(ModelError) as err:
        compile_model(bad)
    msg = str(err.value)
    assert "\n" not in msg and "DELAY N order must be at least 1" in msg \
        and "delayed by lookup" in msg


def test_vector_helpers_by_hand():
    v = (3.0, 1.0, 2.0, 1.0)
    # ascending order 1, 3, 2, 0 (ties in original order); descending: its reverse
    assert [rt._vsort_order(float(k), 1.0, v) for k in range(4)] == [1.0, 3.0, 2.0, 0.0]
    assert [rt._vsort_order(float(k), 0.0, v) for k in range(4)] == [0.0, 2.0, 3.0, 1.0]
    assert [rt._vrank(float(k), 1.0, v) for k in range(4)] == [4.0, 1.0, 3.0, 2.0]
    assert rt._vreorder(2.0, v) == 2.0 and np.isnan(rt._vreorder(4.0, v))
    # [[4, 7], [2, 6]]^-1 = [[0.6, -0.7], [-0.2, 0.4]]
    m = (4.0, 7.0, 2.0, 6.0)
    inv = [rt._inv_elem(float(i), float(j), m) for i in range(2) for j in range(2)]
    np.testing.assert_allclose(inv, [0.6, -0.7, -0.2, 0.4], rtol=1e-14)
    assert np.isnan(rt._inv_elem(0.0, 0.0, (1.0, 2.0, 2.0, 4.0)))  # singular


def test_allocation_helpers_by_hand():
    # by priority: requests 3, 6 at priorities 10, 9, width 3, supply 2: target 1 starts
    # once target 0 holds min((10-9)/3, 1)*3 = 1, then they share 3:6 -> 1 + 1/3, 2/3
    req, pri = (3.0, 6.0), (10.0, 9.0)
    got = [rt._allocate_by_priority(float(k), 3.0, 2.0, req, pri) for k in range(2)]
    np.testing.assert_allclose(got, [1.0 + 1.0 / 3.0, 2.0 / 3.0], rtol=1e-14)
    assert rt._allocate_by_priority(0.0, 3.0, 20.0, req, pri) == 3.0  # enough for all
    assert np.isnan(rt._allocate_by_priority(0.0, 0.0, 2.0, req, pri))  # width must be > 0
    # available, rectangular profiles (type 1) of equal priority 5 and width 2: demand
    # falls linearly on [4, 6]; supply 6 of 4 + 8 = 12 is half of each request
    prof = (1.0, 5.0, 2.0, 0.0, 1.0, 5.0, 2.0, 0.0)
    got = [rt._allocate_available(float(k), 6.0, (4.0, 8.0), prof) for k in range(2)]
    np.testing.assert_allclose(got, [2.0, 4.0], rtol=1e-12)


def test_vector_select_action_chosen_at_run_time():
    sels, exprs = (1.0, 0.0, 2.0), (5.0, 7.0, 3.0)
    assert rt._vselect(0.0, -1.0, sels, exprs) == 11.0     # weighted sum 5 + 6
    assert rt._vselect(6.0, -1.0, sels, exprs) == 8.0      # sum of selected
    assert rt._vselect(8.0, -1.0, sels, exprs) == 3.0      # min of selected
    assert rt._vselect(10.0, -1.0, sels, exprs) == 4.0     # mean of selected
    assert rt._vselect(5.0, -1.0, sels, exprs) == 45.0     # 5^1 * 3^2
    assert rt._vselect(0.0, -1.0, (0.0, 0.0, 0.0), exprs) == -1.0  # missing value
    assert np.isnan(rt._vselect(6.5, -1.0, sels, exprs))


CONTROL_VARS = S.SUITE / "control_vars" / "test_control_vars.mdl"


def test_changing_time_step_same_in_single_run_and_ensemble():
    # the community folder (TIME STEP 1 then 0.5, SAVEPER then 5, FINAL TIME 10 then 50) is
    # checked against PySD and Vensim in test_sd_models; here the ensemble kernels agree
    model = compile_model(CONTROL_VARS)
    single = model.run()
    ens = model.run_ensemble(pd.DataFrame(index=range(3)))
    assert list(ens["time"].values) == list(single.index)
    np.testing.assert_array_equal(ens["var"].values[2], single["var"].to_numpy())
    # the step taken follows TIME STEP: 1 until t = 4, then 0.5; saved every 5 from t = 10
    assert list(single.index[:7]) == [0.0, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0]
    assert list(single.index[-3:]) == [40.0, 45.0, 50.0]


def test_control_reading_a_stock_is_one_line(tmp_path):
    text = CONTROL_VARS.read_text().replace(
        "FINAL TIME  = IF THEN ELSE(Time < 5, 10, 50)", "FINAL TIME  = level + 10")
    text = text.replace("var=\n", "level = INTEG(1, 0)\n\t~\t\n\t~\t\t|\n\nvar=\n", 1)
    bad = tmp_path / "stock_control.mdl"
    bad.write_text(text)
    with pytest.raises(ModelError) as err:
        compile_model(bad)
    msg = str(err.value)
    assert "\n" not in msg and "FINAL TIME" in msg and "depends on a stock" in msg


def test_data_file_given_with_the_model(tmp_path, capsys):
    # data_from_other_model is checked against PySD and Vensim in test_sd_models (with
    # data_files); here the command line and the cache: another file is another build
    from innosd.experiments import cli
    folder = S.SUITE / "data_from_other_model"
    model, data = folder / "test_data_from_other_model.mdl", folder / "data.tab"
    out = tmp_path / "run.csv"
    # (var 3dim is :RAW:, NaN between data times as in Vensim, which simulate refuses)
    assert cli.main(["simulate", str(model), "--data", str(data), "--columns", "var 0dim",
                     "--out", str(out)]) == 0
    first = pd.read_csv(out, index_col=0)
    assert first.loc[1.0, "var 0dim"] == pytest.approx(
        pd.read_table(data, index_col=0).loc[1, "var 0dim"])
    changed = tmp_path / "data.tab"
    table = pd.read_table(data, index_col=0)
    table["var 0dim"] = table["var 0dim"] + 100.0
    table.to_csv(changed, sep="\t")
    again = compile_model(model, data_files=changed).run()
    np.testing.assert_allclose(again["var 0dim"], first["var 0dim"] + 100.0, rtol=1e-12)
    with pytest.raises(ModelError, match="data file .* does not exist"):
        compile_model(model, data_files=tmp_path / "missing.tab")
