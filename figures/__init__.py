"""Figures and the report, drawn from saved results only (never re-simulated).

    plots.py           house style (innosd.mplstyle + font for the language), primitives that
                       take an `ax`, save_figure (PNG 300 dpi, PDF, SVG), the run's key-indicator grid
    report_figures.py  one function per report figure, from the tables of docs/outputs.md
    structure.py       the stock-and-flow structure read from the .mdl, and its diagram
    labels.py/.yaml    English/Chinese names of indicators, sectors, stocks, scenarios, axis text
    report/            `build_report(run_dirs)`: HTML + PDF report folder (`innosd report`), from
                       saved folders read through innosd.rundir (inputs, sections, html, pdf)

No `plt.show()`; callers save with `plots.save_figure`. Nothing here imports
innosd.experiments: figures are drawn from what the commands saved.
"""
