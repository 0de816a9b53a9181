"""Who is acting, as recorded in state and audit."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Operator:
    """The person at the keyboard: login name, and the SSH client address when there is one."""

    user: str
    address: str | None

    @classmethod
    def current(cls) -> Operator:
        user = os.environ.get("USER") or os.environ.get("LOGNAME")
        if not user:
            try:
                user = getpass.getuser()
            except (KeyError, OSError):
                user = f"uid-{os.getuid()}"
        connection = os.environ.get("SSH_CONNECTION", "").split()
        return cls(user=user, address=connection[0] if connection else None)

    def __str__(self) -> str:
        return f"{self.user}@{self.address}" if self.address else self.user
