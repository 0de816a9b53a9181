"""Automated checks bound to checklist items. Importing this registers every check type."""

from cockpit.checks import command, errors, kube, net, services
from cockpit.checks.base import REGISTRY, CheckContext, CheckResult, CheckSpec
from cockpit.checks.runner import BoundCheck, compile_binding, run_check, run_checks, spec_errors

__all__ = [
    "REGISTRY",
    "BoundCheck",
    "CheckContext",
    "CheckResult",
    "CheckSpec",
    "command",
    "compile_binding",
    "errors",
    "kube",
    "net",
    "run_check",
    "run_checks",
    "services",
    "spec_errors",
]
