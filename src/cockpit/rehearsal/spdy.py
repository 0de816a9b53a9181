"""SPDY/3.1 framing, the part a port-forward server needs.

kubectl port-forward speaks SPDY/3.1 (`portforward.k8s.io`), tunneled in WebSocket binary
messages since 1.31 (`SPDY/3.1+portforward.k8s.io`). No maintained Python library implements
SPDY, and only a few frames matter here: the client opens streams (SYN_STREAM, with its
headers), the server accepts them (SYN_REPLY), both sides send DATA (FIN ends a direction),
RST_STREAM drops a stream, PING is echoed, GOAWAY ends the session. SETTINGS, WINDOW_UPDATE and
HEADERS are read and ignored, as kubectl's library ignores them.

Frame layout (SPDY/3 draft, section 2.2): a control frame starts with bit 1, the version (3)
and a 16-bit type, then 8 bits of flags and a 24-bit length; a data frame starts with bit 0 and
a 31-bit stream id, then flags and length. Header blocks are zlib streams, one per direction for
the whole session, primed with the protocol's fixed dictionary (section 2.6.10.1).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
)
FLAG_FIN = 0x01
# RST_STREAM status codes (section 2.6.3)
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL = 1, 2, 3, 5

# The header compression dictionary of SPDY/3 (draft 3, section 2.6.10.1): length-prefixed
# header names and values, then a run of common status lines, dates and media types.
_NAMES = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status"
)
_WORDS = [
    *_NAMES.split(" "),
    *("200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"),
]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class SpdyError(Exception):
    """The peer sent something that is not SPDY/3: the session ends."""


@dataclass
class Frame:
    """One frame: a control frame has a type; a data frame has type 0 and its payload."""

    type: int
    flags: int
    stream_id: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    status: int = 0  # RST_STREAM and GOAWAY

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class FrameReader:
    """Frames out of a byte stream that arrives in pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head = bytes(self._buffer[:8])
            body = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            frames.append(self._frame(head, body))
        return frames

    def _frame(self, head: bytes, body: bytes) -> Frame:
        flags = head[4]
        if not head[0] & 0x80:
            return Frame(0, flags, int.from_bytes(head[:4], "big") & 0x7FFFFFFF, data=body)
        version = int.from_bytes(head[:2], "big") & 0x7FFF
        kind = int.from_bytes(head[2:4], "big")
        if version != VERSION:
            raise SpdyError(f"SPDY version {version}, expected {VERSION}")
        stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF if len(body) >= 4 else 0
        if kind == SYN_STREAM:
            return Frame(kind, flags, stream_id, headers=self._headers(body[10:]))
        if kind in (SYN_REPLY, HEADERS):
            return Frame(kind, flags, stream_id, headers=self._headers(body[4:]))
        if kind in (RST_STREAM, GOAWAY):
            status = int.from_bytes(body[4:8], "big") if len(body) >= 8 else 0
            return Frame(kind, flags, stream_id, status=status)
        return Frame(kind, flags, stream_id, data=body)  # PING (its id), SETTINGS, WINDOW_UPDATE

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise SpdyError(f"header block: {exc}") from None
        count = int.from_bytes(raw[:4], "big")
        at = 4
        headers: dict[str, str] = {}
        for _ in range(count):
            size = int.from_bytes(raw[at : at + 4], "big")
            name = raw[at + 4 : at + 4 + size].decode("latin-1")
            at += 4 + size
            size = int.from_bytes(raw[at : at + 4], "big")
            value = raw[at + 4 : at + 4 + size].decode("latin-1")
            at += 4 + size
            headers[name.lower()] = value.split("\0")[0]  # several values are NUL-separated
        return headers


class FrameWriter:
    """The frames a server sends, header blocks compressed on one zlib stream."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def _control(self, kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            for part in (name.lower(), value):
                raw += struct.pack(">I", len(part.encode())) + part.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        block = self._block(headers or {})
        return self._control(SYN_REPLY, 0, struct.pack(">I", stream_id) + block)

    def data(self, stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
        flags = FLAG_FIN if fin else 0
        return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: bytes) -> bytes:
        return self._control(PING, 0, ping_id[:4])

    def goaway(self, last_stream: int) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream, 0))
