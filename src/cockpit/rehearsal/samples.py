"""Where the rehearsal finds its scenarios and the sample runbook.

A wheel carries `sample-configs/` inside the package as `cockpit/samples/` (see
`[tool.hatch.build.targets.wheel.force-include]` in pyproject.toml), so `pip install .` or
`pipx install` followed by `cockpit rehearse bad-release` works from any folder. A source
checkout (and its editable install) has no such folder in the package and reads the checkout's
own `sample-configs/`, so there is one copy of each file to edit.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # src/cockpit, or site-packages/cockpit


def samples_dir() -> Path:
    installed = _PACKAGE / "samples"
    if installed.is_dir():
        return installed
    return _PACKAGE.parents[1] / "sample-configs"


def scenario_dir() -> Path:
    return samples_dir() / "rehearsal"


def sample_runbook() -> Path:
    return samples_dir() / "servicedesk-runbook.md"
