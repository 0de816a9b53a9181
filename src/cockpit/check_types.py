"""The check types of `[[checks]]`: one strict model per type, told apart by `type`.

Each `[[checks]]` entry is validated in one pass as the model its `type` names, so an unknown
or misspelt key of a `tls` check is refused as surely as one of a cluster, and the JSON Schema
(`cockpit schema`) lists every key of every type. What a check does when it runs lives in its
own module under `cockpit/checks/`; these models are only what the file says, which is why
they sit below the configuration that holds them (config.py imports this module, never the
checks).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field, field_validator, model_validator

from cockpit.conditions import Condition, NoDataPolicy
from cockpit.config_fields import SecretEnv, SecretFile, StrictModel, check_env_name
from cockpit.workloads import parse_workload

DEFAULT_TIMEOUT = 10.0

# methods that may change what they are sent to (RFC 9110 "unsafe"): never from read-only
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CheckConfig(StrictModel):
    """The keys every `[[checks]]` entry has, whatever its type."""

    DEFAULT_TIMEOUT: ClassVar[float] = DEFAULT_TIMEOUT

    item: str = Field(description="Item ID or exact item text.")
    type: str = Field(description="Check type.")
    environments: list[str] | None = Field(
        default=None, description="Only in these environments (default: all)."
    )
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds before giving up (default: the type's)."
    )
    suggested: bool = Field(
        default=False,
        description="Written by `cockpit init`: not reviewed yet. Delete once reviewed.",
    )

    @property
    def run_timeout(self) -> float:
        """The timeout this check runs with: its own, else its type's."""
        return self.timeout or self.DEFAULT_TIMEOUT

    def secret_refs(self) -> list[tuple[str, str, str]]:
        """(key, "env" or "file", value) of every secret this check reads."""
        refs: list[tuple[str, str, str]] = []
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            for meta in info.metadata:
                if isinstance(meta, SecretEnv):
                    refs.append((name, "env", str(value)))
                elif isinstance(meta, SecretFile):
                    refs.append((name, "file", str(value)))
        return refs

    def describe(self) -> str:
        """A short name for the check, shown in lists and JUnit test case names."""
        return self.type

    def effect(self) -> str | None:
        """What running this check changes outside the cockpit (runs a command, sends a mail,
        POSTs), or None: a read-only cockpit refuses every check that has one."""
        return None


SecretEnvName = Annotated[str | None, SecretEnv()]
SecretFilePath = Annotated[Path | None, SecretFile()]


def parse_status_expectation(value: int | list[int] | str) -> list[tuple[int, int]]:
    """200, [200, 204], "200-299" or "2xx" -> inclusive ranges."""
    if isinstance(value, int):
        return [(value, value)]
    if isinstance(value, list):
        return [(v, v) for v in value]
    text = value.strip().lower()
    if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
        base = int(text[0]) * 100
        return [(base, base + 99)]
    if "-" in text:
        low, high = text.split("-", 1)
        return [(int(low), int(high))]
    return [(int(text), int(text))]


class HttpCheckConfig(CheckConfig):
    """`http`: an HTTP(S) endpoint answers as expected: status, latency, headers, body."""

    type: Literal["http"] = Field(description="Check type.")
    url: str = Field(description="URL; {placeholders} allowed.")
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = Field(
        default="GET", description="POST and PUT are refused in read-only."
    )
    expect_status: int | list[int] | str = Field(
        default="200-299", description='200, [200, 204], "200-299" or "2xx".'
    )
    max_latency_ms: float | None = Field(default=None, gt=0, description="Slower than this fails.")
    require_headers: list[str] = Field(
        default_factory=list, description="Response headers that must be present (e.g. HSTS)."
    )
    header_equals: dict[str, str] = Field(
        default_factory=dict, description="Response headers that must have exactly this value."
    )
    body_contains: str | None = Field(default=None, description="Text the body must contain.")
    json_field: str | None = Field(default=None, description="Dotted path into a JSON body.")
    json_equals: str | int | float | bool | None = Field(
        default=None, description="The value json_field must have."
    )
    expect_https_redirect: bool = Field(
        default=False, description="Expect a 3xx redirect to an https:// URL."
    )
    follow_redirects: bool = Field(default=False, description="Follow redirects.")
    verify_tls: bool = Field(default=True, description="Verify the server's certificate.")
    ca_file: Path | None = Field(default=None, description="CA bundle to verify TLS with.")
    request_headers: dict[str, str] = Field(
        default_factory=dict, description="Headers sent with the request; {placeholders} allowed."
    )
    token_env: SecretEnvName = Field(default=None, description="Bearer token, by variable name.")
    token_file: SecretFilePath = Field(default=None, description="File holding a bearer token.")

    _env = field_validator("token_env")(check_env_name)

    @field_validator("expect_status")
    @classmethod
    def _valid_status(cls, value: int | list[int] | str) -> int | list[int] | str:
        try:
            parse_status_expectation(value)
        except ValueError as exc:
            raise ValueError('use 200, [200, 204], "200-299" or "2xx"') from exc
        return value

    @model_validator(mode="after")
    def _json_pair(self) -> HttpCheckConfig:
        if self.json_equals is not None and self.json_field is None:
            raise ValueError("json_equals needs json_field")
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        return self

    def describe(self) -> str:
        return f"http {self.method} {self.url}"

    def effect(self) -> str | None:
        if self.method in UNSAFE_METHODS:
            return f"sends an HTTP {self.method} to {self.url}"
        return None


class TlsCheckConfig(CheckConfig):
    """`tls`: a certificate verifies (chain and name) and is not about to expire."""

    type: Literal["tls"] = Field(description="Check type.")
    host: str = Field(description="Host to connect to; {placeholders} allowed.")
    port: int = Field(default=443, ge=1, le=65535, description="TCP port.")
    sni: str | None = Field(default=None, description="Server name to ask for (default: host).")
    min_days_valid: int = Field(default=14, ge=0, description="Fewer days left than this fails.")
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the chain with.")

    def describe(self) -> str:
        return f"tls {self.host}:{self.port}"


class DnsCheckConfig(CheckConfig):
    """`dns`: a name resolves, optionally to exactly the expected addresses."""

    type: Literal["dns"] = Field(description="Check type.")
    name: str = Field(description="The name to resolve; {placeholders} allowed.")
    expect_addresses: list[str] | None = Field(
        default=None, description="The answer must be exactly these."
    )
    record: Literal["A", "AAAA", "CNAME"] = Field(
        default="A", description="Record type, when asking a nameserver."
    )
    nameserver: str | None = Field(
        default=None, description="Ask this server (IP) instead of the system resolver."
    )
    nameserver_port: int = Field(
        default=53, ge=1, le=65535, description="The nameserver's UDP port."
    )

    def describe(self) -> str:
        return f"dns {self.name}"


class TcpCheckConfig(CheckConfig):
    """`tcp`: something accepts connections on host:port."""

    type: Literal["tcp"] = Field(description="Check type.")
    host: str = Field(description="Host to connect to; {placeholders} allowed.")
    port: int = Field(ge=1, le=65535, description="TCP port.")

    def describe(self) -> str:
        return f"tcp {self.host}:{self.port}"


class CommandCheckConfig(CheckConfig):
    """`command`: a program exits with the expected code within its timeout."""

    DEFAULT_TIMEOUT: ClassVar[float] = 60.0

    type: Literal["command"] = Field(description="Check type.")
    argv: list[str] | None = Field(
        default=None, description='Program and arguments, e.g. ["kubectl", "version"].'
    )
    command: str | None = Field(
        default=None, description="A shell command line; needs shell = true."
    )
    shell: bool = Field(default=False, description="Run `command` through /bin/sh -c.")
    cwd: Path | None = Field(default=None, description="Default: the config file's folder.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables added to the command's environment."
    )
    expect_exit: int = Field(default=0, description="The exit code that passes.")
    output_lines: int = Field(default=10, ge=0, le=200, description="Last lines kept.")

    @model_validator(mode="after")
    def _argv_or_shell(self) -> CommandCheckConfig:
        if (self.argv is None) == (self.command is None):
            raise ValueError("set either argv (a list) or command (with shell = true)")
        if self.command is not None and not self.shell:
            raise ValueError(
                "command is a shell line: write shell = true to run it through a shell, "
                "or use argv = [...] to run it without one"
            )
        if self.argv is not None and not self.argv:
            raise ValueError("argv is empty")
        return self

    def describe(self) -> str:
        shown = self.command if self.command is not None else shlex.join(self.argv or [])
        return f"command {shown}"

    def effect(self) -> str | None:
        return f"runs the command {self.describe().removeprefix('command ')}"


class PostgresCheckConfig(CheckConfig):
    """`postgres`: PostgreSQL answers: version, streaming replicas, a query's time."""

    type: Literal["postgres"] = Field(description="Check type.")
    dsn_env: SecretEnvName = Field(default=None, description="Variable holding the DSN/URL.")
    dsn_file: SecretFilePath = Field(default=None, description="File holding the DSN/URL.")
    min_version: int | None = Field(default=None, description="Major version, e.g. 16.")
    min_streaming_replicas: int | None = Field(
        default=None, ge=0, description="Replicas in state streaming needed."
    )
    query: str | None = Field(default=None, description="A query that must succeed.")
    max_query_ms: float | None = Field(
        default=None, gt=0, description="The query may take at most this long."
    )

    _env = field_validator("dsn_env")(check_env_name)

    @model_validator(mode="after")
    def _one_dsn(self) -> PostgresCheckConfig:
        if (self.dsn_env is None) == (self.dsn_file is None):
            raise ValueError("set exactly one of dsn_env or dsn_file (the DSN holds a password)")
        return self

    def describe(self) -> str:
        return "postgres" + (f" {self.query}" if self.query else "")


class RedisCheckConfig(CheckConfig):
    """`redis`: Redis answers PING; version, role and connected replicas as expected."""

    type: Literal["redis"] = Field(description="Check type.")
    url: str = Field(description="redis://host:port/db or rediss://...; no password in it.")
    password_env: SecretEnvName = Field(default=None, description="Variable holding the password.")
    password_file: SecretFilePath = Field(default=None, description="File holding the password.")
    username: str | None = Field(default=None, description="ACL user name.")
    min_version: str | None = Field(default=None, description='e.g. "7.0"')
    role: Literal["master", "slave"] | None = Field(
        default=None, description="The role the server must have."
    )
    min_connected_replicas: int | None = Field(
        default=None, ge=0, description="Connected replicas needed."
    )

    _env = field_validator("password_env")(check_env_name)

    @field_validator("url")
    @classmethod
    def _no_password_inline(cls, value: str) -> str:
        if "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError("put the password in password_env or password_file, not the URL")
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    def describe(self) -> str:
        return f"redis {self.url}"


class SmtpCheckConfig(CheckConfig):
    """`smtp`: the mail relay accepts us: EHLO, optional STARTTLS, login, a test message."""

    type: Literal["smtp"] = Field(description="Check type.")
    host: str = Field(description="The relay's host; {placeholders} allowed.")
    port: int = Field(default=25, ge=1, le=65535, description="TCP port.")
    starttls: bool = Field(default=False, description="Upgrade with STARTTLS after EHLO.")
    ca_file: Path | None = Field(default=None, description="CA bundle to verify STARTTLS with.")
    username: str | None = Field(default=None, description="Log in as this user.")
    password_env: SecretEnvName = Field(default=None, description="Variable holding the password.")
    password_file: SecretFilePath = Field(default=None, description="File holding the password.")
    send_to: str | None = Field(default=None, description="Send a test message here.")
    sender: str = Field(default="cockpit@localhost", description="From address of the test.")

    _env = field_validator("password_env")(check_env_name)

    def describe(self) -> str:
        return f"smtp {self.host}:{self.port}"

    def effect(self) -> str | None:
        return f"sends a test mail to {self.send_to}" if self.send_to else None


class PrometheusCheckConfig(CheckConfig):
    """`prometheus`: a PromQL instant query meets a condition, e.g. error ratio `< 0.001`."""

    type: Literal["prometheus"] = Field(description="Check type.")
    query: str = Field(description="PromQL; {placeholders} allowed.")
    condition: str = Field(description="Operator and number, e.g. '< 0.001' or '>= 1000'.")
    no_data: NoDataPolicy = Field(
        default="fail",
        description="When the query returns nothing or NaN: fail, pass, inconclusive.",
    )
    url: str | None = Field(default=None, description="Default: the environment's prometheus.")

    @field_validator("condition")
    @classmethod
    def _valid_condition(cls, value: str) -> str:
        Condition.parse(value)
        return value

    def describe(self) -> str:
        return f"prometheus {self.query} {self.condition}"


_KUBE_DURATION = re.compile(r"^(\d+)([smhd])$")
_KUBE_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'90s', '30m', '26h', '7d' -> seconds, for a CronJob's `within`."""
    match = _KUBE_DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 30m, 26h or 7d")
    return int(match.group(1)) * _KUBE_DURATION_UNITS[match.group(2)]


class KubeCheckConfig(CheckConfig):
    """`kube`: a workload rolled out, the server's version, a CronJob's recent success, a
    Secret's key."""

    type: Literal["kube"] = Field(description="Check type.")
    what: Literal["rolled-out", "server-version", "cronjob-recent", "secret-key"] = Field(
        description="The fact to check."
    )
    cluster: str | None = Field(default=None, description="Default: the first cluster.")
    namespace: str | None = Field(default=None, description="Default: the cluster's namespace.")
    deployment: str | None = Field(default=None, description="rolled-out: the Deployment.")
    workload: str | None = Field(
        default=None, description="Instead of deployment: KIND/NAME as kubectl, e.g. sts/db."
    )
    min_version: str | None = Field(default=None, description='server-version: e.g. "1.28"')
    cronjob: str | None = Field(default=None, description="cronjob-recent: the CronJob.")
    within: str | None = Field(default=None, description="e.g. 26h: last success this recent.")
    secret: str | None = Field(default=None, description="secret-key: the Secret.")
    key: str | None = Field(default=None, description="secret-key: the key in it.")
    min_length: int = Field(default=1, ge=1, description="Least characters the value must have.")

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str | None) -> str | None:
        if value is not None and parse_workload(value).kind == "rollout":
            raise ValueError(f"{value!r}: an Argo Rollout's phase is shown in the rollout pane")
        return value

    @model_validator(mode="after")
    def _fields_for_what(self) -> KubeCheckConfig:
        if self.what == "rolled-out" and self.deployment is None and self.workload is not None:
            return self
        needed = {
            "rolled-out": ("deployment",),
            "server-version": ("min_version",),
            "cronjob-recent": ("cronjob", "within"),
            "secret-key": ("secret", "key"),
        }[self.what]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"what = {self.what!r} needs " + " and ".join(missing))
        return self

    def describe(self) -> str:
        target = (
            self.deployment or self.workload or self.cronjob or self.secret or self.min_version
        ) or ""
        return f"kube {self.what} {target}".strip()


class ErrorsCheckConfig(CheckConfig):
    """`errors`: the error tracker shows at most `max_new_issues` new issues, and no spike."""

    DEFAULT_TIMEOUT: ClassVar[float] = 60.0

    type: Literal["errors"] = Field(description="Check type.")
    max_new_issues: int = Field(default=0, ge=0, description="New issues tolerated.")
    no_spike: bool = Field(default=True, description="Also fail on an event spike.")
    sample_seconds: float = Field(
        default=15.0, ge=1, description="Bugsink: seconds between the two counts of a spike check."
    )

    def describe(self) -> str:
        return "errors: no new issues" + (", no spike" if self.no_spike else "")


# Every check type, told apart by its `type`; this union is the one list of check types.
CheckBinding = Annotated[
    HttpCheckConfig
    | TlsCheckConfig
    | DnsCheckConfig
    | TcpCheckConfig
    | CommandCheckConfig
    | PostgresCheckConfig
    | RedisCheckConfig
    | SmtpCheckConfig
    | PrometheusCheckConfig
    | KubeCheckConfig
    | ErrorsCheckConfig,
    Field(discriminator="type"),
]

CHECK_TYPES: dict[str, type[CheckConfig]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in get_args(get_args(CheckBinding)[0])
}
