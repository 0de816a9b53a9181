"""How the cockpit reaches a cluster: one API client per cluster, built as kubectl would.

The kubeconfig is read with kubectl's merge rules (`cockpit.kubeconfig`), then handed to the
Kubernetes client as one pinned context. Three things the client gets wrong are done here:

- exec credential plugins (aws eks get-token, gke-gcloud-auth-plugin, kubelogin) run here, once
  per refresh however many threads want a client, never with the TUI's terminal (no stdin,
  stderr captured, `interactive: false`), and their own words on failure become the cluster's
  stated error. The credential is used until it expires or the API answers 401, then the
  plugin runs again, as client-go does;
- impersonation (`as`, `as-uid`, `as-groups`, `as-user-extra` in the user entry) is sent as
  kubectl sends it, one `Impersonate-Group` header per group;
- every request names the cockpit and its version as its User-Agent, so the API server's
  audit log says who rolled back.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit import __version__
from cockpit.config import ClusterConfig, LoadedConfig
from cockpit.errors import CockpitError
from cockpit.kubeconfig import pinned_config, source_paths
from cockpit.rollout import parse_time

USER_AGENT = f"cockpit/{__version__}"
PLUGIN_TIMEOUT = 60.0  # seconds a credential plugin may take before it is given up
EXPIRY_SKEW = 10.0  # seconds before a credential's expiry at which it is renewed
FAILURE_HOLD = 5.0  # seconds a plugin's failure is reused before the plugin runs again
STDERR_SHOWN = 400  # characters of a plugin's stderr kept in its error


class CredentialError(CockpitError):
    """The cluster's credentials could not be obtained; the message says why, in the words of
    the credential plugin when there is one."""


@dataclass(frozen=True)
class Credential:
    """What an exec plugin gave: a token or a client certificate, and until when."""

    token: str | None
    cert_pem: str | None
    key_pem: str | None
    expires: datetime | None


def run_exec_plugin(
    spec: dict[str, Any], cluster_name: str, base: Path, timeout: float = PLUGIN_TIMEOUT
) -> Credential:
    """Run a kubeconfig `exec` plugin as client-go does, but never interactively."""
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise CredentialError(
            f"cluster {cluster_name!r}: the kubeconfig's exec entry names no command",
            "fix the user entry's exec.command in the kubeconfig",
        )
    args = [command, *(str(a) for a in spec.get("args") or [])]
    env = dict(os.environ)
    for item in spec.get("env") or []:
        if isinstance(item, dict) and item.get("name"):
            env[str(item["name"])] = str(item.get("value", ""))
    api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1")
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    name = Path(command).name
    try:
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=str(base),
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CredentialError(
            f"cluster {cluster_name!r}: credential plugin {command!r} is not installed "
            "(not found on PATH)",
            spec.get("installHint") or "install it, or fix exec.command in the kubeconfig",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CredentialError(
            f"cluster {cluster_name!r}: credential plugin {name} gave no answer in {timeout:.0f}s",
            "run it in a shell to see what it waits for (a login?)",
        ) from exc
    except OSError as exc:
        raise CredentialError(
            f"cluster {cluster_name!r}: cannot run credential plugin {command!r}: {exc}"
        ) from exc
    said = _last_words(done.stderr)
    if done.returncode != 0:
        raise CredentialError(
            f"cluster {cluster_name!r}: credential plugin {name} failed "
            f"(exit {done.returncode})" + (f": {said}" if said else ""),
            "log in as the plugin says, then retry",
        )
    try:
        answer = json.loads(done.stdout)
        status = answer["status"]
        if not isinstance(status, dict):
            raise TypeError("status is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise CredentialError(
            f"cluster {cluster_name!r}: credential plugin {name} did not print an "
            f"ExecCredential ({exc})" + (f"; it said: {said}" if said else "")
        ) from exc
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if not token and not (cert and key):
        raise CredentialError(
            f"cluster {cluster_name!r}: credential plugin {name} gave neither a token nor a "
            "client certificate and key"
        )
    return Credential(
        token=str(token) if token else None,
        cert_pem=str(cert) if cert and not token else None,
        key_pem=str(key) if key and not token else None,
        expires=parse_time(status.get("expirationTimestamp")),
    )


def _last_words(stderr: str) -> str:
    """A plugin's stderr in one line: log prefixes and blank lines gone, the end kept."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.strip()
        for prefix in ("ERROR:root:", "WARNING:root:", "INFO:root:"):
            line = line.removeprefix(prefix).strip()
        if line:
            lines.append(line)
    text = " ".join(lines)
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= STDERR_SHOWN else "..." + text[-STDERR_SHOWN:]


def _impersonation(user: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    if user.get("as"):
        headers.append(("Impersonate-User", str(user["as"])))
    if user.get("as-uid"):
        headers.append(("Impersonate-Uid", str(user["as-uid"])))
    headers += [("Impersonate-Group", str(g)) for g in user.get("as-groups") or []]
    extra = user.get("as-user-extra") or {}
    if isinstance(extra, dict):
        for key, values in extra.items():
            for value in values if isinstance(values, list) else [values]:
                headers.append((f"Impersonate-Extra-{key}", str(value)))
    return headers


def _send_headers(api: Any, extra: list[tuple[str, str]]) -> None:
    """Add headers to every request of this client, repeated names kept apart (the client's
    own default headers are a plain dict, which would fold the groups into one)."""
    if not extra:
        return
    from urllib3 import HTTPHeaderDict

    rest = api.rest_client
    send = rest.request

    def request(method: str, url: str, headers: Any = None, *args: Any, **kwargs: Any) -> Any:
        merged = HTTPHeaderDict(dict(headers or {}))
        for name, value in extra:
            merged.add(name, value)
        return send(method, url, merged, *args, **kwargs)

    rest.request = request


@dataclass
class BuiltClient:
    api: Any
    expires: float | None  # monotonic time after which the credential must be renewed


def build_client(cluster: ClusterConfig, loaded: LoadedConfig) -> BuiltClient:
    """A new ApiClient for the cluster, running its credential plugin if it has one."""
    from kubernetes import client, config

    configuration = client.Configuration()
    expires: float | None = None
    headers: list[tuple[str, str]] = []
    try:
        if cluster.in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            try:
                pinned = pinned_config(cluster, loaded)
            except CockpitError as exc:
                raise CredentialError(exc.message, exc.hint) from exc
            users = pinned["users"]
            user: dict[str, Any] = dict(users[0]["user"]) if users else {}
            exec_spec = user.pop("exec", None)
            if isinstance(exec_spec, dict):
                base = source_paths(cluster, loaded)[0].parent
                credential = run_exec_plugin(exec_spec, cluster.name, base)
                if credential.token:
                    user["token"] = credential.token
                else:
                    assert credential.cert_pem is not None and credential.key_pem is not None
                    user["client-certificate-data"] = _b64(credential.cert_pem)
                    user["client-key-data"] = _b64(credential.key_pem)
                    user.pop("client-certificate", None)
                    user.pop("client-key", None)
                if credential.expires is not None:
                    left = (credential.expires - datetime.now(UTC)).total_seconds()
                    expires = time.monotonic() + max(0.0, left - EXPIRY_SKEW)
            headers = _impersonation(user)
            if users:
                users[0]["user"] = user
            config.load_kube_config_from_dict(
                pinned,
                context=pinned["current-context"],
                client_configuration=configuration,
                persist_config=False,
            )
    except config.ConfigException as exc:
        raise CredentialError(
            f"cluster {cluster.name!r}: cannot load its kubeconfig: {exc}",
            "check kubeconfig and context in the config (kubectl config get-contexts)",
        ) from exc
    except OSError as exc:
        raise CredentialError(f"cluster {cluster.name!r}: cannot read kubeconfig: {exc}") from exc
    # No retries inside the client: a request that times out is reported at once (the
    # watcher has its own backoff), instead of waiting out the timeout again.
    configuration.retries = 0
    api = client.ApiClient(configuration)
    api.user_agent = USER_AGENT
    _send_headers(api, headers)
    return BuiltClient(api, expires)


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode("utf-8")).decode("ascii")


class ClusterClient:
    """The one API client of a cluster, shared by its threads.

    Built on first use, under a lock: four watcher threads starting together run the
    credential plugin once. Built again when its credential expires or after a 401 (the
    plugin gave a token the server no longer takes), and after a failure, at most once per
    FAILURE_HOLD seconds (the threads asking meanwhile get the same failure): an operator who
    logs in is picked up by the next retry, without a restart.
    """

    def __init__(self, cluster: ClusterConfig, loaded: LoadedConfig) -> None:
        self.cluster = cluster
        self.loaded = loaded
        self._lock = threading.Lock()
        self._built: BuiltClient | None = None
        self._failed: tuple[float, CredentialError] | None = None
        self.builds = 0  # how many times a client was built (the plugin run)

    def get(self) -> Any:
        with self._lock:
            now = time.monotonic()
            built = self._built
            if built is not None and (built.expires is None or now < built.expires):
                return built.api
            if self._failed is not None and now - self._failed[0] < FAILURE_HOLD:
                raise self._failed[1]
            self.builds += 1
            try:
                self._built = build_client(self.cluster, self.loaded)
            except CredentialError as exc:
                self._built = None
                self._failed = (time.monotonic(), exc)
                raise
            self._failed = None
            return self._built.api

    def unauthorized(self, api: Any) -> None:
        """The API answered 401 to a request made with `api`: renew its credential."""
        with self._lock:
            if self._built is not None and self._built.api is api:
                self._built = None

    def retry_now(self) -> None:
        """Forget a failure (the operator says they logged in): the next get() tries again."""
        with self._lock:
            self._failed = None


_shared_lock = threading.Lock()
_shared: dict[tuple[str, ...], ClusterClient] = {}


def shared_client(cluster: ClusterConfig, loaded: LoadedConfig) -> ClusterClient:
    """The process's one ClusterClient for this cluster: the watchers, the rollback actions
    and the checks share its credential, so a plugin runs once per refresh for all of them.
    A kubeconfig edited since (another server, another user) gets a client of its own."""
    sources = [] if cluster.in_cluster else source_paths(cluster, loaded)
    key = (
        str(loaded.path),
        cluster.name,
        str(cluster.context),
        str(cluster.kubeconfig),
        str(cluster.in_cluster),
        *(f"{p}@{_mtime(p)}" for p in sources),
    )
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = ClusterClient(cluster, loaded)
        return found


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
