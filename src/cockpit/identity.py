"""Who is acting, as recorded in state and audit.

The actor comes from the process's real uid, never from `USER` or `LOGNAME`: anyone can set
those (`USER=admin cockpit mark ...`). Under sudo the uid is root's, and sudo itself records
who asked in `SUDO_USER`; that is the only variable trusted, and only when the uid really is 0
(a non-root process that sets SUDO_USER is lying). The SSH client address is shown as the SSH
server reported it; it is information, not proof.
"""

from __future__ import annotations

import os
import pwd
import re
from dataclasses import dataclass

_LOGIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")  # anything else is not a login name


def login_name(uid: int | None = None) -> str:
    """The account name of a uid (the real uid by default); `uid-N` when it has none."""
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"


@dataclass(frozen=True)
class Operator:
    """The person at the keyboard: login name, and the SSH client address when there is one."""

    user: str
    address: str | None

    @classmethod
    def current(cls) -> Operator:
        uid = os.getuid()
        user = login_name(uid)
        sudo_user = os.environ.get("SUDO_USER", "")
        if uid == 0 and _LOGIN.match(sudo_user) and sudo_user != user:
            user = f"{sudo_user} (sudo)"
        connection = os.environ.get("SSH_CONNECTION", "").split()
        return cls(user=user, address=connection[0] if connection else None)

    def __str__(self) -> str:
        return f"{self.user}@{self.address}" if self.address else self.user
