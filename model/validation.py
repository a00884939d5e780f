"""The system-dynamics validation battery: each test a small pure function.

Sterman, *Business Dynamics* (2000) ch. 21 and Barlas (1996): dimensional consistency,
mass balance, extreme conditions, reality checks, integration error, behaviour
reproduction and sensitivity of conclusions. The functions here take plain data
(frames of simulation output, parsed model structure, tables of observations) and return
a `CheckResult` row or the numbers behind it; `experiments/validate.py` loads the inputs,
runs the model and writes the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from innosd.errors import ModelError, closest
from innosd.model.abstract import display_names, expressions, is_number, stocks
from innosd.model.info import lever_of
from innosd.model.results import TIME_MATCH_TOLERANCE, year_end_time

PASS, WARN, FAIL = "pass", "warn", "fail"
# a check with nothing to check (no runs, no expectations): neither passed nor failed
NOT_RUN = "not run"

# Stocks are counts and money in the thousands; Euler round-off on the cohort pipelines is
# ~1e-12 of the flows, so anything below this is arithmetic noise, not a negative stock.
NEGATIVE_STOCK_TOLERANCE = 1e-6
# Re-integrating the saved flows with the model's own Euler step reproduces each stock up
# to float round-off accumulated over a few hundred steps (relative to the stock's scale).
MASS_BALANCE_RELATIVE_TOLERANCE = 1e-9
# A reality check's "zero" allows the same float noise as a negative stock.
ZERO_TOLERANCE = 1e-6
# Markers in a constant's comment that make it a free (calibrated) parameter.
FREE_PARAMETER_MARKERS = ("free parameter", "preliminary least-squares fit", "free here")


@dataclass(frozen=True)
class CheckResult:
    """One row of the validation table."""

    test: str
    checks: str
    result: str        # pass | warn | fail | not run
    evidence: str


def worst(results: Iterable[str]) -> str:
    """fail beats warn beats pass; 'not run' counts as nothing (all not run: not run)."""
    results = set(results)
    if results and results <= {NOT_RUN}:
        return NOT_RUN
    return FAIL if FAIL in results else WARN if WARN in results else PASS


# ------------------------------------------------------------------ dimensional consistency

def units_check(equations) -> CheckResult:
    """Summarise `model.units.check_abstract_model` output: every equation's units."""
    failed = [e for e in equations if e.result == FAIL]
    warned = [e for e in equations if e.result == WARN]
    listed = failed or warned
    evidence = (f"{len(equations)} equations: {len(equations) - len(failed) - len(warned)} consistent, "
                f"{len(warned)} consistent only with implicit units on a number, {len(failed)} inconsistent")
    if listed:
        evidence += "; " + "; ".join(f"{e.variable}: {e.problem}" for e in listed)
    return CheckResult("dimensional consistency",
                       "every equation's units, inferred from its terms, equal its declared units",
                       FAIL if failed else WARN if warned else PASS, evidence)


# ------------------------------------------------------------------ mass balance

def stock_flows(abstract_model) -> dict[str, tuple[object, dict[str, str]]]:
    """stock name -> (net-flow expression AST, python name -> model name)."""
    names = display_names(abstract_model)
    return {name: (integ.flow, names) for name, integ in stocks(abstract_model).items()}


_FUNCTIONS = {"exp": np.exp, "ln": np.log, "abs": np.abs, "sqrt": np.sqrt,
              "min": np.minimum, "max": np.maximum}


def evaluate(node, frame: pd.DataFrame, names: Mapping[str, str]):
    """An expression of saved columns as an array over the frame's rows; None if it uses
    anything but arithmetic, saved variables and MIN/MAX/EXP/LN/ABS/SQRT."""
    ae = expressions()
    if is_number(node):
        return np.full(len(frame), float(node))
    if isinstance(node, ae.ReferenceStructure) and node.subscripts is None:
        if node.reference == "time":
            return frame.index.to_numpy(dtype=float)
        name = names.get(node.reference)
        return frame[name].to_numpy(dtype=float) if name in frame.columns else None
    if isinstance(node, ae.CallStructure) and node.function.reference in _FUNCTIONS:
        args = [evaluate(a, frame, names) for a in node.arguments]
        return None if any(a is None for a in args) else _FUNCTIONS[node.function.reference](*args)
    if isinstance(node, ae.ArithmeticStructure):
        args = [evaluate(a, frame, names) for a in node.arguments]
        if any(a is None for a in args):
            return None
        if len(args) == 1:
            return -args[0]
        out = args[0]
        ops = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}
        for op, a in zip(node.operators, args[1:]):
            out = ops[op](out, a)
        return out
    return None


def mass_balance_errors(frame: pd.DataFrame, flows: Mapping[str, tuple], dt: float) -> pd.DataFrame:
    """Per stock: the largest gap between the saved stock and its initial value plus the
    Euler-integrated net flow (the frame must be saved at every TIME STEP)."""
    rows = []
    for stock, (flow_ast, names) in flows.items():
        net = evaluate(flow_ast, frame, names)
        if net is None or stock not in frame.columns:
            rows.append({"stock": stock, "checked": False, "max_abs_error": np.nan,
                         "scale": np.nan, "relative_error": np.nan})
            continue
        level = frame[stock].to_numpy(dtype=float)
        rebuilt = level[0] + np.concatenate([[0.0], np.cumsum(net[:-1] * dt)])
        error = float(np.max(np.abs(rebuilt - level)))
        scale = max(1.0, float(np.max(np.abs(level))))
        rows.append({"stock": stock, "checked": True, "max_abs_error": error, "scale": scale,
                     "relative_error": error / scale})
    return pd.DataFrame(rows, columns=["stock", "checked", "max_abs_error", "scale", "relative_error"])


def mass_balance_check(errors: pd.DataFrame) -> CheckResult:
    checked = errors[errors["checked"]]
    bad = checked[~(checked["relative_error"] <= MASS_BALANCE_RELATIVE_TOLERANCE)]
    skipped = errors.loc[~errors["checked"], "stock"].tolist()
    worst_row = checked.sort_values("relative_error").iloc[-1] if len(checked) else None
    evidence = f"{len(checked)} of {len(errors)} stocks re-integrated from their saved flows"
    if worst_row is not None:
        evidence += (f"; largest relative gap {worst_row['relative_error']:.1e} ({worst_row['stock']}) "
                     f"vs tolerance {MASS_BALANCE_RELATIVE_TOLERANCE:g}")
    if len(bad):
        evidence += "; out of balance: " + ", ".join(bad["stock"])
    if skipped:
        evidence += "; not checkable from saved columns: " + ", ".join(skipped)
    result = FAIL if len(bad) else WARN if skipped or not len(checked) else PASS
    return CheckResult("mass balance", "every stock = initial value + integrated net flow", result, evidence)


# ------------------------------------------------------------------ extreme conditions

def is_free_parameter(comment: str) -> bool:
    """The one rule for a free (calibrated, uncertain) constant: a marker in its .mdl comment."""
    text = (comment or "").lower()
    return any(marker in text for marker in FREE_PARAMETER_MARKERS)


def levers_and_free_parameters(parameters: pd.DataFrame) -> pd.DataFrame:
    """Rows of `CompiledModel.parameters` that are policy levers or free parameters."""
    is_lever = parameters.index.map(lambda name: lever_of(name) is not None).to_numpy(dtype=bool)
    is_free = parameters["doc"].fillna("").apply(is_free_parameter)
    out = parameters[is_lever | is_free].copy()
    out["kind"] = np.where(is_lever[is_lever | is_free], "lever", "parameter")
    return out


def extreme_cases(constants: pd.DataFrame) -> pd.DataFrame:
    """One row per (constant, setting): its declared bounds, 0 and 10x its default.

    `within_range` is False for 0 or 10x default outside the declared range: the model
    does not claim validity there, so a failure there is reported but only warns."""
    rows = []
    for name, c in constants.iterrows():
        lower = None if pd.isna(c["min"]) else float(c["min"])  # pd.isna(None) is True
        upper = None if pd.isna(c["max"]) else float(c["max"])
        settings = {"lower bound": lower, "upper bound": upper, "zero": 0.0, "10x default": 10 * float(c["default"])}
        seen = set()
        for setting, value in settings.items():
            if value is None or value in seen:
                continue
            seen.add(value)
            within = (lower is None or value >= lower) and (upper is None or value <= upper)
            rows.append({"constant": name, "kind": c["kind"], "setting": setting, "value": value,
                         "within_range": within})
    return pd.DataFrame(rows, columns=["constant", "kind", "setting", "value", "within_range"])


def stock_violations(runs: Mapping[str, np.ndarray]) -> dict[str, str]:
    """stock -> what is wrong ('not finite' / 'negative (min ...)') for one run's stocks."""
    problems = {}
    for stock, values in runs.items():
        values = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(values)):
            problems[stock] = "not finite"
        elif values.min() < -NEGATIVE_STOCK_TOLERANCE:
            problems[stock] = f"negative (min {values.min():.3g})"
    return problems


def extreme_conditions_check(cases: pd.DataFrame, violations: list[dict[str, str]],
                             directional: list[tuple[str, bool, str]]) -> CheckResult:
    """`violations[i]`: stock problems of case i; `directional`: (expectation, held, evidence)."""
    inside, outside = [], []
    for case, problems in zip(cases.itertuples(index=False), violations):
        if problems:
            stock, what = next(iter(problems.items()))
            text = f"{case.constant}={case.value:g} ({case.setting}): {stock} {what}" + \
                (f" (+{len(problems) - 1} more stocks)" if len(problems) > 1 else "")
            (inside if case.within_range else outside).append(text)
    broken = [f"{name}: {ev}" for name, held, ev in directional if not held]
    result = FAIL if inside or broken else WARN if outside else PASS
    if len(cases) == 0 and not directional:
        # no lever or free parameter to move and no expectation: nothing was checked
        result = NOT_RUN
    evidence = (f"{len(cases)} one-at-a-time runs over {cases['constant'].nunique()} levers and free "
                f"parameters (bounds, 0, 10x default); {len(inside)} with non-finite or negative stocks "
                f"within the declared ranges, {len(outside)} outside them; "
                f"{len(directional) - len(broken)}/{len(directional)} directional expectations hold")
    details = inside + broken + [f"outside declared range: {t}" for t in outside]
    if details:
        evidence += "; " + "; ".join(details[:12]) + ("; ..." if len(details) > 12 else "")
    return CheckResult("extreme conditions",
                       "levers and free parameters at bounds, 0 and 10x default: stocks finite and "
                       "non-negative; declared directional expectations hold", result, evidence)


# ------------------------------------------------------------------ reality checks (YAML)

EXPECTATIONS = ("zero", "falls", "not_increasing", "below_baseline", "above_baseline")


@dataclass(frozen=True)
class Expectation:
    variable: str
    kind: str                 # one of EXPECTATIONS
    start: float              # model time window [start, end]
    end: float


@dataclass(frozen=True)
class RealityCheck:
    name: str
    description: str
    set: dict[str, float]
    expect: tuple[Expectation, ...]
    source: str = ""


@dataclass(frozen=True)
class Directional:
    """Raising `constant` from its lower to its upper bound moves `variable` in `sign`."""

    constant: str
    variable: str
    year: int
    sign: int                 # +1 rises, -1 falls
    reason: str = field(default="")


def _key(path: Path, where: str, item: Mapping, key: str, kind=str):
    if key not in item:
        raise ModelError(f"{path}: {where}: missing key {key!r}")
    try:
        return kind(item[key])
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        expected = {int: "an integer", float: "a number"}.get(kind, "text")
        raise ModelError(f"{path}: {where}.{key}: {item[key]!r} is not {expected}") from None


def _list(path: Path, where: str, value) -> list:
    """A YAML list (or nothing); a one-line error for anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ModelError(f"{path}: {where}: expected a list, got {type(value).__name__}")
    return value


def load_reality_checks(path: Path, constants: Iterable[str], variables: Iterable[str]
                        ) -> tuple[list[RealityCheck], list[Directional]]:
    """Read and check `reality_checks.yaml`; one-line ModelError naming file and key."""
    path = Path(path)
    constants, variables = list(constants), list(variables)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ModelError(f"{path}: cannot read: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        raise ModelError(f"{path}:{line} malformed YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: expected a mapping with keys reality_checks, directional")
    unknown = set(raw) - {"reality_checks", "directional"}
    if unknown:
        key = sorted(unknown)[0]
        raise ModelError(f"{path}: unknown key {key!r}{closest(key, ['reality_checks', 'directional'])}; "
                         "valid keys: reality_checks, directional")

    def constant(name, where):
        if name not in constants:
            raise ModelError(f"{path}: {where}: unknown constant {name!r}{closest(name, constants)}")
        return name

    def variable(name, where):
        if name not in variables:
            raise ModelError(f"{path}: {where}: unknown variable {name!r}{closest(name, variables)}")
        return name

    checks = []
    for i, item in enumerate(_list(path, "reality_checks", raw.get("reality_checks"))):
        where = f"reality_checks[{i}]"
        if not isinstance(item, dict):
            raise ModelError(f"{path}: {where}: expected a mapping")
        name = _key(path, where, item, "name")
        settings = item.get("set")
        settings = {} if settings is None else settings
        if not isinstance(settings, dict):
            raise ModelError(f"{path}: {where}.set: expected a mapping constant -> value")
        values = {constant(str(k), f"{where}.set"): _key(path, f"{where}.set", settings, k, float)
                  for k in settings}
        expects = []
        for j, e in enumerate(_list(path, f"{where}.expect", item.get("expect"))):
            ewhere = f"{where}.expect[{j}]"
            if not isinstance(e, dict):
                raise ModelError(f"{path}: {ewhere}: expected a mapping")
            kind = _key(path, ewhere, e, "is")
            if kind not in EXPECTATIONS:
                raise ModelError(f"{path}: {ewhere}.is: {kind!r} is not one of {', '.join(EXPECTATIONS)}"
                                 f"{closest(kind, EXPECTATIONS)}")
            expects.append(Expectation(variable(_key(path, ewhere, e, "variable"), ewhere), kind,
                                       _key(path, ewhere, e, "from", float), _key(path, ewhere, e, "to", float)))
        if not expects:
            raise ModelError(f"{path}: {where}: needs at least one entry under 'expect'")
        checks.append(RealityCheck(name, str(item.get("description", "")), values, tuple(expects),
                                   str(item.get("source", ""))))
    directional = []
    for i, item in enumerate(_list(path, "directional", raw.get("directional"))):
        where = f"directional[{i}]"
        if not isinstance(item, dict):
            raise ModelError(f"{path}: {where}: expected a mapping")
        sign = _key(path, where, item, "sign")
        if sign not in ("+", "-"):
            raise ModelError(f"{path}: {where}.sign: {sign!r} must be '+' or '-'")
        directional.append(Directional(constant(_key(path, where, item, "constant"), where),
                                       variable(_key(path, where, item, "variable"), where),
                                       _key(path, where, item, "year", int), 1 if sign == "+" else -1,
                                       str(item.get("reason", ""))))
    return checks, directional


def window(frame: pd.DataFrame, variable: str, start: float, end: float) -> pd.Series:
    times = frame.index.to_numpy(dtype=float)
    inside = (times >= start - TIME_MATCH_TOLERANCE) & (times <= end + TIME_MATCH_TOLERANCE)
    return frame[variable][inside]


def expectation_holds(e: Expectation, run: pd.DataFrame, baseline: pd.DataFrame) -> tuple[bool, str]:
    """Whether one expectation holds on a run, with the numbers that show it."""
    values = window(run, e.variable, e.start, e.end).to_numpy(dtype=float)
    if values.size == 0:
        return False, f"{e.variable}: no saved values in [{e.start:g}, {e.end:g}]"
    if not np.all(np.isfinite(values)):
        return False, f"{e.variable}: non-finite values in [{e.start:g}, {e.end:g}]"
    span = f"[{e.start:g}, {e.end:g}]"
    if e.kind == "zero":
        top = float(np.max(np.abs(values)))
        return top <= ZERO_TOLERANCE, f"{e.variable} max |value| {top:.3g} over {span}"
    if e.kind == "falls":
        return values[-1] < values[0], f"{e.variable} {values[0]:.4g} -> {values[-1]:.4g} over {span}"
    if e.kind == "not_increasing":
        rise = float(np.max(np.diff(values))) if values.size > 1 else 0.0
        return rise <= ZERO_TOLERANCE * max(1.0, float(np.max(np.abs(values)))), \
            f"{e.variable} largest step-to-step rise {rise:.3g} over {span}"
    base = window(baseline, e.variable, e.start, e.end).to_numpy(dtype=float)
    gap = values - base
    if e.kind == "below_baseline":
        return bool(np.all(gap < 0)), f"{e.variable} minus baseline: max {gap.max():.4g} over {span}"
    return bool(np.all(gap > 0)), f"{e.variable} minus baseline: min {gap.min():.4g} over {span}"


def reality_checks_check(outcomes: list[tuple[RealityCheck, list[tuple[bool, str]]]], source: str) -> CheckResult:
    if not outcomes:
        return CheckResult("reality checks", f"declared consequences of extreme policies ({source})", WARN,
                           f"no reality checks declared in {source}")
    failed = [f"{c.name}: {ev}" for c, results in outcomes for held, ev in results if not held]
    held = sum(all(h for h, _ in results) for _, results in outcomes)
    if failed:
        evidence = f"{held}/{len(outcomes)} checks hold ({source}); violated: " + "; ".join(failed)
    else:
        evidence = f"{held}/{len(outcomes)} checks hold ({source}): " + "; ".join(
            f"{c.name}: " + ", ".join(ev for _, ev in results) for c, results in outcomes)
    return CheckResult("reality checks", "declared consequences of extreme policies (Vensim Reality Check style)",
                       FAIL if failed else PASS, evidence)


def directional_range(constant: pd.Series) -> tuple[float, float]:
    """Declared bounds of a constant; an open upper bound is 10x the default (as in the
    extreme-conditions sweep) and an open lower bound 0."""
    lo = 0.0 if pd.isna(constant["min"]) else float(constant["min"])
    hi = 10 * float(constant["default"]) if pd.isna(constant["max"]) else float(constant["max"])
    return lo, hi


def directional_holds(d: Directional, low: pd.DataFrame, high: pd.DataFrame) -> tuple[str, bool, str]:
    t = year_end_time(d.year)
    lo, hi = float(low[d.variable].loc[t]), float(high[d.variable].loc[t])
    held = (hi - lo) * d.sign > 0
    arrow = "rises" if d.sign > 0 else "falls"
    return (f"{d.constant} up -> {d.variable} {arrow}", held,
            f"{d.variable}@{d.year}: {lo:.4g} at the low end, {hi:.4g} at the high end")


# ------------------------------------------------------------------ integration error

def relative_changes(reference: pd.DataFrame, other: pd.DataFrame, variables: Iterable[str],
                     times: Mapping[str, float]) -> pd.DataFrame:
    """|other - reference| / |reference| for each variable at each labelled model time."""
    rows = []
    for v in variables:
        for label, t in times.items():
            ref, alt = float(reference[v].loc[t]), float(other[v].loc[t])
            rows.append({"variable": v, "year": label, "reference": ref, "other": alt,
                         "relative_change": abs(alt - ref) / max(abs(ref), 1e-12)})  # guard 0/0
    return pd.DataFrame(rows)


def integration_check(changes: Mapping[str, pd.DataFrame], tolerance: float, reason: str,
                      where: str = "2020/2025/2035") -> CheckResult:
    parts, bad = [], []
    for label, table in changes.items():
        top = table.sort_values("relative_change").iloc[-1]
        parts.append(f"{label}: largest change {top['relative_change']:.2%} ({top['variable']}@{top['year']})")
        bad += [f"{label}: {r.variable}@{r.year} {r.relative_change:.2%}"
                for r in table.itertuples() if not r.relative_change < tolerance]
    evidence = "; ".join(parts) + f"; tolerance {tolerance:.0%} ({reason})"
    if bad:
        evidence += "; above tolerance: " + ", ".join(bad)
    return CheckResult("integration error", "halving TIME STEP and Euler -> RK4 change key indicators at "
                       f"{where} by less than the tolerance", FAIL if bad else PASS, evidence)


# ------------------------------------------------------------------ behaviour reproduction

def theil_decomposition(simulated, observed) -> dict[str, float]:
    """Theil inequality statistics of the mean squared error (Sterman 1984):
    U_M bias, U_S unequal variation, U_C unequal covariation; they sum to 1."""
    s, a = np.asarray(simulated, dtype=float), np.asarray(observed, dtype=float)
    mse = float(np.mean((s - a) ** 2))
    if mse == 0.0:
        return {"mse": 0.0, "U_M": float("nan"), "U_S": float("nan"), "U_C": float("nan")}
    ss, sa = float(np.std(s)), float(np.std(a))
    r = float(np.corrcoef(s, a)[0, 1]) if ss > 0 and sa > 0 else 0.0
    return {"mse": mse, "U_M": (s.mean() - a.mean()) ** 2 / mse, "U_S": (ss - sa) ** 2 / mse,
            "U_C": 2 * (1 - r) * ss * sa / mse}


def mape(simulated, observed) -> float:
    s, a = np.asarray(simulated, dtype=float), np.asarray(observed, dtype=float)
    return float(np.mean(np.abs(s - a) / np.abs(a)))


def fit_table(pairs: pd.DataFrame, min_points_for_theil: int = 3) -> pd.DataFrame:
    """`pairs`: indicator, year, observed, simulated -> per indicator n, MAPE, Theil stats."""
    rows = []
    for indicator, group in pairs.groupby("indicator", sort=True):
        row = {"indicator": indicator, "n": len(group), "mape": mape(group["simulated"], group["observed"]),
               "mse": np.nan, "U_M": np.nan, "U_S": np.nan, "U_C": np.nan}
        if group["year"].nunique() >= min_points_for_theil:
            row.update(theil_decomposition(group["simulated"], group["observed"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=["indicator", "n", "mape", "mse", "U_M", "U_S", "U_C"])


def behaviour_check(table: pd.DataFrame, parameter_source: str, warn_mape: float, reason: str) -> CheckResult:
    if table.empty:
        return CheckResult("behaviour reproduction", "fit to observations", WARN, "no observation maps to the model")
    high = table[table["mape"] > warn_mape]
    theil = table.dropna(subset=["U_M"])
    evidence = (f"parameters: {parameter_source}; {len(table)} indicators, {int(table['n'].sum())} observations; "
                f"median MAPE {table['mape'].median():.1%}, worst {table['mape'].max():.1%} "
                f"({table.loc[table['mape'].idxmax(), 'indicator']}); ")
    evidence += "Theil (U_M/U_S/U_C) for series with >= 3 years: " + (", ".join(
        f"{r.indicator} {r.U_M:.2f}/{r.U_S:.2f}/{r.U_C:.2f}" for r in theil.itertuples()) or "none")
    if len(high):
        evidence += f"; MAPE above {warn_mape:.0%} ({reason}): " + ", ".join(
            f"{r.indicator} {r.mape:.1%}" for r in high.itertuples())
    return CheckResult("behaviour reproduction", "MAPE per indicator and Theil inequality decomposition "
                       "against calibration/data/observations.csv", WARN if len(high) else PASS, evidence)


# ------------------------------------------------------------------ sensitivity of conclusions

def ranking_agreement(point_diff: float, draw_diffs) -> float:
    """Share of posterior draws whose scenario-minus-baseline sign equals the point estimate's."""
    d = np.asarray(draw_diffs, dtype=float)
    return float(np.mean(np.sign(d) == np.sign(point_diff))) if d.size else float("nan")


def scenario_agreements(values: np.ndarray, scenarios: list[str], n_draws: int,
                        material: float) -> list[tuple[str, float, float]]:
    """One key value per run, laid out as [point run per scenario (baseline first), then
    n_draws runs per scenario in the same order] -> (scenario, point difference, agreement)
    for every scenario whose point effect is material (relative to baseline)."""
    k = len(scenarios)
    draws = values[k:].reshape(k, n_draws)
    out = []
    for i, name in enumerate(scenarios[1:], start=1):
        point = values[i] - values[0]
        if abs(point) > material * max(abs(values[0]), 1e-12):  # guard a zero baseline
            out.append((name, float(point), ranking_agreement(point, draws[i] - draws[0])))
    return out


def conclusions_check(agreement: pd.DataFrame | None, reason: str, threshold: float) -> CheckResult:
    checks = "each scenario's direction against baseline (key indicators, 2025/2035) holds across posterior draws"
    if agreement is None or agreement.empty:
        return CheckResult("sensitivity of conclusions", checks, WARN, reason)
    weak = agreement[agreement["agreement"] < threshold]
    evidence = (f"{reason}; {len(agreement)} scenario x indicator x year conclusions; lowest agreement "
                f"{agreement['agreement'].min():.0%}; threshold {threshold:.0%}")
    if len(weak):
        evidence += "; not robust: " + ", ".join(
            f"{r.scenario}/{r.indicator}@{r.year} {r.agreement:.0%}" for r in weak.itertuples())
    return CheckResult("sensitivity of conclusions", checks, WARN if len(weak) else PASS, evidence)
