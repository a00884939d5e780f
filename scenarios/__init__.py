"""What planners edit: the Hydra config root (config.yaml, scenario/, params/, experiment/,
calibration/) and, in code, its schema.

`CONFIG_DIR` is this folder, wherever innosd is installed (a checkout or site-packages).
"""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
