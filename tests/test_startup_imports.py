"""Headless commands import only what they use: no Textual for validate, no pydantic for help."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import sys
    from cockpit.cli import main

    sys.argv = ["cockpit", *sys.argv[1:]]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print("MODULES", " ".join(loaded), "CODE", code, file=sys.stderr)
    """
)


def _modules(*args: str) -> tuple[set[str], str]:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(line for line in run.stderr.splitlines() if line.startswith("MODULES"))
    names, code = line.removeprefix("MODULES ").rsplit(" CODE ", 1)
    return set(names.split()), code


def test_help_loads_neither_pydantic_nor_textual():
    modules, code = _modules("--help")
    assert code == "0"
    assert not modules & {"pydantic", "textual", "markdown_it", "kubernetes", "httpx"}


def test_validate_does_not_load_textual(write_config, tmp_path, monkeypatch):
    monkeypatch.setenv("COCKPIT_THEME_DIR", str(tmp_path / "no-themes"))
    path = write_config()
    modules, code = _modules("validate", "-c", str(path))
    assert code == "0"
    assert "textual" not in modules and "pydantic" in modules


def test_validate_checks_key_remaps_without_textual(write_config, tmp_path, monkeypatch):
    """[keys] are checked against the registry of keys, not the TUI's widgets (it loaded
    all of Textual and every screen only to read their ids)."""
    monkeypatch.setenv("COCKPIT_THEME_DIR", str(tmp_path / "no-themes"))
    from .conftest import BASE_CONFIG

    path = write_config(BASE_CONFIG + '\n[keys]\n"checklist.done" = "x"\n')
    modules, code = _modules("validate", "-c", str(path))
    assert code == "0"
    assert "textual" not in modules


def test_validate_checks_the_operators_own_theme_colours(write_config, tmp_path, monkeypatch):
    themes = tmp_path / "my-themes"
    themes.mkdir()
    (themes / "bad.toml").write_text('name = "bad"\nprimary = "not-a-colour"\n')
    monkeypatch.setenv("COCKPIT_THEME_DIR", str(themes))
    path = write_config()
    run = subprocess.run(
        [sys.executable, "-c", "from cockpit.cli import main; main()", "validate", "-c", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "'not-a-colour' is not a colour" in run.stdout + run.stderr
