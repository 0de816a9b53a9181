"""Outside text inside the cockpit's own markup: shown literally, never parsed, never obeyed.

The cockpit writes its screens with Textual markup (`[b]...[/b]`). Text from outside (a
Sentry title, an image, a change-cause, a pod message, a Prometheus error, step output, the
runbook) goes through `safe()` first: control characters made visible (`cockpit.text`), and
every `[` escaped, so no tag can open, whatever follows it (`[ @click=...]`, `[B]`, `[/]`,
`[/tmp]`): no action, no style, no MarkupError.
"""

from __future__ import annotations

from cockpit.text import visible_text


def safe(value: object, *, keep_newlines: bool = False) -> str:
    text = visible_text(value, keep_newlines=keep_newlines).replace("[", "\\[")
    # a trailing backslash would escape the cockpit's own next tag
    return text + "\u200b" if text.endswith("\\") else text
