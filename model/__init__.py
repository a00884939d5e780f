"""innosd model package: the Vensim model and its compiled engine.

`from model import compile_model` is cheap: numba and PySD load on first use.
"""


def compile_model(path, **kwargs):
    """Compile a Vensim .mdl / XMILE model (or load it from the cache); see model.runtime."""
    from model.runtime import compile_model as _compile
    return _compile(path, **kwargs)


__all__ = ["compile_model"]
