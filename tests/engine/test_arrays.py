"""Arrays stay arrays: element statements rolled into loops (model.compiler.rolling).

The community's subscript test folders (test_sd_models.py) check the rolled kernels
against PySD at PYSD_RTOL; here: the rolling rules themselves, and the 351-town model."""

from __future__ import annotations

from pathlib import Path

import pytest

from innosd.model import compile_model
from innosd.model.compiler.ir import dependencies
from innosd.model.compiler.rolling import Rolled, Statement, affine, roll_ordered, roll_unordered
from tests.engine import sdmodels as S

POPULATION = Path(__file__).resolve().parents[1] / "sd-test-models" / "samples" / \
    "Population" / "Subscripted Population Model.mdl"


def test_elements_with_one_template_become_one_loop():
    sts = [Statement(f"A{i}", f"@S{i}@ * @P{10 + 2 * i}@") for i in range(4)]
    (loop,) = roll_ordered(sts, dependencies)
    assert isinstance(loop, Rolled) and loop.count == 4
    assert loop.template == "{0} * {1}"
    assert loop.hole_indices == [[0, 1, 2, 3], [10, 12, 14, 16]]
    assert affine(loop.hole_indices[1]) == (10, 2)
    assert affine([3, 1, 2]) is None  # a mapping: read from an index table


def test_a_group_reading_itself_is_split_back_into_statements():
    # a[1] = a[0] + 1, a[2] = a[1] + 1: the loop order would be wrong, so no loop
    sts = [Statement("A0", "@P0@"), Statement("A1", "(@A0@ + 1.0)"),
           Statement("A2", "(@A1@ + 1.0)")]
    out = roll_ordered(sts, dependencies)
    assert [type(x) for x in out] == [Statement] * 3
    assert [x.target for x in out] == ["A0", "A1", "A2"]


def test_groups_keep_dependency_order():
    # b[i] = a[i] * 2 written before a[i] = p[i] in the input order of the template groups
    sts = [Statement("A0", "@P0@"), Statement("A2", "(@A0@ * 2.0)"),
           Statement("A1", "@P1@"), Statement("A3", "(@A1@ * 2.0)")]
    out = roll_ordered(sts, dependencies)
    assert [x.target_index for x in out] == [[0, 1], [2, 3]]


def test_unordered_statements_group_by_template():
    sts = [Statement("S0", "@A0@"), Statement("S1", "(@A1@ - @S1@)"), Statement("S2", "@A5@")]
    out = roll_unordered(sts)
    rolled = [x for x in out if isinstance(x, Rolled)]
    assert len(rolled) == 1 and rolled[0].target_index == [0, 2]


@pytest.mark.slow
def test_351_town_population_model_matches_pysd(tmp_path):
    # never finished compiling element by element (10 min, 8 MB of source); rolled: ~300 lines
    model = compile_model(POPULATION)
    ours = model.run()
    assert ours.shape[1] > 351 * 4
    reference = S.pysd_model_run(POPULATION, tmp_path)
    problems = S.compare(ours, reference, S.PYSD_RTOL, S.PYSD_ATOL)
    assert not problems, problems[:3]


@pytest.mark.slow
def test_benchmark_model_agrees_with_the_hand_written_kernel(tmp_path):
    from innosd.experiments.bench_handwritten import compare
    result = compare(tmp_path, n_members=24, seed=3, repeat=1)
    assert result["variables"] >= 100 and result["constants"] == 49
    assert result["agree"], result
