"""Strict JSON for the headless commands' --json output.

Python's json writes the bare words Infinity and NaN for non-finite floats, which standard
parsers (jq, JavaScript, Go) refuse. Here an infinity is written as Prometheus writes it
("+Inf", "-Inf") and NaN as null, and anything else non-finite is an error, not output.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(_finite(data), indent=indent, ensure_ascii=False, allow_nan=False)
