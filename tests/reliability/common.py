"""Helpers of the reliability suite (issue 17): run the real command, copy the config root."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from innosd.experiments.cli import main as cli_main
from innosd.scenarios import CONFIG_DIR

# Every case of issue 17 that hung was killed at 300 s; a fixed one answers in seconds.
HANG_S = 120


class Hang(Exception):
    """A call ran longer than HANG_S: the hang of issue 17, turned into a test failure."""


@contextlib.contextmanager
def no_hang(seconds: float = HANG_S) -> Iterator[None]:
    """Fail (raise Hang) instead of waiting for ever; SIGALRM, so the main thread only."""
    def stop(signum, frame):
        raise Hang(f"still running after {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cli(*args: str) -> tuple[int, str]:
    """Run `innosd ARGS` in this process: (exit code, stderr). An uncaught exception fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(list(args))
    return code, err.getvalue()


def assert_one_line(code: int, stderr: str, command: str, fragment: str = "") -> None:
    """A clean user-facing error: non-zero, one line `innosd COMMAND: error: ...`, no traceback."""
    lines = stderr.strip().splitlines()
    assert code != 0, stderr
    assert len(lines) == 1 and lines[0].startswith(f"innosd {command}: error: "), stderr
    assert fragment in lines[0], lines[0]


def config_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped config root (scenario files may be added to it)."""
    target = tmp_path / "scenarios"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def innosd(*args: str, cwd: Path) -> subprocess.Popen:
    """`innosd ARGS` as a separate process (for concurrency), stdout and stderr captured."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "innosd.experiments.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
