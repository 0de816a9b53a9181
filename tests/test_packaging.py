"""The rehearsal works from an installed wheel, not only from the source tree.

The wheel is built from this checkout without a download (hatchling comes with the dev extras)
and installed without its dependencies into a fresh venv that borrows this venv's packages, so
the tests stay offline and take seconds; the cockpit they run is the wheel's own copy.
"""

from __future__ import annotations

import os
import signal
import site
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.kube_helpers import KUBECTL


def _fresh_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies come from this venv; a path in a .pth file is not itself scanned for
    # .pth files, so this checkout's editable install stays out of the fresh venv
    Path(purelib, "_borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


@dataclass(frozen=True)
class Installed:
    """A wheel built from this checkout, installed in a venv of its own."""

    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def cockpit(self) -> Path:
        return self.venv / "bin" / "cockpit"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    where = tmp_path_factory.mktemp("wheel")
    wheels = where / "wheels"
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("-w", str(wheels), str(REPO)),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, f"building the wheel (hatchling is a dev extra): {built.stderr}"
    python = _fresh_venv(where / "venv")
    (wheel,) = wheels.glob("cockpit-*.whl")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "-q"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        capture_output=True,
    )
    return Installed(wheel, where / "venv")


def _outside_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a program run from the installed wheel, not from this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TMPDIR"] = str(tmp_path)
    env["COCKPIT_THEME_DIR"] = str(tmp_path / "no-own-themes")
    return env


def test_the_wheel_carries_the_shipped_themes_and_the_installed_cockpit_finds_them(
    installed: Installed, tmp_path: Path
):
    shipped = set(zipfile.ZipFile(installed.wheel).namelist())
    themes = sorted(path.name for path in (REPO / "themes").glob("*.toml"))
    assert themes == ["cockpit-dark.toml", "cockpit-high-contrast.toml", "cockpit-light.toml"]
    assert {f"cockpit/themes/{name}" for name in themes} <= shipped
    empty = tmp_path / "empty"
    empty.mkdir()
    found = subprocess.run(
        [
            str(installed.python),
            "-c",
            "from cockpit.theme_files import shipped_theme_dir, shipped_theme_names; "
            "print(shipped_theme_dir()); print(*shipped_theme_names())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=empty,
        env=_outside_env(tmp_path),
    ).stdout.splitlines()
    assert Path(found[0]).is_relative_to(installed.venv), found
    assert found[1].split() == ["cockpit-dark", "cockpit-high-contrast", "cockpit-light"]
    (empty / "runbook.md").write_text("## S\n- [ ] An item\n")
    (empty / "cockpit.toml").write_text(
        'checklist = "runbook.md"\ntheme = "cockpit-high-contrast"\n[environments.e]\n'
    )
    validated = subprocess.run(
        [str(installed.cockpit), "validate", "--config", str(empty / "cockpit.toml")],
        capture_output=True,
        text=True,
        cwd=empty,
        env=_outside_env(tmp_path),
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_a_checkout_reads_its_top_level_themes_folder():
    from cockpit.theme_files import shipped_theme_dir, shipped_theme_files

    assert shipped_theme_dir() == REPO / "themes"
    assert [path.name for path in shipped_theme_files()] == [
        "cockpit-dark.toml",
        "cockpit-high-contrast.toml",
        "cockpit-light.toml",
    ]


def test_cockpit_rehearse_runs_from_an_installed_wheel_in_an_empty_folder(
    installed: Installed, tmp_path: Path
):
    python = installed.python
    shipped = set(zipfile.ZipFile(installed.wheel).namelist())
    # what `kubectl exec` into a rehearsal pod of the sample app answers travels with the wheel
    assert "cockpit/samples/rehearsal/images/servicedesk.toml" in shipped
    empty = tmp_path / "empty"
    empty.mkdir()
    env = _outside_env(tmp_path)
    where = subprocess.run(
        [str(python), "-c", "import cockpit; print(cockpit.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=empty,
        env=env,
    ).stdout
    assert where.startswith(str(installed.venv)), where
    child = subprocess.Popen(
        [
            *(str(installed.cockpit), "rehearse", "bad-release"),
            *("--headless", "--folder", "rehearsal"),
        ],
        cwd=empty,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 30
        assert child.stdout is not None
        while "cockpit config" not in lines and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            key, _, value = line.partition(": ")
            lines[key] = value.strip()
        if "cockpit config" not in lines:
            child.terminate()
            raise AssertionError(f"no rehearsal started: {lines} {child.communicate(15)[1]}")
        config = Path(lines["cockpit config"])
        assert config.is_relative_to(empty / "rehearsal")
        checklist = next(
            line.split("=", 1)[1].strip().strip('"')
            for line in config.read_text().splitlines()
            if line.startswith("checklist")
        )
        assert Path(checklist).is_relative_to(installed.venv) and Path(checklist).is_file()
        validated = subprocess.run(
            [str(installed.cockpit), "validate", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=empty,
            env=env,
            check=False,
        )
        assert validated.returncode == 0, validated.stderr + validated.stdout
        deployments = subprocess.run(
            [KUBECTL, "--kubeconfig", lines["kubeconfig"], "get", "deploy", "-o", "name"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.split()
        assert deployments == [
            "deployment.apps/servicedesk-app",
            "deployment.apps/servicedesk-worker",
        ]
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    assert child.returncode == 0
