"""The checklist as the cockpit sees it: nested sections holding items.

Item IDs are derived from the section path and the item's text, not from its position, so
that an ID written in the TOML (or typed in `cockpit mark`) keeps pointing at the same line of
the runbook when someone adds or reorders unrelated items. Slugs keep letters of every script,
so a runbook written in Japanese or Portuguese gets IDs as stable as an English one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ItemKind = Literal["manual", "check", "step"]

_SECTION_SLUG_MAX = 32
_TEXT_SLUG_MAX = 60


@dataclass(frozen=True)
class CommandBlock:
    """A fenced code block under a step: its language, its text, and the script it runs.

    A shell block is one script, as its author wrote it (loops, pipes and quoted strings over
    several lines included); a transcript (`console`, or a block whose first line is a `$ `
    prompt) runs only its prompt lines, never the output shown after them.
    """

    language: str
    script: str
    source: str
    line: int

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL_LANGUAGES


SHELL_LANGUAGES = frozenset({"", "bash", "sh", "shell", "zsh", "console", "shell-session"})


@dataclass
class ChecklistItem:
    """One line of the runbook the operator has to get through."""

    id: str
    text: str
    kind: ItemKind
    section_id: str
    line: int
    done_in_document: bool = False
    parent_id: str | None = None
    blocks: list[CommandBlock] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # link targets in the item's text

    @property
    def scripts(self) -> list[str]:
        """The shell scripts of a step, one per shell block, in order."""
        return [block.script for block in self.blocks if block.is_shell and block.script.strip()]

    @property
    def plain_text(self) -> str:
        return self.text.replace("`", "")


@dataclass
class Section:
    """A heading of the runbook and what sits under it until the next heading of its level."""

    id: str
    title: str
    level: int
    line: int
    items: list[ChecklistItem] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def walk_items(self) -> Iterator[ChecklistItem]:
        yield from self.items
        for child in self.sections:
            yield from child.walk_items()

    def walk_sections(self) -> Iterator[Section]:
        yield self
        for child in self.sections:
            yield from child.walk_sections()


@dataclass
class Checklist:
    """The parsed runbook."""

    title: str
    sections: list[Section]
    source: Path | None = None

    def items(self) -> Iterator[ChecklistItem]:
        for section in self.sections:
            yield from section.walk_items()

    def all_sections(self) -> Iterator[Section]:
        for section in self.sections:
            yield from section.walk_sections()

    def item(self, item_id: str) -> ChecklistItem | None:
        for item in self.items():
            if item.id == item_id:
                return item
        return None

    def section(self, section_id: str) -> Section | None:
        for section in self.all_sections():
            if section.id == section_id:
                return section
        return None

    def resolve(self, reference: str) -> list[ChecklistItem]:
        """Items a reference names: an ID, or the exact text of one or more items."""
        found = self.item(reference)
        if found is not None:
            return [found]
        wanted = _normalise_text(reference)
        return [
            item
            for item in self.items()
            if _normalise_text(item.text) == wanted or _normalise_text(item.plain_text) == wanted
        ]


def _normalise_text(text: str) -> str:
    return " ".join(text.split())


def _slug_character(char: str) -> str:
    """A letter or digit of any script is kept (with its combining marks); the rest separates."""
    if char.isascii():
        return char if char.isalnum() else "-"
    return char if char.isalnum() or unicodedata.category(char).startswith("M") else "-"


def slugify(text: str, limit: int) -> str:
    """A readable slug; truncated slugs get a short hash so they stay distinct.

    A slug never holds two dashes in a row: `--` is left free for the number that tells
    apart items (or sections) of the same text, so that number never collides with a slug.
    A text with no letters at all (an emoji) gets a slug from its hash, never its position.
    """
    folded = unicodedata.normalize("NFC", text).lower()
    slug = re.sub(r"-+", "-", "".join(_slug_character(c) for c in folded)).strip("-")
    digest = hashlib.sha1(text.encode()).hexdigest()[:4]
    if not slug:
        return f"item-{digest}"
    if len(slug) <= limit:
        return slug
    return f"{slug[: limit - 5].rstrip('-')}-{digest}"


def section_slug(title: str) -> str:
    return slugify(title, _SECTION_SLUG_MAX)


def text_slug(text: str) -> str:
    return slugify(text.replace("`", ""), _TEXT_SLUG_MAX)
