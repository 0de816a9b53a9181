"""The cockpit's own crash reports: off unless `[telemetry] sentry_dsn_env` names a variable.

Every secret the config refers to (tokens, passwords, DSNs, by their variables or files) is
replaced by *** in the event before it leaves, and local variables are never sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cockpit.config import LoadedConfig, SecretEnv, SecretFile

_installed = False


def secret_values(loaded: LoadedConfig) -> list[str]:
    """The current values of every secret the config names, for scrubbing."""
    values: list[str] = []

    def walk(model: BaseModel) -> Iterator[tuple[object, object]]:
        for name, info in type(model).model_fields.items():
            value = getattr(model, name)
            for meta in info.metadata:
                if isinstance(meta, SecretEnv | SecretFile) and value is not None:
                    yield meta, value
            if name.endswith("_env") and isinstance(value, str) and not info.metadata:
                yield SecretEnv(), value
            if isinstance(value, BaseModel):
                yield from walk(value)
            elif isinstance(value, dict):
                for element in value.values():
                    if isinstance(element, BaseModel):
                        yield from walk(element)
            elif isinstance(value, list):
                for element in value:
                    if isinstance(element, BaseModel):
                        yield from walk(element)
        extra = model.model_extra or {}
        for key, value in extra.items():
            if key.endswith("_env") and isinstance(value, str):
                yield SecretEnv(), value
            elif key.endswith("_file") and key != "ca_file" and isinstance(value, str):
                yield SecretFile(), value

    for meta, ref in walk(loaded.model):
        if isinstance(meta, SecretEnv):
            secret = os.environ.get(str(ref))
        else:
            try:
                secret = loaded.resolve(Path(str(ref))).read_text(encoding="utf-8").strip()
            except OSError:
                secret = None
        if secret and len(secret) >= 4:
            values.append(secret)
    return sorted(set(values), key=len, reverse=True)


def scrub_event(event: Any, secrets: list[str]) -> Any:
    if isinstance(event, str):
        for secret in secrets:
            event = event.replace(secret, "***")
        return event
    if isinstance(event, dict):
        return {k: scrub_event(v, secrets) for k, v in event.items()}
    if isinstance(event, list):
        return [scrub_event(v, secrets) for v in event]
    return event


def install(loaded: LoadedConfig) -> bool:
    """Start sentry-sdk for the cockpit's own crashes, when configured; True when it did."""
    global _installed  # noqa: PLW0603 - one SDK per process
    variable = loaded.model.telemetry.sentry_dsn_env
    dsn = os.environ.get(variable) if variable else None
    if _installed or not dsn:
        return _installed
    import sentry_sdk

    from cockpit import __version__

    secrets = [*secret_values(loaded), dsn]

    def before_send(event: Any, _hint: Any) -> Any:
        return scrub_event(event, secrets)

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
