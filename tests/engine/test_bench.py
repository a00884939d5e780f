"""`innosd bench` prints one PASS/FAIL line per speed target of issue 16 (the numbers
themselves are measured by the command, never asserted: a shared machine would make
a timed test flaky)."""

from __future__ import annotations

from pathlib import Path

import pytest

from innosd.experiments.commands.bench import main

MODEL = Path(__file__).parent / "models" / "exponential_decay.mdl"
TARGETS = ("first compile + first run() (empty caches)", "first compile + run() + run_ensemble()",
           "compiled kernel alone vs PySD run()", "compiled run() (DataFrame out) vs PySD run()",
           "run_ensemble, N=300")


@pytest.mark.slow  # two fresh processes compile the model with empty caches: ~10 s idle
def test_bench_prints_a_verdict_and_the_load_for_every_target(capsys):
    assert main(["--model", str(MODEL), "--n", "300", "--hand-n", "0"]) == 0
    out = capsys.readouterr().out
    verdicts = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert [next(t for t in TARGETS if t in line) for line in verdicts] == list(TARGETS)
    assert all("(load " in line and "target " in line for line in verdicts)
    # the first compile ran in a fresh process with empty caches: not from the disk cache
    assert "from disk cache: True" in out  # ... and the second fresh process reused them
