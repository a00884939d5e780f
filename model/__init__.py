"""innosd model package: the Vensim model and its compiled engine.

`from model import compile_model` is cheap: numba and PySD load on first use.
"""

from pathlib import Path

# THE project model, wherever innosd is installed (one spelling of its path)
MODEL_FILE = Path(__file__).resolve().with_name("guangzhou_innovation.mdl")


def compile_model(path, **kwargs):
    """Compile a Vensim .mdl / XMILE model (or load it from the cache); see model.compiler.driver."""
    # lazy: the compiler's modules (and numba, through the generated code) load on first use
    from innosd.model.compiler.driver import compile_model as compile_with_driver
    return compile_with_driver(path, **kwargs)


__all__ = ["MODEL_FILE", "compile_model"]
