"""Markdown runbook -> Checklist, from markdown-it-py's token stream.

Working on tokens (not lines) is what keeps a `- [ ]` inside a code block, or a `#` comment
in a shell snippet, from ever turning into an item or a heading. The parser reads what GitHub
shows: YAML front matter is not text, HTML comments vanish with what they hold, inline tags
give way to their text, and task items follow GitHub's rule (mdit_py_plugins' tasklists), so
`\\[ \\]` is text and an empty `- [ ]` is nothing.

What becomes what:
- every heading (ATX or setext, any depth) opens a section nested by level; a level-1 heading
  that opens the document is its title rather than a section (later headings never change it);
- a list item whose text starts with `[ ]`, `[x]` or `[X]` is a manual item (`[x]` = done by the
  document), wherever the list sits, including under numbered steps;
- a numbered list item whose first line is a bold title, or one that holds a fenced code block,
  is a step (with or without a `[ ]`); the code blocks under it are its scripts, and its plain
  bullets are its notes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.checklist.cache import read_cached, write_cached
from cockpit.checklist.model import (
    SHELL_LANGUAGES,
    Checklist,
    ChecklistItem,
    CommandBlock,
    Section,
    section_slug,
    text_slug,
)
from cockpit.config import refuse_if_writable_by_others
from cockpit.errors import ChecklistError
from cockpit.text import visible_text

if TYPE_CHECKING:  # markdown-it and yaml load with the first parse: a cached runbook needs neither
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

_CONSOLE_LANGUAGES = frozenset({"console", "shell-session"})
_PROMPT = "$ "
# Inline tags that stand for a break between words rather than around them.
_BREAK_TAGS = ("<br", "<hr", "<p", "</p", "<li", "</li", "<div", "</div")


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin
    from mdit_py_plugins.tasklists import tasklists_plugin

    return (
        MarkdownIt("commonmark")
        .enable("strikethrough")
        .use(front_matter_plugin)
        .use(tasklists_plugin)
    )


@dataclass
class _OpenListItem:
    item: ChecklistItem | None
    first_inline_seen: bool = False


def load_checklist(path: Path, cache: Path | None = None) -> Checklist:
    """The runbook at `path`, parsed; with `cache` (the state folder), the parse of the same
    bytes kept there is used instead, and a fresh parse is kept there for the next start."""
    refuse_if_writable_by_others(path, "runbook")
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ChecklistError(
            f"checklist {path} does not exist",
            "set `checklist` in the config to the path of your Markdown runbook "
            "(relative to the config file)",
        ) from exc
    except OSError as exc:
        raise ChecklistError(f"cannot read checklist {path}: {exc.strerror}") from exc
    checklist = read_cached(cache, raw) if cache is not None else None
    if checklist is None:
        try:
            # newlines as read_text gives them (markdown-it would fold them the same way)
            text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError as exc:
            raise ChecklistError(
                f"checklist {path} is not UTF-8 text (byte {exc.start})",
                "save the runbook as UTF-8",
            ) from exc
        try:
            checklist = parse_checklist(text)
        except ChecklistError as exc:
            exc.message = f"{path}: {exc.message}"
            raise
        if cache is not None:
            write_cached(cache, raw, checklist)
    checklist.source = path
    return checklist


def parse_checklist(text: str) -> Checklist:
    """The checklist of a runbook; two items that would share an ID are refused, not merged."""
    return _Builder(_markdown().parse(text)).build()


def runbook_prose(text: str) -> list[str]:
    """Every paragraph, heading and bullet of a runbook as shown text, code and comments aside.

    `cockpit init` reads targets ("p95 below 100 ms") wherever the author wrote them, which is
    often a plain bullet list rather than a `- [ ]` item.
    """
    return [
        shown
        for token in _markdown().parse(text)
        if token.type == "inline" and (shown := render_inline(token))
    ]


class _Builder:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.title = _front_matter_title(tokens)
        self.roots: list[Section] = []
        self.stack: list[Section] = []
        self.lists: list[_OpenListItem] = []
        self.ordered_stack: list[bool] = []
        self.title_index = _title_heading(tokens)

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
        title = render_inline(self.tokens[index + 1]) or "(untitled)"
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
            text = render_inline(inline)
            task = "task-list-item" in str(self.tokens[index].attrGet("class") or "")
            titled = ordered and _bold_title(inline)
            step = titled or (ordered and _holds_fence(self.tokens, index))
            rest = ""
            if titled and not task:
                # `1. **Migrate the schema**` and, on the next lines, what to do: the bold line
                # is the step's title, the lines under it its first note
                first, under = _split_first_line(inline.children or [])
                text = render_children(first)
                rest = render_children(under)
            if text and (task or step):
                item = self._new_item(index, text, "step" if step else "manual", parent)
                if rest:
                    item.notes.append(rest)
                item.done_in_document = task and _checked(inline)
                item.links = _links(inline)
        self.lists.append(_OpenListItem(item=item))

    def _new_item(
        self, index: int, text: str, kind: str, parent: ChecklistItem | None
    ) -> ChecklistItem:
        line = _line(self.tokens[index])
        section = self._current_section(line)
        item = ChecklistItem(
            id="",
            text=text,
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
            note = render_inline(token)
            if note:
                step.notes.append(note)

    def _code(self, token: Token) -> None:
        step = self._enclosing_step()
        if step is None:
            return
        words = (token.info or "").split()  # "bash", "bash title=x", "bash<TAB>{.x}"
        language = words[0].lower() if words else ""
        script = block_script(token.content, language) if language in SHELL_LANGUAGES else ""
        step.blocks.append(
            CommandBlock(language=language, script=script, source=token.content, line=_line(token))
        )


def block_script(source: str, language: str = "bash") -> str:
    """What a shell block runs: the block itself, or a transcript's prompt lines only.

    A `console` block, or any shell block whose first line is a `$ ` prompt, is a transcript:
    the lines after a prompt are the output the author saw, not commands. A prompt line ending
    in `\\` continues on the next line (a leading `> ` there is the shell's prompt, dropped).
    """
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if language not in _CONSOLE_LANGUAGES and not first.startswith(_PROMPT):
        return source
    commands: list[str] = []
    continuing = False
    for raw in lines:
        line = raw.strip()
        if continuing:
            line = line[2:] if line.startswith("> ") else line
        elif line.startswith(_PROMPT):
            line = line[len(_PROMPT) :]
        else:
            continue  # output shown in the transcript
        commands.append(line)
        continuing = line.endswith("\\")
    return "\n".join(commands) + ("\n" if commands else "")


def _assign_ids(roots: list[Section]) -> None:
    """Section path + text slug; the same text again under the same parent gets `--2`.

    `--` never occurs inside a slug, so a numbered ID cannot collide with another item's text;
    what can still collide (a task nested under an item and the same text under a later
    heading of the item's name) is refused with both lines, rather than merged.
    """
    by_marker: dict[str, ChecklistItem] = {}
    taken: dict[str, ChecklistItem] = {}

    def numbered(base: str, counts: dict[str, int]) -> str:
        counts[base] = counts.get(base, 0) + 1
        return base if counts[base] == 1 else f"{base}--{counts[base]}"

    def visit(sections: list[Section], prefix: str) -> None:
        section_counts: dict[str, int] = {}
        for section in sections:
            slug = numbered(section_slug(section.title), section_counts)
            section.id = f"{prefix}/{slug}" if prefix else slug
            item_counts: dict[str, int] = {}
            for item in section.items:
                by_marker[f"@{id(item)}"] = item
                parent = by_marker.get(item.parent_id or "")
                base = f"{parent.id if parent else section.id}/{text_slug(item.text)}"
                item.id = numbered(base, item_counts)
                item.section_id = section.id
                item.parent_id = parent.id if parent else None
                other = taken.get(item.id)
                if other is not None:
                    raise ChecklistError(
                        f"line {other.line} ({other.text!r}) and line {item.line} "
                        f"({item.text!r}) would share the ID {item.id}",
                        "reword one of the two items, or rename the heading that gives them "
                        "the same path, so that each item has an ID of its own",
                    )
                taken[item.id] = item
            visit(section.sections, section.id)

    visit(roots, "")


# --- token helpers ------------------------------------------------------------------------------


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _front_matter_title(tokens: list[Token]) -> str:
    """The `title` of YAML front matter, when it has one; bad YAML is just not a title."""
    if not tokens or tokens[0].type != "front_matter":
        return ""
    import yaml

    try:
        data: Any = yaml.safe_load(tokens[0].content)
    except yaml.YAMLError:
        return ""
    title = data.get("title") if isinstance(data, dict) else None
    return " ".join(title.split()) if isinstance(title, str) else ""


def _title_heading(tokens: list[Token]) -> int | None:
    """The index of the h1 that opens the document (after front matter and comments)."""
    for index, token in enumerate(tokens):
        if token.type == "front_matter" or (token.type == "html_block" and _is_comment(token)):
            continue
        if token.type == "heading_open" and token.tag == "h1":
            return index
        return None
    return None


def _is_comment(token: Token) -> bool:
    return token.content.lstrip().startswith("<!--")


def _first_inline(tokens: list[Token], index: int) -> Token | None:
    """The inline token of a list item's first paragraph, if the item starts with one."""
    if index + 2 < len(tokens) and tokens[index + 1].type == "paragraph_open":
        candidate = tokens[index + 2]
        if candidate.type == "inline":
            return candidate
    return None


def _links(inline: Token) -> list[str]:
    return [
        str(child.attrGet("href"))
        for child in inline.children or []
        if child.type == "link_open" and child.attrGet("href")
    ]


def _checked(inline: Token) -> bool:
    children = inline.children or []
    return bool(children) and 'checked="checked"' in children[0].content


def _bold_title(inline: Token) -> bool:
    """Whether the item's first line is all bold (a trailing `:` or `.` aside).

    `1. **Apply the migrations**` is a step; `1. **Goals**: cut latency by half` in a design
    document is prose with a bold lead-in, not a step.
    """
    children = [c for c in inline.children or [] if not _is_markup_only(c)]
    if not children or children[0].type != "strong_open":
        return False
    depth = 0
    for position, child in enumerate(children):
        if child.type == "strong_open":
            depth += 1
        elif child.type == "strong_close":
            depth -= 1
            if depth == 0:
                rest = children[position + 1 :]
                tail = _line_of(rest)
                return all(c.type == "text" and c.content.strip() in ("", ":", ".") for c in tail)
    return False


def _line_of(children: list[Token]) -> list[Token]:
    for position, child in enumerate(children):
        if child.type in ("softbreak", "hardbreak"):
            return children[:position]
    return children


def _is_markup_only(child: Token) -> bool:
    """Inline tokens that GitHub does not show as text: checkboxes, comments, empty text."""
    return (child.type == "text" and not child.content.strip()) or child.type == "html_inline"


def _holds_fence(tokens: list[Token], index: int) -> bool:
    """Whether the list item opened at `index` holds a code block of its own (not one of a
    nested item's). Reads only that item's tokens: slicing the rest of the list here made the
    parser quadratic in the runbook's length."""
    depth = 0
    for position in range(index, len(tokens)):
        token = tokens[position]
        if token.type == "list_item_open":
            depth += 1
        elif token.type == "list_item_close":
            depth -= 1
            if depth == 0:
                return False
        elif token.type == "fence" and depth == 1:
            return True
    return False


def _split_first_line(children: list[Token]) -> tuple[list[Token], list[Token]]:
    """The bold title and what follows it on later lines: split at the first line break
    after the bold closes (a title wrapped over two lines stays whole)."""
    depth = 0
    closed = False
    for position, child in enumerate(children):
        if child.type == "strong_open":
            depth += 1
        elif child.type == "strong_close":
            depth -= 1
            closed = closed or depth == 0
        elif closed and depth == 0 and child.type in ("softbreak", "hardbreak"):
            return children[:position], children[position + 1 :]
    return children, []


def render_inline(token: Token) -> str:
    """Inline markup -> the text an operator reads, on one line (code spans keep backticks).

    HTML comments go with what they hold, tags give way to their text: a filled-in
    `<!-- paste link -->` hint does not change the item, and `<em>` never shows raw.
    """
    return render_children(token.children or [])


def render_children(children: list[Token]) -> str:
    """`render_inline` of some of an inline token's children."""
    out: list[str] = []
    for child in children:
        if child.type == "text":
            out.append(child.content)
        elif child.type == "html_inline":
            if child.content.lower().startswith(_BREAK_TAGS):
                out.append(" ")
        elif child.type == "code_inline":
            out.append(f"`{child.content}`")
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append(child.content)
    return visible_text(" ".join("".join(out).split()))
