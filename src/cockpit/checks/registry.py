"""Which run each check type has: the one table from a `[[checks]]` model to its module's run.

The check types themselves (their keys, their validation) are listed once, in
cockpit/check_types.py; a test holds this table to that list, so a type cannot be configured
without a way to run it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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

RUNS: dict[type[CheckConfig], CheckRun] = {
    HttpCheckConfig: http_endpoint.run,
    TlsCheckConfig: tls_certificate.run,
    DnsCheckConfig: dns_name.run,
    TcpCheckConfig: tcp_port.run,
    CommandCheckConfig: command_exit.run,
    PostgresCheckConfig: postgres_server.run,
    RedisCheckConfig: redis_server.run,
    SmtpCheckConfig: smtp_relay.run,
    PrometheusCheckConfig: prometheus_query.run,
    KubeCheckConfig: kube_cluster.run,
    ErrorsCheckConfig: error_tracker.run,
}
