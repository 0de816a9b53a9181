"""The go-live report: what happened, who did it, what the gates said, from the audit log.

Everything comes from the durable records (audit log, state, runbook), so the report can be
written at any time afterwards, by anyone with the config, even if the cockpit that ran the
go-live crashed. Markdown for tickets and wikis; HTML as one self-contained file.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from markdown_it import MarkdownIt

from cockpit.analysis import RunHistory
from cockpit.audit import AuditEntry
from cockpit.session import GoLiveSession

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


def build_markdown(session: GoLiveSession) -> str:
    entries = list(session.audit.entries(session.env_name))
    progress = session.progress()
    verdicts = [e for e in entries if e.action == "verdict"]
    final = verdicts[-1].fields if verdicts else None
    runs = RunHistory.of(entries)
    last_run = runs.runs[-1] if runs.runs else None
    started = entries[0].ts[:19].replace("T", " ") if entries else "-"
    ended = entries[-1].ts[:19].replace("T", " ") if entries else "-"
    lines = [
        f"# Go-live report — {session.label}",
        "",
        f"- Environment: **{session.env_name}**"
        + (" (production)" if session.environment.production else ""),
        "- Live at the end: " + ", ".join(w.label for w in last_run.workloads)
        if last_run
        else f"- Release: {session.release_version() or 'not recorded'}",
        f"- From {started} to {ended} UTC ({len(entries)} audited actions)",
        f"- Checklist: {progress.done} done, {progress.skipped} skipped, {progress.failed} failed, "
        f"{progress.pending} open, of {progress.total}",
        f"- Final verdict: **{final['state']}**"
        + (f", judging {final['judging']}" if final.get("judging") else "")
        if final
        else "- Final verdict: not recorded",
    ]
    if final and final.get("reasons"):
        lines += [f"  - {_cell(r)}" for r in final["reasons"]]
    integrity = session.audit.verify()
    lines.append(
        "- Audit log: hash chain intact"
        if integrity.ok
        else "- Audit log: **ALTERED** — " + "; ".join(str(p) for p in integrity.problems[:3])
    )
    lines += ["", f"_Generated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC by cockpit._", ""]

    rollbacks = [e for e in entries if e.action in ("rollback_requested", "rollback")]
    lines += ["## Rollbacks", ""]
    if rollbacks:
        lines += ["| time | what | by |", "|---|---|---|"]
        for entry in rollbacks:
            actor = _cell(entry.fields.get("actor"))
            lines.append(f"| {_time(entry)} | {_cell(describe(entry))} | {actor} |")
    else:
        lines.append("None.")
    lines.append("")

    lines += ["## Release analysis runs", ""]
    if runs.runs:
        lines += [
            "| started | what was judged | by | outcome | gate values then |",
            "|---|---|---|---|---|",
        ]
        for run in runs.runs:
            outcome = run.outcome.upper() if run.failed else run.outcome
            judged_at = run.failed_at or run.passed_at
            if judged_at is not None:
                outcome += f" at {judged_at:%H:%M:%S}"
            if run.failed:
                outcome += f": {run.failed}"
            if run.ended:
                outcome += f" (then {run.ended})"
            values = ", ".join(f"{name} {value}" for name, value in run.values) or "-"
            lines.append(
                f"| {run.started:%H:%M:%S} | {_cell(run.label)} | {_cell(run.by)} | "
                f"{_cell(outcome)} | {_cell(values)} |"
            )
    else:
        lines.append("No run was observed (no cluster configured, or the cockpit never saw one).")
    lines.append("")

    lines += ["## Gate values at key moments", ""]
    if verdicts:
        names: list[str] = []
        for entry in verdicts:
            for name in entry.fields.get("metrics") or {}:
                if name not in names:
                    names.append(name)
        lines.append("| time | verdict | " + " | ".join(names) + " |")
        lines.append("|---|---|" + "---|" * len(names))
        for entry in verdicts:
            metrics = entry.fields.get("metrics") or {}
            cells = []
            for name in names:
                value = metrics.get(name) or {}
                shown = value.get("value")
                cells.append(
                    "-"
                    if shown is None
                    else f"{shown}{value.get('unit', '')} ({value.get('phase')})"
                )
            lines.append(
                f"| {_time(entry)} | {entry.fields.get('state')} | " + " | ".join(cells) + " |"
            )
    else:
        lines.append("No verdict was recorded (no gates configured, or the cockpit never ran).")
    lines.append("")

    lines += ["## Checklist", ""]
    titles = {s.id: s.title for s in session.checklist.all_sections()}
    for section in session.checklist.all_sections():
        items = section.items
        if not items:
            continue
        parts = section.id.split("/")
        path = [titles.get("/".join(parts[: i + 1]), "") for i in range(len(parts))]
        lines += [f"### {' › '.join(path)}", ""]
        for item in items:
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

    lines += ["## Timeline", "", "| time (UTC) | who | what |", "|---|---|---|"]
    for entry in entries:
        who = entry.fields.get("actor", "")
        if entry.fields.get("from"):
            who += f"@{entry.fields['from']}"
        lines.append(f"| {_time(entry)} | {_cell(who)} | {_cell(describe(entry))} |")
    lines.append("")
    return "\n".join(lines)


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
    markdown = build_markdown(session)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = html.escape(f"Go-live report — {session.label}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
