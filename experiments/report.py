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

from pathlib import Path

from innosd.figures.labels import check_language

from innosd.errors import ConfigError

OPTIONS = ("--out", "--language", "figures.language=", "--no-pdf", "--help")


def parse(argv: list[str]) -> tuple[list[Path], Path | None, str | None, bool]:
    """(run folders, out dir, language, pdf?) with one-line errors naming the bad option."""
    run_dirs: list[Path] = []
    out, language, pdf = None, None, True
    args = iter(argv)
    for arg in args:
        name, eq, inline = arg.partition("=")
        if name == "figures.language":  # the config key (scenarios/config.yaml) works here too
            name = "--language"
        if name in ("--out", "--language"):
            value = inline if eq else next(args, None)
            if not value:
                raise ConfigError(f"{name} needs a value (e.g. {name} {'reports' if name == '--out' else 'zh'})")
            if name == "--out":
                out = Path(value)
            else:
                language = check_language(value, "--language")
        elif arg == "--no-pdf":
            pdf = False
        elif arg.startswith("-"):
            raise ConfigError(f"unknown option {arg!r}; valid options: {', '.join(OPTIONS)}")
        else:
            run_dirs.append(Path(arg))
    if not run_dirs:
        raise ConfigError("give at least one run folder, e.g. `innosd report outputs/multirun/DATE/TIME` "
                          "(see `innosd report --help`)")
    return run_dirs, out, language, pdf


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    run_dirs, out, language, pdf = parse(argv)
    from innosd.figures.report import build_report  # after parsing: --help stays instant

    folder = build_report(run_dirs, out, language=language, pdf=pdf)
    print(f"innosd report: {folder / 'report.html'}" + (f" and {folder / 'report.pdf'}" if pdf else ""))
    return 0
