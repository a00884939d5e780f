"""Every folder of the SD community test suite: canonical output and PySD agreement.

Each folder is its own test id.  Folders whose model uses a construct the compiled
core does not support are skipped with the construct named (pytest -ra lists them).
"""

from __future__ import annotations

import pytest
from innosd.model import compile_model

from innosd.errors import ModelError
from tests.engine import sdmodels as S


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("pysd_translations")


@pytest.mark.parametrize("folder", S.folders())
def test_sd_model(folder, scratch):
    f = S.model_file(folder)
    if f is None:
        pytest.skip("no .mdl or .xmile model in this folder")
    try:
        model = compile_model(f, data_files=S.data_files(folder))
    except ModelError as err:
        if "--backend pysd" in str(err):
            pytest.skip(str(err))
        try:  # a folder PySD cannot run either (e.g. its data file is missing) is no test
            S.pysd_run(folder, scratch)
        except Exception as pysd_err:  # noqa: BLE001 - any PySD failure
            first = (str(pysd_err).strip().splitlines() or [type(pysd_err).__name__])[-1]
            pytest.skip(f"PySD fails too ({first.strip()}); ours: {err}")
        raise
    ours = model.run()
    reference = S.pysd_run(folder, scratch)

    problems = S.compare(ours, reference, S.PYSD_RTOL, S.PYSD_ATOL_OF.get(folder, S.PYSD_ATOL))
    assert not problems, f"differs from PySD: {problems[:3]}"

    canon = S.canonical(folder)
    assert canon is not None, "no canonical output"
    # columns where PySD itself does not reproduce Vensim's canonical file are a
    # reference disagreement, not ours to judge; every other shared column must match
    pysd_off = {p.split("'")[1] for p in
                S.compare(reference, canon, S.CANONICAL_RTOL, S.CANONICAL_ATOL)}
    shared = [c for c in canon.columns if c in ours.columns and c not in pysd_off]
    problems = S.compare(ours, canon[shared], S.CANONICAL_RTOL, S.CANONICAL_ATOL) \
        if shared else []
    assert not problems, f"differs from canonical output: {problems[:3]}"
