"""Themes as data: TOML files shipped with the cockpit plus the operator's own.

A theme file names its colours; each is checked with Textual's own colour parser before the
theme is used, so a typo gives a message naming the file and key, and the cockpit falls back to
the default theme instead of starting with unreadable colours.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import Theme

from cockpit.config import LoadedConfig
from cockpit.theme_files import shipped_theme_files, user_theme_dir

DEFAULT_THEME = "cockpit-dark"
COLOUR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
ALLOWED_KEYS = {"name", "dark", "variables", *COLOUR_KEYS}


@dataclass
class ThemeCatalog:
    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, loaded: LoadedConfig | None = None) -> ThemeCatalog:
        catalog = cls()
        for path in shipped_theme_files():
            catalog._add(path, path.read_text(encoding="utf-8"))
        folders = [user_theme_dir()]
        if loaded is not None:
            folders.append(loaded.base_dir / "themes")
        for folder in folders:
            if folder.is_dir():
                for path in sorted(folder.glob("*.toml")):
                    try:
                        text = path.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError) as exc:
                        catalog.problems.append(f"{path}: cannot read theme: {exc}")
                        continue
                    catalog._add(path, text)
        return catalog

    def _add(self, path: Path, text: str) -> None:
        theme, problems = parse_theme(path, text)
        self.problems.extend(problems)
        if theme is not None:
            self.themes[theme.name] = theme

    def pick(self, name: str) -> tuple[Theme, str | None]:
        """The theme to use, and a message when falling back to the default."""
        if name in self.themes:
            return self.themes[name], None
        fallback = self.themes[DEFAULT_THEME]
        return fallback, (
            f"theme {name!r} is not available (see `cockpit validate`); using {DEFAULT_THEME}"
        )


def parse_theme(path: Path, text: str) -> tuple[Theme | None, list[str]]:
    problems: list[str] = []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path}: not valid TOML: {exc}"]
    for key in sorted(set(data) - ALLOWED_KEYS):
        problems.append(
            f"{path}: {key}: unknown key; theme keys are {', '.join(sorted(ALLOWED_KEYS))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f'{path}: name: required, e.g. name = "my-theme"')
    if "primary" not in data:
        problems.append(f"{path}: primary: required colour")
    colours: dict[str, str] = {}
    for key in COLOUR_KEYS:
        if key in data:
            value = data[key]
            try:
                Color.parse(value)
            except (ColorParseError, TypeError, ValueError):
                problems.append(f'{path}: {key}: {value!r} is not a colour (try "#rrggbb")')
            else:
                colours[key] = value
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        problems.append(f"{path}: variables: must be a table")
        variables = {}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        problems.append(f"{path}: dark: must be true or false")
    if problems:
        return None, problems
    return (
        Theme(
            name=str(name),
            primary=colours["primary"],
            secondary=colours.get("secondary"),
            accent=colours.get("accent"),
            warning=colours.get("warning"),
            error=colours.get("error"),
            success=colours.get("success"),
            foreground=colours.get("foreground"),
            background=colours.get("background"),
            surface=colours.get("surface"),
            panel=colours.get("panel"),
            boost=colours.get("boost"),
            dark=bool(dark),
            variables={str(k): str(v) for k, v in variables.items()},
        ),
        [],
    )


def theme_variables(app: App[Any]) -> dict[str, str]:
    """The current theme's CSS variables, computed once per theme.

    Textual derives them afresh on every `get_css_variables()` call (about 0.7 ms); label code
    asks for a colour per row, so a 1,000-item checklist would spend most of a frame on it.
    Textual keeps the last ones it derived in `App.theme_variables` (it derives them when the
    theme changes, before the CSS is refreshed): those, or new ones before the first.
    """
    return app.theme_variables or app.get_css_variables()
