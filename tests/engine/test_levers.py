"""model.info: the one naming rule for levers (`fiscal_st` <-> '<lever> scenario change/...')."""

from __future__ import annotations

import pytest
from innosd.model import MODEL_FILE
from innosd.model.info import lever_constant, lever_constants, lever_names, lever_of, model_info, resolve_constant

from innosd.errors import ConfigError


def test_lever_id_and_its_constants():
    assert lever_constants("fiscal_st") == {"change": "fiscal st scenario change",
                                            "start": "fiscal st scenario start year",
                                            "ramp_years": "fiscal st scenario ramp years"}
    assert lever_of(lever_constant("guidance_fund")) == "guidance_fund"
    assert lever_of("fiscal st scenario start year") is None  # only the `change` constant names a lever


def test_every_lever_of_the_model_has_all_three_constants():
    info = model_info(MODEL_FILE)
    levers = lever_names(info)
    assert "fiscal_st" in levers
    for lever in levers:
        assert set(lever_constants(lever).values()) <= set(info.constants), lever


def test_resolve_constant_accepts_underscores_and_names_unknowns():
    info = model_info(MODEL_FILE)
    assert resolve_constant("fiscal_st_scenario_change", info, "params.x") == "fiscal st scenario change"
    with pytest.raises(ConfigError, match=r"params\.x: unknown model parameter 'fiscal st scenario chang'"):
        resolve_constant("fiscal st scenario chang", info, "params.x")
