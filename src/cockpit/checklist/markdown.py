"""Markdown runbook -> Checklist, from markdown-it-py's token stream.

Working on tokens (not lines) is what keeps a `- [ ]` inside a code block, or a `#` comment
in a shell snippet, from ever turning into an item or a heading.

What becomes what:
- every heading (ATX or setext, any depth) opens a section nested by level; a single level-1
  heading that opens the document is its title rather than a section;
- a list item whose text starts with `[ ]`, `[x]` or `[X]` is a manual item (`[x]` = done by the
  document), wherever the list sits, including under numbered steps;
- a numbered list item with a bold title, or one that holds a fenced code block, is a step; the
  code blocks under it are its commands, and its plain bullets are its notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from cockpit.checklist.model import (
    SHELL_LANGUAGES,
    Checklist,
    ChecklistItem,
    CommandBlock,
    Section,
    section_slug,
    text_slug,
)
from cockpit.errors import ChecklistError

_TASK_MARKERS = ("[ ]", "[x]", "[X]")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


@dataclass
class _OpenListItem:
    ordered: bool
    item: ChecklistItem | None
    first_inline_seen: bool = False


def load_checklist(path: Path) -> Checklist:
    from cockpit.config import refuse_if_writable_by_others

    refuse_if_writable_by_others(path, "runbook")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ChecklistError(
            f"checklist {path} does not exist",
            "set `checklist` in the config to the path of your Markdown runbook "
            "(relative to the config file)",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ChecklistError(
            f"checklist {path} is not UTF-8 text (byte {exc.start})",
            "save the runbook as UTF-8",
        ) from exc
    except OSError as exc:
        raise ChecklistError(f"cannot read checklist {path}: {exc.strerror}") from exc
    checklist = parse_checklist(text)
    checklist.source = path
    return checklist


def parse_checklist(text: str) -> Checklist:
    tokens = MarkdownIt("commonmark").parse(text)
    return _Builder(tokens).build()


class _Builder:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.title = ""
        self.roots: list[Section] = []
        self.stack: list[Section] = []
        self.lists: list[_OpenListItem] = []
        self.ordered_stack: list[bool] = []
        self.title_index = self._title_heading()

    def _title_heading(self) -> int | None:
        headings = [i for i, t in enumerate(self.tokens) if t.type == "heading_open"]
        if not headings or self.tokens[headings[0]].tag != "h1":
            return None
        if sum(1 for i in headings if self.tokens[i].tag == "h1") != 1:
            return None
        return headings[0]

    def build(self) -> Checklist:
        tokens = self.tokens
        index = 0
        while index < len(tokens):
            token = tokens[index]
            kind = token.type
            if kind == "heading_open":
                self._heading(index)
                index += 3
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.ordered_stack.append(kind == "ordered_list_open")
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.ordered_stack.pop()
            elif kind == "list_item_open":
                self._list_item(index)
            elif kind == "list_item_close":
                self.lists.pop()
            elif kind in ("fence", "code_block"):
                self._code(token)
            elif kind == "inline":
                self._inline(token)
            index += 1
        _assign_ids(self.roots)
        return Checklist(title=self.title or "Checklist", sections=self.roots)

    # --- sections ------------------------------------------------------------------------------

    def _heading(self, index: int) -> None:
        open_token = self.tokens[index]
        title = _render_inline(self.tokens[index + 1]).strip() or "(untitled)"
        if index == self.title_index:
            self.title = title
            return
        level = int(open_token.tag[1:])
        while self.stack and self.stack[-1].level >= level:
            self.stack.pop()
        section = Section(id="", title=title, level=level, line=_line(open_token))
        (self.stack[-1].sections if self.stack else self.roots).append(section)
        self.stack.append(section)

    def _current_section(self, line: int) -> Section:
        if not self.stack:
            # Items before the first heading: keep them, under a section of their own.
            section = Section(id="", title=self.title or "General", level=1, line=line)
            self.roots.insert(0, section)
            self.stack.append(section)
        return self.stack[-1]

    # --- items ---------------------------------------------------------------------------------

    def _list_item(self, index: int) -> None:
        ordered = bool(self.ordered_stack and self.ordered_stack[-1])
        inline = _first_inline(self.tokens, index)
        item: ChecklistItem | None = None
        parent = self._enclosing_item()
        if inline is not None:
            rendered = _render_inline(inline)
            marker = rendered[:3]
            if marker in _TASK_MARKERS and (len(rendered) == 3 or rendered[3].isspace()):
                text = " ".join(rendered[3:].split())
                item = self._new_item(index, text, "manual", parent)
                item.done_in_document = marker != "[ ]"
            elif ordered and (_starts_bold(inline) or _holds_code(self.tokens, index)):
                text = " ".join(rendered.split())
                item = self._new_item(index, text, "step", parent)
        self.lists.append(_OpenListItem(ordered=ordered, item=item))

    def _new_item(
        self, index: int, text: str, kind: str, parent: ChecklistItem | None
    ) -> ChecklistItem:
        line = _line(self.tokens[index])
        section = self._current_section(line)
        item = ChecklistItem(
            id="",
            text=text or "(empty item)",
            kind="step" if kind == "step" else "manual",
            section_id="",
            line=line,
            parent_id=None,
        )
        if parent is not None:
            item.parent_id = f"@{id(parent)}"  # replaced by the real id in _assign_ids
        section.items.append(item)
        return item

    def _enclosing_item(self) -> ChecklistItem | None:
        for open_item in reversed(self.lists):
            if open_item.item is not None:
                return open_item.item
        return None

    def _enclosing_step(self) -> ChecklistItem | None:
        for open_item in reversed(self.lists):
            if open_item.item is not None and open_item.item.kind == "step":
                return open_item.item
        return None

    def _inline(self, token: Token) -> None:
        if not self.lists:
            return
        current = self.lists[-1]
        first = not current.first_inline_seen
        current.first_inline_seen = True
        if current.item is not None and first:
            return  # the item's own text
        step = self._enclosing_step()
        if step is not None:
            note = " ".join(_render_inline(token).split())
            if note:
                step.notes.append(note)

    def _code(self, token: Token) -> None:
        step = self._enclosing_step()
        if step is None:
            return
        language = (token.info or "").strip().split(" ")[0].lower()
        commands = split_commands(token.content, language) if language in SHELL_LANGUAGES else ()
        step.blocks.append(
            CommandBlock(
                language=language,
                commands=tuple(commands),
                source=token.content,
                line=_line(token),
            )
        )


def split_commands(source: str, language: str = "bash") -> list[str]:
    """Commands of a shell block: comments and blanks dropped, `\\` continuations and
    here-documents kept whole, and in console transcripts only the `$ ` lines."""
    console = language in ("console", "shell-session")
    commands: list[str] = []
    pending: list[str] = []
    heredoc_end: str | None = None
    for raw in source.splitlines():
        if heredoc_end is not None:
            pending.append(raw)
            if raw.strip() == heredoc_end:
                commands.append("\n".join(pending))
                pending, heredoc_end = [], None
            continue
        line = raw.strip()
        if not pending:
            if console:
                if not line.startswith("$ "):
                    continue  # output shown in a transcript, not a command
                line = line[2:].strip()
            if not line or line.startswith("#"):
                continue
        if line.endswith("\\"):
            pending.append(line[:-1].rstrip())
            continue
        pending.append(line)
        heredoc = _HEREDOC.search(line)
        if heredoc:
            heredoc_end = heredoc.group(2)
            continue
        commands.append(" ".join(p for p in pending if p))
        pending = []
    if pending:
        commands.append(("\n" if heredoc_end else " ").join(pending))
    return commands


def _assign_ids(roots: list[Section]) -> None:
    by_marker: dict[str, ChecklistItem] = {}

    def visit(sections: list[Section], prefix: str) -> None:
        taken_sections: dict[str, int] = {}
        for section in sections:
            slug = section_slug(section.title)
            taken_sections[slug] = taken_sections.get(slug, 0) + 1
            if taken_sections[slug] > 1:
                slug = f"{slug}-{taken_sections[slug]}"
            section.id = f"{prefix}/{slug}" if prefix else slug
            taken_items: dict[str, int] = {}
            for item in section.items:
                by_marker[f"@{id(item)}"] = item
                parent = by_marker.get(item.parent_id or "")
                base = f"{parent.id if parent else section.id}/{text_slug(item.text)}"
                taken_items[base] = taken_items.get(base, 0) + 1
                item.id = base if taken_items[base] == 1 else f"{base}-{taken_items[base]}"
                item.section_id = section.id
                item.parent_id = parent.id if parent else None
            visit(section.sections, section.id)

    visit(roots, "")


# --- token helpers ------------------------------------------------------------------------------


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _first_inline(tokens: list[Token], index: int) -> Token | None:
    """The inline token of a list item's first paragraph, if the item starts with one."""
    if index + 2 < len(tokens) and tokens[index + 1].type == "paragraph_open":
        candidate = tokens[index + 2]
        if candidate.type == "inline":
            return candidate
    return None


def _starts_bold(inline: Token) -> bool:
    children = [c for c in inline.children or [] if not (c.type == "text" and not c.content)]
    return bool(children) and children[0].type == "strong_open"


def _holds_code(tokens: list[Token], index: int) -> bool:
    depth = 0
    for token in tokens[index:]:
        if token.type == "list_item_open":
            depth += 1
        elif token.type == "list_item_close":
            depth -= 1
            if depth == 0:
                return False
        elif token.type == "fence" and depth == 1:
            return True
    return False


def _render_inline(token: Token) -> str:
    """Inline markup -> the text an operator reads (code spans keep their backticks)."""
    out: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "html_inline"):
            out.append(child.content)
        elif child.type == "code_inline":
            out.append(f"`{child.content}`")
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append(child.content)
    return "".join(out)
