"""A TCP proxy on 127.0.0.1 in front of a real server, with a switch for how it misbehaves.

modes:
    pass     relay bytes both ways (the server as it is)
    down     nothing listens on the port: connections are refused
    stall    connections are accepted and the request read, but nothing ever comes back
    http500  every request gets "500 Internal Server Error"
    garbage  every request gets "200 OK", application/json, and bytes that are not JSON
    huge     every request gets "200 OK" and a 64 MB JSON body

Switching mode also cuts the connections already open, so kept-alive and streaming clients
meet the new behaviour at once rather than on their next connection.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

HUGE = 64 * 2**20


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode = "pass"
        self.port = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._listen()

    # --- control ---------------------------------------------------------------------------------

    def set(self, mode: str) -> None:
        assert mode in ("pass", "down", "stall", "http500", "garbage", "huge"), mode
        previous, self.mode = self.mode, mode
        self._cut()
        if mode == "down":
            self._stop_listening()
        elif previous == "down" and mode != "down":
            self._listen()

    def close(self) -> None:
        self.mode = "down"
        self._stop_listening()
        self._cut()

    def _stop_listening(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
            self._listener.close()
            self._listener = None

    def _cut(self) -> None:
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    # --- serving ---------------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client, self.mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        try:
            if mode == "pass":
                self._relay(client)
            elif mode == "stall":
                while client.recv(65536):
                    pass
            else:
                self._read_request(client)
                client.sendall(self._answer(mode, client))
        except OSError:
            pass
        finally:
            if mode != "pass":
                with contextlib.suppress(OSError):
                    client.close()

    def _answer(self, mode: str, client: socket.socket) -> bytes:
        if mode == "http500":
            body = b"internal server error\n"
            return (
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
        if mode == "garbage":
            body = b"\x00\x9f<html>not json{" + os.urandom(64)
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
        # huge: a valid JSON array, sent in pieces so the proxy itself stays small
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n[" % HUGE
        )
        client.sendall(head)
        piece = b"0," * (2**20 // 2)
        sent = 1
        while sent + len(piece) < HUGE - 1:
            client.sendall(piece)
            sent += len(piece)
        return b"0" * (HUGE - 1 - sent) + b"]"

    @staticmethod
    def _read_request(client: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return
            data += chunk

    def _relay(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=10)
        upstream.settimeout(None)
        self._track(upstream)

        def pump(source: socket.socket, target: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    target.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (source, target):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)
