"""One thin module per `innosd` sub-command: parse -> compose -> call -> write."""

from __future__ import annotations

import argparse
from pathlib import Path

from innosd.errors import ConfigError, ModelError


class OneLineParser(argparse.ArgumentParser):
    """argparse that raises a one-line ConfigError instead of printing usage and exiting."""

    def error(self, message: str):
        raise ConfigError(f"{message}; see `{self.prog} --help`")


def add_model_arguments(p: argparse.ArgumentParser, default_model: str) -> None:
    """The options of the commands that study one model with a parameter set (validate, loops)."""
    p.add_argument("model", nargs="?", default=default_model, help="Vensim .mdl (default: the project model)")
    p.add_argument("--out", help="output folder (must not exist)")
    p.add_argument("--params", help="parameter set (default: calibrated if present)")
    p.add_argument("--params-dir", help="folder of parameter sets (default: ./params, then scenarios/params)")


def existing_model(path: str) -> Path:
    """The model file named on the command line, or one line saying it is not there."""
    model_path = Path(path)
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")
    return model_path
