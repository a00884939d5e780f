"""innosd model package: the Vensim model and its compiled engine.

`from model import compile_model` is cheap: numba and PySD load on first use.
"""

from pathlib import Path

# THE project model, wherever innosd is installed (one spelling of its path)
MODEL_FILE = Path(__file__).resolve().with_name("guangzhou_innovation.mdl")


def compile_model(path, **kwargs):
    """Compile a Vensim .mdl / XMILE model (or load it from the cache); see model.runtime."""
    from innosd.model.runtime import compile_model as _compile
    return _compile(path, **kwargs)


__all__ = ["MODEL_FILE", "compile_model"]
