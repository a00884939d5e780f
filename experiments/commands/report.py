"""`innosd report RUN_DIR...`: an HTML + PDF report from saved run folders.

    innosd report outputs/multirun/2026-11-22/10-00-00          a sweep (all its runs)
    innosd report RUN_DIR EXPERIMENT_DIR CALIBRATION_DIR ...    any mix of output folders
    innosd report RUN_DIR --out reports/                        write reports/report/
    innosd report RUN_DIR --language zh                         Chinese labels
    innosd report RUN_DIR figures.language=zh                   the same, in the config's syntax
    innosd report RUN_DIR --no-pdf                              HTML and figures only

Writes RUN_DIR/report/ (or OUT/report/): report.html (self-contained), report.pdf, and
figures/ with every figure as PNG (300 dpi), PDF and SVG. Never re-simulates; a rebuilt
report replaces the previous one only once complete. The language defaults to
`figures.language` in the runs' config.yaml, else English.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from innosd.experiments.commands import OneLineParser
from innosd.errors import ConfigError
from innosd.figures.labels import check_language
from innosd.figures.report import build_report

OPTIONS = ("--out", "--language", "figures.language=", "--no-pdf", "--help")
EXAMPLES = {"--out": "reports", "--language": "zh"}


class ReportParser(OneLineParser):
    def error(self, message):  # argparse's messages, said the way the other commands say them
        missing = re.match(r"argument (--\w+).*expected one argument", message)
        if missing:
            flag = missing.group(1)
            raise ConfigError(f"{flag} needs a value (e.g. {flag} {EXAMPLES.get(flag, 'VALUE')})")
        raise ConfigError(f"{message}; valid options: {', '.join(OPTIONS)}")


def parser() -> argparse.ArgumentParser:
    p = ReportParser(prog="innosd report", add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("run_dirs", nargs="*", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--language")
    p.add_argument("--no-pdf", dest="pdf", action="store_false")
    return p


def parse(argv: list[str]) -> tuple[list[Path], Path | None, str | None, bool]:
    """(run folders, out dir, language, pdf?) with one-line errors naming the bad option.
    `figures.language=X` (the config key of scenarios/config.yaml) means `--language X`."""
    argv = [f"--language={a.partition('=')[2]}" if a.startswith("figures.language=") else a for a in argv]
    args, unknown = parser().parse_known_args(argv)
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}; valid options: {', '.join(OPTIONS)}")
    if args.help:
        return [], None, None, True
    if args.language is not None:
        check_language(args.language, "--language")
    if not args.run_dirs:
        raise ConfigError("give at least one run folder, e.g. `innosd report outputs/multirun/DATE/TIME` "
                          "(see `innosd report --help`)")
    return args.run_dirs, args.out, args.language, args.pdf


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    run_dirs, out, language, pdf = parse(argv)
    folder = build_report(run_dirs, out, language=language, pdf=pdf)
    print(f"innosd report: {folder / 'report.html'}" + (f" and {folder / 'report.pdf'}" if pdf else ""))
    return 0
