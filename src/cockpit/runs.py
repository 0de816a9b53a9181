"""Running items: an item's bound checks, or a step's commands, audited from start to end.

Each run is recorded in the same order: audit `run` and state `running`, the work, then audit
`result` and state `passed`/`failed` with the evidence. A cancel records `cancel` and restores
what the item showed before the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cockpit.checklist import ChecklistItem
from cockpit.checks import BoundCheck, CheckResult, run_checks
from cockpit.context import GoLiveContext
from cockpit.errors import CockpitError
from cockpit.progress import ChecklistProgress
from cockpit.state import ItemRecord, ItemStatus
from cockpit.steps import BeforeNext, StepPlan, StepResult, execute_step, plan_step


@dataclass(frozen=True)
class ItemRunResult:
    """What running an item gave: passed or failed, the evidence, each check's result."""

    item: ChecklistItem
    passed: bool
    evidence: str
    results: tuple[tuple[BoundCheck, CheckResult], ...]
    stopped: bool = False  # the operator stopped the step between two scripts
    recorded: ItemStatus | None = None  # the status the item was given, when not passed/failed

    @property
    def status(self) -> ItemStatus:
        if self.recorded is not None:
            return self.recorded
        return "passed" if self.passed else "failed"

    @classmethod
    def of(
        cls, item: ChecklistItem, results: list[tuple[BoundCheck, CheckResult]]
    ) -> ItemRunResult:
        ordered = tuple(sorted(results, key=lambda pair: pair[0].index))
        failed = [r for _, r in ordered if not r.passed]
        if len(ordered) == 1:
            evidence = ordered[0][1].evidence
        elif failed:
            evidence = f"{len(ordered) - len(failed)}/{len(ordered)} checks passed; " + "; ".join(
                r.evidence for r in failed
            )
        else:
            evidence = f"{len(ordered)} checks passed; " + "; ".join(r.evidence for _, r in ordered)
        return cls(item, not failed, evidence, ordered)


@dataclass
class ItemRuns:
    items: ChecklistProgress
    compiled: dict[str, tuple[BoundCheck, ...]]
    # the context checks and steps run in, made at each run (the go-live start may be new)
    context: Callable[[], GoLiveContext]

    def checks_for(self, item_id: str) -> tuple[BoundCheck, ...]:
        return self.compiled.get(item_id, ())

    def _cancel(self, item: ChecklistItem, previous: ItemRecord | None, **fields: object) -> None:
        self.items.record(
            "cancel",
            item,
            status=previous.status if previous else "pending",
            evidence=previous.evidence if previous else None,
            **fields,
        )

    async def run_items(
        self,
        items: Sequence[ChecklistItem],
        *,
        jobs: int | None = None,
        on_change: Callable[[ItemRunResult | ChecklistItem], object] | None = None,
    ) -> list[ItemRunResult]:
        """Run the bound checks of these items (bounded concurrency) and record each result."""
        runnable = [item for item in items if self.checks_for(item.id)]
        if not runnable:
            return []
        read_only = self.items.recorder.read_only
        if not read_only:
            self.items.refuse_if_unshared("run checks")
        if read_only:
            effects = [
                f"{item.text!r} {effect}"
                for item in runnable
                for bound in self.checks_for(item.id)
                if (effect := bound.spec.effect()) is not None
            ]
            if effects:
                more = f" (and {len(effects) - 3} more)" if len(effects) > 3 else ""
                raise CockpitError(
                    "read-only: these checks would change something, so none was run: "
                    + "; ".join(effects[:3])
                    + more,
                    "run them in a cockpit that is not read-only, or leave those items out "
                    "(cockpit check --item ID)",
                )
        ctx = self.context()
        before: dict[str, ItemRecord | None] = {}
        pending: dict[str, list[tuple[BoundCheck, CheckResult]]] = {}
        finished: list[ItemRunResult] = []
        for item in runnable:
            before[item.id] = self.items.record_of(item.id)
            pending[item.id] = []
            if not read_only:
                names = [b.name for b in self.checks_for(item.id)]
                self.items.record("run", item, status="running", checks=names)
            if on_change:
                on_change(item)

        async def collect(bound: BoundCheck, result: CheckResult) -> None:
            results = pending[bound.item_id]
            results.append((bound, result))
            if len(results) < len(self.checks_for(bound.item_id)):
                return
            item = self.items.checklist.item(bound.item_id)
            assert item is not None
            outcome = ItemRunResult.of(item, results)
            finished.append(outcome)
            del pending[bound.item_id]
            if not read_only:
                self.items.record(
                    "result",
                    item,
                    status=outcome.status,
                    evidence=outcome.evidence,
                    checks=[
                        {
                            "check": b.name,
                            "passed": r.passed,
                            "evidence": r.evidence,
                            "seconds": round(r.duration, 3),
                            **({"reason": r.reason} if r.reason else {}),
                        }
                        for b, r in outcome.results
                    ],
                )
            if on_change:
                on_change(outcome)

        every = [bound for item in runnable for bound in self.checks_for(item.id)]
        try:
            await run_checks(
                every, ctx, jobs=jobs or ctx.environment.max_parallel_checks, on_result=collect
            )
        except asyncio.CancelledError:
            for item_id in list(pending):
                unfinished = self.items.checklist.item(item_id)
                if unfinished is None or read_only:
                    continue
                self._cancel(unfinished, before.get(item_id))
                if on_change:
                    on_change(unfinished)
            raise
        return finished

    def plan_step(self, item: ChecklistItem) -> StepPlan:
        """The exact commands a step would run here, or a CockpitError saying why not."""
        self.items.recorder.refuse_if_read_only("run commands")
        return plan_step(self.context(), item)

    async def run_step(
        self,
        item: ChecklistItem,
        *,
        on_line: Callable[[str], object] | None = None,
        on_script: Callable[[int], object] | None = None,
        before_next: BeforeNext | None = None,
        timeout: float | None = None,
    ) -> ItemRunResult:
        """Run a step's scripts in order, stopping at the first that fails; audited.

        A production step with several scripts runs only with `before_next` (the operator
        reads each script's output and confirms the next). Cut short (stopped between two
        scripts, or cancelled), the audit keeps what ran: see `_cut_short`."""
        self.items.recorder.refuse_if_read_only("run commands")
        self.items.refuse_if_unshared("run commands")
        ctx = self.context()
        plan = plan_step(ctx, item)
        if plan.production and len(plan.commands) > 1 and before_next is None:
            raise CockpitError(
                f"step {item.text!r} has {len(plan.commands)} scripts and this is production: "
                "each next script waits for the operator",
                "run it from the cockpit (r), which shows each script's output and asks again",
            )
        previous = self.items.record_of(item.id)
        self.items.record(
            "run", item, status="running", commands=[c.display for c in plan.commands]
        )
        progress = StepResult(passed=True, evidence="")
        try:
            result = await execute_step(
                plan,
                timeout=timeout or ctx.environment.step_timeout,
                on_line=on_line,
                on_script=on_script,
                before_next=before_next,
                cwd=ctx.config.base_dir,
                secrets=tuple(ctx.secrets),
                result=progress,
            )
        except asyncio.CancelledError:
            self._cut_short(item, previous, progress, f"cancelled {progress.where()}")
            raise
        if result.stopped_before is not None:
            status = self._cut_short(item, previous, result, result.evidence)
            return ItemRunResult(item, False, result.evidence, (), stopped=True, recorded=status)
        outcome = ItemRunResult(item, result.passed, result.evidence, ())
        self.items.record(
            "result",
            item,
            status=outcome.status,
            evidence=result.evidence,
            output_tail=list(result.tail)[-20:],
            exit_code=result.exit_code,
        )
        return outcome

    def _cut_short(
        self, item: ChecklistItem, previous: ItemRecord | None, run: StepResult, said: str
    ) -> ItemStatus:
        """Audit a step cut short with what ran (output, exit code, scripts done). None done:
        the item keeps the status it had; some done: failed, since the step is half done
        (a dry run and no apply, or an apply and not its check)."""
        if run.completed == 0:
            status: ItemStatus = previous.status if previous else "pending"
            evidence = previous.evidence if previous else None
        else:
            status, evidence = "failed", f"{said}: the step is not complete"
        self.items.record(
            "cancel",
            item,
            status=status,
            evidence=evidence,
            note=said,
            output_tail=list(run.tail)[-20:],
            exit_code=run.exit_code,
            scripts_completed=run.completed,
            scripts=run.total,
        )
        return status
