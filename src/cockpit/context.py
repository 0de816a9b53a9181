"""Where checks, steps and sources run: one environment of one config, and its secrets.

A `GoLiveContext` is what they may know: the config and the environment's name (and so its
settings and placeholders), the secrets read so far (everything they return is scrubbed of
them), the environment for the commands they start, and when the go-live began. The session
makes one for each run; the live board's pollers keep one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cockpit.check_types import DEFAULT_TIMEOUT
from cockpit.config import EnvironmentConfig, LoadedConfig
from cockpit.errors import CockpitError
from cockpit.kubeconfig import pinned_config, pinned_kubeconfig
from cockpit.secrets import named_variables, secret_variables

_PLACEHOLDER = re.compile(r"(?<![$\\])\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CheckFailed(Exception):
    """Raised inside a check (or a poll) to end it as failed with this evidence."""

    def __init__(self, evidence: str, reason: str | None = None) -> None:
        super().__init__(evidence)
        self.evidence = evidence
        self.reason = reason


@dataclass
class GoLiveContext:
    """What a check, a step or a source may know about where it runs; collects the secrets
    it touched."""

    config: LoadedConfig
    env_name: str
    secrets: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT  # of the check being run; checks size their own waits by it
    started: datetime | None = None  # when the go-live began (its first audit entry)

    def for_check(self, timeout: float) -> GoLiveContext:
        """A context for one check run; secrets stay shared so all output is scrubbed."""
        return GoLiveContext(self.config, self.env_name, self.secrets, timeout, self.started)

    @property
    def environment(self) -> EnvironmentConfig:
        return self.config.environment(self.env_name)

    def path(self, value: Path | str) -> Path:
        return self.config.resolve(Path(value))

    def secret(self, env_var: str | None, file: Path | None, what: str) -> str | None:
        """Read a secret by reference now; remember it so it is scrubbed from all output."""
        if env_var:
            value = os.environ.get(env_var)
            if not value:
                raise CheckFailed(
                    f"{what}: environment variable {env_var} is not set", reason="error"
                )
        elif file is not None:
            try:
                value = self.path(file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CheckFailed(
                    f"{what}: cannot read {self.path(file)}: {exc.strerror}", reason="error"
                ) from exc
        else:
            return None
        if value not in self.secrets:  # a poller reads its token at every poll
            self.secrets.append(value)
        return value

    def hidden_variables(self, *commands: str) -> frozenset[str]:
        """Secret variables a child process must not inherit: every one the config names,
        except those the command itself names (`$NAME`), which it evidently needs."""
        return secret_variables(self.config) - named_variables(commands)

    def command_env(self) -> dict[str, str]:
        """Environment for commands: KUBECONFIG is a private kubeconfig pinned to the context
        and namespace of the environment's first cluster, so a runbook's `kubectl` acts on the
        cluster this go-live is about, whatever the operator's kubeconfig points at."""
        clusters = self.environment.clusters
        if not clusters:
            return {}
        pinned = pinned_kubeconfig(clusters[0], self.config, self.env_name)
        return {"KUBECONFIG": str(pinned)} if pinned is not None else {}

    def command_target(self) -> str | None:
        """Which cluster, context and namespace commands act on, in the operator's words."""
        clusters = self.environment.clusters
        if not clusters:
            return None
        first = clusters[0]
        if first.in_cluster:
            return f"cluster {first.name} (in-cluster service account), namespace {first.namespace}"
        context = pinned_config(first, self.config)["current-context"]
        return f"cluster {first.name}, context {context}, namespace {first.namespace}"

    def placeholders(self) -> dict[str, str]:
        env = self.environment
        values = {"environment": self.env_name}
        if env.clusters:
            first = env.clusters[0]
            values["cluster"] = first.name
            values["namespace"] = first.namespace
            if first.context:
                values["context"] = first.context
        values.update(env.placeholders)
        return values

    def fill(self, text: str) -> str:
        """Replace {name} placeholders; an unknown one is an error naming where to add it."""
        values = self.placeholders()

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise CockpitError(
                    f"unknown placeholder {{{name}}} in {text!r}",
                    f'add {name} = "..." under [environments.{self.env_name}.placeholders]',
                )
            return values[name]

        return _PLACEHOLDER.sub(replace, text)
