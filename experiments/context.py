"""What every experiment gets (`Context`) and returns (`Written`), and the helpers they share.

Its own module so that the experiment registry (`experiments.experiment`) can import the
experiments (`projections`, `sensitivity`, `policy`) without them importing it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from innosd.errors import ConfigError, closest
from innosd.model import MODEL_FILE
from innosd.model.info import ModelInfo
from innosd.rundir import provenance
from innosd.scenarios import CONFIG_DIR, build, compose
from innosd.scenarios.schema import RunConfig


@dataclass(frozen=True)
class Context:
    """What every experiment gets: its config, the overrides it came from, model and data."""

    config: RunConfig
    overrides: tuple[str, ...]
    info: ModelInfo
    observations: pd.DataFrame
    targets: pd.DataFrame
    config_dir: Path = CONFIG_DIR


@dataclass
class Written:
    """Chunk folders to delete once the experiment folder is in place, and metadata extras."""

    chunk_folders: list[Path] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def scenario_names(value: Any, config_dir: Path, key: str) -> list[str]:
    names = compose.options("scenario", config_dir)
    if value in ("all", None):
        return names
    chosen = value if isinstance(value, list) else [value]
    for name in chosen:
        if name not in names:
            raise ConfigError(f"{key}: unknown scenario {name!r}{closest(str(name), names)}; "
                              f"valid scenarios: {', '.join(names)}")
    if not chosen:
        raise ConfigError(f"{key}: the list of scenarios is empty")
    return list(chosen)


def scenario_configs(ctx: Context, names: list[str]) -> dict[str, RunConfig]:
    """The experiment's overrides with each scenario in turn (common draws, same params)."""
    def keep(override: str) -> bool:
        key = override.partition("=")[0].lstrip("+~")
        return key != "scenario" and key.partition(".")[0] != "experiment"

    rest = [o for o in ctx.overrides if keep(o)]
    return {name: build.compose_run_config(rest + [f"scenario={name}"], ctx.info, ctx.config_dir)
            for name in names}


def run_attrs(config: RunConfig, mode: str) -> dict[str, str]:
    """Provenance plus which parameter set (and calibration run) and uncertainty were used."""
    attrs = provenance(config.to_dict(), MODEL_FILE)
    ps = config.parameter_set
    attrs.update({"parameter_set": ps.name, "parameter_set_statistic": ps.statistic,
                  "parameter_set_source": yaml.safe_dump(ps.source, sort_keys=True).strip(),
                  "uncertainty_mode": mode, "seed": str(config.run.seed)})
    return attrs


def draw_figure(function: str, stem: Path, *args, **kwargs) -> None:
    """Draw `figures.report_figures.<function>(*args, **kwargs)` and save it as `stem`."""
    from innosd.figures import report_figures  # matplotlib: only when a figure is drawn
    from innosd.figures.plots import save_figure

    save_figure(getattr(report_figures, function)(*args, **kwargs), stem)
