"""`cockpit rollback`, `pause` and `resume`: changing a watched workload's rollout, after the
same checks and confirmation as the TUI."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo, secho
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.session import GoLiveSession


@cli.command()
@click.argument("deployment")
@env_options
@click.option("--cluster", "cluster_name", metavar="NAME", help="Cluster (when several run it).")
@click.option("--to-revision", type=click.IntRange(0), default=0, help="Default: the previous.")
@click.option("--yes", is_flag=True, help="Do not ask (required without a terminal).")
@click.pass_context
def rollback(
    ctx: click.Context,
    deployment: str,
    config: str | None,
    env: str | None,
    cluster_name: str | None,
    to_revision: int,
    yes: bool,
) -> None:
    """Roll DEPLOYMENT back like `kubectl rollout undo`, after the same checks as the TUI.

    DEPLOYMENT is any watched workload: NAME, or KIND/NAME as kubectl writes it (sts/db,
    ds/agent); an Argo Rollout is refused (use kubectl argo rollouts undo)."""
    from cockpit.rollout import UndoRefused

    session = open_session(ctx, config, env)
    cluster = _cluster_for(session, deployment, cluster_name)
    ref = cluster.target(deployment)
    deployment = ref.name if ref is not None else deployment  # `sts/db` is db
    kind = ref.kind if ref is not None else "deployment"
    actions = session.actions(cluster)
    # with a shared state backend: nobody else acts from the preview to the outcome
    session.hold_lock(f"the rollback of {deployment}")
    try:
        try:
            plan = actions.plan_rollback(deployment, to_revision)
        except UndoRefused as exc:
            hint = (
                f"resume it first: cockpit resume {deployment}"
                if exc.paused
                else "nothing was sent"
            )
            raise CockpitError(f"{deployment}: {exc.message}", hint) from None
        access = actions.can_patch(deployment)
        plural = f"{kind}s"
        shown = deployment if kind == "deployment" else f"{kind} {deployment}"
        echo(f"{shown} in cluster {cluster.name}, namespace {cluster.namespace}")
        echo(f"  now:     revision {plan.current_revision}  {', '.join(plan.current_images)}")
        echo(f"  back to: revision {plan.target_revision}  {', '.join(plan.target_images)}")
        if plan.mid_rollout:
            secho("  the rollout is still in progress; rolling back stops it", fg="yellow")
        for manager in plan.managed_by:
            colour = "red" if manager.reverts else "yellow"
            secho(f"  WARNING: {manager.warning(deployment)}", fg=colour)
        stuck = actions.view(deployment).stuck_after_rollback() if kind == "statefulset" else []
        if stuck:
            secho(
                f"  a StatefulSet does not replace a pod that is not Ready: after the rollback, "
                f"delete {', '.join(stuck)} so it is recreated at revision {plan.target_revision}",
                fg="yellow",
            )
        if not access.allowed:
            raise CockpitError(
                f"RBAC: you may not patch {plural} in {cluster.namespace}: {access.reason}",
                f"nothing was sent; ask for patch rights on {plural}",
            )
        if not yes:
            if not sys.stdin.isatty():
                raise CockpitError(
                    "refusing to roll back without a terminal to confirm on", "pass --yes"
                )
            from cockpit.confirmation import TypedConfirmation

            confirmation = TypedConfirmation.of(session.environment.production, deployment)
            if confirmation.required:
                typed = click.prompt(f"PRODUCTION: type {deployment!r} to roll it back", default="")
                if not confirmation.accepts(typed):
                    raise CockpitError(
                        "not confirmed; nothing was sent", confirmation.refusal(typed)
                    )
            elif not click.confirm("Roll back?", default=False):
                raise CockpitError("not confirmed; nothing was sent")
        done = session.rollback(cluster, deployment, plan=plan)  # exactly what was shown
        echo(
            f"rollback sent: {deployment} back to revision {done.target_revision} "
            f"({', '.join(done.target_images)}); follow it with `cockpit status --watch`"
        )

    finally:
        session.release_lock()


def _cluster_for(session: GoLiveSession, deployment: str, name: str | None) -> Any:
    if name is not None:
        return session.cluster(name)
    candidates = session.clusters_with(deployment)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CockpitError(
            f"no cluster of environment {session.env_name!r} lists workload {deployment!r}",
            "workloads are listed under [[environments.NAME.clusters]] in the config "
            "(deployments, statefulsets, daemonsets, workloads)",
        )
    raise CockpitError(
        f"{deployment} runs in several clusters: " + ", ".join(c.name for c in candidates),
        "pick one with --cluster",
    )


def _pause_command(paused: bool) -> None:
    verb = "pause" if paused else "resume"

    @click.argument("deployment")
    @env_options
    @click.option("--cluster", "cluster_name", metavar="NAME", help="Cluster (if several).")
    @click.option("--yes", is_flag=True, help="Do not ask (production: needed without a terminal).")
    @click.pass_context
    def command(
        ctx: click.Context,
        deployment: str,
        config: str | None,
        env: str | None,
        cluster_name: str | None,
        yes: bool,
    ) -> None:
        session = open_session(ctx, config, env)
        session.refuse_if_read_only(f"{verb} a rollout")
        cluster = _cluster_for(session, deployment, cluster_name)
        from cockpit.confirmation import TypedConfirmation

        confirmation = TypedConfirmation.of(session.environment.production, deployment)
        if confirmation.required and not yes:
            # pausing production stops a rollout (or a rollback) half way: confirm like one
            if not sys.stdin.isatty():
                raise CockpitError(
                    f"refusing to {verb} {deployment} in production without a terminal to "
                    "confirm on; nothing was sent",
                    f"pass --yes: cockpit {verb} {deployment} --yes",
                )
            typed = click.prompt(
                f"PRODUCTION: type {deployment!r} to {verb} its rollout (cluster "
                f"{cluster.name}, namespace {cluster.namespace})",
                default="",
            )
            if not confirmation.accepts(typed):
                raise CockpitError("not confirmed; nothing was sent", confirmation.refusal(typed))
        session.set_paused(cluster, deployment, paused)
        echo(f"{deployment} {verb}d")

    cli.command(name=verb, help=f"{verb.title()} DEPLOYMENT's rollout (kubectl rollout {verb}).")(
        command
    )


_pause_command(True)
_pause_command(False)
