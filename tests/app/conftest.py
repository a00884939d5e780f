"""Fixtures of the what-if page's tests: a copy of scenarios/ (saved scenarios land there,
never in the checkout) and small engines over the shipped calibrated posterior."""

from __future__ import annotations

import shutil

import pytest

from innosd.scenarios import CONFIG_DIR, compose

APP_DRAWS = 40   # enough draws for probabilities strictly between 0 and 1, quick to run
APP_SEED = 3


@pytest.fixture(scope="session")
def app_config_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("app-cfg") / "scenarios"
    shutil.copytree(CONFIG_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


@pytest.fixture(scope="session")
def engine(app_config_dir):
    from innosd.experiments.app.whatif import WhatIf

    return WhatIf("calibrated", APP_DRAWS, APP_SEED, app_config_dir)


@pytest.fixture()
def configs_here(app_config_dir, monkeypatch):
    """`innosd run` composes from the copy too."""
    monkeypatch.setattr(compose, "CONFIG_DIR", app_config_dir)
    return app_config_dir
