"""A language people commonly type for Chinese (cn, chinese, zh-CN) or English gets the
code meant as its hint, not the code closest in spelling ('cn' is one letter from 'en')."""

from __future__ import annotations

import pytest
from innosd.experiments.cli import main as cli_main
from innosd.figures import labels

from innosd.errors import ConfigError


@pytest.mark.parametrize("typed, hint", [("cn", "zh"), ("CN", "zh"), ("chinese", "zh"), ("zh-CN", "zh"),
                                          ("zh_cn", "zh"), ("中文", "zh"), ("english", "en"), ("en-US", "en"),
                                          ("eng", "en")])
def test_language_aliases_hint_the_language_meant(typed, hint):
    with pytest.raises(ConfigError) as err:
        labels.check_language(typed)
    message = str(err.value)
    assert f"(did you mean {hint!r}?)" in message and "valid languages: en, zh" in message
    assert message.startswith(f"figures.language: unknown language {typed!r}")


def test_a_misspelt_language_still_gets_the_closest_name():
    with pytest.raises(ConfigError, match=r"unknown language 'zhh' \(did you mean 'zh'\?\)"):
        labels.check_language("zhh")
    with pytest.raises(ConfigError) as err:
        labels.check_language("fr")
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize("argv", [["run", "figures.language=cn", "run.figures=false"],
                                  ["report", "RUN", "figures.language=cn"],
                                  ["report", "RUN", "--language", "cn"]])
def test_cli_suggests_zh_for_cn(argv, tmp_path, capsys):
    argv = [a.replace("RUN", str(tmp_path)) for a in argv] + ([f"run.output_dir={tmp_path}"] if argv[0] == "run"
                                                              else [])
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown language 'cn' (did you mean 'zh'?)" in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # refused before anything ran or was written
