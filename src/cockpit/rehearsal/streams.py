"""`kubectl exec` and `kubectl attach` against the rehearsal cluster: the WebSocket streaming
protocol of a Kubernetes API server.

kubectl (1.30 and later) asks for `v5.channel.k8s.io`; the Python client asks for
`v4.channel.k8s.io`. Both are binary WebSocket messages whose first byte names a channel: 0
stdin, 1 stdout, 2 stderr, 3 error (one Status, JSON, written last: success, or a failure whose
cause `ExitCode` carries the exit code), 4 terminal resize (JSON width and height). v5 adds the
close signal: a message `255, N` means channel N is done (kubectl sends it when its stdin ends).
aiohttp does the WebSocket framing.

What is refused is refused as a real server refuses it: before the upgrade, a Status (404 for
no such pod, 400 for a pod not yet scheduled or a container that is not in the pod); after
the upgrade, on the error channel, what a real API server relays from the kubelet and the
container runtime (a container that is not running, a binary the image lacks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from cockpit.rehearsal.containers import ExecFailed, Process
from cockpit.rehearsal.portforward import PROTOCOL as PORT_FORWARD
from cockpit.rehearsal.portforward import PortForward
from cockpit.rehearsal.store import BY_PLURAL, JSON, ApiError

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STREAMED = ("exec", "attach", "portforward")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


def choose_container(pod: JSON, name: str | None) -> JSON:
    """The container a request names, or the pod's only one; refused as the API server does."""
    containers = pod.get("spec", {}).get("containers") or []
    names = [c.get("name", "") for c in containers]
    pod_name = pod["metadata"]["name"]
    if name is None:
        if len(containers) != 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {pod_name}, choose one of: "
                f"[{' '.join(names)}]",
            )
        return dict(containers[0])
    for container in containers:
        if container.get("name") == name:
            return dict(container)
    raise ApiError(400, "BadRequest", f"container {name} is not valid for pod {pod_name}")


def _running(pod: JSON, name: str) -> bool:
    return any(
        cs.get("name") == name and "running" in (cs.get("state") or {})
        for cs in pod.get("status", {}).get("containerStatuses") or []
    )


def _exit_status(code: int) -> JSON:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: command terminated with exit "
        f"code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _internal_error(message: str) -> JSON:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


class Session:
    """One upgraded connection: its channels, and the stdin the client sends."""

    def __init__(self, ws: web.WebSocketResponse, tty: bool) -> None:
        self.ws = ws
        self.tty = tty
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()  # the client went away
        self.line = bytearray()  # what has been typed on the terminal since the last Enter

    async def send(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        if self.tty and channel in (STDOUT, STDERR):
            channel, data = STDOUT, data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await self.ws.send_bytes(bytes([channel]) + data)

    async def stdout(self, data: bytes) -> None:
        await self.send(STDOUT, data)

    async def stderr(self, data: bytes) -> None:
        await self.send(STDERR, data)

    async def read(self) -> None:
        """Demultiplex what the client sends until it closes: stdin, its end, resizes."""
        try:
            async for message in self.ws:
                if message.type != WSMsgType.BINARY or not message.data:
                    continue
                data: bytes = message.data
                if data[0] == CLOSE and len(data) == 2:
                    if data[1] == STDIN:
                        await self.stdin.put(None)
                    continue
                if data[0] == STDIN and len(data) > 1:
                    if self.tty:
                        await self._terminal(data[1:])
                    else:
                        await self.stdin.put(data[1:])
                # RESIZE: a terminal size; the rehearsal's processes draw nothing that depends on it
        finally:
            await self.stdin.put(None)
            self.closed.set()

    async def _terminal(self, typed: bytes) -> None:
        """A terminal's line discipline (canonical mode, echo): kubectl -t puts the local
        terminal in raw mode, so keystrokes arrive one by one and the remote side echoes them,
        edits the line, and hands the process whole lines."""
        for byte in typed:
            key = bytes([byte])
            if key in (b"\r", b"\n"):
                await self.stdout(b"\n")
                await self.stdin.put(bytes(self.line) + b"\n")
                self.line.clear()
            elif key in (b"\x7f", b"\x08"):
                if self.line:
                    self.line.pop()
                    await self.send(STDOUT, b"\x08 \x08")
            elif key == b"\x03":  # ^C: the line is dropped
                await self.stdout(b"^C\n")
                self.line.clear()
                await self.stdin.put(b"\n")
            elif key == b"\x04":  # ^D on an empty line: end of input
                if not self.line:
                    await self.stdin.put(None)
            elif byte >= 0x20 or key == b"\t":
                self.line.append(byte)
                await self.send(STDOUT, key)

    async def input(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.stdin.get()
            if chunk is None:
                await self.stdin.put(None)  # later readers see the end too
                return
            yield chunk


class Streams:
    """pods/exec and pods/attach."""

    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster

    async def serve(
        self, request: web.Request, namespace: str, name: str, subresource: str
    ) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                {"name": name, "group": "", "kind": "pods"},
            )
        store = self.cluster.store
        assert store is not None
        pod = store.get(BY_PLURAL[("", "pods")], namespace, name)
        if not pod.get("spec", {}).get("nodeName"):
            raise ApiError(400, "BadRequest", f"pod {name} does not have a host assigned")
        if subresource == "portforward":
            return await self._port_forward(request, pod)
        container = choose_container(pod, request.query.get("container"))
        command = request.query.getall("command", [])
        if subresource == "exec" and not command:
            raise ApiError(
                400, "BadRequest", "you must specify at least 1 command for the container"
            )
        stdin, stdout, stderr = (
            _flag(request, "stdin"),
            _flag(request, "stdout"),
            _flag(request, "stderr"),
        )
        tty = _flag(request, "tty")
        if not (stdin or stdout or stderr):
            raise ApiError(
                400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr"
            )
        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade != "websocket":
            if upgrade.startswith("spdy/"):
                raise ApiError(
                    400,
                    "BadRequest",
                    f"rehearsal: pods/{subresource} streams over WebSocket ({', '.join(PROTOCOLS)})"
                    "; SPDY/3.1 upgrades are not served",
                )
            raise ApiError(400, "BadRequest", "Upgrade request required")
        ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=2**20)
        ready = ws.can_prepare(request)
        if not ready.ok or ready.protocol is None:
            offered = request.headers.get("Sec-WebSocket-Protocol", "")
            raise ApiError(
                400,
                "BadRequest",
                f"requested protocol(s) are not supported: [{offered}]; supports "
                f"[{' '.join(PROTOCOLS)}]",
            )
        await ws.prepare(request)
        session = Session(ws, tty and stdout)
        task = asyncio.current_task()
        if task is not None:
            self.cluster.watch_tasks.add(task)
        reader = asyncio.create_task(session.read())
        try:
            # the kubelet's first message: an empty one on the lowest channel it writes
            await session.send(STDOUT if stdout else STDERR if stderr else ERROR, b"")
            try:
                status = await self._run(session, pod, container, subresource, command, stdin)
            except Exception as exc:  # noqa: BLE001 - a fault of the stand-in ends the stream with
                # an error kubectl prints, rather than a connection that hangs
                status = _internal_error(f"rehearsal: {type(exc).__name__}: {exc}")
            await session.send(ERROR, json.dumps(status).encode())
        except asyncio.CancelledError:
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            if task is not None:
                self.cluster.watch_tasks.discard(task)
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await ws.close()
        return ws

    async def _port_forward(self, request: web.Request, pod: JSON) -> web.StreamResponse:
        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade != "websocket":
            if upgrade.startswith("spdy/"):
                raise ApiError(
                    400,
                    "BadRequest",
                    f"rehearsal: pods/portforward is served as SPDY tunneled in WebSocket "
                    f"({PORT_FORWARD}, kubectl 1.31 and later); plain SPDY/3.1 upgrades are not "
                    "served",
                )
            raise ApiError(400, "BadRequest", "Upgrade request required")
        ws = web.WebSocketResponse(protocols=(PORT_FORWARD,), autoping=True, max_msg_size=2**20)
        ready = ws.can_prepare(request)
        if not ready.ok or ready.protocol is None:
            offered = request.headers.get("Sec-WebSocket-Protocol", "")
            raise ApiError(
                400,
                "BadRequest",
                f"requested protocol(s) are not supported: [{offered}]; supports [{PORT_FORWARD}]",
            )
        await ws.prepare(request)
        task = asyncio.current_task()
        if task is not None:
            self.cluster.watch_tasks.add(task)
        try:
            await PortForward(self.cluster, ws, pod).run()
        except (asyncio.CancelledError, ConnectionResetError):
            pass
        finally:
            if task is not None:
                self.cluster.watch_tasks.discard(task)
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await ws.close()
        return ws

    async def _run(
        self,
        session: Session,
        pod: JSON,
        container: JSON,
        subresource: str,
        command: list[str],
        stdin: bool,
    ) -> JSON:
        cname = container.get("name", "")
        if not _running(pod, cname):
            # a real API server relays the kubelet's refusal, which finds only running containers
            return _internal_error(f'unable to upgrade connection: container not found ("{cname}")')
        if subresource == "attach":
            await self._attach(session, pod, cname)
            return _exit_status(0)
        process = Process(
            pod,
            container,
            session.input() if stdin else None,
            session.stdout,
            session.stderr,
            tty=session.tty,
        )
        run = asyncio.create_task(process.run(command))
        gone = asyncio.create_task(session.closed.wait())
        try:
            await asyncio.wait({run, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not run.done():  # the client went away: the process is ended with it
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            return _exit_status(137)
        try:
            return _exit_status(run.result())
        except ExecFailed as exc:
            exec_id = secrets.token_hex(32)
            return _internal_error(
                "Internal error occurred: error executing command in container: failed to exec "
                f'in container: failed to start exec "{exec_id}": OCI runtime exec failed: exec '
                f"failed: unable to start container process: {exc}: unknown"
            )

    async def _attach(self, session: Session, pod: JSON, container: str) -> None:
        """The container's main process: what it writes from now on, until it ends or the client
        goes (its stdin, when asked for, is read and dropped: the process reads none)."""
        kubelet = self.cluster.kubelet
        entry = kubelet.log(pod, container)
        sent = len(entry.current)
        meta = pod["metadata"]
        pods = BY_PLURAL[("", "pods")]
        store = self.cluster.store
        assert store is not None
        stopped = self.cluster.stopped_event
        while not session.closed.is_set():
            current = kubelet.log(pod, container)
            if current is not entry or len(current.current) < sent:
                return  # the container restarted: this process has ended
            for line in current.current[sent:]:
                await session.stdout((line.split(" ", 1)[1] + "\n").encode())
            sent = len(current.current)
            if store.find(pods, meta["namespace"], meta["name"]) is None:
                return
            if stopped is not None and stopped.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.closed.wait(), 0.1)
