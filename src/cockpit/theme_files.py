"""Where theme files are, and which are the operator's own, without importing Textual.

The shipped themes are the checkout's top-level `themes/`; a wheel carries them inside the
package as `cockpit/themes/` (`[tool.hatch.build.targets.wheel.force-include]` in
pyproject.toml), so an installed cockpit has them too, and a source checkout (and its editable
install) reads the one copy in `themes/`.

`cockpit validate` checks the themes; the shipped ones are tested with the cockpit, so it
needs Textual's colour parser (and so Textual, about a third of the TUI's start-up) only when
there are theme files of the operator's own to check.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.config import LoadedConfig


_PACKAGE = Path(__file__).resolve().parent  # src/cockpit, or site-packages/cockpit


def shipped_theme_dir() -> Path:
    """The themes that come with the cockpit: the wheel's copy, else the checkout's."""
    installed = _PACKAGE / "themes"
    if installed.is_dir():
        return installed
    return _PACKAGE.parents[1] / "themes"


def shipped_theme_files() -> list[Path]:
    return sorted(shipped_theme_dir().glob("*.toml"))


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
    names = []
    for path in shipped_theme_files():
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
        if isinstance(name, str):
            names.append(name)
    return names
