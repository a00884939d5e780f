"""Tier 0: the package installs as ONE import name and the layers respect the lint rule.

PyPI has packages named `figures`, `experiments` and `scenarios`; a bare top-level name
would shadow them or be shadowed by them, so nothing of ours may install or import one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BARE_NAMES = ("model", "scenarios", "calibration", "experiments", "figures")


def test_ruff_bans_bare_package_names_and_relative_imports():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_rule_catches_a_bare_import(tmp_path):
    """The rule itself must fire, or the test above could pass on an empty rule set."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    offender = tmp_path / "offender.py"
    offender.write_text("import model\nfrom figures.plots import save_figure\n")
    result = subprocess.run([ruff, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(offender)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and result.stdout.count("TID251") == 2, result.stdout


@pytest.mark.slow
def test_wheel_installs_innosd_only(tmp_path):
    """The built wheel's top level is `innosd` alone, with the model, configs and data inside."""
    # setuptools builds in ROOT/build; remove it afterwards unless it was there already
    had_build_dir = (ROOT / "build").exists()
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                        "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, cwd=tmp_path)
    finally:
        if not had_build_dir:
            shutil.rmtree(ROOT / "build", ignore_errors=True)
    wheel = next(tmp_path.glob("innosd-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"innosd"}, top
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["innosd"]
    for needed in ("innosd/model/guangzhou_innovation.mdl", "innosd/scenarios/config.yaml",
                   "innosd/scenarios/params/calibrated_draws.csv", "innosd/calibration/data/observations.csv",
                   "innosd/figures/labels.yaml", "innosd/model/compiler/rt.py",
                   "innosd/figures/report/report.css", "innosd/figures/report/report.js"):
        assert needed in names, needed


def test_bare_names_do_not_import_outside_the_checkout(tmp_path):
    code = ("import importlib.util, sys; import innosd.model, innosd.experiments; "
            f"sys.exit(any(importlib.util.find_spec(n) for n in {BARE_NAMES!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_central_band_is_the_equal_tailed_interval():
    import numpy as np
    import pytest

    from innosd.stats import central_band

    draws = np.arange(101.0)[:, None] * [1.0, 2.0]  # 0..100 and 0..200 per column
    low, high = central_band(draws, 0.90)
    np.testing.assert_allclose(low, [5.0, 10.0])
    np.testing.assert_allclose(high, [95.0, 190.0])
    with pytest.raises(ValueError, match="band level"):
        central_band(draws, 1.5)
