"""One thin module per `innosd` sub-command: parse -> compose -> call -> write."""

from __future__ import annotations

import argparse

from innosd.errors import ConfigError


class OneLineParser(argparse.ArgumentParser):
    """argparse that raises a one-line ConfigError instead of printing usage and exiting."""

    def error(self, message: str):
        raise ConfigError(f"{message}; see `{self.prog} --help`")
