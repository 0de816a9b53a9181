"""A kubeconfig pinned to one configured cluster, for the commands the cockpit runs.

A runbook's `kubectl` must act on the cluster, context and namespace of this go-live, never on
whatever the operator's shell or kubeconfig file happens to point at. So steps and command
checks get `KUBECONFIG` set to a private file holding exactly one context (the configured
one, with the configured namespace) as its current-context, and the cluster and user it
names. The file is written 0600 in a 0700 folder of this process and removed at exit: it can
hold the credentials of the user entry, as `kubectl config view --minify --flatten` would.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.errors import CockpitError

if TYPE_CHECKING:  # only named: config itself asks this module for a context's namespace
    from cockpit.config import ClusterConfig, LoadedConfig

# Keys of kubeconfig entries that name files, relative to the kubeconfig that holds them.
_FILE_KEYS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}

_lock = threading.Lock()
_folders: list[Path] = []  # this process's private folder, once made
_written: dict[tuple[str, ...], Path] = {}


def source_paths(cluster: ClusterConfig, loaded: LoadedConfig) -> list[Path]:
    """The kubeconfig files kubectl would read for this cluster, in kubectl's order."""
    if cluster.kubeconfig is not None:
        return [loaded.resolve(cluster.kubeconfig)]
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _read(path: Path) -> dict[str, Any] | None:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CockpitError(f"cannot read kubeconfig {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CockpitError(f"kubeconfig {path} is not valid YAML: {exc}") from exc
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class MergedKubeconfig:
    """The kubeconfig files kubectl would read for a cluster, merged as kubectl merges them:
    for each name, the first file that defines it wins, and so does the first current-context."""

    paths: tuple[Path, ...]
    found: bool
    current: str | None
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]]

    @property
    def where(self) -> str:
        return ", ".join(str(p) for p in self.paths)

    @property
    def contexts(self) -> list[str]:
        return list(self.entries["contexts"])

    def context(self, name: str | None) -> dict[str, Any] | None:
        """The named context's body, or None when there is no context of that name."""
        if not name or name not in self.entries["contexts"]:
            return None
        body = self.entries["contexts"][name][0].get("context")
        return dict(body) if isinstance(body, dict) else {}


def merged_kubeconfig(cluster: ClusterConfig, loaded: LoadedConfig) -> MergedKubeconfig:
    paths = source_paths(cluster, loaded)
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {
        "clusters": {},
        "contexts": {},
        "users": {},
    }
    current: str | None = None
    found = False
    for path in paths:
        data = _read(path)
        if data is None:
            continue
        found = True
        if current is None and data.get("current-context"):
            current = str(data["current-context"])
        for kind, named in entries.items():
            for entry in data.get(kind) or []:
                if isinstance(entry, dict) and entry.get("name") and entry["name"] not in named:
                    named[str(entry["name"])] = (entry, path)
    return MergedKubeconfig(tuple(paths), found, current, entries)


class KubeconfigMissing(CockpitError):
    """None of the kubeconfig files kubectl would read exists (on this machine, at least)."""


def context_problem(cluster: ClusterConfig, loaded: LoadedConfig) -> CockpitError | None:
    """Why kubectl could not use this cluster's context (no file, no such context), or None."""
    if cluster.in_cluster:
        return None
    try:
        merged = merged_kubeconfig(cluster, loaded)
    except CockpitError as exc:
        return exc
    if not merged.found:
        return KubeconfigMissing(
            f"cluster {cluster.name!r}: no kubeconfig found ({merged.where})",
            "set kubeconfig for this cluster in the config, or KUBECONFIG",
        )
    name = cluster.context or merged.current
    if merged.context(name) is None:
        known = ", ".join(merged.contexts) or "none"
        what = f"context {name!r} is not in" if name else "no context named, and none current in"
        return CockpitError(
            f"cluster {cluster.name!r}: {what} {merged.where}",
            f"contexts there: {known}; set context for this cluster in the config",
        )
    return None


SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def context_namespace(cluster: ClusterConfig, loaded: LoadedConfig) -> str | None:
    """The namespace kubectl would use for this cluster when none is given: the context's (or,
    inside a pod, the service account's); None when there is none or it cannot be read."""
    if cluster.in_cluster:
        try:
            return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    try:
        merged = merged_kubeconfig(cluster, loaded)
    except CockpitError:
        return None  # validate and the connection report the broken file
    context = merged.context(cluster.context or merged.current) or {}
    namespace = context.get("namespace")
    return namespace if isinstance(namespace, str) and namespace else None


def pinned_config(cluster: ClusterConfig, loaded: LoadedConfig) -> dict[str, Any]:
    """The one-context kubeconfig for this cluster, from the files merged as kubectl does."""
    problem = context_problem(cluster, loaded)
    if problem is not None:
        raise problem
    merged = merged_kubeconfig(cluster, loaded)
    name = cluster.context or merged.current
    assert name is not None  # context_problem said it names a context
    context = merged.context(name) or {}
    context["namespace"] = cluster.namespace
    pinned: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "contexts": [{"name": name, "context": context}],
        "clusters": [],
        "users": [],
    }
    for kind, key, field in (("clusters", "cluster", "cluster"), ("users", "user", "user")):
        wanted = context.get(key)
        if wanted and wanted in merged.entries[kind]:
            entry, path = merged.entries[kind][wanted]
            pinned[kind].append({"name": wanted, field: _absolute(entry.get(field), path, field)})
    return pinned


def _absolute(body: Any, source: Path, kind: str) -> dict[str, Any]:
    """File references made absolute: they were relative to the kubeconfig that held them."""
    out = dict(body) if isinstance(body, dict) else {}
    for key in _FILE_KEYS[kind]:
        value = out.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            out[key] = str((source.parent / value).resolve())
    return out


def pinned_kubeconfig(cluster: ClusterConfig, loaded: LoadedConfig, env_name: str) -> Path | None:
    """The path of the pinned kubeconfig for this cluster (written once per process); None
    for a cluster reached from inside a pod (its service account, no kubeconfig)."""
    if cluster.in_cluster:
        return None
    sources = source_paths(cluster, loaded)
    key = (
        str(loaded.path),
        env_name,
        cluster.name,
        str(cluster.context),
        cluster.namespace,
        *(f"{p}@{_mtime(p)}" for p in sources),  # a kubeconfig edited since: written anew
    )
    with _lock:
        known = _written.get(key)
        if known is not None and known.exists():
            return known
        data = pinned_config(cluster, loaded)
        path = _private_folder() / f"{len(_written) + 1}-{cluster.name}.kubeconfig"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)  # JSON is YAML: kubectl reads it
        _written[key] = path
        return path


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _private_folder() -> Path:
    if not _folders or not _folders[-1].exists():
        folder = Path(tempfile.mkdtemp(prefix="cockpit-kube-"))  # 0700 whatever the umask
        atexit.register(shutil.rmtree, folder, True)
        _folders.append(folder)
    return _folders[-1]
