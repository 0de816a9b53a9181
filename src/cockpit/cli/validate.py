"""`cockpit validate`: every problem of the config, the runbook, the check bindings, the
secrets, the kubeconfig, the queries, the action lock and the theme, found before the go-live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.cli.group import cli, env_options, pick
from cockpit.cli.output import echo, secho
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.checklist import Checklist
    from cockpit.config import CheckBinding, LoadedConfig


@cli.command()
@env_options
@click.pass_context
def validate(ctx: click.Context, config: str | None, env: str | None) -> None:
    """Check the config, the checklist, the check bindings and the theme."""
    from cockpit.config import discover_config, load_config

    path = discover_config(pick(ctx, "config", config))
    loaded = load_config(path)
    env_name = loaded.environment_name(pick(ctx, "env", env))
    from cockpit.check_binding import bind_checks
    from cockpit.checklist import load_checklist

    checklist = load_checklist(loaded.checklist_path)
    bindings = bind_checks(loaded, checklist, env_name)
    problems = loaded.secret_problems(env_name)
    problems.extend(step_override_problems(loaded, checklist))
    problems.extend(check_secret_problems(loaded, env_name, bindings))
    kube_problems, kube_warnings = kubeconfig_problems(loaded, env_name)
    problems.extend(kube_problems)
    from cockpit.sources.prometheus import query_problems

    prom_problems, prom_warnings = query_problems(loaded, env_name)
    problems.extend(prom_problems)
    lock_problems, lock_warnings = _lock_problems(loaded, env_name)
    problems.extend(lock_problems)
    prom_warnings += lock_warnings
    from cockpit.theme_files import own_theme_files, shipped_theme_names

    if own_theme_files(loaded):  # their colours are checked with Textual's own parser
        from cockpit.tui.themes import ThemeCatalog

        catalog = ThemeCatalog.load(loaded)
        problems.extend(catalog.problems)
        theme_names = set(catalog.themes)
    else:
        theme_names = set(shipped_theme_names())
    key_warnings: list[str] = []
    if loaded.model.keys:  # checked against the keys' registry (no Textual loaded for it)
        from cockpit.tui.registry import keymap_problems, keymap_warnings

        problems.extend(keymap_problems(loaded.model.keys, str(loaded.path)))
        key_warnings = keymap_warnings(loaded.model.keys, str(loaded.path))
    if loaded.model.theme not in theme_names:
        problems.append(
            f"{loaded.path}: theme: no theme named {loaded.model.theme!r}; available: "
            + ", ".join(sorted(theme_names))
        )
    if problems:
        raise CockpitError(
            f"{len(problems)} problem(s) found",
            "fix them and run `cockpit validate` again",
            details=problems,
        )
    warnings = [
        f"{loaded.path}: checks[{index}] (item {binding.item!r}) is still marked "
        "suggested = true: review it, then delete that line"
        for index, binding in enumerate(loaded.model.checks)
        if binding.suggested
    ]
    warnings += [
        f"{loaded.path}: environments.{name}.metrics[{index}] ({metric.name!r}) is still marked "
        "suggested = true: check its query and thresholds, then delete that line"
        for name, environment in loaded.model.environments.items()
        for index, metric in enumerate(environment.metrics)
        if metric.suggested
    ]
    warnings += kube_warnings + prom_warnings + key_warnings
    for other in loaded.model.environments:
        if other != env_name:
            warnings.extend(loaded.secret_problems(other))
    for warning in warnings:
        secho(f"warning: {warning}", fg="yellow", err=True)
    items = list(checklist.items())
    echo(
        f"ok: {loaded.path} (environment {env_name!r}): checklist {loaded.checklist_path.name} "
        f"has {len(items)} items in {sum(1 for _ in checklist.all_sections())} sections, "
        f"{len(bindings)} bound to checks; theme {loaded.model.theme!r}"
    )
    for cluster in loaded.environment(env_name).clusters:
        watched = [
            f"{ref}" + (" (read-only)" if ref.kind == "rollout" else "") for ref in cluster.targets
        ]
        echo(f"  cluster {cluster.name}: {', '.join(watched) or 'no workloads listed'}")


def _lock_problems(loaded: LoadedConfig, env_name: str) -> tuple[list[str], list[str]]:
    """With the kubernetes state backend: may this operator take the action lock? A cluster
    that cannot be reached now is a warning (CI may not see it)."""
    environment = loaded.model.environments[env_name]
    cluster = environment.lock_cluster()
    if cluster is None:
        return [], []
    from cockpit.sources.lease import ActionLock, lease_name

    lock = ActionLock(
        cluster,
        loaded,
        namespace=environment.state.namespace or cluster.namespace,
        name=lease_name("cockpit", env_name),
        identity="validate",
    )
    where = f"{loaded.path}: environments.{env_name}.state"
    try:
        missing = lock.missing_verbs()
    except CockpitError as exc:
        return [], [f"{where}: the action lock's access not checked: {exc.message}"]
    problems = []
    if missing:
        problems.append(
            f"{where}: you may not {', '.join(missing)} leases (coordination.k8s.io) in "
            f"namespace {lock.namespace} of cluster {cluster.name}: the action lock needs get, "
            "create and update, presence list and delete"
        )
    from cockpit.sources.progress import SharedProgress

    shared = SharedProgress(cluster, loaded, namespace=lock.namespace, environment=env_name)
    try:
        lacking = shared.missing_verbs()
    except CockpitError as exc:
        return problems, [f"{where}: the shared progress's access not checked: {exc.message}"]
    if lacking:
        problems.append(
            f"{where}: you may not {', '.join(lacking)} configmaps in namespace "
            f"{lock.namespace} of cluster {cluster.name}: the shared checklist progress needs "
            "get, list, watch, create and update"
        )
    return problems, []


def step_override_problems(loaded: LoadedConfig, checklist: Checklist) -> list[str]:
    """`[environments.E.steps."ID"]` naming no item of the runbook would be ignored, and the
    step would run the runbook's own scripts (a production override silently lost after a
    title was reworded): refused, with the closest IDs."""
    from difflib import get_close_matches

    ids = [item.id for item in checklist.items()]
    known = set(ids)
    problems = []
    for name, environment in loaded.model.environments.items():
        for item_id in environment.steps:
            if item_id in known:
                continue
            where = f"{loaded.path}: environments.{name}.steps.{item_id!r}"
            close = get_close_matches(item_id, ids, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            problems.append(
                f"{where}: no item of the runbook has this ID{hint} (`cockpit checklist` "
                "lists the IDs)"
            )
    return problems


def kubeconfig_problems(loaded: LoadedConfig, env_name: str) -> tuple[list[str], list[str]]:
    """Each cluster's context must be in the kubeconfig kubectl would read for it. No kubeconfig
    at all is only a warning: this may be a machine without the cluster's credentials (CI)."""
    from cockpit.kubeconfig import KubeconfigMissing, context_problem

    problems: list[str] = []
    warnings: list[str] = []
    for index, cluster in enumerate(loaded.model.environments[env_name].clusters):
        problem = context_problem(cluster, loaded)
        if problem is not None:
            where = f"environments.{env_name}.clusters[{index}]"
            hint = f" ({problem.hint})" if problem.hint else ""
            missing = isinstance(problem, KubeconfigMissing)
            (warnings if missing else problems).append(
                f"{loaded.path}: {where}: {problem.message}{hint}"
            )
    return problems, warnings


def check_secret_problems(
    loaded: LoadedConfig, env_name: str, bindings: dict[str, tuple[CheckBinding, ...]]
) -> list[str]:
    from cockpit.check_binding import compile_checks

    problems = []
    for item_checks in compile_checks(loaded, bindings).values():
        for bound in item_checks:
            for name, kind, value in bound.spec.secret_refs():
                where = f"{loaded.path}: checks[{bound.index}].{name}"
                if kind == "env" and not os.environ.get(value):
                    problems.append(f"{where}: environment variable {value} is not set")
                elif kind == "file" and not loaded.resolve(Path(value)).is_file():
                    problems.append(f"{where}: secret file {loaded.resolve(Path(value))} not found")
    return problems
