"""Shared fixtures: throwaway configs and runbooks in tmp_path, and the reference document."""

from __future__ import annotations

import asyncio
import os
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w

from cockpit.checks import CheckContext, CheckResult, compile_binding, run_check
from cockpit.config import load_config
from cockpit.identity import Operator
from cockpit.session import GoLiveSession

REPO = Path(__file__).resolve().parents[1]

# `make test` runs `-n 2 --dist loadfile`: each file goes whole to one worker, in the order
# collected. A long file collected late can be the only one still running at the end (one
# full run took 416 s, another 508 s, for the same tests). The files that take longest are
# handed out first (`--no-loadscope-reorder` in the Makefile: else xdist hands out the files
# with the most tests first), so the rest fill in around them. Seconds per file, from
# `pytest -n 2 --dist loadfile --durations=0` (2026-12-03); only the order matters.
SLOWEST_FILES = {
    "test_release_runs.py": 100,
    "test_e2e.py": 72,
    "test_kube_api.py": 55,
    "test_errors.py": 49,
    "test_kube.py": 48,
    "test_tui_rollout.py": 46,
    "test_shared_progress.py": 39,
    "test_workloads.py": 33,
    "test_tui_runs.py": 29,
    "test_tui.py": 28,
    "test_sources.py": 28,
    "test_action_lock.py": 25,
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: -SLOWEST_FILES.get(item.path.name, 0))  # stable: else as found


# COCKPIT_SHARED names it when the tests run from a copy elsewhere (`make mutation` runs them
# from mutants/)
SHARED = Path(os.environ.get("COCKPIT_SHARED") or REPO.parent / "shared")
REFERENCE_CHECKLIST = SHARED / "reference" / "production-deployment-checklist.md"
# The reference runbook lives in ../shared, beside the project; a plain clone has none.
needs_reference = pytest.mark.skipif(
    not REFERENCE_CHECKLIST.exists(),
    reason=f"needs the reference runbook {REFERENCE_CHECKLIST} (no ../shared beside the clone)",
)
SAMPLE_RUNBOOK = REPO / "sample-configs" / "servicedesk-runbook.md"

SMALL_RUNBOOK = """\
# Release runbook

## Before

- [ ] Change approved
- [ ] Backup taken
- [x] Branch frozen

## Rollout

1. **Deploy**
   ```bash
   # apply the manifests
   kubectl apply -k overlays/{namespace}
   ```
2. **Smoke test**
   - [ ] Home page loads
   - [ ] Login works

## After

- [ ] Announce completion
"""

BASE_CONFIG = """\
default_environment = "staging"
checklist = "runbook.md"

[environments.staging]
label = "Shop staging"

[environments.production]
label = "Shop PRODUCTION"
production = true
"""


@pytest.fixture
def operator() -> Operator:
    return Operator(user="alice", address="10.0.0.7")


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config (and its runbook) into tmp_path and return the config's path."""

    def write(
        config: str = BASE_CONFIG, runbook: str = SMALL_RUNBOOK, name: str = "cockpit.toml"
    ) -> Path:
        (tmp_path / "runbook.md").write_text(textwrap.dedent(runbook), encoding="utf-8")
        path = tmp_path / name
        path.write_text(textwrap.dedent(config), encoding="utf-8")
        return path

    return write


@pytest.fixture
def open_session(
    write_config: Callable[..., Path], operator: Operator
) -> Callable[..., GoLiveSession]:
    def open_(env: str | None = None, *, path: Path | None = None, **kw: object) -> GoLiveSession:
        config_path = path or write_config()
        return GoLiveSession.open(config_path, env, operator=operator, **kw)  # type: ignore[arg-type]

    return open_


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory):
    """A HOME of the test run's own, set before any other fixture starts a server or a
    kubectl: kubectl writes ~/.kube/cache, and a client reads ~/.kube/config when no
    kubeconfig is named. The developer's home is never read or written."""
    home = tmp_path_factory.mktemp("session-home")
    saved = {
        k: os.environ.get(k) for k in ("HOME", "KUBECONFIG", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
    }
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ["XDG_CACHE_HOME"] = str(home / ".cache")
    os.environ.pop("KUBECONFIG", None)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep the developer's own themes and crash files out of the tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COCKPIT_THEME_DIR", str(home / "themes"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """One rehearsal Kubernetes cluster for the whole session (fast pods)."""
    from cockpit.rehearsal.kube import RehearsalCluster, Timing

    folder = tmp_path_factory.mktemp("rehearsal")
    running = RehearsalCluster(folder, timing=Timing(ready_after=0.3, restart_every=0.4, tick=0.05))
    running.start()
    running.kubeconfig = running.write_kubeconfig(folder / "kubeconfig", "shop")  # type: ignore[attr-defined]
    running.add_namespace("shop")
    yield running
    running.stop()


@pytest.fixture
def run(tmp_path):
    """Write the check into a real config, load and validate it, run it, return the result."""

    def go(
        check_type: str, *, timeout: float = 5, env: dict | None = None, **fields
    ) -> CheckResult:
        runbook = tmp_path / "runbook.md"
        runbook.write_text("## S\n- [ ] The item\n")
        document = {
            "checklist": "runbook.md",
            "environments": {"test": env or {}},
            "checks": [{"item": "The item", "type": check_type, "timeout": timeout, **fields}],
        }
        path = tmp_path / "cockpit.toml"
        path.write_text(tomli_w.dumps(document))
        loaded = load_config(path)
        bound = compile_binding(0, "s/the-item", loaded.model.checks[0])
        return asyncio.run(run_check(bound, CheckContext(loaded, "test")))

    return go


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


@pytest.fixture
def loopback_only_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names the test process looks up resolve only when they are loopback; any other name
    fails as an unknown name would, without a query leaving the machine. Returns the names
    refused, so a test can say it was asked."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def getaddrinfo(host, *args, **kw):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name in LOOPBACK_NAMES or name.startswith("127."):
            return real(host, *args, **kw)
        refused.append(name)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused
