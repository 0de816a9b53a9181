"""`cockpit audit verify` and `audit show`: the tamper-evident audit log checked and read."""

from __future__ import annotations

import sys

import click

from cockpit.cli.group import cli, env_options, pick
from cockpit.cli.output import echo, secho
from cockpit.secrets import secret_values


@cli.group()
def audit() -> None:
    """Inspect and verify the tamper-evident audit log."""


@audit.command("verify")
@click.option("--config", "-c", "config", metavar="PATH", help="Config file.")
@click.pass_context
def audit_verify(ctx: click.Context, config: str | None) -> None:
    """Check every line's hash chain; exit 1 and name the first broken lines."""
    from cockpit.config import discover_config, load_config

    loaded = load_config(discover_config(pick(ctx, "config", config)))
    from cockpit.audit import AuditLog
    from cockpit.state import StateStore

    heads = []
    for env_name in loaded.model.environments:
        snapshot = StateStore(loaded.state_dir, env_name).peek()
        if snapshot is not None and snapshot.audit_head:
            heads.append((f"state of {env_name!r}", snapshot.audit_head))
    result = AuditLog(loaded.audit_path).verify(heads)
    if result.ok:
        echo(f"ok: {loaded.audit_path}: {result.lines} entries, hash chain intact")
        echo(
            "  proves: no line was edited (every field, timestamps included, is hashed), "
            "deleted, inserted or moved since it was written"
            + (
                f"; and the log was not cut off after the last entry the state of "
                f"{len(heads)} environment(s) recorded"
                if heads
                else "; no state file records a head, so a cut-off tail would not show"
            )
        )
        echo(
            "  cannot prove: that nobody rewrote the whole log (and the state files) with "
            "hashes recomputed: anyone who can write these files can do that. Keep a copy of "
            "the last hash elsewhere to rule it out: "
            + (f"seq {result.last_seq} {result.last_hash}" if result.last_seq else "(empty)")
        )
        return
    secho(f"FAILED: {loaded.audit_path}: the log has been altered", fg="red", err=True)
    for problem in result.problems:
        echo(f"  {problem}", err=True)
    echo(
        "  the lines named above were edited, deleted, inserted, moved or cut off; lines "
        "before the first one named are intact",
        err=True,
    )
    sys.exit(1)


@audit.command("show")
@env_options
@click.option("--tail", "-n", type=int, default=50, show_default=True, help="Last N entries.")
@click.pass_context
def audit_show(ctx: click.Context, config: str | None, env: str | None, tail: int) -> None:
    """Print the last entries of the audit log."""
    from cockpit.config import discover_config, load_config

    loaded = load_config(discover_config(pick(ctx, "config", config)))
    from cockpit.audit import AuditLog

    secret_values(loaded)  # older lines may predate scrubbing: echo() masks them
    wanted = pick(ctx, "env", env)
    entries = AuditLog(loaded.audit_path).tail(tail, wanted)
    for entry in entries:
        extra = {k: v for k, v in entry.fields.items() if k not in ("env", "actor", "via", "text")}
        who = entry.fields.get("actor", "?")
        echo(
            f"{entry.seq:>6} {entry.ts[:19]} {entry.fields.get('env', '-'):<12} {who:<10} "
            f"{entry.action:<14} " + " ".join(f"{k}={v}" for k, v in extra.items())
        )
