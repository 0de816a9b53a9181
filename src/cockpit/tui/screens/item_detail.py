"""Everything known about one item: text, where it is, who did what, its commands."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.errors import CockpitError
from cockpit.session import GoLiveSession, ItemView
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import ITEM_DETAIL, Place
from cockpit.tui.screens.frame import DetailScreen
from cockpit.tui.widgets.checklist import ChecklistTree


class ItemDetailScreen(DetailScreen[ChecklistTree.ItemIntent]):
    """Dismisses with the intent the operator picked here (done, skip, note, reopen), which
    the app handles as the same key in the checklist; None when closed."""

    PLACE: ClassVar[Place] = ITEM_DETAIL
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, session: GoLiveSession, view: ItemView) -> None:
        super().__init__()
        self.session = session
        self.view = view

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("mark_done", "skip", "note", "reopen") and self.session.read_only:
            return None
        return True

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="frame") as scroll:
            scroll.border_title = "Item"
            yield Static(self._body(), id="detail-body")
            yield Static("", id="detail-copied")

    def _body(self) -> str:
        view = self.view
        item = view.item
        section = self.session.checklist.section(item.section_id)
        lines = [
            f"[b]{safe(item.text)}[/b]",
            "",
            f"ID        {safe(item.id)}",
            f"Section   {safe(section.title if section else item.section_id)}",
            f"Kind      {view.kind}",
            f"Status    [b]{view.status}[/b]",
        ]
        if view.source == "document":
            lines.append("          (ticked in the runbook itself)")
        record = view.record
        if record is not None and view.source == "state":
            who = safe(record.by or "?") + (
                f" from {safe(record.address)}" if record.address else ""
            )
            when = record.at.strftime("%Y-%m-%d %H:%M:%S UTC") if record.at else "?"
            lines.append(f"By        {who}, {when}")
        if record is not None and record.evidence:
            lines.append(f"Evidence  {safe(record.evidence)}")
        if record is not None and record.note:
            lines += ["", "[b]Notes[/b]", safe(record.note)]
        if item.notes:
            lines += ["", "[b]Guidance[/b]", *[f"• {safe(n)}" for n in item.notes]]
        if item.blocks:
            lines += ["", "[b]Commands[/b] (each shell block runs as one bash script; c copies)"]
            for block in item.blocks:
                if block.is_shell:
                    filled, problem = self._filled(block.script)
                    script = visible_text(filled, keep_newlines=True)
                    lines += [f"  {safe(line)}" for line in script.splitlines()]
                    if problem:
                        lines.append(f"  [b]not filled in[/b]: {safe(problem)}")
                else:
                    lines.append(f"  ({safe(block.language)} block)")
                    shown = visible_text(block.source, keep_newlines=True)
                    lines += [f"  {safe(src)}" for src in shown.splitlines()]
        if view.checks:
            lines += ["", "[b]Bound checks[/b]"]
            lines += [f"  {safe(binding.type)}" for binding in view.checks]
        keys = (
            "esc close"
            if self.session.read_only
            else "d done · s skip · n note · u reopen · esc close"
        )
        lines += ["", f"[dim]{keys}[/dim]"]
        source = self.session.checklist.source
        lines += ["", f"[dim]{safe(source.name if source else 'runbook')}:{item.line}[/dim]"]
        return "\n".join(lines)

    def _filled(self, script: str) -> tuple[str, str | None]:
        """The script as the run screen will show and run it: {namespace} and the other
        placeholders filled for this environment (the detail showed them unfilled)."""
        try:
            return self.session.check_context().fill(script), None
        except CockpitError as exc:
            return script, exc.hint or exc.message  # the hint names what to add where

    def commands_text(self) -> str:
        blocks = [b for b in self.view.item.blocks if b.is_shell]
        return "\n\n".join(self._filled(b.script)[0].rstrip("\n") for b in blocks)

    def action_copy_commands(self) -> None:
        """Says what it did: OSC 52 cannot tell whether the terminal took it."""
        text = self.commands_text()
        if not text:
            said = "Nothing copied: this item has no shell commands."
        else:
            self.app.copy_to_clipboard(text)
            said = (
                "Commands sent to your terminal's clipboard (OSC 52). A terminal or tmux that "
                "ignores OSC 52 drops them: then select them above."
            )
        self.app.notify(said, title="Commands")
        self.query_one("#detail-copied", Static).update(Text(said))

    def action_mark_done(self) -> None:
        self.dismiss(ChecklistTree.MarkDone(self.view.item))

    def action_skip(self) -> None:
        self.dismiss(ChecklistTree.Skip(self.view.item))

    def action_note(self) -> None:
        self.dismiss(ChecklistTree.AddNote(self.view.item))

    def action_reopen(self) -> None:
        self.dismiss(ChecklistTree.Reopen(self.view.item))
