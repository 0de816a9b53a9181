"""Tamper-evident audit log: append-only JSONL, each line chained to the one before.

Each line carries `prev` (the hash of the line before) and `hash` (sha256 of `prev` and the
line's own canonical content). Editing a line breaks its own hash; deleting, inserting or
reordering lines breaks the chain at the first line that follows. A cut-off tail is caught by
comparing with the audit head that every state file records.

Beside the log, `NAME.index` (a cache, rebuilt whenever it does not match) records the byte
offset of every timeline entry (release starts, rollbacks, release analysis runs), of each
environment's first entry and of its latest verdict, up to a line whose sequence number and
hash it names. A command that opens a session reads those few lines and the lines appended
after the indexed end, never the whole log: the hash at the indexed end commits to everything
before it (each line's hash covers the one before), and `audit verify` checks that chain.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.errors import AuditError
from cockpit.identity import Operator
from cockpit.private_files import open_private, private_directory, read_private
from cockpit.secrets import scrub_data
from cockpit.state import AuditHead

GENESIS = "0" * 64
_TAIL_CHUNK = 65536
_READ_CHUNK = 1 << 20
INDEX_FORMAT = 3  # 2: the timeline holds run_serving; 3: and run_workloads
INDEX_SAVE_AFTER = 200  # new lines read before the index is rewritten
# the release analysis runs' own entries (cockpit/analysis.py folds them)
RUN_ACTIONS = frozenset(
    {
        "run_start",
        "run_revisions",
        "run_workloads",
        "run_serving",
        "run_failed",
        "run_passed",
        "run_end",
    }
)
# what a session folds from the whole log (the rest it reads from the tail as it grows)
TIMELINE_ACTIONS = frozenset({"release_start", "rollback_requested", "rollback"}) | RUN_ACTIONS


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    action: str
    fields: dict[str, Any]
    hash: str

    @property
    def environment(self) -> str | None:
        value = self.fields.get("env")
        return value if isinstance(value, str) else None


@dataclass
class AuditProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class VerifyResult:
    lines: int = 0
    problems: list[AuditProblem] = field(default_factory=list)
    last_seq: int = 0  # of the last line: kept elsewhere, it catches even a whole rewrite
    last_hash: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _digest(prev: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, path: Path, *, secrets: Sequence[str] = ()) -> None:
        self.path = path
        # configured secrets' values: scrubbed from every field before the line is written
        # (and so from the state and the report, which are built from these lines)
        self.secrets = tuple(secrets)

    def append(
        self, action: str, environment: str, operator: Operator, **fields: Any
    ) -> AuditEntry:
        """Write one line and fsync it before returning: an action is audited before it acts."""
        private_directory(self.path.parent, "audit log folder", AuditError)
        try:
            fd = open_private(
                self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, "audit log", AuditError
            )
        except OSError as exc:
            raise AuditError(
                f"cannot open audit log {self.path}: {exc.strerror}",
                "set [audit] path in the config to a file you can write",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size_before = os.fstat(fd).st_size
            prev_seq, prev_hash = _last_link(fd)
            body: dict[str, Any] = {
                "seq": prev_seq + 1,
                "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                "action": action,
                "env": environment,
                "actor": operator.user,
            }
            if operator.address:
                body["from"] = operator.address
            body.update(
                {k: scrub_data(v, self.secrets) for k, v in fields.items() if v is not None}
            )
            body["prev"] = prev_hash
            entry_hash = _digest(prev_hash, body)
            line = json.dumps({**body, "hash": entry_hash}, ensure_ascii=False) + "\n"
            data = line.encode("utf-8")
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            except OSError as exc:
                # Leave no half line behind: it would break the chain for everyone after.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size_before)
                raise AuditError(
                    f"could not write the audit log {self.path}: {exc.strerror}; "
                    "the action was NOT carried out",
                    "free some disk space (or raise the file-size quota), then try again"
                    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
                    else "check the file and its folder",
                ) from exc
        finally:
            os.close(fd)
        return AuditEntry(
            seq=body["seq"],
            ts=body["ts"],
            action=action,
            fields={k: v for k, v in body.items() if k not in ("seq", "ts", "action", "prev")},
            hash=entry_hash,
        )

    def head(self) -> AuditHead | None:
        try:
            fd = open_private(self.path, os.O_RDONLY, "audit log", AuditError)
        except FileNotFoundError:
            return None
        try:
            seq, digest = _last_link(fd)
        finally:
            os.close(fd)
        return AuditHead(seq=seq, hash=digest) if seq else None

    def entries(self, environment: str | None = None) -> Iterator[AuditEntry]:
        """Entries in order; lines that do not parse are skipped (verify reports them)."""
        try:
            fd = open_private(self.path, os.O_RDONLY, "audit log", AuditError)
        except FileNotFoundError:
            return
        with open(fd, encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                entry = _entry(raw, environment)
                if entry is not None:
                    yield entry

    def entries_after(
        self, offset: int, environment: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        """Entries of the complete lines from byte `offset` on, and the offset after them.

        For readers that follow the log as it grows (a line still being written is left for
        next time). A log shorter than `offset` was replaced: it is read from the start.
        """
        try:
            fd = open_private(self.path, os.O_RDONLY, "audit log", AuditError)
            with open(fd, "rb") as handle:
                handle.seek(0, 2)
                if handle.tell() < offset:
                    offset = 0
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return [], 0
        complete = data.rfind(b"\n") + 1
        found = []
        for raw in data[:complete].decode("utf-8", errors="replace").splitlines():
            entry = _entry(raw, environment)
            if entry is not None:
                found.append(entry)
        return found, offset + complete

    def tail(self, count: int, environment: str | None = None) -> list[AuditEntry]:
        """The last `count` entries (of `environment`), in order.

        Reads the log backwards from its end, a chunk at a time, until it has them: the cost
        is that of the lines read, not of the log. Lines that do not parse (a last line still
        being written, a damaged one) are skipped, as `entries` skips them."""
        if count <= 0:
            return []
        try:
            fd = open_private(self.path, os.O_RDONLY, "audit log", AuditError)
        except FileNotFoundError:
            return []
        found: list[AuditEntry] = []
        try:
            end = os.fstat(fd).st_size
            carry = b""  # the start of a line whose beginning is in the next chunk back
            while end > 0 and len(found) < count:
                start = max(0, end - _TAIL_CHUNK)
                chunk = os.pread(fd, end - start, start) + carry
                end = start
                lines = chunk.split(b"\n")
                carry = lines.pop(0) if start > 0 else b""
                for raw in reversed(lines):
                    entry = _entry(raw.decode("utf-8", errors="replace"), environment)
                    if entry is not None:
                        found.append(entry)
                        if len(found) == count:
                            break
        finally:
            os.close(fd)
        found.reverse()
        return found

    @property
    def index_path(self) -> Path:
        return self.path.with_name(f"{self.path.name}.index")

    def timeline(self, environment: str) -> tuple[list[AuditEntry], int]:
        """This environment's first entry, its timeline entries and its latest verdict, in
        order, and the log's offset after them (follow on with `entries_after`).

        Reads the index, checks it against the log, reads only what was appended since it
        was written, and saves it again when that was much."""
        try:
            fd = open_private(self.path, os.O_RDONLY, "audit log", AuditError)
        except FileNotFoundError:
            return [], 0
        try:
            size = os.fstat(fd).st_size
            index = self._read_index(fd, size)
            scanned = _index_lines(fd, index, size)
            envs = index["envs"].get(environment) or {}
            offsets = sorted(
                {*envs.get("timeline", []), envs.get("first"), envs.get("verdict")} - {None}
            )
            found = []
            for offset in offsets:
                entry = _entry(_line_at(fd, offset).decode("utf-8", errors="replace"), environment)
                if entry is not None:
                    found.append(entry)
        finally:
            os.close(fd)
        if scanned >= INDEX_SAVE_AFTER:
            self._save_index(index)
        return found, int(index["end"])

    def _read_index(self, fd: int, size: int) -> dict[str, Any]:
        """The saved index if it matches the log (the line before its end has its hash),
        else an empty one (the log is then read from the start)."""
        empty: dict[str, Any] = {"format": INDEX_FORMAT, "end": 0, "hash": GENESIS, "envs": {}}
        try:
            data = json.loads(read_private(self.index_path, "audit index", AuditError))
        except (OSError, ValueError, AuditError):
            return empty
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
            return empty
        end = data.get("end")
        if (
            not isinstance(end, int)
            or not 0 < end <= size
            or not isinstance(data.get("envs"), dict)
        ):
            return empty
        try:
            last = json.loads(_line_at(fd, _start_of_line_before(fd, end)))
        except (ValueError, OSError):
            return empty
        if not isinstance(last, dict) or last.get("hash") != data.get("hash"):
            return empty
        return data

    def _save_index(self, index: dict[str, Any]) -> None:
        """Atomically, never through a link; a cache: failing to save it changes nothing."""
        temp = self.index_path.with_name(f".{self.index_path.name}.{os.getpid()}.tmp")
        try:
            fd = open_private(
                temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "audit index temp file", AuditError
            )
            try:
                os.write(fd, json.dumps(index, separators=(",", ":")).encode())
            finally:
                os.close(fd)
            os.replace(temp, self.index_path)
        except (OSError, AuditError):
            with contextlib.suppress(OSError):
                temp.unlink()

    def verify(
        self,
        heads: list[tuple[str, AuditHead]] | None = None,
        *,
        each: Callable[[AuditEntry], None] | None = None,
        environment: str | None = None,
    ) -> VerifyResult:
        """Check every line's hash and link; `heads` are (label, head) pairs from state files.

        Streams the log: memory stays flat however long it is. `each` is called with every
        entry (of `environment`) on the way, as `entries` would give them, for a reader
        (the report) that needs both the entries and the verdict in one read."""
        result = VerifyResult()
        try:
            fd = open_private(self.path, os.O_RDONLY, "audit log", AuditError)
        except FileNotFoundError:
            if heads:
                result.problems.append(
                    AuditProblem(0, f"the audit log {self.path} is missing but state refers to it")
                )
            return result
        with open(fd, "rb") as handle:
            self._verify_lines(handle, heads or [], result, each, environment)
        return result

    def _verify_lines(
        self,
        handle: Any,
        heads: list[tuple[str, AuditHead]],
        result: VerifyResult,
        each: Callable[[AuditEntry], None] | None = None,
        environment: str | None = None,
    ) -> None:
        wanted = {head.seq for _, head in heads}
        prev_hash, prev_seq = GENESIS, 0
        seen: dict[int, str] = {}
        number = 0
        for line in handle:
            number += 1
            if not line.endswith(b"\n"):
                result.problems.append(
                    AuditProblem(number, "the last line is incomplete (no newline)")
                )
            raw = line.rstrip(b"\n")
            result.lines = number
            try:
                data = json.loads(raw.decode("utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("not an object")
            except (UnicodeDecodeError, ValueError):
                result.problems.append(AuditProblem(number, "not a valid JSON entry (edited?)"))
                prev_hash, prev_seq = "?", prev_seq + 1
                if each is not None:  # as `entries` reads it: replacement characters
                    damaged = _entry(raw.decode("utf-8", errors="replace"), environment)
                    if damaged is not None:
                        each(damaged)
                continue
            if each is not None:
                entry = _entry_of(data, environment)
                if entry is not None:
                    each(entry)
            stored = data.pop("hash", None)
            if stored != _digest(str(data.get("prev", "")), data):
                result.problems.append(
                    AuditProblem(number, "content does not match its hash (the line was edited)")
                )
            elif prev_hash != "?" and data.get("prev") != prev_hash:
                result.problems.append(
                    AuditProblem(
                        number,
                        f"does not follow line {number - 1}: a line was deleted, inserted "
                        "or moved before it",
                    )
                )
            seq = data.get("seq")
            if isinstance(seq, int) and seq != prev_seq + 1 and prev_hash != "?":
                result.problems.append(
                    AuditProblem(number, f"sequence number {seq} where {prev_seq + 1} was due")
                )
            prev_seq = seq if isinstance(seq, int) else prev_seq + 1
            prev_hash = str(stored)
            result.last_seq, result.last_hash = prev_seq, prev_hash
            if prev_seq in wanted:
                seen[prev_seq] = prev_hash
        for label, head in heads:
            if seen.get(head.seq) != head.hash:
                result.problems.append(
                    AuditProblem(
                        result.lines,
                        f"{label} was written after audit entry {head.seq}, which is "
                        "missing or different here (the log was cut off or replaced)",
                    )
                )


def _entry(raw: str, environment: str | None) -> AuditEntry | None:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return _entry_of(data, environment)


def _entry_of(data: Any, environment: str | None) -> AuditEntry | None:
    if not isinstance(data, dict):
        return None
    if environment is not None and data.get("env") != environment:
        return None
    # an edited line may hold anything: it is read (and `audit verify` names it), never a crash
    seq = data.get("seq")
    return AuditEntry(
        seq=seq if isinstance(seq, int) else 0,
        ts=str(data.get("ts", "")),
        action=str(data.get("action", "")),
        fields={k: v for k, v in data.items() if k not in ("seq", "ts", "action", "prev", "hash")},
        hash=str(data.get("hash", "")),
    )


def _last_link(fd: int) -> tuple[int, str]:
    """(seq, hash) of the last complete line, read from the end of the file."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS
    start = max(0, size - _TAIL_CHUNK)
    while True:
        chunk = os.pread(fd, size - start, start)
        body = chunk.rstrip(b"\n")
        cut = body.rfind(b"\n")
        if cut != -1 or start == 0:
            last = body[cut + 1 :]
            break
        start = max(0, start - _TAIL_CHUNK)
    try:
        data = json.loads(last.decode("utf-8"))
        return int(data["seq"]), str(data["hash"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            "the last line of the audit log is damaged; refusing to extend a broken chain",
            "run `cockpit audit verify` to see what is wrong, and move the log aside to start "
            "a new chain",
        ) from exc


def _index_lines(fd: int, index: dict[str, Any], size: int) -> int:
    """Fold the complete lines after the index's end into it; how many were read."""
    position = int(index["end"])
    envs: dict[str, dict[str, Any]] = index["envs"]
    count = 0
    while position < size:
        chunk = os.pread(fd, min(_READ_CHUNK, size - position), position)
        complete = chunk.rfind(b"\n") + 1
        if complete == 0:
            if len(chunk) < size - position:  # one line longer than a chunk
                chunk = os.pread(fd, size - position, position)
                complete = chunk.rfind(b"\n") + 1
            if complete == 0:
                break  # a line still being written: next time
        start = 0
        while start < complete:
            end = chunk.index(b"\n", start) + 1
            offset = position + start
            count += 1
            try:
                data = json.loads(chunk[start:end])
            except ValueError:
                data = None
            if isinstance(data, dict):
                env = data.get("env")
                if isinstance(env, str):
                    facts = envs.setdefault(env, {"first": offset, "timeline": []})
                    action = data.get("action")
                    if action in TIMELINE_ACTIONS:
                        facts["timeline"].append(offset)
                    elif action == "verdict":
                        facts["verdict"] = offset
                index["hash"] = data.get("hash")
            else:
                index["hash"] = None  # a damaged line: the next reader starts again
            start = end
        position += complete
        index["end"] = position
    return count


def _start_of_line_before(fd: int, end: int) -> int:
    """The offset where the line that ends at `end` (its newline at end - 1) begins."""
    cursor = end - 1
    while cursor > 0:
        start = max(0, cursor - _TAIL_CHUNK)
        chunk = os.pread(fd, cursor - start, start)
        cut = chunk.rfind(b"\n")
        if cut != -1:
            return start + cut + 1
        cursor = start
    return 0


def _line_at(fd: int, offset: int) -> bytes:
    """The line that starts at `offset`, without its newline."""
    data = b""
    while True:
        chunk = os.pread(fd, 4096, offset + len(data))
        cut = chunk.find(b"\n")
        if cut != -1 or not chunk:
            return data + (chunk[:cut] if cut != -1 else chunk)
        data += chunk
