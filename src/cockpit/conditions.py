"""Threshold conditions such as `< 0.001` or `>= 1000`, shared by checks and metric gates.

Prometheus answers NaN for 0/0 (an error ratio with no traffic) and +Inf/-Inf for other
edge cases; a condition never silently treats those as passing: NaN is "no data", and
infinities compare as the numbers they are.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

NoDataPolicy = Literal["fail", "pass", "inconclusive"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_PATTERN = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Condition:
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(
                f"{text!r} is not a condition; write an operator and a number, e.g. '< 0.001'"
            )
        return cls(match.group(1), float(match.group(2)))

    def holds(self, value: float) -> bool | None:
        """True or False, or None when the value is NaN (no data)."""
        if math.isnan(value):
            return None
        return _OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


def parse_sample_value(raw: object) -> float:
    """Prometheus sends values as strings: '0.5', 'NaN', '+Inf', '-Inf' (which Python's float
    reads as they are, in any case)."""
    if isinstance(raw, int | float):
        return float(raw)
    return float(str(raw).strip())
