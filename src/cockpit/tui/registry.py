"""Every key of the cockpit, once: the footer, `?` help, the command palette and `cockpit
validate` all read this table.

Each pane or screen took its keys from its own `BINDINGS`, and the palette listed the
checklist's commands by hand beside them: a key added to a pane reached the footer but not
the palette, and a reworded tooltip said one thing in help and another in the palette. Here a
command is written once, with where it acts; `tui/bindings.py` turns a place's commands into
that place's Textual bindings. No Textual here: `cockpit validate` checks a config's `[keys]`
against this table without loading the TUI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    """A pane of the main screen or a screen of its own: where a command acts."""

    name: str
    title: str  # its section of `?` help
    noun: str  # what its palette commands start with ("Checklist: ...")


@dataclass(frozen=True)
class Command:
    id: str  # what `[keys]` names: "checklist.done"
    place: Place
    keys: str  # Textual key names, comma separated; "" for a command only the palette has
    action: str  # the action on the place's widget or screen, "find(True)" with arguments
    label: str  # the footer's word
    tooltip: str  # help's and the palette's sentence
    footer: bool = True
    palette_title: str = ""  # default "<noun>: <label>"
    changes: bool = False  # read-only leaves it out of the palette (check_action greys the key)
    priority: bool = False  # handled as it arrives, before the focused widget sees the key
    palette: bool = True  # False: a cursor move, which the palette would only make slower

    @property
    def title(self) -> str:
        return self.palette_title or f"{self.place.noun}: {self.label.lower()}"


CHECKLIST = Place("checklist", "Checklist pane", "Checklist")
CHECKLIST_FILTER = Place("checklist_filter", "Checklist filter line", "Checklist")
ITEM_DETAIL = Place("item_detail", "An item (enter in the checklist)", "Item")
PROMPT = Place("prompt", "A reason or a note being typed", "Prompt")
STEP_RUN = Place("step_run", "Running a step", "Step")
ROLLOUT = Place("rollout", "Rollout pane", "Rollout")
WORKLOAD_DETAIL = Place("rollout_detail", "Workload detail (enter in the rollout pane)", "Workload")
POD_LOGS = Place("pod_logs", "Pod logs (l in the detail)", "Pod logs")
CONFIRM = Place("confirm", "A question to answer (pause, resume)", "Question")
ROLLBACK = Place("rollback", "Rolling back one workload", "Rollback")
ROLLBACK_ALL = Place("rollback_all", "Rolling back every workload", "Rollback")
METRICS = Place("metrics", "Metrics pane", "Metrics")
METRIC_DETAIL = Place("metric_detail", "A metric (enter in the metrics pane)", "Metric")
ERRORS = Place("errors", "Errors pane", "Errors")
ERRORS_FILTER = Place("errors_filter", "Errors filter line", "Errors")
ERROR_DETAIL = Place("error_detail", "An error issue (enter in the errors pane)", "Issue")
MESSAGES = Place("messages", "Messages (m)", "Messages")
HELP = Place("help", "This help", "Help")
APP = Place("app", "Everywhere", "Cockpit")

# In help's order.
PLACES = (
    CHECKLIST,
    CHECKLIST_FILTER,
    ITEM_DETAIL,
    PROMPT,
    STEP_RUN,
    ROLLOUT,
    WORKLOAD_DETAIL,
    POD_LOGS,
    CONFIRM,
    ROLLBACK,
    ROLLBACK_ALL,
    METRICS,
    METRIC_DETAIL,
    ERRORS,
    ERRORS_FILTER,
    ERROR_DETAIL,
    MESSAGES,
    HELP,
    APP,
)

# The views that only show something close with one binding, so one `[keys]` entry moves the
# close key of all of them; a view may add keys to it (`?` closes help), never another id.
CLOSE_ID = "screen.close"
RETRY_KEY = "ctrl+r"  # the rollout pane's status line names it


def _close(place: Place, keys: str = "escape,q", tooltip: str = "Back to the cockpit") -> Command:
    return Command(CLOSE_ID, place, keys, "close", "Close", tooltip, palette_title="Close")


COMMANDS: tuple[Command, ...] = (
    # --- checklist pane
    Command(
        "checklist.done",
        CHECKLIST,
        "d",
        "mark_done",
        "Done",
        "Mark the selected item done",
        palette_title="Checklist: mark done",
        changes=True,
    ),
    Command(
        "checklist.skip",
        CHECKLIST,
        "s",
        "skip",
        "Skip",
        "Skip the selected item; you will be asked for the reason",
        changes=True,
    ),
    Command(
        "checklist.note",
        CHECKLIST,
        "n",
        "note",
        "Note",
        "Add a note to the selected item",
        palette_title="Checklist: add note",
        changes=True,
    ),
    Command(
        "checklist.reopen",
        CHECKLIST,
        "u",
        "reopen",
        "Reopen",
        "Set the selected item back to pending",
        footer=False,
        changes=True,
    ),
    Command(
        "checklist.run",
        CHECKLIST,
        "r",
        "run",
        "Run",
        "Run the selected item's checks, or its step's commands",
    ),
    Command(
        "checklist.run_section",
        CHECKLIST,
        "R",
        "run_section",
        "Run section",
        "Run every check of the section, and its steps in order",
    ),
    Command(
        "checklist.detail",
        CHECKLIST,
        "enter",
        "open_detail",
        "Detail",
        "Open the selected item's detail, or fold a section",
        palette_title="Checklist: item detail",
    ),
    Command(
        "checklist.fold",
        CHECKLIST,
        "left",
        "fold",
        "Fold",
        "Fold the section, or go up to it",
        footer=False,
    ),
    Command(
        "checklist.unfold",
        CHECKLIST,
        "right",
        "unfold",
        "Unfold",
        "Unfold the section",
        footer=False,
    ),
    Command(
        "checklist.next",
        CHECKLIST,
        "]",
        "next_open",
        "Next to do",
        "Jump to the next item that is not resolved",
        footer=False,
    ),
    Command(
        "checklist.filter",
        CHECKLIST,
        "slash",
        "filter",
        "Filter",
        "Show only the items whose text or ID holds what you type",
        footer=False,  # the footer has no room left at 80 columns: `?` help must stay
        palette_title="Checklist: filter items",
    ),
    Command(
        "checklist.next_section",
        CHECKLIST,
        "right_curly_bracket",
        "next_section",
        "Next section",
        "Jump to the next section",
        footer=False,
    ),
    Command(
        "checklist.previous_section",
        CHECKLIST,
        "left_curly_bracket",
        "previous_section",
        "Previous section",
        "Jump to the previous section",
        footer=False,
    ),
    Command(
        "checklist.filter_clear",
        CHECKLIST_FILTER,
        "escape",
        "clear_filter",
        "Clear filter",
        "Show every item again",
    ),
    # --- an item's detail
    _close(ITEM_DETAIL),
    Command(
        "detail.done", ITEM_DETAIL, "d", "mark_done", "Done", "Mark this item done", changes=True
    ),
    Command("detail.skip", ITEM_DETAIL, "s", "skip", "Skip", "Skip this item", changes=True),
    Command("detail.note", ITEM_DETAIL, "n", "note", "Note", "Add a note", changes=True),
    Command("detail.reopen", ITEM_DETAIL, "u", "reopen", "Reopen", "Back to pending", changes=True),
    Command(
        "detail.copy_commands",
        ITEM_DETAIL,
        "c",
        "copy_commands",
        "Copy commands",
        "Send the step's commands, filled in, to your terminal's clipboard (OSC 52)",
    ),
    Command("prompt.cancel", PROMPT, "escape", "cancel", "Cancel", "Close without saving"),
    # --- a step's commands running
    Command(
        "step.cancel",
        STEP_RUN,
        "escape",
        "cancel",
        "Cancel / close",
        "Before the start: close. While running: stop the commands.",
    ),
    Command(
        "step.quit",
        STEP_RUN,
        "ctrl+q",
        "quit",
        "Quit",
        "Quit the cockpit; while the commands run, stop them first (Escape)",
        palette_title="Step: quit the cockpit",
    ),
    Command(
        "step.continue",
        STEP_RUN,
        "enter",
        "close",
        "Continue",
        "Close this view once the step has finished",
    ),
    # --- rollout pane
    Command(
        "rollout.detail",
        ROLLOUT,
        "enter",
        "open_detail",
        "Detail",
        "Revisions, pods, events and history of the workload",
        palette_title="Rollout: workload detail",
    ),
    Command(
        "rollout.rollback",
        ROLLOUT,
        "ctrl+z",
        "rollback",
        "Roll back",
        "Roll the selected workload back (asks first)",
        palette_title="Rollout: roll back selected deployment",
        changes=True,
    ),
    Command(
        "rollout.pause",
        ROLLOUT,
        "p",
        "toggle_pause",
        "Pause/resume",
        "Pause or resume the selected deployment's rollout (asks first)",
        palette_title="Rollout: pause or resume selected deployment",
        changes=True,
    ),
    _close(WORKLOAD_DETAIL),
    Command(
        "rollout_detail.logs",
        WORKLOAD_DETAIL,
        "l",
        "logs",
        "Logs",
        "The selected pod's logs: following, previous container with p",
    ),
    Command(
        "rollout_detail.rollback",
        WORKLOAD_DETAIL,
        "ctrl+z",
        "rollback",
        "Roll back",
        "Roll this deployment back",
        changes=True,
    ),
    _close(POD_LOGS, tooltip="Back to the detail"),
    Command(
        "pod_logs.previous",
        POD_LOGS,
        "p",
        "toggle_previous",
        "Previous",
        "The previous (crashed) container's last lines, or back to the current one",
        palette_title="Pod logs: previous container",
    ),
    Command(
        "pod_logs.container",
        POD_LOGS,
        "c",
        "next_container",
        "Container",
        "The next container of the pod, init containers included",
        palette_title="Pod logs: next container",
    ),
    # priority: handled as it arrives, so the keys typed right after it go to the search
    Command(
        "pod_logs.search",
        POD_LOGS,
        "slash",
        "search",
        "Search",
        "Find text in the log",
        priority=True,
    ),
    Command("pod_logs.next", POD_LOGS, "n", "find(True)", "Next", "The next match"),
    Command("pod_logs.prev", POD_LOGS, "N", "find(False)", "Prev match", "The previous match"),
    Command(
        "pod_logs.timestamps",
        POD_LOGS,
        "t",
        "toggle_stamps",
        "Times",
        "Show or hide each line's timestamp",
        palette_title="Pod logs: timestamps",
    ),
    Command("confirm.no", CONFIRM, "escape", "no", "Cancel", "Answer no"),
    Command("rollback.cancel", ROLLBACK, "escape", "cancel", "Cancel", "Close; nothing is sent"),
    Command(
        "rollback.cancel_all", ROLLBACK_ALL, "escape", "cancel", "Cancel", "Close; nothing is sent"
    ),
    # --- metrics pane
    Command(
        "metrics.next",
        METRICS,
        "down,j",
        "move(1)",
        "Next",
        "Next metric",
        footer=False,
        palette=False,
    ),
    Command(
        "metrics.previous",
        METRICS,
        "up,k",
        "move(-1)",
        "Previous",
        "Previous metric",
        footer=False,
        palette=False,
    ),
    Command(
        "metrics.detail",
        METRICS,
        "enter",
        "open_detail",
        "Plot",
        "Plot, threshold, query and reasons",
        palette_title="Metrics: plot the selected metric",
    ),
    _close(METRIC_DETAIL),
    # --- errors pane
    Command(
        "errors.detail",
        ERRORS,
        "enter",
        "open_detail",
        "Issue",
        "The issue and its link",
        palette_title="Errors: open the selected issue",
    ),
    Command(
        "errors.filter",
        ERRORS,
        "slash",
        "filter",
        "Filter",
        "Show only the issues whose ID, title or culprit holds what you type",
        footer=False,
        palette_title="Errors: filter issues",
    ),
    Command(
        "errors.filter_clear",
        ERRORS_FILTER,
        "escape",
        "clear_filter",
        "Clear filter",
        "Show every issue again",
    ),
    _close(ERROR_DETAIL),
    Command(
        "error_detail.copy",
        ERROR_DETAIL,
        "c",
        "copy_link",
        "Copy link",
        "Send the link to your terminal's clipboard (OSC 52, over SSH too)",
    ),
    _close(MESSAGES, "escape,q,m"),
    _close(HELP, "escape,q,question_mark", "Close help"),
    # --- everywhere
    Command(
        "app.cancel",
        APP,
        "escape",
        "cancel_runs",
        "Cancel runs",
        "Stop the checks and steps that are running; the cancel is audited",
        palette_title="Cancel runs",
    ),
    Command(
        "app.help",
        APP,
        "question_mark",
        "help",
        "Help",
        "Keys and what the panes mean",
        palette_title="Help",
    ),
    Command(
        "app.rollback_recommended",
        APP,
        "B",
        "rollback_recommended",
        "ROLL BACK",
        "A gate failed after the rollout started: open the rollback",
        # Not in the footer: the verdict bar says "ROLLBACK RECOMMENDED — press B" in bold
        # while it holds. A key that came and went with the recommendation shifted the keys
        # after it each time, and a verdict that flaps asked a new layout of the screen each time.
        footer=False,
        palette_title="Rollout: open the recommended rollback",
        changes=True,
    ),
    Command(
        "app.verdict_reasons",
        APP,
        "v",
        "toggle_reasons",
        "Why",
        "Show every reason of the verdict, or only the first",
        palette_title="Verdict: every reason, or only the first",
    ),
    Command(
        "app.retry_clusters",
        APP,
        RETRY_KEY,
        "retry_clusters",
        "Retry now",
        "A cluster cannot be seen: try it again now (after logging in), not after the backoff",
        palette_title="Rollout: retry the clusters now",
    ),
    Command(
        "app.messages",
        APP,
        "m",
        "messages",
        "Messages",
        "The latest 500 messages of this session, in full, newest first",
        footer=False,
        palette_title="Messages",
    ),
    Command(
        "app.rollback_all",
        APP,
        "",  # no key: one confirmation sends every workload back, the palette asks by name
        "rollback_all",
        "Roll back all",
        "One confirmation, one audit entry per deployment",
        palette_title="Rollout: roll back ALL deployments of this environment",
        changes=True,
    ),
    Command(
        "app.quit",
        APP,
        "ctrl+q",
        "quit",
        "Quit",
        "Quit; everything is already saved",
        palette_title="Quit",
    ),
)


def commands_at(place: Place) -> tuple[Command, ...]:
    return tuple(c for c in COMMANDS if c.place == place)


def bound_ids() -> set[str]:
    """Every id a `[keys]` entry may name: the commands that have a key."""
    return {c.id for c in COMMANDS if c.keys}


# Ids that became one: each detail view had its own close id; now they share `screen.close`.
# A `[keys]` entry with an old id still moves the key, and `cockpit validate` says to rename it.
RENAMED = {
    old: CLOSE_ID
    for old in (
        "detail.close",
        "error_detail.close",
        "help.close",
        "messages.close",
        "metric_detail.close",
        "pod_logs.close",
        "rollout_detail.close",
    )
}


def operator_keymap(keys: Mapping[str, str] | None) -> dict[str, str]:
    """`[keys]` as the bindings know them: an old id under its new one. The new id wins over
    an old one; of several old ones, the first (validate refuses keys that disagree)."""
    keymap: dict[str, str] = {}
    for binding_id, key in (keys or {}).items():
        if binding_id not in RENAMED:
            keymap[binding_id] = key
    for binding_id, key in (keys or {}).items():
        keymap.setdefault(RENAMED.get(binding_id, binding_id), key)
    return keymap


def key_of(keys: Mapping[str, str] | None, binding_id: str) -> str:
    """The key an operator presses for a command, as Textual names it ("B", "ctrl+r"): the
    first of a `[keys]` remap, else the first of the registry's. Text that tells the operator
    to press a key names this one, so a remap cannot leave it naming a key that does nothing."""
    remapped = operator_keymap(keys).get(binding_id)
    if remapped is not None:
        return (_split(remapped) or [remapped])[0]
    for command in COMMANDS:
        if command.id == binding_id:
            return _split(command.keys)[0]
    raise KeyError(binding_id)


def _split(keys: str) -> list[str]:
    return [k.strip() for k in keys.split(",") if k.strip()]


def keymap_problems(keys: dict[str, str] | None, where: str) -> list[str]:
    """`[keys]` naming a binding that does not exist ("checklist.dnoe") did nothing at all,
    and one given a key another command of the same pane has took that key from it (Textual
    drops the other binding): validate names both."""
    import difflib

    known = bound_ids()
    problems = []
    merged: dict[str, tuple[str, str]] = {}  # new id -> (the first id naming it, its keys)
    for binding_id, key in (keys or {}).items():
        new = RENAMED.get(binding_id, binding_id)
        first = merged.setdefault(new, (binding_id, key))
        if first[1] != key:
            problems.append(
                f"{where}: keys: {first[0]!r} and {binding_id!r} are one binding now, "
                f"{new!r}, and name different keys ({first[1]!r}, {key!r}); keep one "
                f"{new!r} entry"
            )
    for binding_id in keys or {}:
        if binding_id in known or binding_id in RENAMED:
            continue
        # swapped letters first (`dnoe` is `done`, though difflib finds `note` nearer)
        near = [k for k in sorted(known) if sorted(k) == sorted(binding_id)]
        near = near or difflib.get_close_matches(binding_id, sorted(known), n=1)
        hint = (
            f"; did you mean {near[0]!r}?" if near else f"; known ids: {', '.join(sorted(known))}"
        )
        problems.append(f"{where}: keys: no binding with the id {binding_id!r}{hint}")
    problems.extend(_clashes(operator_keymap(keys), where))
    return problems


def _clashes(keymap: Mapping[str, str], where: str) -> list[str]:
    """Two commands of one place on one key once the keymap is applied."""
    problems = []
    for place in PLACES:
        holder: dict[str, Command] = {}
        for command in commands_at(place):
            for key in _split(keymap.get(command.id) or command.keys):
                other = holder.setdefault(key, command)
                if other.id == command.id or not {other.id, command.id} & set(keymap):
                    continue  # the defaults themselves: tests/test_binding_registry.py
                moved = command if command.id in keymap else other
                taken = other if moved is command else command
                problems.append(
                    f"{where}: keys: {moved.id!r} = {keymap[moved.id]!r} puts {key!r} on two "
                    f"commands of the {place.title.lower()}: {taken.id!r} ({taken.label}) has "
                    f"it too, and would lose it; choose another key, or move {taken.id!r} too"
                )
    return problems


def keymap_warnings(keys: dict[str, str] | None, where: str) -> list[str]:
    """`[keys]` entries with an id that was renamed: they work, and should be renamed."""
    return [
        f"{where}: keys: {binding_id!r} is now {RENAMED[binding_id]!r} (one close key for "
        f"every detail view, help and messages); rename the entry"
        for binding_id in keys or {}
        if binding_id in RENAMED
    ]
