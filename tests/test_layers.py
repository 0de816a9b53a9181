"""Every module of the package has its place in the import layers, so none escapes the
no-cycles rule: a new module must be put in pyproject.toml's layers contract."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layered() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers" and "containers" not in c
    ]
    names: set[str] = set()
    for layer in contract["layers"]:
        names.update(part.strip() for part in layer.replace(":", "|").split("|"))
    return names


def test_every_module_of_the_package_is_in_a_layer():
    package = ROOT / "src" / "cockpit"
    modules = {
        f"cockpit.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and not path.stem.startswith("__"))
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert modules, "no modules found"
    missing = sorted(modules - _layered())
    assert not missing, f"add these to the layers contract in pyproject.toml: {missing}"
