"""Text from outside (trackers, clusters, command output, runbooks) as it may reach a screen.

Whatever a Sentry title, a container image, a pod message, a Prometheus error or a step's
output holds, it is shown, never obeyed: C0 controls become their Unicode pictures (␛ for
ESC, so an escape sequence cannot recolour, clear or retitle the terminal or set the
clipboard), DEL becomes ␡, C1 controls and the invisible bidirectional overrides their
`\\x..` / `\\u....` escape; tabs become a space. The TUI then renders the result as plain
text, never as markup.
"""

from __future__ import annotations

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_TABLE[0x09] = " "
_TABLE[0x7F] = "\u2421"
_TABLE.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
_TABLE.update({code: f"\\u{code:04x}" for code in _BIDI})
_WITH_NEWLINES = {**_TABLE, 0x0A: "\n"}


def visible_text(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every control character made visible (newlines kept when asked)."""
    return str(text).translate(_WITH_NEWLINES if keep_newlines else _TABLE)


def format_elapsed(seconds: float) -> str:
    """A duration an operator reads at a glance: `45s`, `2m 05s`, `1h 02m 05s`.

    `H:MM` read as minutes or seconds (`0:01` looked like one second); every part is named.
    A negative duration (a wall clock set back) shows as `0s`."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
