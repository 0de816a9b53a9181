"""The rehearsal works from an installed wheel, not only from the source tree.

The wheel is built from this checkout without a download (hatchling comes with the dev extras)
and installed without its dependencies into a fresh venv that borrows this venv's packages, so
the test stays offline and takes seconds; the cockpit it runs is the wheel's own copy.
"""

from __future__ import annotations

import os
import signal
import site
import subprocess
import sys
import time
from pathlib import Path

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


def test_cockpit_rehearse_runs_from_an_installed_wheel_in_an_empty_folder(tmp_path):
    wheels = tmp_path / "wheels"
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
    python = _fresh_venv(tmp_path / "venv")
    (wheel,) = wheels.glob("cockpit-*.whl")
    import zipfile

    shipped = set(zipfile.ZipFile(wheel).namelist())
    # what `kubectl exec` into a rehearsal pod of the sample app answers travels with the wheel
    assert "cockpit/samples/rehearsal/images/servicedesk.toml" in shipped
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "-q"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        capture_output=True,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TMPDIR"] = str(tmp_path)
    where = subprocess.run(
        [str(python), "-c", "import cockpit; print(cockpit.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=empty,
        env=env,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where
    child = subprocess.Popen(
        [
            *(str(tmp_path / "venv" / "bin" / "cockpit"), "rehearse", "bad-release"),
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
        assert Path(checklist).is_relative_to(tmp_path / "venv") and Path(checklist).is_file()
        validated = subprocess.run(
            [str(tmp_path / "venv" / "bin" / "cockpit"), "validate", "--config", str(config)],
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
