"""Automated checks bound to checklist items: one module per check type, `registry.RUNS`
says which runs which type."""

from cockpit.checks.base import CheckContext, CheckResult
from cockpit.checks.registry import RUNS
from cockpit.checks.runner import BoundCheck, compile_binding, run_check, run_checks

__all__ = [
    "RUNS",
    "BoundCheck",
    "CheckContext",
    "CheckResult",
    "compile_binding",
    "run_check",
    "run_checks",
]
