"""Suite-wide isolation: `innosd run params=NAME` looks in the user's parameter sets first
(./params, or $INNOSD_PARAMS_DIR), so a hand-off left in the working directory by a real
`innosd calibrate` must not change what the tests compose. Every test sees an empty one."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def empty_user_params_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INNOSD_PARAMS_DIR", str(tmp_path_factory.mktemp("user-params")))
        yield
