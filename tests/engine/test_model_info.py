"""`model.info.model_info` from the compiled model's metadata equals PySD's, and
the compiled path neither imports PySD on a cached load nor writes next to the model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from innosd.model import MODEL_FILE
from innosd.model.info import model_info

from innosd.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    d = tmp_path_factory.mktemp("pysd_info")
    shutil.copy(MODEL_FILE, d / MODEL_FILE.name)  # PySD writes a .py next to the model
    return model_info(MODEL_FILE), model_info(d / MODEL_FILE.name, backend="pysd")


def test_constants_units_stocks_comments_equal_pysd(both):
    ours, ref = both
    assert ours.constants == ref.constants
    assert list(ours.constants) == list(ref.constants)
    assert ours.stocks == ref.stocks
    assert ours.comments == ref.comments
    assert list(ours.units) == list(ref.units)
    # PySD reports its built-in Time with units NaN; we give it TIME STEP's units
    assert {k: v for k, v in ours.units.items() if ref.units[k] != v} == {"Time": "Year"}


def test_unknown_backend_and_missing_file_are_one_line_errors(tmp_path):
    with pytest.raises(ModelError, match="valid backends: pysd, numba"):
        model_info(MODEL_FILE, backend="jax")
    with pytest.raises(ModelError, match="model file not found"):
        model_info(tmp_path / "nope.mdl")


def test_cached_model_info_does_not_import_pysd_or_write_next_to_model(tmp_path):
    model_dir = tmp_path / "ro"
    model_dir.mkdir()
    shutil.copy(MODEL_FILE, model_dir / MODEL_FILE.name)
    env = dict(os.environ, INNOSD_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(ROOT))
    code = ("import sys; from innosd.model.info import model_info; "
            f"info = model_info({str(model_dir / MODEL_FILE.name)!r}); "
            "print(len(info.constants), 'pysd' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True)
    model_dir.chmod(0o555)  # a read-only install: nothing may be written beside the model
    try:
        second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True)
    finally:
        model_dir.chmod(0o755)
    assert first.stdout.split()[0] == second.stdout.split()[0] != "0"
    assert second.stdout.split()[1] == "False", "a cached load imported PySD"
    assert sorted(p.name for p in model_dir.iterdir()) == [MODEL_FILE.name]
