"""Dimensional consistency: a units algebra over a Vensim model's declared unit strings.

    from innosd.model.units import check_model_units
    for eq in check_model_units("model/guangzhou_innovation.mdl"):
        if eq.problem: print(eq.variable, eq.problem)

Unit strings are parsed into products of base units with rational powers
(`firm/(Year*space)` -> firm^1 Year^-1 space^-1; `Dmnl` and plain numbers are
dimensionless; a name may contain spaces or digits, e.g. `100 million yuan`).
Every equation of the .mdl (PySD's abstract model, as the compiler reads it) is then
walked bottom-up and its inferred units compared with the declared ones; the report
names the first term that does not fit.

Conventions (Vensim's units check, as documented in its manual, "Units Check"):
- a number written in an equation takes whatever units its additive context needs
  (`Time - 2013`, `MAX(0, x)`, `IF THEN ELSE(c, x, 0)`, the delay time `1` of
  DELAY FIXED); in a product or quotient it is dimensionless (`x / 3` keeps x's units);
- `+ - MIN MAX IF THEN ELSE` and comparisons need equal units; `:AND: :OR: :NOT:` and
  comparisons give Dmnl; `EXP LN LOG SIN ...` take and give Dmnl; `x ^ y` needs a
  dimensionless y, and a numeric y when x has units;
- INTEG(flow, init): flow x Year and init must equal the stock's units;
  SMOOTH*/DELAY*/TREND/FORECAST: times in Year, initial values in the input's units;
- a lookup takes a Dmnl input and returns its declared units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from innosd.errors import ModelError
from innosd.model.abstract import elements as model_elements
from innosd.model.abstract import expressions, norm, parse

# Spellings Vensim treats as one unit (case-insensitive on the left).
SYNONYMS = {"dmnl": "", "dimensionless": "", "year": "Year", "years": "Year", "yr": "Year"}
TIME_UNITS_NAME = "Year"


def unit_name(name: str) -> str:
    """The one spelling of a base unit name ('' for Dmnl).  Vensim's units check treats
    a unit and its plural as the same unit (Minute/Minutes, Ghectare/Ghectares,
    Person/Persons: the plural formed by a final 's'); the singular is kept, so
    both spellings compare equal.  Words ending in 'ss' (Mass) are not plurals."""
    synonym = SYNONYMS.get(name.lower())
    if synonym is not None:
        return synonym
    last = name.rsplit(" ", 1)[-1]
    if len(last) > 2 and last.endswith("s") and not last.endswith("ss"):
        return name[:-1]
    return name


class UnitsSyntaxError(ModelError):
    """A declared unit string cannot be parsed."""


class NoUnitsRule(ModelError):
    """The checker has no rule for a construct: the equation is reported unchecked (warn)."""


@dataclass(frozen=True)
class Units:
    """A product of base units with rational powers; the empty product is Dmnl."""

    powers: tuple[tuple[str, Fraction], ...] = ()

    @staticmethod
    def of(mapping: dict[str, Fraction]) -> "Units":
        return Units(tuple(sorted((k, Fraction(v)) for k, v in mapping.items() if v != 0)))

    @staticmethod
    def base(name: str) -> "Units":
        return Units.of({name: Fraction(1)})

    def __mul__(self, other: "Units") -> "Units":
        merged = dict(self.powers)
        for k, v in other.powers:
            merged[k] = merged.get(k, Fraction(0)) + v
        return Units.of(merged)

    def __truediv__(self, other: "Units") -> "Units":
        return self * other ** -1

    def __pow__(self, exponent) -> "Units":
        e = Fraction(exponent).limit_denominator(1000)
        return Units.of({k: v * e for k, v in self.powers})

    @property
    def dimensionless(self) -> bool:
        return not self.powers

    def __str__(self) -> str:
        if not self.powers:
            return "Dmnl"

        def factor(name, power):
            p = abs(power)
            return name if p == 1 else f"{name}^{p}"
        num = [factor(k, v) for k, v in self.powers if v > 0]
        den = [factor(k, v) for k, v in self.powers if v < 0]
        text = "*".join(num) or "1"
        if den:
            text += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
        return text


DMNL = Units()
YEAR = Units.base(TIME_UNITS_NAME)

_TOKEN = re.compile(r"\s*(?:(?P<name>(?:\d+(?:\.\d+)?\s+)?[A-Za-z_$%][\w$% ]*)"
                    r"|(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
                    r"|(?P<op>[*/^()-]))")


def parse_units(text: str) -> Units:
    """`firm/(Year*space)`, `1/Year`, `Dmnl`, `100 million yuan` -> Units.

    A run of words (and digits that start a word run, as in `100 million yuan`) is one
    base unit name; a bare number is a dimensionless scale.
    """
    source = (text or "").strip()
    tokens = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise UnitsSyntaxError(f"units {text!r}: cannot read {source[pos:].strip()!r}")
        pos = m.end()
        if m.group("num"):
            tokens.append(("num", m.group("num")))
        elif m.group("name"):
            tokens.append(("name", " ".join(m.group("name").split())))
        else:
            tokens.append(("op", m.group("op")))
    if not tokens:
        return DMNL
    units, rest = _product(tokens, text)
    if rest:
        raise UnitsSyntaxError(f"units {text!r}: unexpected {rest[0][1]!r}")
    return units


def _product(tokens, text):
    units, tokens = _power(tokens, text)
    while tokens and tokens[0] in (("op", "*"), ("op", "/")):
        op = tokens[0][1]
        right, tokens = _power(tokens[1:], text)
        units = units * right if op == "*" else units / right
    return units, tokens


def _power(tokens, text):
    units, tokens = _atom(tokens, text)
    if tokens and tokens[0] == ("op", "^"):
        if len(tokens) < 2:
            raise UnitsSyntaxError(f"units {text!r}: '^' needs a number after it")
        sign, tokens = (-1, tokens[1:]) if tokens[1:2] == [("op", "-")] else (1, tokens)
        if tokens[1][0] != "num":
            raise UnitsSyntaxError(f"units {text!r}: '^' needs a number after it")
        units = units ** (sign * Fraction(tokens[1][1]))
        tokens = tokens[2:]
    return units, tokens


def _atom(tokens, text):
    if not tokens:
        raise UnitsSyntaxError(f"units {text!r}: ends too early")
    kind, value = tokens[0]
    if kind == "num":
        return DMNL, tokens[1:]
    if kind == "name":
        canonical = unit_name(value)
        return (Units.base(canonical) if canonical else DMNL), tokens[1:]
    if value == "(":
        units, rest = _product(tokens[1:], text)
        if not rest or rest[0] != ("op", ")"):
            raise UnitsSyntaxError(f"units {text!r}: unclosed '('")
        return units, rest[1:]
    raise UnitsSyntaxError(f"units {text!r}: unexpected {value!r}")


# ------------------------------------------------------------------ equations

class UnitsMismatch(Exception):
    """Raised inside the walk: `term` has units `found` where `expected` are needed."""

    def __init__(self, term: str, found, expected, why: str):
        super().__init__(f"term `{term}` has units {_show(found)}, expected {_show(expected)} ({why})")
        self.term, self.found, self.expected, self.why = term, found, expected, why


def _show(units) -> str:
    return "any (a number)" if units is None else str(units)


@dataclass(frozen=True)
class EquationUnits:
    """The check of one equation: declared units, result and the first bad term."""

    variable: str
    declared: str
    result: str    # "pass"; "warn": consistent only if a number carries units; "fail"
    problem: str   # the first mismatching term and why ("" on pass)


def render(node, names: dict[str, str]) -> str:
    """Vensim-like text of an abstract-model expression (for naming the bad term)."""
    ae = expressions()
    r = lambda n: render(n, names)  # noqa: E731
    if isinstance(node, bool):
        return str(int(node))
    if isinstance(node, (int, float, np.integer, np.floating)):
        return f"{node:g}"
    if isinstance(node, ae.ReferenceStructure):
        return "Time" if node.reference == "time" else names.get(node.reference, node.reference)
    if isinstance(node, (ae.ArithmeticStructure, ae.LogicStructure)):
        ops, args = list(node.operators), list(node.arguments)
        if len(args) == 1:
            return ("-" if ops[0] == "negative" else f"{ops[0]} ") + _paren(args[0], names)
        out = _paren(args[0], names)
        for op, a in zip(ops, args[1:]):
            out += f" {op} {_paren(a, names)}"
        return out
    if isinstance(node, ae.CallStructure):
        fname = names.get(node.function.reference, node.function.reference.upper().replace("_", " "))
        return f"{fname}({', '.join(r(a) for a in node.arguments)})"
    fields = getattr(node, "__dataclass_fields__", {})
    label = {"IntegStructure": "INTEG", "SmoothStructure": "SMOOTH", "SmoothNStructure": "SMOOTH N",
             "DelayStructure": "DELAY", "DelayNStructure": "DELAY N", "DelayFixedStructure": "DELAY FIXED",
             "InitialStructure": "INITIAL", "TrendStructure": "TREND", "ForecastStructure": "FORECAST",
             "SampleIfTrueStructure": "SAMPLE IF TRUE"}.get(type(node).__name__, type(node).__name__)
    parts = [r(getattr(node, f)) for f in fields if f not in ("order", "non_negative", "lookups")]
    return f"{label}({', '.join(parts)})"


def _paren(node, names) -> str:
    ae = expressions()
    text = render(node, names)
    simple = not isinstance(node, (ae.ArithmeticStructure, ae.LogicStructure))
    return text if simple else f"({text})"


class _Walker:
    """Infers the units of expressions of one model; None means 'a bare number'."""

    def __init__(self, declared: dict[str, Units], names: dict[str, str], lookups: set[str],
                 numbers_carry_units: bool = False, time: "Units | None" = None):
        self.declared, self.names, self.lookups = declared, names, lookups
        # the model's time unit (the units of TIME STEP; Year in the project model)
        self.time = YEAR if time is None else time
        # lenient reading: a number in a product may carry units (`x / 3` with 3 in Year)
        self.numbers_carry_units = numbers_carry_units

    def text(self, node) -> str:
        return render(node, self.names)

    def same(self, nodes, why: str, expected=None):
        """Units shared by `nodes` (+, -, MIN, MAX, branches); a number adopts them."""
        found = [(n, self.infer(n)) for n in nodes]
        target = expected
        for node, units in found:
            if units is None:
                continue
            if target is None:
                target = units
            elif units != target:
                raise UnitsMismatch(self.text(node), units, target, why)
        return target

    def need(self, node, expected: Units, why: str) -> None:
        units = self.infer(node)
        if units is not None and units != expected:
            raise UnitsMismatch(self.text(node), units, expected, why)

    def infer(self, node):
        ae = expressions()
        if isinstance(node, (bool, int, float, np.integer, np.floating)):
            return None
        if isinstance(node, ae.ReferenceStructure):
            if node.reference == "time":
                return self.time
            if node.reference not in self.declared:
                raise ModelError(f"unknown variable {node.reference!r}")
            return self.declared[node.reference]
        if isinstance(node, ae.ArithmeticStructure):
            return self._arithmetic(list(node.operators), list(node.arguments))
        if isinstance(node, ae.LogicStructure):
            ops, args = list(node.operators), list(node.arguments)
            if ops[0] in (":AND:", ":OR:", ":NOT:"):
                for a in args:
                    self.infer(a)
            else:
                self.same(args, f"both sides of '{ops[0]}' must have equal units")
            return DMNL
        if isinstance(node, ae.CallStructure):
            return self._call(node)
        if isinstance(node, ae.IntegStructure):
            raise NoUnitsRule("no units rule for INTEG inside an expression")
        if isinstance(node, (ae.SmoothStructure, ae.SmoothNStructure)):
            self.need(node.smooth_time, self.time, f"a smoothing time is in {self.time}")
            return self.same([node.input, node.initial], "the initial value has the input's units")
        if isinstance(node, (ae.DelayStructure, ae.DelayNStructure, ae.DelayFixedStructure)):
            self.need(node.delay_time, self.time, f"a delay time is in {self.time}")
            return self.same([node.input, node.initial], "the initial value has the input's units")
        if isinstance(node, ae.TrendStructure):
            self.need(node.average_time, self.time, f"an averaging time is in {self.time}")
            self.infer(node.input)
            self.need(node.initial_trend, self.time ** -1, "a trend is a fractional rate")
            return self.time ** -1
        if isinstance(node, ae.ForecastStructure):
            self.need(node.average_time, self.time, f"an averaging time is in {self.time}")
            self.need(node.horizon, self.time, f"a horizon is in {self.time}")
            self.need(node.initial_trend, self.time ** -1, "a trend is a fractional rate")
            return self.infer(node.input)
        if isinstance(node, ae.InitialStructure):
            return self.infer(node.initial)
        if isinstance(node, ae.SampleIfTrueStructure):
            self.infer(node.condition)
            return self.same([node.input, node.initial], "the initial value has the input's units")
        if isinstance(node, ae.InlineLookupsStructure):
            self.need(node.argument, DMNL, "a lookup takes a Dmnl input")
            return DMNL
        raise NoUnitsRule(f"no units rule for {type(node).__name__.replace('Structure', '')}")

    def _arithmetic(self, ops, args):
        if len(args) == 1:  # unary minus
            return self.infer(args[0])
        if ops[0] == "^":
            base, exponent = args
            base_units = self.infer(base)
            self.need(exponent, DMNL, "an exponent must be dimensionless")
            if base_units is None or base_units.dimensionless:
                return base_units if base_units is None else DMNL
            if not isinstance(exponent, (int, float, np.integer, np.floating)):
                raise UnitsMismatch(self.text(base), base_units, DMNL,
                                    "a base with units needs a numeric exponent")
            return base_units ** float(exponent)
        if set(ops) <= {"+", "-"}:
            return self.same(args, "terms of a sum must have equal units")
        # a left-to-right chain of * and /; numbers are dimensionless factors here, or,
        # in the lenient reading, make the whole product 'any units'
        factors = [self.infer(a) for a in args]
        if self.numbers_carry_units and any(f is None for f in factors):
            return None
        units = factors[0] or DMNL
        for op, right in zip(ops, factors[1:]):
            units = units * (right or DMNL) if op == "*" else units / (right or DMNL)
        return units

    def _call(self, node):
        fname = node.function.reference
        args = list(node.arguments)
        if fname in self.lookups:
            self.need(args[0], DMNL, "a lookup takes a Dmnl input")
            return self.declared[fname]
        if fname in ("exp", "ln", "log", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
                     "sinh", "cosh", "tanh"):
            for a in args:
                self.need(a, DMNL, f"{fname.upper()} takes a dimensionless argument")
            return DMNL
        if fname in ("abs", "integer", "quantum"):
            return self.infer(args[0])
        if fname == "sqrt":
            units = self.infer(args[0])
            return None if units is None else units ** Fraction(1, 2)
        if fname in ("min", "max", "modulo"):
            return self.same(args, f"the arguments of {fname.upper()} must have equal units")
        if fname == "if_then_else":
            self.infer(args[0])
            return self.same(args[1:], "both branches of IF THEN ELSE must have equal units")
        if fname in ("zidz", "xidz"):
            num, den = (self.infer(a) for a in args[:2])
            if self.numbers_carry_units and None in (num, den):
                ratio = None
            else:
                ratio = (num or DMNL) / (den or DMNL)
            if fname == "xidz" and ratio is not None:
                self.need(args[2], ratio, "the XIDZ fallback has the ratio's units")
            return ratio
        if fname == "power":
            ArithmeticStructure = expressions().ArithmeticStructure
            return self._arithmetic(["^"], [args[0], args[1]]) if len(args) == 2 else \
                self.infer(ArithmeticStructure(["^"], tuple(args)))
        if fname in ("step", "pulse", "pulse_train", "ramp"):
            for a in args[1:]:
                self.need(a, self.time, f"{fname.upper()} times are in {self.time}")
            height = self.infer(args[0])
            return height * self.time ** -1 if fname == "ramp" and height is not None else height
        if fname == "active_initial":
            return self.same(args, "both arguments of ACTIVE INITIAL must have equal units")
        if fname in ("sum", "prod", "vmin", "vmax"):
            return self.infer(args[0])
        if fname == "pi":
            return DMNL
        raise NoUnitsRule(f"no units rule for function {fname.upper()}")


def model_time_units(declared: dict[str, Units]) -> Units:
    """The model's time unit: the declared units of TIME STEP (Vensim's "Units for
    Time" are those of INITIAL TIME, FINAL TIME and TIME STEP), else Year.  SAVEPER and
    TIME STEP are in time units; a Dmnl or missing declaration says nothing."""
    for name in ("time_step", "initial_time", "final_time"):
        units = declared.get(name)
        if units is not None and not units.dimensionless and len(units.powers) == 1 \
                and units.powers[0][1] == 1:
            return units
    return YEAR


def _declared_units(elements) -> tuple[dict[str, Units], dict[str, str], set[str], dict[str, str]]:
    declared, names, raw, lookups = {}, {}, {}, set()
    for el in elements:
        key = norm(el.name)
        names[key] = el.name
        raw[key] = el.units or ""
        try:
            declared[key] = parse_units(el.units or "")
        except UnitsSyntaxError as err:
            raise ModelError(f"variable {el.name!r}: {err}") from None
        if any(c.type == "Lookup" for c in el.components):
            lookups.add(key)
    return declared, names, lookups, raw


def first_problem(walker: _Walker, declared: Units, components) -> str:
    """The first mismatching term of one variable's equation(s), or ''."""
    ae = expressions()
    try:
        for comp in components:
            ast = comp.ast
            if comp.type == "Lookup" or isinstance(ast, (ae.LookupsStructure, np.ndarray)):
                continue
            if isinstance(ast, ae.IntegStructure):
                walker.need(ast.flow, declared / walker.time,
                            f"a stock's net flow is in stock units per {walker.time}")
                walker.need(ast.initial, declared, "a stock's initial value is in stock units")
                continue
            units = walker.infer(ast)
            if units is not None and units != declared:
                raise UnitsMismatch(render(ast, walker.names), units, declared,
                                    "the equation's units differ from the declared units")
    except NoUnitsRule:  # a ModelError too, but the caller reports it as 'not checked'
        raise
    except (UnitsMismatch, ModelError) as err:
        return str(err)
    return ""


def check_equation(strict: _Walker, lenient: _Walker, name: str, raw_units: str, declared: Units,
                   components) -> EquationUnits:
    """pass, warn (only a number with implicit units is off) or fail, with the bad term;
    `declared` is `raw_units` as parsed by `_declared_units`."""
    if not raw_units.strip():
        return EquationUnits(name, "", "fail", "no units declared")
    try:
        problem = first_problem(strict, declared, components)
    except NoUnitsRule as err:
        return EquationUnits(name, str(declared), "warn", f"not checked: {err}")
    if not problem:
        return EquationUnits(name, str(declared), "pass", "")
    remaining = first_problem(lenient, declared, components)
    if remaining:
        return EquationUnits(name, str(declared), "fail", remaining)
    return EquationUnits(name, str(declared), "warn",
                         f"consistent only if a number carries units: {problem}")


def check_abstract_model(abstract_model) -> list[EquationUnits]:
    """Every equation of a parsed model (PySD abstract model), in file order."""
    elements = model_elements(abstract_model)
    declared, names, lookups, raw = _declared_units(elements)
    time = model_time_units(declared)
    strict = _Walker(declared, names, lookups, time=time)
    lenient = _Walker(declared, names, lookups, numbers_carry_units=True, time=time)
    return [check_equation(strict, lenient, el.name, raw[norm(el.name)], declared[norm(el.name)], el.components)
            for el in elements]


def check_model_units(path) -> list[EquationUnits]:
    """Parse a Vensim .mdl and check every equation's units."""
    return check_abstract_model(parse(Path(path)))
