"""`kubectl port-forward` against the rehearsal cluster.

kubectl 1.31 and later open a WebSocket (`SPDY/3.1+portforward.k8s.io`) and run SPDY inside it,
as a real API server tunnels it to the kubelet. For each local connection kubectl opens two
SPDY streams carrying the headers `streamType` (`error` or `data`), `port` and `requestID`; the
server accepts both, connects the data stream to the port inside the pod, and writes on the
error stream why it could not, before closing both.

Inside a rehearsal pod, each `containerPort` its containers declare is served by a small HTTP
server that answers every request with 200 and a line naming the pod, the port and the request
(the pods run no real processes). Any other port refuses the connection, reported in the words
of the kubelet and containerd.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import h11
from aiohttp import WSMsgType, web

from cockpit.rehearsal import spdy
from cockpit.rehearsal.store import JSON

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster

PROTOCOL = "SPDY/3.1+portforward.k8s.io"


@dataclass
class Forward:
    """One forwarded connection: kubectl's pair of streams for one requestID."""

    port: int
    error: int = 0
    data: int = 0
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.SERVER))
    done: bool = False


def declared_ports(pod: JSON) -> set[int]:
    return {
        int(port["containerPort"])
        for container in pod.get("spec", {}).get("containers") or []
        for port in container.get("ports") or []
        if isinstance(port, dict) and str(port.get("containerPort", "")).isdigit()
    }


class PortForward:
    """One tunneled SPDY session for one pod."""

    def __init__(self, cluster: RehearsalCluster, ws: web.WebSocketResponse, pod: JSON) -> None:
        self.cluster = cluster
        self.ws = ws
        self.pod = pod
        self.reader = spdy.FrameReader()
        self.writer = spdy.FrameWriter()
        self.forwards: dict[str, Forward] = {}
        self.by_stream: dict[int, Forward] = {}
        self.sandbox = secrets.token_hex(32)  # what the kubelet names the pod by
        self.netns = f"/var/run/netns/cni-{uuid.uuid4()}"
        self.last_stream = 0

    async def send(self, frame: bytes) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                await self.ws.send_bytes(frame)

    async def run(self) -> None:
        try:
            await self._serve()
        except (KeyError, ValueError, TypeError, IndexError, h11.LocalProtocolError):
            # a fault of the stand-in, or a peer it cannot follow: the session ends plainly
            await self.send(self.writer.goaway(self.last_stream))

    async def _serve(self) -> None:
        async for message in self.ws:
            if message.type != WSMsgType.BINARY:
                continue
            try:
                frames = self.reader.feed(message.data)
            except spdy.SpdyError:
                await self.send(self.writer.goaway(self.last_stream))
                return
            for frame in frames:
                if not await self._frame(frame):
                    return

    async def _frame(self, frame: spdy.Frame) -> bool:
        if frame.type == spdy.SYN_STREAM:
            await self._open(frame)
        elif frame.type == 0:
            forward = self.by_stream.get(frame.stream_id)
            if forward is not None and frame.stream_id == forward.data:
                await self._data(forward, frame.data, frame.fin)
        elif frame.type == spdy.RST_STREAM:
            self.by_stream.pop(frame.stream_id, None)
        elif frame.type == spdy.PING:
            await self.send(self.writer.ping(frame.data))
        elif frame.type == spdy.GOAWAY:
            return False
        return True  # SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do

    async def _open(self, frame: spdy.Frame) -> None:
        self.last_stream = max(self.last_stream, frame.stream_id)
        headers = frame.headers
        kind, request_id = headers.get("streamtype", ""), headers.get("requestid", "")
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            await self.send(self.writer.rst_stream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        if kind not in ("error", "data"):
            await self.send(self.writer.rst_stream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        await self.send(self.writer.syn_reply(frame.stream_id))
        forward = self.forwards.setdefault(request_id, Forward(port))
        setattr(forward, kind, frame.stream_id)
        self.by_stream[frame.stream_id] = forward
        if forward.error and forward.data and port not in declared_ports(self.pod):
            refused = (
                f"dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 "
                f"[::1]:{port}: connect: connection refused "
            )
            message = (
                f"error forwarding port {port} to pod {self.sandbox}, uid : failed to execute "
                f'portforward in network namespace "{self.netns}": failed to connect to '
                f'localhost:{port} inside namespace "{self.sandbox}", IPv4: {refused}'
            )
            await self.send(self.writer.data(forward.error, message.encode()))
            await self._finish(forward)

    async def _data(self, forward: Forward, data: bytes, fin: bool) -> None:
        """What the pod's HTTP server makes of the bytes of a forwarded connection."""
        if forward.done:
            return
        http = forward.http
        if data:
            http.receive_data(data)
        if fin:
            http.receive_data(b"")
        try:
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Request):
                    await self._answer(forward, event)
                    return
                if isinstance(event, h11.ConnectionClosed):
                    await self._finish(forward)
                    return
        except h11.RemoteProtocolError:
            await self._finish(forward)  # not HTTP: the server hangs up, as a real one would

    async def _answer(self, forward: Forward, request: h11.Request) -> None:
        meta = self.pod["metadata"]
        body = (
            f"rehearsal pod {meta['name']} answered {request.method.decode()} "
            f"{request.target.decode(errors='replace')} on port {forward.port}\n"
        ).encode()
        http = forward.http
        head = http.send(
            h11.Response(
                status_code=200,
                headers=[
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ],
            )
        )
        out = (head or b"") + (http.send(h11.Data(data=body)) or b"")
        out += http.send(h11.EndOfMessage()) or b""
        await self.send(self.writer.data(forward.data, out))
        await self._finish(forward)

    async def _finish(self, forward: Forward) -> None:
        """The connection inside the pod is over: both streams are closed, as the kubelet does."""
        if forward.done:
            return
        forward.done = True
        await self.send(self.writer.data(forward.data, b"", fin=True))
        await self.send(self.writer.data(forward.error, b"", fin=True))
