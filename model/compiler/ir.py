"""The compiler's intermediate representation: scalar slots as data.

Every subscripted variable is expanded into one scalar slot per element tuple; code is
written with placeholders `@<kind><index>@` that the code generator substitutes:

    P  parameter (a constant from the model file; overridable without recompiling)
    A  auxiliary (recomputed every step, in dependency order)
    S  state (stocks and the internal stages of SMOOTH/DELAY/TREND/...; integrated)
    K  fixed at initialisation (INITIAL values, delay orders, DELAY FIXED orders)

plus @T@ (time), @DT@ (TIME STEP), @CAP@ (the step count bound) and @LO<i>@/@LN<i>@
(offset and length of lookup table i in the flat LX/LY arrays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from innosd.errors import ModelError

CONTROL_VARS = {"initial_time": "INITIAL TIME", "final_time": "FINAL TIME",
                "time_step": "TIME STEP", "saveper": "SAVEPER"}
PLACEHOLDER = re.compile(r"@([PASK])(\d+)@")

DEPENDENCY = re.compile(r"@([ASK])(\d+)@")  # the slots whose values a statement reads


def slot_index(slot: str) -> int:
    """The index of a placeholder slot: '@A12@' -> 12."""
    return int(PLACEHOLDER.fullmatch(slot).group(2))


def dependencies(code: str) -> set[str]:
    """Slots ('A3', 'S0', 'K1') read by one statement (parameters and time are leaves)."""
    return {m.group(1) + m.group(2) for m in DEPENDENCY.finditer(code)}


# Constructs PySD 3.14 refuses too (NotImplementedError, checked by
# tests/engine/test_simulate.py): suggesting --backend pysd for them would send the user to
# a second failure
PYSD_LACKS = "PySD 3.14 does not run it either"


def unsupported(construct: str, variable: str, pysd: bool = True) -> ModelError:
    """The one-line error for a construct the compiled core lacks: PySD runs most of them,
    hence the suggestion, unless `pysd` is False.  `variable` lets the caller add the file
    line."""
    hint = "run this model with --backend pysd" if pysd else PYSD_LACKS
    err = ModelError(f"unsupported construct {construct} in variable {variable!r}; {hint}")
    err.variable = variable.split("[")[0]
    return err


@dataclass
class Variable:
    name: str
    units: str
    limits: tuple
    doc: str
    components: list
    dims: list = field(default_factory=list)      # per position: ordered element list
    kind: str = "aux"                              # aux | lookup
    instances: dict = field(default_factory=dict)  # element tuple -> slot placeholder


@dataclass
class Lookup:
    x: np.ndarray
    y: np.ndarray
    mode: str            # interpolate | extrapolate | hold_backward


@dataclass
class Stateful:
    """Internal state of one INTEG/SMOOTH/DELAY/... occurrence."""
    kind: str
    owner: str
    slots: list                # S placeholders (continuous or discrete states)
    init: list                 # (placeholder, init-phase code) for S and K slots
    ddt: list = field(default_factory=list)       # (S placeholder, run code): continuous
    discrete: list = field(default_factory=list)  # (S placeholder, run code): set once a step
    extra: dict = field(default_factory=dict)
