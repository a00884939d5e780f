"""innosd: a system-dynamics simulator of a city's innovation ecosystem (Guangzhou).

One import name. Sub-packages, each importing only those below it:

    innosd.errors, innosd.rundir   the error family; the run-folder contract
    innosd.model                   the Vensim model, its compiler and validation checks
    innosd.scenarios               what planners edit (YAML) and its schema
    innosd.calibration             observations + priors -> posterior -> hand-off
    innosd.experiments             the CLI and every experiment
    innosd.figures                 house style, figures and the report (saved results only)

The sub-packages live in the checkout's top-level folders (model/, scenarios/, ...) and
are mapped under `innosd` by setuptools' package-dir (pyproject.toml).
"""
