"""Regenerate `sd_models_report.md`: which sd-test-models folders the compiled core
supports, and for the rest the missing construct.  Run: python -m tests.engine.make_sd_report
(the pytest run of test_sd_models.py is the verification; this is the readable list)."""

from __future__ import annotations

from pathlib import Path

from innosd.model import compile_model

from innosd.errors import ModelError
from tests.engine import sdmodels as S


# measured on main at commit ae2bc05 (2026-12-02), before issue 16's engine work
BEFORE = ("Before issue 16 (commit ae2bc05): 115 of 143 folders compiled (all matching "
          "PySD). Issue 16 added GET XLS/DIRECT CONSTANTS, DATA (incl. :RAW:), LOOKUPS and "
          "SUBSCRIPT, rolled array kernels for subscripted models, and RANDOM functions "
          "(no folder of the suite; see tests/engine/test_random.py). At commit 636653f: 129 "
          "of 143. Then added: VECTOR SORT ORDER / RANK / REORDER, INVERT MATRIX, ALLOCATE BY "
          "PRIORITY, ALLOCATE AVAILABLE, VECTOR SELECT with a run-time action, GET TIME "
          "VALUE(0, offset, 0), control variables that change during the run (functions of "
          "Time), GAME, DATA from another run's output given with the model (data_files=), and "
          "SMOOTH N / DELAY N with a non-constant order (no folder of the suite; see "
          "tests/engine/test_constructs.py).")


# measured 2026-12-02 against the decoded experiment.vdf and SCEN01.VDF (every shared column and
# time); tests/engine/test_world3.py re-checks a table of those Vensim values (opt-in)
PYSD_DIFFERS = [
    "## Where PySD differs from Vensim", "",
    "World3-03 (issue 16: \"differs from PySD by up to 6.7%\"): the compiled core follows Vensim, "
    "PySD 3.14 does not. Evidence: Vensim's own run of the model (simlin's "
    "test/metasd/WRLD3-03/experiment.vdf, \"From wrld3-03.mdl\", decoded with simlin's "
    "tools/vdf_xray.py outside this repository, and by tests/engine/vdf.py, written from "
    "simlin's format description: the same 297 series, bit for bit). Over the 260 columns and 401 saved times both "
    "have, the largest difference as a fraction of the column's range in Vensim's output: "
    "compiled core 6.2e-6 (capacity utilization fraction; Vensim saves float32), PySD 0.33 "
    "(capacity utilization fraction). Against Vensim's 2005 run SCEN01.VDF: 2.1e-5 and 0.33. "
    "The first step (t = 1900.5): Perceived Food Ratio compiled core 1.0427446, PySD 1.0, "
    "Vensim 1.0427445; Delayed Labor Utilization Fraction 1.0840449, 1.0, 1.0840449.", "",
    "The cause is not ACTIVE INITIAL's semantics (both engines use the initial value while "
    "initialising and the active value from the first time on): PySD's Smooth keeps its stages "
    "in an array of the initial value's dtype, so `food ratio = ACTIVE INITIAL(..., 1)` smoothed, "
    "or `SMOOTHI(..., 1)`, gets an integer array and its first input (food ratio 1.1709782) is "
    "truncated to 1 when written into it (pysd/py_backend/statefuls.py, Smooth.ddt: `targets = "
    "np.roll(self.state, 1, axis=0)`, then `targets[0] = self.input_func()`; the same on "
    "PySD's main branch at commit feee5af): the first step's "
    "derivative is 0, and World3's loops carry the error on (PySD's 6.7% is Delayed Labor "
    "Utilization Fraction's difference as a fraction of its largest value). With the model's "
    "four integer initial values written `1.0`, PySD matches the compiled core to 3.6e-16 of a "
    "column's range and Vensim to 6.2e-6. Tests: tests/engine/test_initialisation.py (the "
    "hand-worked models/active_initial_fractional.mdl, PySD's truncated values pinned) and "
    "tests/engine/test_world3.py (opt-in: INNOSD_WORLD3_MDL, and INNOSD_WORLD3_VDF for every "
    "column; the model has no licence allowing redistribution).",
]


def main() -> None:
    rows, n_ok = [], 0
    for folder in S.folders():
        f = S.model_file(folder)
        if f is None:
            rows.append((folder, "no model", "no .mdl or .xmile file in the folder"))
            continue
        try:
            compile_model(f, data_files=S.data_files(folder))
            n_ok += 1
            continue
        except ModelError as err:
            msg = str(err)
        status = "unsupported" if "unsupported construct " in msg else \
            "refused (data file missing; PySD fails too)" if "not found" in msg else "refused"
        reason = msg.split("unsupported construct ", 1)[-1].split("; run this model")[0]
        reason = reason.replace(str(S.SUITE) + "/", "")
        rows.append((folder, status, reason.replace("|", "/")))
    lines = ["# sd-test-models: folders the compiled core does not run", "",
             f"{n_ok} of {len(S.folders())} folders compile; every one of them is verified "
             "against PySD (relative tolerance 1e-10) and the canonical output by "
             "`tests/engine/test_sd_models.py`, so with that test green each compiling folder "
             "matches PySD.", "", BEFORE, "", "The rest:", "",
             "| folder | status | missing construct (variable) |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += [""] + PYSD_DIFFERS
    out = Path(__file__).with_name("sd_models_report.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: {n_ok} supported, {len(rows)} not")


if __name__ == "__main__":
    main()
