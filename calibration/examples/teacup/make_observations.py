"""Regenerate observations.csv: synthetic readings of teacup.mdl's Teacup Temperature, made by
the model itself with Characteristic Time = 14 and Room Temperature = 68 (not the file's 10
and 70), times log-normal measurement noise of sd 0.01, seed 0. The calibration example
(README, tests/calibration/test_user_model.py) must recover those two values.

    python calibration/examples/teacup/make_observations.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
from innosd.model import compile_model

HERE = Path(__file__).parent
TRUTH = {"Characteristic Time": 14.0, "Room Temperature": 68.0}
TIMES = np.arange(2.0, 22.0, 2.0)  # minutes
NOISE_SD = 0.01


def main() -> None:
    run = compile_model(HERE / "teacup.mdl").run(TRUTH, return_columns=["Teacup Temperature"])
    clean = run.loc[TIMES, "Teacup Temperature"].to_numpy()
    noisy = clean * np.exp(NOISE_SD * np.random.default_rng(0).standard_normal(len(TIMES)))
    source = ("synthetic: teacup.mdl with Characteristic Time = 14, Room Temperature = 68, "
              "log-normal noise sd 0.01, seed 0 (make_observations.py)")
    pd.DataFrame({"variable": "Teacup Temperature", "time": TIMES, "value": np.round(noisy, 3),
                  "sigma": NOISE_SD, "source": source}).to_csv(HERE / "observations.csv", index=False)


if __name__ == "__main__":
    main()
