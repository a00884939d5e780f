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
    out = Path(__file__).with_name("sd_models_report.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: {n_ok} supported, {len(rows)} not")


if __name__ == "__main__":
    main()
