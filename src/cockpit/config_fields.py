"""What the config's models are made of: strict tables and secret references.

Shared by the environment tables (config.py) and the check types (check_types.py), so both
refuse an unknown key, and read a secret only by reference, the same way.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretEnv:
    """Marks a field whose value is the NAME of an environment variable holding a secret."""


class SecretFile:
    """Marks a field whose value is the path of a file holding a secret."""


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key would otherwise be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        # Never echo the value: someone may have pasted the token itself here.
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits and _), "
            "not the secret itself"
        )
    return value
