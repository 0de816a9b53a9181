"""The go-live report: what happened, who did it, what the gates said, from the audit log.

Everything comes from the durable records (audit log, state, runbook), so the report can be
written at any time afterwards, by anyone with the config, even if the cockpit that ran the
go-live crashed. Markdown for tickets and wikis; HTML as one self-contained file.
"""

from __future__ import annotations

import html
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt

from cockpit.analysis import RunHistory
from cockpit.audit import TIMELINE_ACTIONS, AuditEntry
from cockpit.session import GoLiveSession

CHUNK_ROWS = 500  # table rows written (and rendered) at a time

MARKS = {
    "pending": "☐",
    "running": "…",
    "passed": "✅",
    "failed": "❌",
    "done": "✔",
    "skipped": "⤼",
}


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _time(entry: AuditEntry) -> str:
    return entry.ts[11:19] if len(entry.ts) >= 19 else entry.ts


def describe(entry: AuditEntry) -> str:
    """One audit entry as a sentence an operator reads."""
    f = entry.fields
    action = entry.action
    item = f.get("text") or f.get("item", "")
    where = f"{f.get('cluster', '')}/{f.get('deployment', '')}"
    if action == "session_start":
        return "cockpit opened"
    if action == "session_end":
        return "cockpit closed"
    if action == "mark":
        return f"marked done: {item}" + (f" — {f['note']}" if f.get("note") else "")
    if action == "skip":
        return f"skipped: {item} — {f.get('note', '')}"
    if action == "reopen":
        return f"reopened: {item}"
    if action == "note":
        return f"note on {item}: {f.get('note', '')}"
    if action == "run":
        what = ", ".join(f.get("checks") or f.get("commands") or [])
        return f"ran: {item}" + (f" ({what})" if what else "")
    if action == "result":
        return f"result {str(f.get('status', '')).upper()}: {item} — {f.get('evidence', '')}"
    if action == "cancel":
        return f"cancelled: {item}"
    if action == "rollback_requested":
        trigger = " (automatic)" if f.get("trigger") == "auto_rollback" else ""
        return (
            f"ROLLBACK requested{trigger}: {where} revision {f.get('from_revision')} → "
            f"{f.get('to_revision')} ({', '.join(f.get('to_images') or [])})"
        )
    if action == "rollback":
        if f.get("outcome") == "sent":
            return f"ROLLBACK sent: {where} back to revision {f.get('to_revision')}"
        return f"ROLLBACK FAILED: {where}: {f.get('error', '')}"
    if action in ("pause", "resume"):
        return f"{action} {where}: {f.get('outcome', '')}"
    if action in ("pause_requested", "resume_requested"):
        return f"{action.replace('_', ' ')}: {where}"
    if action == "verdict":
        via = " (cockpit gate)" if f.get("via") == "gate" else ""
        judging = f" — judging {f['judging']}" if f.get("judging") else ""
        return f"verdict {f.get('state')}{via}{judging}: " + "; ".join(f.get("reasons") or [])
    if action == "run_start":
        kind = {
            "baseline": "BASELINE",
            "rollback": "ROLLBACK observed",
            "rollout": "ROLLOUT observed",
        }
        return f"{kind.get(str(f.get('kind')), 'RUN')}: {f.get('label')} — {f.get('by')}"
    if action == "run_revisions":
        named = ", ".join(
            f"{w.get('deployment')} rev {w.get('revision')}"
            for w in f.get("workloads") or []
            if isinstance(w, dict)
        )
        return f"the cluster numbered the revisions being judged: {named}"
    if action == "run_workloads":
        named = ", ".join(
            f"{w.get('deployment')}" for w in f.get("workloads") or [] if isinstance(w, dict)
        )
        return f"watched workloads joined the failed release analysis run: {named}"
    if action == "run_serving":
        return "no pod of the failed revision serves any more: release analysis measures from here"
    if action == "run_failed":
        return f"release analysis FAILED: {f.get('label')} — {f.get('reason')}"
    if action == "run_passed":
        return f"release analysis passed: {f.get('label')}"
    if action == "run_end":
        return f"release analysis ended ({f.get('reason')}), outcome {f.get('outcome')}"
    if action == "release_start":
        return f"release {f.get('version')} started"
    if action == "deploy_marker":
        return f"Sentry deploy marker for {f.get('version')}: {f.get('outcome')}"
    if action == "state_rebuilt":
        return f"state rebuilt from the audit log ({f.get('items')} items)"
    return action


class _Spool:
    """Lines kept on disk beyond a megabyte: the report's long tables, written as they are
    read and copied out in order."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by the report
            max_size=1 << 20, mode="w+", encoding="utf-8"
        )
        self.count = 0

    def add(self, line: str) -> None:
        self.file.write(line + "\n")
        self.count += 1

    def lines(self) -> Iterator[str]:
        self.file.seek(0)
        for line in self.file:
            yield line.rstrip("\n")


@dataclass
class _Read:
    """What one read of the log gives the report: the summary facts in memory (a few
    entries), the long tables spooled."""

    count: int = 0
    started: str = "-"
    ended: str = "-"
    final: dict[str, Any] | None = None
    rollbacks: list[AuditEntry] = field(default_factory=list)
    timeline: list[AuditEntry] = field(default_factory=list)  # for the release runs
    metric_names: dict[str, None] = field(default_factory=dict)  # in order of appearance
    verdicts: _Spool = field(default_factory=_Spool)  # JSON of time, state, metrics
    rows: _Spool = field(default_factory=_Spool)  # the timeline table's rows

    def add(self, entry: AuditEntry) -> None:
        if self.count == 0:
            self.started = entry.ts[:19].replace("T", " ")
        self.ended = entry.ts[:19].replace("T", " ")
        self.count += 1
        if entry.action in TIMELINE_ACTIONS:
            self.timeline.append(entry)
        if entry.action in ("rollback_requested", "rollback"):
            self.rollbacks.append(entry)
        if entry.action == "verdict":
            self.final = entry.fields
            metrics = entry.fields.get("metrics") or {}
            for name in metrics:
                self.metric_names.setdefault(name, None)
            self.verdicts.add(
                json.dumps([_time(entry), entry.fields.get("state"), metrics], ensure_ascii=False)
            )
        who = entry.fields.get("actor", "")
        if entry.fields.get("from"):
            who += f"@{entry.fields['from']}"
        self.rows.add(f"| {_time(entry)} | {_cell(who)} | {_cell(describe(entry))} |")

    def close(self) -> None:
        self.verdicts.file.close()
        self.rows.file.close()


@dataclass
class _Table:
    """A table the report streams: its header lines, then its rows one by one."""

    header: list[str]
    rows: Iterable[str]


Block = str | _Table


def build_markdown(session: GoLiveSession) -> str:
    return "".join(markdown_chunks(session))


def markdown_chunks(session: GoLiveSession) -> Iterator[str]:
    """The Markdown report in pieces of whole lines, for writing as they come: the log is
    read once (its hash chain checked on the way) and the long tables (every verdict, every
    audited action) wait on disk, so memory stays flat however long the go-live was."""
    for block in _blocks(session):
        if isinstance(block, str):
            yield block + "\n"
            continue
        yield "".join(line + "\n" for line in block.header)
        rows: list[str] = []
        for row in block.rows:
            rows.append(row + "\n")
            if len(rows) >= CHUNK_ROWS:
                yield "".join(rows)
                rows = []
        if rows:
            yield "".join(rows)


def _blocks(session: GoLiveSession) -> Iterator[Block]:
    read = _Read()
    try:
        integrity = session.audit.verify(each=read.add, environment=session.env_name)
        yield from _report_blocks(session, read, integrity.ok, integrity.problems)
    finally:
        read.close()


def _report_blocks(
    session: GoLiveSession, read: _Read, intact: bool, problems: list[Any]
) -> Iterator[Block]:
    progress = session.progress()
    final = read.final
    runs = RunHistory.of(read.timeline)
    last_run = runs.runs[-1] if runs.runs else None
    lines = [
        f"# Go-live report — {session.label}",
        "",
        f"- Environment: **{session.env_name}**"
        + (" (production)" if session.environment.production else ""),
        "- Live at the end: " + ", ".join(w.label for w in last_run.workloads)
        if last_run
        else f"- Release: {session.release_version() or 'not recorded'}",
        f"- From {read.started} to {read.ended} UTC ({read.count} audited actions)",
        f"- Checklist: {progress.done} done, {progress.skipped} skipped, {progress.failed} failed, "
        f"{progress.pending} open, of {progress.total}",
        f"- Final verdict: **{final['state']}**"
        + (f", judging {final['judging']}" if final.get("judging") else "")
        if final
        else "- Final verdict: not recorded",
    ]
    if final and final.get("reasons"):
        lines += [f"  - {_cell(r)}" for r in final["reasons"]]
    lines.append(
        "- Audit log: hash chain intact"
        if intact
        else "- Audit log: **ALTERED** — " + "; ".join(str(p) for p in problems[:3])
    )
    lines += ["", f"_Generated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC by cockpit._", ""]
    yield "\n".join(lines)

    yield "## Rollbacks\n"
    if read.rollbacks:
        yield _Table(
            ["| time | what | by |", "|---|---|---|"],
            (
                f"| {_time(entry)} | {_cell(describe(entry))} | "
                f"{_cell(entry.fields.get('actor'))} |"
                for entry in read.rollbacks
            ),
        )
    else:
        yield "None."
    yield ""

    yield "## Release analysis runs\n"
    if runs.runs:
        yield _Table(
            [
                "| started | what was judged | by | outcome | gate values then |",
                "|---|---|---|---|---|",
            ],
            (_run_row(run) for run in runs.runs),
        )
    else:
        yield "No run was observed (no cluster configured, or the cockpit never saw one)."
    yield ""

    yield "## Gate values at key moments\n"
    if read.verdicts.count:
        names = list(read.metric_names)
        yield _Table(
            [
                "| time | verdict | " + " | ".join(names) + " |",
                "|---|---|" + "---|" * len(names),
            ],
            (_verdict_row(line, names) for line in read.verdicts.lines()),
        )
    else:
        yield "No verdict was recorded (no gates configured, or the cockpit never ran)."
    yield ""

    yield "## Checklist\n"
    titles = {s.id: s.title for s in session.checklist.all_sections()}
    for section in session.checklist.all_sections():
        if section.items:
            yield "\n".join(_section_lines(session, section, titles))

    yield _Table(
        ["## Timeline", "", "| time (UTC) | who | what |", "|---|---|---|"], read.rows.lines()
    )


def _run_row(run: Any) -> str:
    outcome = run.outcome.upper() if run.failed else run.outcome
    judged_at = run.failed_at or run.passed_at
    if judged_at is not None:
        outcome += f" at {judged_at:%H:%M:%S}"
    if run.failed:
        outcome += f": {run.failed}"
    if run.ended:
        outcome += f" (then {run.ended})"
    values = ", ".join(f"{name} {value}" for name, value in run.values) or "-"
    return (
        f"| {run.started:%H:%M:%S} | {_cell(run.label)} | {_cell(run.by)} | "
        f"{_cell(outcome)} | {_cell(values)} |"
    )


def _verdict_row(line: str, names: list[str]) -> str:
    at, state, metrics = json.loads(line)
    cells = []
    for name in names:
        value = metrics.get(name) or {}
        shown = value.get("value")
        cells.append(
            "-" if shown is None else f"{shown}{value.get('unit', '')} ({value.get('phase')})"
        )
    return f"| {at} | {state} | " + " | ".join(cells) + " |"


def _section_lines(session: GoLiveSession, section: Any, titles: dict[str, str]) -> list[str]:
    parts = section.id.split("/")
    path = [titles.get("/".join(parts[: i + 1]), "") for i in range(len(parts))]
    lines = [f"### {' › '.join(path)}", ""]
    for item in section.items:
        view = session.view(item)
        record = view.record
        who = ""
        if view.source == "document":
            who = " — ticked in the runbook"
        elif record is not None and record.by and view.status != "pending":
            when = record.at.strftime("%H:%M:%S") if record.at else ""
            who = f" — {record.by}" + (f" at {when}" if when else "")
        lines.append(f"- {MARKS.get(view.status, '?')} {item.text}{who}")
        if record is not None and record.evidence:
            lines.append(f"  - evidence: {record.evidence}")
        if record is not None and record.note:
            for note in record.note.splitlines():
                lines.append(f"  - note: {note}")
    lines.append("")
    return lines


CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1d21; line-height: 1.45; }
h1 { border-bottom: 3px solid #b3261e; padding-bottom: .3rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
code { background: #f0f2f5; padding: 0 .2rem; }
"""


def build_html(session: GoLiveSession) -> str:
    return "".join(html_chunks(session))


def html_chunks(session: GoLiveSession) -> Iterator[str]:
    """The report as one HTML page, in pieces: the Markdown rendered block by block, a long
    table a few hundred rows at a time (each piece rendered with its header, and only its
    rows kept), so the page is the one the whole Markdown would give, in flat memory."""
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    title = html.escape(f"Go-live report — {session.label}")
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    )
    text: list[str] = []  # Markdown blocks not rendered yet: rendered together
    for block in _blocks(session):
        if isinstance(block, str):
            text.append(block + "\n")
            continue
        heading = [line for line in block.header if not line.startswith("|")]
        header = [line for line in block.header if line.startswith("|")]
        yield markdown.render("".join(text) + "".join(line + "\n" for line in heading))
        text = []
        yield from _html_table(markdown, header, block.rows)
    yield markdown.render("".join(text)) + "</body>\n</html>\n"


def _html_table(markdown: MarkdownIt, header: list[str], rows: Iterable[str]) -> Iterator[str]:
    head = "".join(line + "\n" for line in header)
    opened = False
    batch: list[str] = []

    def rendered(closing: bool) -> str:
        page = str(markdown.render(head + "".join(batch)))
        body_at = page.find("<tbody>\n")
        if body_at == -1:  # no rows: the header alone
            return page
        cut = body_at + len("<tbody>\n")
        start = 0 if not opened else cut
        end = len(page) if closing else page.rindex("</tbody>")
        return page[start:end]

    for row in rows:
        batch.append(row + "\n")
        if len(batch) >= CHUNK_ROWS:
            yield rendered(closing=False)
            opened, batch = True, []
    if batch or not opened:
        yield rendered(closing=True)
    else:
        yield "</tbody>\n</table>\n"
