"""Which run each check type has: the one table from a `[[checks]]` model to its module's run.

The check types themselves (their keys, their validation) are listed once, in
cockpit/check_types.py; a test holds this table to that list, so a type cannot be configured
without a way to run it, and mypy holds each run to its own type's model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cockpit.check_types import (
    CheckConfig,
    CommandCheckConfig,
    DnsCheckConfig,
    ErrorsCheckConfig,
    HttpCheckConfig,
    KubeCheckConfig,
    PostgresCheckConfig,
    PrometheusCheckConfig,
    RedisCheckConfig,
    SmtpCheckConfig,
    TcpCheckConfig,
    TlsCheckConfig,
)
from cockpit.checks import (
    command_exit,
    dns_name,
    error_tracker,
    http_endpoint,
    kube_cluster,
    postgres_server,
    prometheus_query,
    redis_server,
    smtp_relay,
    tcp_port,
    tls_certificate,
)
from cockpit.checks.base import CheckContext, CheckResult

CheckRun = Callable[[Any, CheckContext], Awaitable[CheckResult]]

_Check = TypeVar("_Check", bound=CheckConfig)


def _pair(
    model: type[_Check], run: Callable[[_Check, CheckContext], Awaitable[CheckResult]]
) -> tuple[type[CheckConfig], CheckRun]:
    """A type and its run; mypy refuses a run written for another type's model."""
    return model, run


RUNS: dict[type[CheckConfig], CheckRun] = dict(
    [
        _pair(HttpCheckConfig, http_endpoint.run),
        _pair(TlsCheckConfig, tls_certificate.run),
        _pair(DnsCheckConfig, dns_name.run),
        _pair(TcpCheckConfig, tcp_port.run),
        _pair(CommandCheckConfig, command_exit.run),
        _pair(PostgresCheckConfig, postgres_server.run),
        _pair(RedisCheckConfig, redis_server.run),
        _pair(SmtpCheckConfig, smtp_relay.run),
        _pair(PrometheusCheckConfig, prometheus_query.run),
        _pair(KubeCheckConfig, kube_cluster.run),
        _pair(ErrorsCheckConfig, error_tracker.run),
    ]
)
