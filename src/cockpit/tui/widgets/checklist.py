"""The checklist pane: the runbook as a tree of sections and items, with progress.

`/` filters the tree to the items whose text or ID holds what the operator types (a section
whose title matches keeps all its items), so a 200-item runbook is searchable mid-incident;
`{` and `}` jump between sections. The tree is rebuilt for a filter rather than hidden in
parts: Textual's Tree has no hidden nodes, and a rebuild of even a large runbook is quick.

A section's items become tree nodes when the section is first unfolded, and a runbook of
more than FOLD_ABOVE items (or a filter that shows that many) opens with its sections folded
but the one holding the first open item: a 20,000-item runbook starts with a few hundred
nodes, not 20,000 (each a label to render, a line to lay out on every change). Every node is
made with its final label, never relabelled at build (each relabel queues a redraw).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from rich.color import Color as RichColor
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.color import Color
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from cockpit.checklist import ChecklistItem, Section
from cockpit.session import GoLiveSession, ItemView, Progress
from cockpit.text import format_elapsed, visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import CHECKLIST, CHECKLIST_FILTER, Place
from cockpit.tui.themes import theme_variables
from cockpit.tui.widgets.filter_keys import route_filter_burst
from cockpit.tui.widgets.shown import Subtitled

GLYPHS = {
    "pending": "○",
    "running": "◌",
    "passed": "✔",
    "failed": "✘",
    "done": "✔",
    "skipped": "⤼",
}
FOLD_ABOVE = 2_000  # items shown; above this the tree opens with its sections folded

STATE_VARIABLE = {
    "pending": "foreground-muted",
    "running": "accent",
    "passed": "success",
    "failed": "error",
    "done": "success",
    "skipped": "warning",
}


@dataclass(frozen=True)
class NodeRef:
    """What a tree node stands for."""

    section: Section | None = None
    item: ChecklistItem | None = None


class ChecklistTree(Tree[NodeRef]):
    """Sections and items; the keys act on the item under the cursor."""

    PLACE: ClassVar[Place] = CHECKLIST
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    # What the operator asks for, one message per intent: the app handles each with its own
    # handler, so a misspelt one is a name mypy refuses, not a string nobody answers.

    class ItemIntent(Message):
        """The operator asked for something to happen to an item (never posted itself)."""

        def __init__(self, item: ChecklistItem) -> None:
            super().__init__()
            self.item = item

    class MarkDone(ItemIntent):
        """Mark the item done."""

    class Skip(ItemIntent):
        """Skip the item (the app asks for the reason)."""

    class AddNote(ItemIntent):
        """Add a note to the item (the app asks for it)."""

    class Reopen(ItemIntent):
        """Set the item back to pending (the app asks for an optional reason)."""

    class Run(ItemIntent):
        """Run the item's checks, or its step's commands."""

    class OpenDetail(ItemIntent):
        """Open the item's detail."""

    def _toggle_node(self, node: TreeNode[NodeRef]) -> None:
        """Space, a click on the fold mark, Enter on a section: its items exist before it
        opens (a section unfolded before its items are made would show empty for a frame)."""
        if not node.is_expanded:
            self._fill(node)
        super()._toggle_node(node)

    def _fill(self, node: TreeNode[NodeRef]) -> None:
        pane = self._pane()
        if pane is not None and node.data is not None and node.data.section is not None:
            pane.fill_section(node.data.section.id)

    def get_label_width(self, node: TreeNode[NodeRef]) -> int:
        """What `render_label` would give, without rendering it: the tree asks for every
        line's width each time it lays out its lines."""
        return node._label.cell_len + (len(self.ICON_NODE) if node.allow_expand else 0)

    def move_cursor_now(self, node: TreeNode[NodeRef]) -> None:
        """move_cursor with the tree's lines laid out first: a node just made, or just
        shown by unfolding its section, has its line number only then."""
        _ = self._tree_lines  # lays the lines out if a change left them stale
        self.move_cursor(node)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        """Any other way a section opened (expand all): its items are made now."""
        self._fill(event.node)

    def selected_item(self) -> ChecklistItem | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        return node.data.item

    class RunSection(Message):
        """The operator asked to run a whole section."""

        def __init__(self, section: Section) -> None:
            super().__init__()
            self.section = section

    def selected_section(self) -> Section | None:
        """The section under the cursor, or the one holding the item under the cursor."""
        node = self.cursor_node
        while node is not None:
            if node.data is not None and node.data.section is not None:
                return node.data.section
            node = node.parent
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return True if self.selected_item() is not None else None
        if action == "run_section":
            return True if self.selected_section() is not None else None
        if action in ("mark_done", "skip", "note", "reopen"):
            pane = self._pane()
            if pane is not None and pane.session.read_only:
                return None
            return True if self.selected_item() is not None else None
        return True

    def refusal(self, action: str) -> str | None:
        """Why a key greyed out by check_action does nothing (the app shows it)."""
        pane = self._pane()
        read_only = pane is not None and pane.session.read_only
        if action in ("mark_done", "skip", "note", "reopen") and read_only:
            return (
                "Read-only: this cockpit changes nothing (started with --read-only); "
                "mark items from a cockpit without it."
            )
        changes = action in ("mark_done", "skip", "note", "reopen", "run")
        if changes and self.selected_item() is None:
            return "Select an item first: the cursor is on a section (R runs a section)."
        if action == "run_section" and self.selected_section() is None:
            return "Select a section or one of its items first."
        return None

    def _pane(self) -> ChecklistPane | None:
        for ancestor in self.ancestors:
            if isinstance(ancestor, ChecklistPane):
                return ancestor
        return None

    def _intent(self, intent: type[ItemIntent]) -> None:
        item = self.selected_item()
        if item is not None:
            self.post_message(intent(item))

    def action_mark_done(self) -> None:
        self._intent(self.MarkDone)

    def action_skip(self) -> None:
        self._intent(self.Skip)

    def action_note(self) -> None:
        self._intent(self.AddNote)

    def action_reopen(self) -> None:
        self._intent(self.Reopen)

    def action_run(self) -> None:
        self._intent(self.Run)

    def action_run_section(self) -> None:
        section = self.selected_section()
        if section is not None:
            self.post_message(self.RunSection(section))

    def action_open_detail(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.data is not None and node.data.item is not None:
            self._intent(self.OpenDetail)
        else:
            self._toggle_node(node)

    def action_fold(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_unfold(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            self._fill(node)
            node.expand()

    def action_next_open(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.move_to_next_open()

    def on_key(self, event: events.Key) -> None:
        """`/Redis` in one burst goes into the filter (filter_keys.py says why)."""
        pane = self._pane()
        if pane is not None:
            route_filter_burst(self, event, pane.query_one(ChecklistFilter), pane.open_filter)

    def action_filter(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.open_filter()

    def action_next_section(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.move_to_section(+1)

    def action_previous_section(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.move_to_section(-1)


class ChecklistFilter(Input):
    """The filter line under the tree: Enter goes back to the tree, Escape clears it."""

    PLACE: ClassVar[Place] = CHECKLIST_FILTER
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def action_clear_filter(self) -> None:
        for ancestor in self.ancestors:
            if isinstance(ancestor, ChecklistPane):
                ancestor.close_filter()
                return


class ChecklistPane(Subtitled, Vertical):
    """The runbook pane; it owns its tree and redraws labels when state changes."""

    DEFAULT_CSS = """
    ChecklistPane > ChecklistTree {
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
    }
    ChecklistPane > ChecklistFilter, ChecklistPane > ChecklistFilter:focus {
        display: none;
        border: none;
        height: 1;
        padding: 0 1;
    }
    ChecklistPane.-filtering > ChecklistFilter {
        display: block;
    }
    """

    def __init__(self, session: GoLiveSession, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self._tree_nodes: dict[str, TreeNode[NodeRef]] = {}
        self._parent_section: dict[str, str] = {}
        self._labels: dict[str, Text] = {}
        self._colours: dict[tuple[str, str], RichColor | None] = {}
        self.filter_text = ""
        self._shown: set[str] | None = None  # item IDs the filter shows; None: every item
        self._unfilled: dict[str, Section] = {}  # sections whose items are not nodes yet
        self._items_by_id = {item.id: item for item in session.checklist.items()}
        for section in session.checklist.all_sections():
            for sub in section.sections:
                self._parent_section[sub.id] = section.id
        self._running_items: set[str] = set()  # items shown as running: their clocks tick

    def compose(self) -> ComposeResult:
        tree: ChecklistTree = ChecklistTree(self.session.checklist.title, data=NodeRef())
        tree.show_root = False
        tree.guide_depth = 2
        yield tree
        yield ChecklistFilter(placeholder="filter: text or ID; Enter keeps it, Escape clears")

    @property
    def checklist_tree(self) -> ChecklistTree:
        return self.query_one(ChecklistTree)

    def on_mount(self) -> None:
        self.border_title = "Checklist"
        self._build(None)
        self.watch(self.app, "theme", lambda _theme: self._relabel_all(), init=False)
        self.set_interval(1, self._tick_running)

    def _tick_running(self) -> None:
        """A running item's label counts its time; only those labels are redrawn."""
        # the running items' own labels only: their sections and the totals did not change
        # (refresh_labels would recount the whole checklist every second)
        for item_id in sorted(self._running_items):
            node = self._tree_nodes.get(item_id)
            if node is None or node.data is None or node.data.item is None:
                continue
            label = self._item_label(self.session.view(node.data.item))
            if self._labels.get(item_id) != label:
                self._labels[item_id] = label
                node.set_label(label)

    def _build(self, shown: set[str] | None) -> None:
        """(Re)build the tree with every item, or with the items whose IDs are in `shown`."""
        tree = self.checklist_tree
        tree.clear()
        self._tree_nodes.clear()
        self._labels.clear()
        self._unfilled.clear()
        self._running_items.clear()
        self._shown = shown
        count = len(shown) if shown is not None else len(self._items_by_id)
        opened: set[str] | None = None  # None: every section open
        if count > FOLD_ABOVE:
            opened = set()
            first = next((i for i in self._shown_items() if not self._resolved(i)), None)
            section_id: str | None = first.section_id if first is not None else None
            while section_id is not None:
                opened.add(section_id)
                section_id = self._parent_section.get(section_id)
        for section in self.session.checklist.sections:
            self._add_section(tree.root, section, opened)
        tree.root.expand()
        self._show_total()

    def _shown_items(self) -> list[ChecklistItem]:
        return [i for i in self.session.checklist.items() if self._is_shown(i.id)]

    def _is_shown(self, item_id: str) -> bool:
        return self._shown is None or item_id in self._shown

    def _resolved(self, item: ChecklistItem) -> bool:
        return self.session.view(item).status in ("done", "passed", "skipped")

    def _add_section(
        self, parent: TreeNode[NodeRef], section: Section, opened: set[str] | None
    ) -> None:
        if self._shown is not None and not any(i.id in self._shown for i in section.walk_items()):
            return
        # labels as Text: a str would be parsed as markup (a title holding "[/]" crashes)
        label = self._section_label(section, self.session.progress(section))
        self._labels[section.id] = label
        node = parent.add(
            label, data=NodeRef(section=section), expand=opened is None or section.id in opened
        )
        self._tree_nodes[section.id] = node
        self._unfilled[section.id] = section
        if node.is_expanded:
            self.fill_section(section.id)
        for sub in section.sections:
            self._add_section(node, sub, opened)

    def fill_section(self, section_id: str) -> None:
        """Make the section's (shown) items tree nodes, before its subsections; once."""
        section = self._unfilled.pop(section_id, None)
        node = self._tree_nodes.get(section_id)
        if section is None or node is None:
            return
        children: dict[str, TreeNode[NodeRef]] = {}
        placed = 0  # the section's own items go before its subsections' nodes
        for item in section.items:
            if not self._is_shown(item.id):
                continue
            view = self.session.view(item)
            if view.status == "running":
                self._running_items.add(item.id)
            label = self._item_label(view)
            self._labels[item.id] = label
            host = children.get(item.parent_id or "")
            if host is None:
                child = node.add(
                    label, data=NodeRef(item=item), before=placed, expand=True, allow_expand=False
                )
                placed += 1
            else:
                child = host.add(label, data=NodeRef(item=item), expand=True, allow_expand=False)
            children[item.id] = child
            self._tree_nodes[item.id] = child
        for item_node in children.values():
            item_node.allow_expand = bool(item_node.children)

    def _node_for(self, node_id: str) -> TreeNode[NodeRef] | None:
        """The node of a section or of a shown item, its section's items made if need be."""
        if node_id not in self._tree_nodes:
            item = self._items_by_id.get(node_id) if self._is_shown(node_id) else None
            if item is not None:
                self.fill_section(item.section_id)
        return self._tree_nodes.get(node_id)

    # --- filter --------------------------------------------------------------------------------

    def matching(self, query: str) -> set[str]:
        """IDs of the items a filter shows: text or ID holds it, or a section title does."""
        wanted = query.casefold()
        shown: set[str] = set()
        for section in self.session.checklist.all_sections():
            if wanted in section.title.casefold():
                shown.update(item.id for item in section.walk_items())
        for item in self.session.checklist.items():
            if any(wanted in text.casefold() for text in (item.text, item.plain_text, item.id)):
                shown.add(item.id)
        return shown

    def apply_filter(self, query: str) -> None:
        if query.strip() == self.filter_text:
            return  # e.g. the Changed message of the clearing close_filter already did
        selected = self.checklist_tree.selected_item()
        self.filter_text = query.strip()
        if not self.filter_text:
            self._build(None)
            self.border_title = "Checklist"
            if selected is not None:
                # the rebuilt tree has its lines only after the next refresh
                self.call_after_refresh(self.select_item, selected.id)
            return
        shown = self.matching(self.filter_text)
        self._build(shown)
        self.border_title = f"Checklist · {len(shown)} match '{safe(self.filter_text)}'"
        first = next((i for i in self.session.checklist.items() if i.id in shown), None)
        if first is not None:
            self.call_after_refresh(self.select_item, first.id)

    def open_filter(self) -> None:
        """Focus the filter line at once, not after the keys already queued: `/Redis` typed
        in one go (as tmux, a paste or a fast typist sends it) went to the tree, where `d`
        marked the item done and `R` ran the section."""
        self.add_class("-filtering")
        box = self.query_one(ChecklistFilter)
        box.display = True
        self.screen.set_focus(box)

    def close_filter(self) -> None:
        box = self.query_one(ChecklistFilter)
        box.value = ""
        self.apply_filter("")
        self.remove_class("-filtering")
        box.display = False
        self.checklist_tree.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, ChecklistFilter):
            event.stop()
            self.apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, ChecklistFilter):
            event.stop()
            if not self.filter_text:
                self.remove_class("-filtering")
                event.input.display = False
            self.checklist_tree.focus()

    # --- labels --------------------------------------------------------------------------------

    def _colour(self, variable: str) -> RichColor | None:
        """A theme variable as a solid colour (translucent ones blended over the surface)."""
        key = (self.app.theme, variable)
        if key not in self._colours:
            variables = theme_variables(self.app)
            value = variables.get(variable)
            surface = Color.parse(variables.get("surface", "black"))
            self._colours[key] = (
                None if value is None else (surface + Color.parse(value)).rich_color
            )
        return self._colours[key]

    def refresh_labels(self, items: Iterable[ChecklistItem] | None = None) -> None:
        """Relabel the given items and the sections holding them, or every node.

        A node is relabelled only when its label changed: the tree redraws each relabelled
        node, and a 1,000-item runbook would otherwise redraw them all on every mark.
        """
        if items is None:
            ids: Iterable[str] = self._tree_nodes
        else:
            chosen: list[str] = []
            for item in items:
                chosen.append(item.id)
                section_id: str | None = item.section_id
                while section_id is not None:
                    chosen.append(section_id)
                    section_id = self._parent_section.get(section_id)
            ids = chosen
        for node_id in ids:
            node = self._tree_nodes.get(node_id)
            ref = node.data if node is not None else None
            if node is None or ref is None:
                continue
            if ref.item is not None:
                view = self.session.view(ref.item)
                if view.status == "running":
                    self._running_items.add(node_id)
                else:
                    self._running_items.discard(node_id)
                label = self._item_label(view)
            elif ref.section is not None:
                label = self._section_label(ref.section, self.session.progress(ref.section))
            else:
                continue
            if self._labels.get(node_id) != label:
                self._labels[node_id] = label
                node.set_label(label)
        self._show_total()

    def _show_total(self) -> None:
        total = self.session.progress()
        subtitle = f"{total.resolved}/{total.total} · {total.percent}%"
        if total.failed:
            subtitle += f" · {total.failed} failed"
        self.subtitle = subtitle

    def _relabel_all(self) -> None:
        self._labels.clear()  # new colours: every label changes
        self.refresh_labels()

    def _item_label(self, view: ItemView) -> Text:
        colour = self._colour(STATE_VARIABLE[view.status])
        label = Text()
        label.append(GLYPHS[view.status] + " ", style=Style(color=colour, bold=True))
        text_style = Style(dim=True) if view.status in ("done", "passed", "skipped") else Style()
        label.append(visible_text(view.item.text), style=text_style)
        if view.kind == "step":
            label.append("  step", style=Style(color=self._colour("accent"), italic=True))
            scripts = len(view.item.scripts)
            if scripts:
                label.append(
                    " (script)" if scripts == 1 else f" ({scripts} scripts)", style=Style(dim=True)
                )
        elif view.kind == "check":
            label.append("  check", style=Style(color=self._colour("primary"), italic=True))
        if view.status == "running" and view.record is not None and view.record.at is not None:
            elapsed = format_elapsed((datetime.now(UTC) - view.record.at).total_seconds())
            label.append(f"  running {elapsed}", style=Style(color=colour, italic=True))
        if view.status == "skipped":
            label.append("  skipped", style=Style(color=colour, italic=True))
        if view.record is not None and view.record.note:
            label.append("  ✎", style=Style(color=self._colour("accent")))
        return label

    def _section_label(self, section: Section, progress: Progress) -> Text:
        label = Text(visible_text(section.title), style=Style(bold=True))
        complete = progress.total and progress.resolved == progress.total
        variable = "error" if progress.failed else ("success" if complete else "foreground-muted")
        label.append(
            f"  {progress.resolved}/{progress.total}",
            style=Style(color=self._colour(variable)),
        )
        if progress.failed:
            label.append(f" · {progress.failed} failed", style=Style(color=self._colour("error")))
        return label

    # --- navigation ----------------------------------------------------------------------------

    def select_item(self, item_id: str) -> None:
        node = self._node_for(item_id)
        if node is None:
            return
        parent = node.parent
        while parent is not None and not parent.is_expanded:
            parent.expand()
            parent = parent.parent
        self.checklist_tree.move_cursor_now(node)

    def go_to_section(self, section_id: str) -> None:
        """Put the cursor on a section, clearing a filter that hides it."""
        if section_id not in self._tree_nodes:
            self.query_one(ChecklistFilter).value = ""
            self.apply_filter("")
            self.remove_class("-filtering")
            self.query_one(ChecklistFilter).display = False
        self.call_after_refresh(self._cursor_to, section_id)
        self.checklist_tree.focus()

    def _cursor_to(self, node_id: str) -> None:
        node = self._node_for(node_id)
        if node is None:
            return
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.checklist_tree.move_cursor_now(node)

    def move_to_section(self, step: int) -> None:
        """The next (+1) or previous (-1) section shown, from the one under the cursor."""
        tree = self.checklist_tree
        sections = [s for s in self.session.checklist.all_sections() if s.id in self._tree_nodes]
        if not sections:
            return
        current = tree.selected_section()
        on_section = tree.cursor_node is not None and tree.selected_item() is None
        if current not in sections:
            target = sections[0]
        else:
            at = sections.index(current)
            if step < 0 and not on_section:
                at += 1  # from an item, `{` goes to the top of its own section first
            target = sections[max(0, min(len(sections) - 1, at + step))]
        self._cursor_to(target.id)

    def move_to_next_open(self) -> None:
        items = self._shown_items()
        current = self.checklist_tree.selected_item()
        start = items.index(current) + 1 if current in items else 0
        for item in items[start:] + items[:start]:
            if self.session.view(item).status not in ("done", "passed", "skipped"):
                self.select_item(item.id)
                return
        self.app.notify("Every item is resolved.", title="Checklist")
