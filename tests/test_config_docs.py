"""docs/CONFIG.md and the config models name the same keys, both ways.

CONFIG.md is written by hand, for operators; these tests hold it to the models: every key a
model has is in the table of its section (or, for a small nested table such as `compare`, in
the row of the key that holds it), and every key a table lists is one the model has.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from cockpit.check_types import CHECK_TYPES, CheckConfig
from cockpit.config import Config

from .conftest import REPO

CONFIG_MD = REPO / "docs" / "CONFIG.md"
_CODE = re.compile(r"`([^`]+)`")
_TABLE_HEADING = re.compile(r"^`(\[\[?)([\w.]+)(\]\]?)`$")


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, or in a list, a dict's values, an optional, a union
    (the check types' union holds CheckConfig's subclasses: their base stands for them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0])
    if origin is dict:
        return _model_in(get_args(annotation)[1])
    if origin is list:
        return _model_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        models = [m for m in map(_model_in, get_args(annotation)) if m is not None]
        if models and all(issubclass(m, CheckConfig) for m in models):
            return CheckConfig
        return models[0] if models else None
    return None


def _holds_names(annotation: Any) -> bool:
    """A dict of tables keyed by a name the operator picks: [environments.NAME]."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_names(get_args(annotation)[0])
    return origin is dict


def _section_model(path: str) -> type[BaseModel]:
    """`environments.NAME.clusters` -> ClusterConfig, by walking the models from Config."""
    model: type[BaseModel] = Config
    parts = path.split(".")
    index = 0
    while index < len(parts):
        field = model.model_fields[parts[index]]
        found = _model_in(field.annotation)
        assert found is not None, f"{path}: {parts[index]} holds no table"
        model = found
        index += 2 if _holds_names(field.annotation) else 1
    return model


def _tables(text: str) -> list[tuple[str, str, str]]:
    """(heading, first cell, whole row) of every row of every key table."""
    rows = []
    heading = ""
    in_table = False
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            in_table = False
        elif line.startswith("| key |"):
            in_table = True
        elif in_table and line.startswith("|---"):
            continue
        elif in_table and line.startswith("|"):
            rows.append((heading, line.split("|")[1].strip(), line))
        else:
            in_table = False
    return rows


def _sections(text: str) -> dict[str, type[BaseModel]]:
    """Heading -> the model whose keys its table lists: a table path, or a check type."""
    sections: dict[str, type[BaseModel]] = {}
    in_checks = False
    for line in text.splitlines():
        if not line.startswith("#"):
            continue
        level = len(line) - len(line.lstrip("#"))
        heading = line.lstrip("#").strip()
        table = _TABLE_HEADING.match(heading)
        if table:
            sections[heading] = _section_model(table.group(2))
            in_checks = table.group(2) == "checks"
        elif in_checks and level == 3 and heading.strip("`") in CHECK_TYPES:
            sections[heading] = CHECK_TYPES[heading.strip("`")]
        elif heading == "Top level":
            sections[heading] = Config
        elif level <= 2:
            in_checks = False
    return sections


def _own_fields(model: type[BaseModel]) -> list[str]:
    """A check type's own keys; the keys every check has are CheckConfig's."""
    if issubclass(model, CheckConfig) and model is not CheckConfig:
        return [name for name in model.model_fields if name not in CheckConfig.model_fields]
    return list(model.model_fields)


def _documented(text: str) -> tuple[dict[type[BaseModel], dict[str, str]], list[str]]:
    """Per model, the keys its section's table lists (key -> row), and every listed key that
    the model does not have."""
    sections = _sections(text)
    listed: dict[type[BaseModel], dict[str, str]] = {}
    unknown = []
    for heading, cell, row in _tables(text):
        model = sections.get(heading)
        if model is None:
            continue
        spans = _CODE.findall(cell)
        current = model
        for position, span in enumerate(spans):
            nested = re.fullmatch(r"\[([\w]+)\]", span)
            if nested:  # `[state]` `directory`: the directory key of the state table
                name = nested.group(1)
                if name not in current.model_fields:
                    unknown.append(f"{heading}: [{name}]")
                    break
                listed.setdefault(current, {})[name] = row
                sub = _model_in(current.model_fields[name].annotation)
                if sub is not None and position + 1 < len(spans):
                    current = sub
                continue
            if span not in current.model_fields or span not in _own_fields(current):
                unknown.append(f"{heading}: {span}")
                continue
            listed.setdefault(current, {})[span] = row
    return listed, unknown


def _missing(text: str) -> list[str]:
    """Every key of every model reachable from Config that CONFIG.md does not name."""
    listed, _unknown = _documented(text)
    sections = set(_sections(text).values())
    missing: list[str] = []

    def inline(model: type[BaseModel], row: str, where: str) -> None:
        words = set(re.findall(r"\w+", " ".join(_CODE.findall(row))))
        for name, field in model.model_fields.items():
            if name not in words:
                missing.append(f"{where}.{name}")
            sub = _model_in(field.annotation)
            if sub is not None:
                inline(sub, row, f"{where}.{name}")

    def walk(model: type[BaseModel], where: str) -> None:
        for name in _own_fields(model):
            sub = _model_in(model.model_fields[name].annotation)
            row = listed.get(model, {}).get(name)
            if sub is not None and (sub in sections or sub in listed):
                walk(sub, f"{where}.{name}")  # its own section, or `[state]` `directory` rows
            elif row is None:
                missing.append(f"{where}.{name}")
            elif sub is not None:
                inline(sub, row, f"{where}.{name}")

    walk(Config, "cockpit.toml")
    for kind, model in CHECK_TYPES.items():
        if model not in sections:
            missing.append(f"[[checks]] type {kind}: no section")
            continue
        walk(model, f"checks.{kind}")
    return missing


def test_every_key_of_the_models_is_in_config_md():
    assert _missing(CONFIG_MD.read_text()) == []


def test_every_key_config_md_lists_is_in_a_model():
    _listed, unknown = _documented(CONFIG_MD.read_text())
    assert unknown == []


def test_every_check_type_has_its_section_and_every_section_a_type():
    text = CONFIG_MD.read_text()
    documented = {m for m in _sections(text).values() if issubclass(m, CheckConfig)}
    assert documented == {CheckConfig, *CHECK_TYPES.values()}


# The checker itself must catch drift, or the tests above prove nothing.


def test_a_key_missing_from_the_docs_is_named():
    text = CONFIG_MD.read_text()
    without = text.replace(
        "| `min_days_valid` | integer | `14` | fewer days left than this fails |\n", ""
    )
    assert without != text
    assert _missing(without) == ["checks.tls.min_days_valid"]


def test_a_key_missing_from_an_inline_table_is_named():
    text = CONFIG_MD.read_text()
    without = text.replace("max_drop = 0.5, ", "").replace("`max_drop`", "the drop")
    assert without != text
    assert _missing(without) == ["cockpit.toml.environments.errors.release_health.max_drop"]


def test_a_documented_key_no_model_has_is_named():
    text = CONFIG_MD.read_text().replace("| `sni` |", "| `server_name` |")
    _listed, unknown = _documented(text)
    assert unknown == ["`tls`: server_name"]


@pytest.mark.parametrize("kind", ["tls", "kube"])
def test_a_check_type_without_its_section_is_named(kind):
    text = CONFIG_MD.read_text().replace(f"### `{kind}`\n", f"### the {kind} check\n")
    assert f"[[checks]] type {kind}: no section" in _missing(text)
