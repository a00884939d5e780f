"""The `innosd` command: one entry point, one sub-command per task.

    innosd run [HYDRA OVERRIDES...]     scenario runs (Hydra; `-m` sweeps)
    innosd simulate MODEL [...]         run any Vensim/XMILE model, write CSV
    innosd bench [...]                  compiled core vs PySD, measured ratios
    innosd calibrate [HYDRA OVERRIDES...]  Bayesian calibration to the 2013-2016 figures
    innosd validate [MODEL]             the SD validation battery (validation.md/.csv)
    innosd backtest [--until YEAR] [...]  calibrate up to a year, score the later observations
    innosd report RUN_DIR...            HTML + PDF report from saved run folders
    innosd app [MODEL] [--port N]       the what-if page (local server; --bench: its latency)
    innosd sketch [MODEL] [--write]     the .mdl's Vensim diagram (sketch section) from its equations
    innosd loops [MODEL] [--vars A,B]   which feedback loops dominate over time (Loops That Matter)

User errors (`innosd.errors.InnosdError`) are printed as one line and exit 2.
"""

from __future__ import annotations

import importlib
import os
import sys

from innosd.errors import InnosdError, closest

# sub-command -> module with a `main(argv: list[str]) -> int`
SUBCOMMANDS = {
    "run": "innosd.experiments.commands.run",
    "simulate": "innosd.experiments.commands.simulate",
    "bench": "innosd.experiments.commands.bench",
    "calibrate": "innosd.experiments.commands.calibrate",
    "validate": "innosd.experiments.commands.validate",
    "backtest": "innosd.experiments.commands.backtest",
    "report": "innosd.experiments.commands.report",
    "app": "innosd.experiments.commands.app",
    "sketch": "innosd.experiments.commands.sketch",
    "loops": "innosd.experiments.commands.loops",
}

USAGE = "usage: innosd {" + ",".join(SUBCOMMANDS) + "} [ARGS...]  (innosd COMMAND --help for details)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() if argv else USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        print(f"innosd: error: unknown command {command!r}{closest(command, SUBCOMMANDS)}; "
              f"valid commands: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[command])
    try:
        code = int(module.main(rest) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return code
    except InnosdError as err:
        print(f"innosd {command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"innosd {command}: interrupted; no partial output was kept (folders already complete stay, "
              "an ensemble resumes from its finished chunks)", file=sys.stderr)
        return 130
    except OSError as err:
        if isinstance(err, BrokenPipeError):
            return _closed_pipe()
        # the disk's or the system's reasons (full, read-only, no permission) after the
        # input was checked: one line; finished folders were written atomically and stay
        where = f": {err.filename}" if err.filename else ""
        print(f"innosd {command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1


def _closed_pipe() -> int:
    """The reader of our stdout went away (`innosd run --list-params | head -1`): stop quietly;
    stdout goes to /dev/null so Python's flush at exit raises nothing either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a program ended by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
