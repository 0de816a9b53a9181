"""Check results as text for people, JSON for scripts, and JUnit XML for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from cockpit.session import GoLiveSession, ItemRunResult
from cockpit.text import visible_text


def check_report_text(
    session: GoLiveSession, results: Sequence[ItemRunResult], *, colour: bool = False
) -> str:
    lines = [f"{session.label} ({session.env_name}): checks of {len(results)} item(s)"]
    for outcome in results:
        tag = "PASS" if outcome.passed else "FAIL"
        if colour:
            tag = click.style(tag, fg="green" if outcome.passed else "red", bold=True)
        lines.append(f"{tag}  {visible_text(outcome.item.text)}  [{outcome.item.id}]")
        for bound, result in outcome.results:
            mark = "ok " if result.passed else "no "
            lines.append(
                f"      {mark} {visible_text(bound.name)} ({result.duration:.1f} s): "
                f"{visible_text(result.evidence)}"
            )
            if not result.passed:
                lines.extend(f"          | {visible_text(line)}" for line in result.details[-5:])
    passed = sum(1 for r in results if r.passed)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)


def check_report_json(session: GoLiveSession, results: Sequence[ItemRunResult]) -> dict[str, Any]:
    return {
        "environment": session.env_name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "passed": sum(1 for r in results if r.passed),
        "failed": sum(1 for r in results if not r.passed),
        "items": [
            {
                "id": outcome.item.id,
                "text": outcome.item.text,
                "status": outcome.status,
                "evidence": outcome.evidence,
                "checks": [
                    {
                        "check": bound.name,
                        "type": bound.spec.type,
                        "passed": result.passed,
                        "evidence": result.evidence,
                        "seconds": round(result.duration, 3),
                        "reason": result.reason,
                        "output": list(result.details),
                    }
                    for bound, result in outcome.results
                ],
            }
            for outcome in results
        ],
    }


def check_report_junit(session: GoLiveSession, results: Sequence[ItemRunResult]) -> str:
    """One <testcase> per bound check, grouped in one <testsuite> per environment."""
    cases = [(o, b, r) for o in results for b, r in o.results]
    failures = sum(1 for _, _, r in cases if not r.passed)
    total_time = sum(r.duration for _, _, r in cases)
    suites = ET.Element(
        "testsuites",
        name="cockpit checks",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        time=f"{total_time:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"cockpit checks: {session.env_name}",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{total_time:.3f}",
        timestamp=datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
    )
    for outcome, bound, result in cases:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=outcome.item.section_id.replace("/", "."),
            name=f"{outcome.item.text} :: {bound.name}",
            time=f"{result.duration:.3f}",
        )
        if not result.passed:
            failure = ET.SubElement(
                case, "failure", message=result.evidence, type=result.reason or "failed"
            )
            failure.text = "\n".join([result.evidence, *result.details])
        elif result.evidence:
            out = ET.SubElement(case, "system-out")
            out.text = result.evidence
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
