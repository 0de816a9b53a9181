"""Files only the operator can touch: state, lock, temp, audit, crash and report files.

On a shared bastion another account may plant a symbolic link where the cockpit is about to
write (`.cockpit/audit.jsonl -> /etc/...`), or a loose umask may leave `.cockpit/` writable by
everyone. So every such file is opened with O_NOFOLLOW (a link in its place is refused, never
followed), created 0600, and its folders are created 0700 whatever the umask; a folder that is
a link owned by someone else, or that others may write, is refused too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from cockpit.errors import CockpitError

_TRUSTED_OWNERS = {0}  # root; the operator's own uid is added at call time


def _trusted(uid: int) -> bool:
    return uid == os.geteuid() or uid in _TRUSTED_OWNERS


def private_directory(
    path: Path, what: str, error: type[CockpitError] = CockpitError, *, check_parent: bool = True
) -> None:
    """Make sure `path` is a folder the operator controls, creating it (and missing parents)
    0700 whatever the umask. Refuses a folder (or its parent) that is a symbolic link owned by
    someone else or pointing at someone else's folder, and one others may write."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass  # another cockpit made it just now; it is checked below like any other
        except OSError as exc:
            raise error(
                f"cannot open {what} {folder}: {exc.strerror}",
                "point the config at a folder you can write ([state] directory, [audit] path)",
            ) from exc
        else:
            os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask; this is not
    _refuse_untrusted_folder(path, what, error, writable_ok=False)
    if check_parent:
        _refuse_untrusted_folder(path.parent, f"folder of the {what}", error, writable_ok=True)


def _refuse_untrusted_folder(
    folder: Path, what: str, error: type[CockpitError], *, writable_ok: bool
) -> None:
    try:
        link = os.lstat(folder)
        target = os.stat(folder)
    except OSError as exc:
        raise error(
            f"cannot use {what} {folder}: {exc.strerror}", "point the config at a folder you own"
        ) from exc
    if not stat.S_ISDIR(target.st_mode):
        raise error(f"{what} {folder} is not a folder", f"move {folder} aside")
    if stat.S_ISLNK(link.st_mode) and not (_trusted(link.st_uid) and _trusted(target.st_uid)):
        raise error(
            f"{what} {folder} is a symbolic link that another user owns or points into "
            "another user's folder: whoever owns it could read or replace the cockpit's files",
            f"remove the link (rm {folder}) and find out who made it",
        )
    sticky = target.st_mode & stat.S_ISVTX
    if target.st_mode & 0o022 and not sticky and not writable_ok:
        raise error(
            f"{what} {folder} is writable by other users (mode {target.st_mode & 0o777:o}): "
            "they could swap the cockpit's files",
            f"chmod go-w {folder}",
        )


def open_private(path: Path, flags: int, what: str, error: type[CockpitError]) -> int:
    """os.open without following a symbolic link; a created file is 0600 (a umask only ever
    takes bits away).

    A link in the file's place is refused with a message naming it: nothing is read from or
    written through it. Other OSErrors are left to the caller, which knows what they mean."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and path.is_symlink()):
            raise error(
                f"{what} {path} is a symbolic link; refusing to open it through the link "
                "(nothing was written)",
                f"remove the link (rm {path}) and find out who made it: the cockpit creates "
                "this file itself",
            ) from None
        raise
    return fd


def read_private(path: Path, what: str, error: type[CockpitError]) -> bytes:
    """The whole file, read without following a link (FileNotFoundError when missing)."""
    fd = open_private(path, os.O_RDONLY, what, error)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def write_private(
    path: Path, data: bytes | Iterable[bytes], what: str, error: type[CockpitError]
) -> None:
    """Create or replace `path`'s content, 0600, never through a link (report, check output).

    `data` may come in pieces (a long report, written as it is made); if making them fails,
    the part written is removed, so no file looks complete that is not."""
    try:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, what, error)
    except OSError as exc:
        raise error(
            f"cannot write {what} {path}: {exc.strerror}", "choose a file you can write"
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        if isinstance(data, bytes):
            handle.write(data)
            return
        try:
            for piece in data:
                handle.write(piece)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
