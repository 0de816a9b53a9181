"""Where theme files are, and which are the operator's own, without importing Textual.

`cockpit validate` checks the themes; the shipped ones are tested with the cockpit, so it
needs Textual's colour parser (and so Textual, about a third of the TUI's start-up) only when
there are theme files of the operator's own to check.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.config import LoadedConfig


def user_theme_dir() -> Path:
    """$COCKPIT_THEME_DIR, else $XDG_CONFIG_HOME/cockpit/themes (~/.config/cockpit/themes)."""
    explicit = os.environ.get("COCKPIT_THEME_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cockpit" / "themes"


def theme_folders(loaded: LoadedConfig | None) -> list[Path]:
    """The operator's theme folders, in the order a later theme replaces an earlier one."""
    folders = [user_theme_dir()]
    if loaded is not None:
        folders.append(loaded.base_dir / "themes")
    return folders


def own_theme_files(loaded: LoadedConfig | None) -> list[Path]:
    return [
        path
        for folder in theme_folders(loaded)
        if folder.is_dir()
        for path in sorted(folder.glob("*.toml"))
    ]


def shipped_theme_names() -> list[str]:
    shipped = resources.files("cockpit.tui") / "themes"
    names = []
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            name = tomllib.loads(entry.read_text(encoding="utf-8")).get("name")
            if isinstance(name, str):
                names.append(name)
    return names
