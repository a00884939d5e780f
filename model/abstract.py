"""The one adapter over PySD's parser: parse a model file, name equivalence, tree walkers.

    from innosd.model import abstract
    model = abstract.parse(path)            # PySD's AbstractModel; errors say file:line
    for name, integ in abstract.stocks(model).items(): ...
    abstract.signed_terms(integ.flow)       # a + b - c -> [(+1, a), (+1, b), (-1, c)]

Every other module (the compiler, units, validation, the structure diagram) reads the
syntax tree through these functions, so a PySD upgrade that moves the tree changes one
file. PySD is imported inside the functions that need it: a cached compiled model loads
without PySD (a slow import), and `norm` / `definition_line` never need it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from innosd.errors import ModelError

VENSIM_SUFFIXES = (".mdl",)
XMILE_SUFFIXES = (".xmile", ".xml", ".stmx")
SKETCH_MARKER = "\\\\\\---///"  # Vensim's sketch section follows: no equations below


# ------------------------------------------------------------------ names

def norm(name: str) -> str:
    """Vensim identifier equivalence: case-insensitive, spaces == underscores, quotes off."""
    name = name.strip()
    if len(name) > 1 and name[0] == '"' and name[-1] == '"':
        name = name[1:-1]
    return re.sub(r"[\s_]+", "_", name.lower())


def definition_line(source: bytes, variable: str, xmile: bool = False) -> int | None:
    """1-based line of `variable`'s definition in a model file (Vensim names match
    case-insensitively with spaces and underscores equivalent), or None."""
    words = [re.escape(w) for w in re.split(r"[\s_]+", variable.strip()) if w]
    if not words:
        return None
    name = r"[\s_]+".join(words)
    pattern = (rf'name\s*=\s*"{name}"' if xmile else
               rf'^\s*(:MACRO:\s*)?"?{name}"?\s*(\[|=|\(|:|$)')
    rx = re.compile(pattern, re.IGNORECASE)
    text = source.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(SKETCH_MARKER):
            break
        if rx.search(line):
            return number
    return None


def located(err: ModelError, path: Path, source: bytes) -> ModelError:
    """`err` prefixed with file:line of the variable it concerns (`err.variable`), when known."""
    msg = str(err)
    variable = getattr(err, "variable", None)
    line = definition_line(source, variable, xmile=path.suffix.lower() not in VENSIM_SUFFIXES) \
        if variable else None
    where = f"{path.name}:{line}" if line else path.name
    if msg.startswith(path.name):
        msg = msg[len(path.name):].lstrip(": ")
    return ModelError(f"{where}: {msg}")


# ------------------------------------------------------------------ parsing

def parse(path) -> object:
    """PySD's abstract model of a Vensim .mdl or XMILE file; a parser error becomes one
    ModelError line naming the file, the line and the text PySD could not read."""
    path = Path(path)
    warnings.filterwarnings("ignore", module="pysd")
    suffix = path.suffix.lower()
    try:
        if suffix in VENSIM_SUFFIXES:
            from pysd.translators.vensim.vensim_file import VensimFile
            parsed = VensimFile(path)
        elif suffix in XMILE_SUFFIXES:
            from pysd.translators.xmile.xmile_file import XmileFile
            _refuse_legacy_xmile(path)
            parsed = XmileFile(path)
        else:
            raise ModelError(f"{path}: not a Vensim .mdl or XMILE file")
        parsed.parse()
        return parsed.get_abstract_model()
    except ModelError:
        raise
    except Exception as err:  # the PySD parser's own error, reduced to one line
        if suffix in XMILE_SUFFIXES:
            failing = _failing_xmile_variable(path)
            if failing:
                raise ModelError(f"{path}: {failing}") from None
        where = _parse_error_location(path, err)
        if where:
            raise ModelError(f"{path}: {where}") from None
        msg = str(err).strip().splitlines()
        raise ModelError(f"{path}: cannot parse model: {msg[0] if msg else type(err).__name__}"
                         ) from None


# the namespace of XMILE 1.0 (OASIS)
XMILE_NAMESPACE = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"


def _refuse_legacy_xmile(path: Path) -> None:
    """Pre-standard isee files put their stocks, flows and auxiliaries directly under
    <model>, without the <variables> element XMILE 1.0 has; PySD's reader finds none of
    them and returns a model with only the control variables.  Refuse such a file in one
    line instead of an empty run."""
    from lxml import etree
    try:  # forgiving, as some Stella files use undeclared prefixes: PySD's reader judges
        root = etree.parse(str(path), etree.XMLParser(recover=True)).getroot()
    except (OSError, etree.XMLSyntaxError):
        return
    if root is None:
        return
    for model in root:
        if etree_local(str(model.tag)) != "model":
            continue
        tags = [etree_local(str(child.tag)) for child in model]
        bare = [t for t in tags if t in ("stock", "flow", "aux", "gf", "module")]
        if bare and "variables" not in tags:
            raise ModelError(f"{path}: legacy XMILE layout (namespace "
                             f"{etree.QName(root).namespace!r}): {len(bare)} variables sit "
                             "directly under <model>, without the <variables> element of "
                             f"XMILE 1.0 ({XMILE_NAMESPACE}); re-save the model from "
                             "Stella/iThink as XMILE 1.0")


def _first_unreadable(reader, items, parse_one):
    """Walk a PySD file reader section by section and item by item, parsing each item alone:
    (the first item that fails, its error), or None. None too when the file-level split
    itself fails, since then no single item is to blame."""
    try:
        reader.parse(parse_all=False)
        for section in reader.sections:
            section.parse(parse_all=False)
            for item in items(section):
                try:
                    parse_one(section, item)
                except Exception as err:  # noqa: BLE001 - any reader error marks this item
                    return item, err
    except Exception:  # noqa: BLE001 - the file-level split itself failed
        return None
    return None


def _failing_xmile_variable(path: Path) -> str:
    """'line N: cannot read XMILE <tag> 'name' (...)': the first variable PySD's XMILE
    reader fails on, found by parsing the variables one at a time; '' if none fails alone."""
    from pysd.translators.xmile.xmile_file import XmileFile
    try:
        reader = XmileFile(path)
    except Exception:  # noqa: BLE001 - not even readable as XML: no variable to name
        return ""
    found = _first_unreadable(reader, lambda section: section.components,
                              lambda section, component: component.parse(section.behaviors))
    if found is None:
        return ""
    component, err = found
    node = component.node
    per_element = node.xpath("ns:element", namespaces=component.ns)
    how = f"defined element by element ({len(per_element)} <element> entries)" if per_element else ""
    what = type(err).__name__ + (f": {err}" if str(err) else "")
    detail = "; ".join(x for x in (how, f"PySD's reader: {what}") if x)
    return f"line {node.sourceline}: cannot read XMILE {etree_local(node.tag)} {component.name!r} ({detail})"


def etree_local(tag: str) -> str:
    """'{namespace}aux' -> 'aux'."""
    return tag.rsplit("}", 1)[-1]


def _failing_equation(path: Path) -> tuple[str, Exception] | None:
    """Re-parse a .mdl one equation at a time: (the failing equation's text, its error)."""
    from pysd.translators.vensim.vensim_element import Component
    from pysd.translators.vensim.vensim_file import VensimFile

    def parse_one(_section, element) -> None:
        parsed = element.parse()
        if isinstance(parsed, Component):
            parsed.parse()

    try:
        reader = VensimFile(path)
    except Exception:  # noqa: BLE001 - the file cannot even be read: no equation to name
        return None
    found = _first_unreadable(reader, lambda section: section.elements, parse_one)
    return None if found is None else (found[0].equation, found[1])


def _flexible(text: str) -> str:
    """A regex matching `text` with any whitespace or Vensim line continuations between characters."""
    gap = r"(?:\s|\\\n)*"
    return gap.join(map(re.escape, re.sub(r"\s+", "", text)))


def _parse_error_location(path: Path, err: Exception) -> str:
    """'line N: cannot parse `...` (equation of 'X')' for a PySD parser error, found by
    matching the text PySD failed on (whitespace-normalised) back into the file; '' if not."""
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    failing = _failing_equation(path) if path.suffix.lower() in VENSIM_SUFFIXES else None
    start, variable = 0, ""
    if failing is not None:
        equation, err = failing
        lhs = re.split(r"[=(\[:]", equation, maxsplit=1)[0].strip()
        m = re.search(r"(?:^|[|}])\s*(" + _flexible(lhs) + r")\s*[=(\[:]", source, re.M) if lhs else None
        if m:
            start, variable = m.start(1), " ".join(lhs.split())
    text, pos = getattr(err, "text", None), getattr(err, "pos", None)
    if not isinstance(text, str) or not isinstance(pos, int):
        return ""
    snippet = " ".join(text[pos:pos + 25].split())
    context = "(" + _flexible(text[max(0, pos - 40):pos]) + r")(?:\s|\\\n)*(" + _flexible(snippet) + ")"
    m = re.compile(context).search(source, start) if snippet or text[:pos].strip() else None
    if m is None and not variable:
        return ""
    at = start if m is None else m.start(2) if snippet else m.end(1)
    line = source.count("\n", 0, at) + 1
    construct = repr(snippet) if snippet else "the end of the equation"
    return f"line {line}: cannot parse {construct}" + (f" (equation of {variable!r})" if variable else "")


# ------------------------------------------------------------------ walkers

def expressions():
    """PySD's expression-node module (`abstract_expressions`), for isinstance checks."""
    from pysd.translators.structures import abstract_expressions
    return abstract_expressions


def elements(abstract_model) -> list:
    """The model's own elements (the main section; macros are the other sections)."""
    return list(abstract_model.sections[0].elements)


def display_names(abstract_model) -> dict[str, str]:
    """norm(name) -> the name as written in the model file, for every element."""
    return {norm(el.name): el.name for el in elements(abstract_model)}


def stock_equation(element):
    """The INTEG node defining `element` (a stock), or None if it is not a stock."""
    integ = expressions().IntegStructure
    return next((c.ast for c in element.components if isinstance(c.ast, integ)), None)


def stocks(abstract_model) -> dict[str, object]:
    """Stock name (as written) -> its INTEG node (`.flow` the net rate, `.initial`), file order."""
    found = {}
    for el in elements(abstract_model):
        integ = stock_equation(el)
        if integ is not None:
            found[el.name] = integ
    return found


def is_number(node) -> bool:
    """A literal number in the tree (bools are logical values, not numbers)."""
    import numpy as np
    return isinstance(node, (int, float, np.integer, np.floating)) and not isinstance(node, bool)


def signed_terms(node, sign: int = 1) -> list[tuple[int, object]]:
    """Top-level terms of a sum with their signs: a + b - c -> [(+1, a), (+1, b), (-1, c)]."""
    ae = expressions()
    if isinstance(node, ae.ArithmeticStructure) and set(node.operators) <= {"+", "-", "negative"}:
        ops, args = list(node.operators), list(node.arguments)
        if len(ops) == len(args):  # a leading unary minus
            first = -1 if ops.pop(0) in ("-", "negative") else 1
        else:
            first = 1
        signs = [first] + [1 if op == "+" else -1 for op in ops]
        return [t for s, a in zip(signs, args) for t in signed_terms(a, sign * s)]
    return [(sign, node)]


def children(node) -> Iterator[object]:
    """The direct sub-nodes of an expression node (every field of PySD's dataclasses)."""
    for name in getattr(node, "__dataclass_fields__", ()):
        value = getattr(node, name)
        yield from (value if isinstance(value, (list, tuple)) else [value])


def subscripts_in(node, pick, found: list) -> list:
    """`found` extended, in order of appearance and without repeats, by pick(s) for every
    subscript s of a reference anywhere in the expression tree `node` (None: skipped)."""
    if isinstance(node, expressions().SubscriptsReferenceStructure):
        for s in node.subscripts:
            item = pick(s)
            if item is not None and item not in found:
                found.append(item)
        return found
    for child in children(node):
        subscripts_in(child, pick, found)
    return found

