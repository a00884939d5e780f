"""`innosd sketch`: the .mdl's Vensim sketch section, generated from its equations.

    innosd sketch                   print the project model's sketch section
    innosd sketch --write           rewrite it in model/guangzhou_innovation.mdl (after editing equations)
    innosd sketch --check           exit 1 if it no longer matches the equations
    innosd sketch MODEL.mdl --write any Vensim model
"""

from __future__ import annotations

from innosd.figures import sketch


def main(argv: list[str]) -> int:
    return sketch.main(argv)
