"""model.indicators: one catalogue entry type; the key indicators agree with the data files."""

from __future__ import annotations

import pytest
from innosd.calibration.data import load_observations, load_targets
from innosd.model import MODEL_FILE, compile_model
from innosd.model.indicators import KEY_INDICATORS, model_indicators, select_indicators

from innosd.errors import ConfigError


def test_key_indicators_are_catalogue_entries_of_the_data_files():
    catalogue = {i.id: i for i in model_indicators(load_observations(), load_targets())}
    for indicator in KEY_INDICATORS:
        assert catalogue[indicator.id] == indicator  # same model variable, same unit


def test_key_indicators_are_model_variables():
    columns = set(compile_model(MODEL_FILE).columns)
    assert {i.model_variable for i in KEY_INDICATORS} <= columns


def test_select_indicators_names_unknown_ids():
    assert select_indicators("all", list(KEY_INDICATORS), "k") == list(KEY_INDICATORS)
    assert select_indicators(["incubators"], list(KEY_INDICATORS), "k")[0].model_variable == "incubators"
    with pytest.raises(ConfigError, match=r"experiment.indicators: unknown indicator 'incubator'"):
        select_indicators(["incubator"], list(KEY_INDICATORS), "experiment.indicators")
