"""Hostile and damaged files (issue 17, cases 2, 7, 9, 10): scenario YAML, parameter sets,
draws CSVs, saved folders and .mdl files. Each gives one line naming the file (and line,
column or byte offset), in seconds; nothing is read from outside its folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innosd.calibration import handoff
from innosd.errors import ConfigError, DataError
from innosd.model import MODEL_FILE
from innosd.model.info import model_info
from innosd.scenarios import build
from tests.reliability.common import assert_one_line, cli, config_copy, no_hang

INFO = model_info(MODEL_FILE)
ENGINE_MODELS = Path(__file__).parents[1] / "engine" / "models"
HEAD = b"name: hostile\ndescription: a hostile file\nlevers: {}\n"
ALIAS_BOMB = b"".join(  # 293 bytes: nine levels of nine aliases, 9^9 strings once expanded
    [b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi")])

HOSTILE_SCENARIOS = {
    "alias bomb": (HEAD + ALIAS_BOMB, "alias"),
    "6 MB list": (HEAD + b"j: [" + b"1, " * 2_000_000 + b"1]\n", "larger than"),
    "binary junk": (bytes(range(256)) * 4, "byte offset 128"),
    "Latin-1 bytes": ("name: hostile\ndescription: caf\xe9\nlevers: {}\n".encode("latin-1"), "byte offset"),
    "50,000-deep list": (HEAD + b"j: " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "levels deep"),
    "3,000-deep map": (HEAD + b"j: " + b"{a: " * 3_000 + b"1" + b"}" * 3_000 + b"\n", "levels deep"),
    "duplicate keys": (b"name: hostile\nname: hostile\ndescription: d\nlevers: {}\n", "line 2"),
}


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    return config_copy(tmp_path_factory.mktemp("config"))


def compose_scenario(config_dir: Path, content: bytes):
    (config_dir / "scenario" / "hostile.yaml").write_bytes(content)
    return build.compose_run_config(["scenario=hostile"], INFO, config_dir=config_dir)


@pytest.mark.parametrize("case", list(HOSTILE_SCENARIOS))
def test_hostile_scenario_yaml_is_one_line_in_seconds(config_dir, case):
    content, fragment = HOSTILE_SCENARIOS[case]
    with no_hang(), pytest.raises(ConfigError) as err:  # the alias bomb and the 6 MB list hung
        compose_scenario(config_dir, content)
    message = str(err.value)
    assert "hostile.yaml" in message and fragment in message and "\n" not in message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: HEAD + t.encode("utf-8", "surrogatepass")))
def test_random_scenario_bytes_compose_or_fail_in_one_line(config_dir, content):
    try:
        compose_scenario(config_dir, content)
    except ConfigError as err:
        assert "\n" not in str(err)


# ------------------------------------------------------------------ parameter sets and draws

def write_set(folder: Path, yaml_text: str, draws_csv: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.yaml").write_text(yaml_text, encoding="utf-8")
    if draws_csv is not None:
        (folder / "mine_draws.csv").write_text(draws_csv, encoding="utf-8")


def set_yaml(draws: str | None = "mine_draws.csv", params: str = "params:\n  hte exit rate: 0.05\n") -> str:
    target = "null" if draws is None else repr(draws)
    return f"parameter_set:\n  name: mine\n  statistic: test\n  posterior_draws: {target}\n  source: {{}}\n{params}"


@pytest.mark.parametrize("draws", ["../../../../../etc/passwd", "/etc/passwd", "sub/mine_draws.csv", ".."])
def test_posterior_draws_outside_the_folder_is_refused(tmp_path, draws):
    write_set(tmp_path / "params", set_yaml(draws))
    with pytest.raises(DataError, match="posterior_draws") as err:
        handoff.load_parameter_set("mine", tmp_path / "params")
    assert "\n" not in str(err.value)


def test_parameter_set_without_params_is_refused(tmp_path):
    write_set(tmp_path / "params", set_yaml(None, params=""))
    with pytest.raises(DataError, match="'params' is missing"):
        handoff.load_parameter_set("mine", tmp_path / "params")


@pytest.mark.parametrize("csv, fragment", [
    ("draw,hte exit rate\n0,0.05\n1,lots\n", "row 2"),                 # text in a number column
    ("draw,hte exit rate\n0,0.05,7\n1,0.04\n", "unreadable draws CSV"),  # a ragged row
    ("draw,other constant\n0,0.05\n", "no column for 'hte exit rate'"),  # a calibrated constant missing
])
def test_damaged_draws_csv_is_one_line(tmp_path, csv, fragment):
    write_set(tmp_path / "params", set_yaml(), csv)
    parameter_set = handoff.load_parameter_set("mine", tmp_path / "params")
    with pytest.raises(DataError) as err:
        handoff.load_posterior_draws(parameter_set, tmp_path / "params")
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_draws_replaced_after_the_handoff_are_detected(tmp_path):
    params = tmp_path / "params"
    draws = pd.DataFrame({"hte exit rate": [0.05, 0.04]})
    handoff.write_parameter_set(handoff.ParameterSet("mine", {"hte exit rate": 0.045}, "test"), draws, params)
    parameter_set = handoff.load_parameter_set("mine", params)
    assert len(handoff.load_posterior_draws(parameter_set, params)) == 2
    (params / "mine_draws.csv").write_text("draw,hte exit rate\n0,0.09\n", encoding="utf-8")
    with pytest.raises(DataError, match="sha256"):
        handoff.load_posterior_draws(parameter_set, params)
    recorded = handoff.load_parameter_set("mine", params).posterior_draws_sha256
    assert recorded == hashlib.sha256(draws.assign(draw=range(2))[["draw", "hte exit rate"]]
                                      .to_csv(index=False).encode()).hexdigest()


# ------------------------------------------------------------------ saved folders and .mdl files

@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    code, err = cli("run", f"hydra.run.dir={out / 'run'}", "uncertainty.mode=none", "run.figures=false")
    assert code == 0, err
    return out / "run"


def test_report_on_a_non_utf8_config_is_one_line(run_folder, tmp_path):
    import shutil
    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    (folder / "config.yaml").write_bytes("scenario: {name: caf\xe9}\n".encode("latin-1"))
    code, err = cli("report", str(folder), "--no-pdf")
    assert_one_line(code, err, "report", "byte offset")


def mdl_with(tmp_path: Path, old: bytes, new: bytes) -> Path:
    source = (ENGINE_MODELS / "exponential_decay.mdl").read_bytes()
    assert old in source
    path = tmp_path / "model.mdl"
    path.write_bytes(source.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, fragment", [
    (b"decay rate * Amount", b"decay rate * Amount / 0", "'decay' is inf"),   # Vensim's floating-point check
    (b"FINAL TIME  = 1\n", b"FINAL TIME  = -100\n", "FINAL TIME"),                   # a one-row run
    (b"decay rate =", b"decay r\xffate =", "byte offset"),                      # invalid bytes in a name
])
def test_simulate_reports_bad_models(tmp_path, old, new, fragment):
    path = mdl_with(tmp_path, old, new)
    code, err = cli("simulate", str(path), "--out", str(tmp_path / "out.csv"))
    assert_one_line(code, err, "simulate", fragment)
    assert not (tmp_path / "out.csv").exists()


def test_simulate_never_overwrites_its_inputs(tmp_path):
    model = tmp_path / "model.mdl"
    model.write_bytes((ENGINE_MODELS / "exponential_decay.mdl").read_bytes())
    before = model.read_bytes()
    code, err = cli("simulate", str(model), "--out", str(model))
    assert_one_line(code, err, "simulate", "model file itself")
    assert model.read_bytes() == before
    mine = tmp_path / "model.py"  # the user's own file, where PySD would put its translation
    mine.write_text("# my own code\n", encoding="utf-8")
    code, err = cli("simulate", str(model), "--backend", "pysd", "--out", str(tmp_path / "run.csv"))
    assert code == 0, err
    assert mine.read_text(encoding="utf-8") == "# my own code\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mdl", "model.py", "run.csv"]
