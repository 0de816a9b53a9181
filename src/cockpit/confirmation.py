"""The production confirmation rule, in one place for the CLI and the TUI.

In a production environment an action that changes the release (a rollback, a pause, a
step's commands) runs only once the operator has typed the name of what it acts on: the
workload for one workload, the environment for all of them or for a step. A stray Enter or a
`y` typed out of habit cannot start it. Outside production nothing needs typing (the screens
still ask, with Cancel focused). The rule was written out four times (the CLI, the two
rollback screens, the step run screen), each free to drift from the others.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TypedConfirmation:
    """What the operator must type before the action goes ahead; None: nothing to type."""

    word: str | None

    @classmethod
    def of(cls, production: bool, name: str) -> TypedConfirmation:
        """Production: type `name`; elsewhere nothing."""
        return cls(name if production else None)

    @property
    def required(self) -> bool:
        return self.word is not None

    def accepts(self, typed: str) -> bool:
        """Exactly the name, surrounding spaces aside (a paste often brings a newline)."""
        return self.word is None or typed.strip() == self.word

    def refusal(self, typed: str) -> str:
        """Why `typed` does not confirm, naming what was typed and what is wanted: empty when
        it does. Each caller says it in its own sentence ("Not sent: ...", "Not started: ...")."""
        if self.accepts(typed):
            return ""
        shown = typed.strip()
        said = f"you typed {shown!r}" if shown else "nothing typed"
        return f"{said}; type {self.word!r} exactly"
