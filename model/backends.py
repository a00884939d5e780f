"""The two simulation backends: the compiled Numba core and PySD, the reference.

Scenario code calls `run_model(..., backend=...)`, so the backend is a choice, not a
rewrite. Everything here takes plain Python values, never a Hydra config.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import pandas as pd

from innosd.errors import ModelError
from innosd.model import MODEL_FILE, compile_model

BACKENDS = ("pysd", "numba")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    return backend


@functools.lru_cache(maxsize=8)
def pysd_model(path: str):
    """PySD's model object for a .mdl (translated once per process; PySD writes a .py beside it)."""
    import pysd  # heavy import, only when the reference backend is asked for

    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pysd.read_vensim(path)
        except Exception as err:  # PySD raises many types; the user needs the file and the reason
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(f"{path}: cannot be read by PySD: {first}") from None


def run_model(params: dict[str, float] | None = None, *, path: str | Path = MODEL_FILE,
              backend: str = "pysd", return_columns: list[str] | None = None) -> pd.DataFrame:
    """One simulation: a DataFrame indexed by time at SAVEPER, columns named as in the file."""
    check_backend(backend)
    params = dict(params or {})
    if backend == "numba":
        return compile_model(path).run(params=params, return_columns=return_columns)
    model = pysd_model(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = model.run(params=params, return_columns=return_columns)
    # PySD keeps set values between runs of one object: restore defaults for the next caller
    model.reload()
    return frame
