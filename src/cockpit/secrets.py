"""The configured secrets: kept out of child processes, and out of everything the cockpit keeps.

The config names secrets by reference (`*_env`: a variable; `*_file`: a file). Two rules follow
from that, and this module is the one place that carries them out:

- a child process (a runbook step, a `command` check) gets the cockpit's environment without
  any variable the config names as a secret, anywhere in the config, unless the step's script
  or the check's command itself names it (`$NAME` or `${NAME}`): `printenv` in a step must not
  print the Prometheus token;
- every text the cockpit keeps or prints (audit log, state, evidence, step output, `check`
  output, report, crash file) has every configured secret's value replaced by `***`, each
  occurrence. Values shorter than four characters are not scrubbed: they would blank out
  ordinary words and protect nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from cockpit.config import LoadedConfig

MASK = "***"
MIN_SECRET_LENGTH = 4
_MENTION = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# secrets seen by this process, for the last-resort crash file (written without a session)
_SEEN: set[str] = set()


def references(loaded: LoadedConfig) -> Iterator[tuple[str, str]]:
    """("env", NAME) or ("file", path) of every secret the config names, anywhere in it."""
    # lazy: pydantic and the config models load only when a config is read (the CLI
    # imports this module for its crash file, and `cockpit --help` stays quick)
    from pydantic import BaseModel

    from cockpit.config_fields import SecretEnv, SecretFile

    def walk(model: BaseModel) -> Iterator[tuple[str, str]]:
        for name, info in type(model).model_fields.items():
            value = getattr(model, name)
            marked = False
            for meta in info.metadata:
                if isinstance(meta, SecretEnv) and isinstance(value, str):
                    marked = True
                    yield "env", value
                elif isinstance(meta, SecretEnv) and isinstance(value, dict):
                    marked = True  # a name → variable table, e.g. headers_env
                    yield from (("env", str(v)) for v in value.values())
                elif isinstance(meta, SecretFile) and value is not None:
                    marked = True
                    yield "file", str(value)
            if not marked and name.endswith("_env") and isinstance(value, str):
                yield "env", value
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

    yield from walk(loaded.model)


def secret_variables(loaded: LoadedConfig) -> frozenset[str]:
    """Names of every environment variable the config names as holding a secret."""
    return frozenset(ref for kind, ref in references(loaded) if kind == "env")


def secret_values(loaded: LoadedConfig) -> tuple[str, ...]:
    """The current values of every secret the config names, longest first, for scrubbing."""
    values: set[str] = set()
    for kind, ref in references(loaded):
        if kind == "env":
            secret = os.environ.get(ref)
        else:
            try:
                secret = loaded.resolve(Path(ref)).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                secret = None
        if secret:
            values.add(secret)
    return remember(values)


def remember(values: Iterable[str]) -> tuple[str, ...]:
    """Keep these values for the crash file too; returns them, longest first, short ones out."""
    kept = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
    _SEEN.update(kept)
    return tuple(sorted(kept, key=len, reverse=True))


def seen() -> tuple[str, ...]:
    """Every secret value this process has read so far (for a crash file)."""
    return tuple(sorted(_SEEN, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each occurrence of each secret replaced by ***."""
    for secret in sorted(
        (s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True
    ):
        text = text.replace(secret, MASK)
    return text


def scrub_data(data: Any, secrets: Iterable[str]) -> Any:
    """Strings inside lists and dicts scrubbed, keys included; other values as they are."""
    values = tuple(secrets)
    if not values:
        return data
    if isinstance(data, str):
        return scrub(data, values)
    if isinstance(data, dict):
        return {scrub_data(k, values): scrub_data(v, values) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return type(data)(scrub_data(v, values) for v in data)
    return data


def named_variables(texts: Iterable[str]) -> frozenset[str]:
    """Variables a script or command names itself (`$NAME`, `${NAME}`): those it may have."""
    return frozenset(match.group(1) for text in texts for match in _MENTION.finditer(text))


def child_environment(
    hidden: Iterable[str], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The cockpit's environment without the hidden variables, plus `extra`."""
    drop = set(hidden)
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra or {})
    return env
