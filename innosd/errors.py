"""User-facing errors: one line, naming the offending file, key or variable.

Every error a planner or researcher can cause by their input (a config, a model file,
a data file, a command-line override) is raised as a subclass of `InnosdError`; the
command line prints its message as one line and exits non-zero, never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class InnosdError(Exception):
    """An error caused by user input; its message is shown to the user as is."""


class ConfigError(InnosdError):
    """A scenario/experiment config or an override is invalid."""


class ModelError(InnosdError):
    """A model file cannot be read, or uses a construct the engine does not support."""


class DataError(InnosdError):
    """A data file (observations, targets, parameters) is malformed."""


def closest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """A ' (did you mean ...?)' hint listing the closest valid names, or ''."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" (did you mean {', '.join(repr(m) for m in matches)}?)" if matches else ""


def expect_mapping(value: Any, where: str, error: type[InnosdError], what: str = "a mapping") -> dict:
    """`value` if it is a mapping ({} for nothing); else one line naming `where` (a file and key).

    The one check behind every YAML/JSON file a user can hand us: parameter sets, prior files,
    a run folder's config.yaml and metadata.json."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise error(f"{where}: expected {what}, got {type(value).__name__}")
    return value
