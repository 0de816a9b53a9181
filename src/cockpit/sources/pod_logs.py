"""A pod's log as `kubectl logs` reads it, followed across container restarts.

The request goes through the cluster's one shared client (the watchers' credential, its plugin
and impersonation), with `timestamps=true` so that a reconnect can drop the lines already
delivered. A followed stream ends when its container stops (a crash loop ends it every run) or
when the server or the network ends it: the follower opens it again after a short wait that
grows while nothing new arrives. Failures become stated notices, never exceptions: a 403 or a
pod that is gone ends the follow; a container not started yet, a 5xx or the network is retried.

The text is handed on as received (decoded as UTF-8); the screen makes it visible text.
Runs in one thread (a TUI worker); `stop()` from any other ends it, unblocking a read.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.config import ClusterConfig, LoadedConfig
from cockpit.sources.kube import describe_api_error
from cockpit.sources.kube_auth import CredentialError, shared_client

TAIL_LINES = 500  # lines asked for when the view opens (kubectl's --tail)
LINE_CHARS = 10_000  # a longer line is cut: a megabyte of JSON on one line is not read on a screen
RECONNECT_START = 0.5  # seconds before reopening a stream that ended
RECONNECT_CAP = 10.0
READ_TIMEOUT = 300.0  # seconds of silence after which a followed stream is reopened quietly


@dataclass(frozen=True)
class LogLine:
    stamp: str  # the server's RFC 3339 timestamp of the line, "" when it had none
    text: str  # as the container wrote it: outside text, not yet made visible


@dataclass(frozen=True)
class LogNotice:
    """What the stream is doing now, in words for the view's status line."""

    text: str
    problem: bool = False  # something is wrong (stated in the warning colour)
    ended: bool = False  # nothing more will come


LogEvent = list[LogLine] | LogNotice


def _stamp_key(stamp: str) -> tuple[str, str]:
    """A sortable key of an RFC 3339 stamp whose fraction may be trimmed (`.5Z`, `.123456789Z`)."""
    head, _, fraction = stamp.rstrip("Z").partition(".")
    return head, fraction.ljust(9, "0")


class PodLogFollower:
    """One container's log: the current run followed (and the next runs after a restart), or
    the previous run's last lines."""

    def __init__(
        self,
        cluster: ClusterConfig,
        loaded: LoadedConfig,
        namespace: str,
        pod: str,
        container: str,
        *,
        previous: bool = False,
        follow: bool = True,
        tail_lines: int = TAIL_LINES,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.cluster = cluster
        self.loaded = loaded
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.previous = previous
        self.follow = follow and not previous
        self.tail_lines = tail_lines
        self.read_timeout = read_timeout
        self._stop = threading.Event()
        self._response: Any = None
        self._lock = threading.Lock()
        self._last: tuple[tuple[str, str], int] | None = None  # newest stamp seen, lines with it
        self.requests = 0

    @property
    def what(self) -> str:
        run = "previous container" if self.previous else "container"
        return f"{run} {self.container} of pod {self.pod}"

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()  # interrupts the read blocked in run()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self, emit: Callable[[LogEvent], object]) -> None:
        """Until stop() or the end of what there is to read; every outcome is emitted."""
        delay = RECONNECT_START
        while not self._stop.is_set():
            outcome = self._read_once(emit)
            if outcome is None or self._stop.is_set():
                return
            got_lines, notice = outcome
            if notice.ended:
                emit(notice)
                return
            if got_lines:
                delay = RECONNECT_START
            emit(LogNotice(f"{notice.text}; trying again in {delay:g}s", notice.problem))
            if self._stop.wait(delay):
                return
            delay = min(RECONNECT_CAP, delay * 2)

    def _request(self, api: Any) -> Any:
        from kubernetes import client

        return client.CoreV1Api(api).read_namespaced_pod_log(
            self.pod,
            self.namespace,
            container=self.container,
            follow=self.follow,
            previous=self.previous,
            timestamps=True,
            tail_lines=self.tail_lines,  # again on a reconnect: the stamps drop repeats
            _preload_content=False,
            _request_timeout=(5, self.read_timeout if self.follow else 30),
        )

    def _read_once(self, emit: Callable[[LogEvent], object]) -> tuple[bool, LogNotice] | None:
        """One request, read to its end: (any new lines, what to say next); None when
        stopped."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import ProtocolError, ReadTimeoutError

        shared = shared_client(self.cluster, self.loaded)
        api = None
        got = False
        try:
            api = shared.get()
            self.requests += 1
            response = self._request(api)
            with self._lock:
                self._response = response
            if self._stop.is_set():  # stopped while the request was on its way
                with contextlib.suppress(Exception):
                    response.release_conn()
                return None
            emit(LogNotice(f"following {self.what}" if self.follow else f"{self.what}"))
            try:
                for lines in self._lines(response):
                    if self._stop.is_set():
                        return None
                    fresh = self._unseen(lines)
                    if fresh:
                        got = True
                        emit(fresh)
            finally:
                with self._lock:
                    self._response = None
                with contextlib.suppress(Exception):
                    response.release_conn()
        except ApiException as exc:
            if self._stop.is_set():
                return None
            return got, self._refused(exc, shared, api)
        except CredentialError as exc:
            return got, LogNotice(exc.message, problem=True)
        except (ReadTimeoutError, ProtocolError) as exc:
            if self._stop.is_set():
                return None
            if isinstance(exc, ReadTimeoutError) or "timed out" in str(exc).lower():
                return got, LogNotice("the log was silent for a long time; reopened")
            return got, LogNotice(f"the log stream broke: {describe_api_error(exc)}", True)
        except Exception as exc:  # noqa: BLE001 - any transport failure: stated, retried
            if self._stop.is_set():
                return None
            return got, LogNotice(f"cannot read the log: {describe_api_error(exc)}", True)
        if self._stop.is_set():
            return None
        if not self.follow:
            end = "end of the log" if not self.previous else "end of the previous run's log"
            return got, LogNotice(f"{self.what}: {end} (not followed)", ended=True)
        return got, LogNotice("the log stream ended (the container stopped, or the server did)")

    def _refused(self, exc: Any, shared: Any, api: Any) -> LogNotice:
        said = describe_api_error(exc)
        status = getattr(exc, "status", None)
        if status == 401 and api is not None:
            shared.unauthorized(api)  # a new credential next time (the plugin runs again)
            return LogNotice(f"the API refused the credential ({said})", problem=True)
        if status == 403:
            return LogNotice(
                f"not allowed to read the logs of pod {self.pod} ({said})", problem=True, ended=True
            )
        if status == 404:
            return LogNotice(f"pod {self.pod} is gone ({said})", problem=True, ended=True)
        if status == 400:
            text = said.lower()
            if any(w in text for w in ("waiting to start", "containercreating", "initializing")):
                return LogNotice(f"{self.container} has not started yet ({said})", problem=True)
            return LogNotice(said, problem=True, ended=True)  # no previous run, no such container
        return LogNotice(f"cannot read the log: {said}", problem=True)

    def _lines(self, response: Any) -> Any:
        """Lists of LogLine, as the chunks come (a partial last line waits for its end)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        for chunk in response.stream(None, decode_content=True):  # each chunk as it comes
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            if complete:
                yield [self._parse(line) for line in complete]
        pending += decoder.decode(b"", final=True)
        if pending:
            yield [self._parse(pending)]

    @staticmethod
    def _parse(raw: str) -> LogLine:
        raw = raw.removesuffix("\r")
        stamp, space, text = raw.partition(" ")
        if not space or not stamp[:4].isdigit() or "T" not in stamp:
            stamp, text = "", raw
        return LogLine(stamp, text[:LINE_CHARS])

    def _unseen(self, lines: list[LogLine]) -> list[LogLine]:
        """Drop what an earlier request of this follower already delivered (a reconnect asks
        for the tail again); the stamps say which."""
        fresh: list[LogLine] = []
        last = self._last
        again = 0
        for line in lines:
            if not line.stamp:
                fresh.append(line)
                continue
            key = _stamp_key(line.stamp)
            if last is not None:
                if key < last[0]:
                    continue
                if key == last[0] and again < last[1]:
                    again += 1
                    continue
                last = None  # past what was seen: everything from here is new
            fresh.append(line)
        if fresh:
            stamped = [_stamp_key(line.stamp) for line in fresh if line.stamp]
            if stamped:
                newest = stamped[-1]
                same = sum(1 for key in stamped if key == newest)
                before = self._last
                if before is not None and before[0] == newest:
                    same += before[1]
                self._last = (newest, same)
        return fresh


__all__ = ["TAIL_LINES", "LogEvent", "LogLine", "LogNotice", "PodLogFollower"]
