"""The cockpit's own crash reports: off unless `[telemetry] sentry_dsn_env` names a variable.

Every secret the config refers to (tokens, passwords, DSNs, by their variables or files) is
replaced by *** in the event before it leaves, and local variables are never sent.
"""

from __future__ import annotations

import os
from typing import Any

from cockpit import __version__
from cockpit.config import LoadedConfig
from cockpit.secrets import scrub_data, secret_values

_installed = False


def install(loaded: LoadedConfig) -> bool:
    """Start sentry-sdk for the cockpit's own crashes, when configured; True when it did."""
    global _installed  # noqa: PLW0603 - one SDK per process
    variable = loaded.model.telemetry.sentry_dsn_env
    dsn = os.environ.get(variable) if variable else None
    if _installed or not dsn:
        return _installed
    import sentry_sdk

    secrets = [*secret_values(loaded), dsn]  # the DSN is one of them; belt and braces

    def before_send(event: Any, _hint: Any) -> Any:
        return scrub_data(event, secrets)

    sentry_sdk.init(
        dsn=dsn,
        release=f"cockpit@{__version__}",
        send_default_pii=False,
        include_local_variables=False,
        default_integrations=False,
        before_send=before_send,
    )
    _installed = True
    return True


def report_crash(exc: BaseException) -> None:
    if not _installed:
        return
    import sentry_sdk

    sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)
