"""Real servers for the check tests, started on 127.0.0.1 once per test session.

PostgreSQL, Redis and Prometheus come from Debian's packages (`make test` installs them when
run as root); HTTP(S), DNS, SMTP and "stalled" endpoints are small in-process servers. Every
server listens on a free loopback port and is stopped when the session ends.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(binary: str) -> str:
    """The path of a server binary, or a failure (in CI) / skip (elsewhere) saying what to do."""
    found = shutil.which(binary)
    if found:
        return found
    message = f"{binary} is not installed: run `make test` as root, or apt-get install it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# --- stalled endpoints --------------------------------------------------------------------------


class Stall:
    """A port that accepts TCP connections (the kernel does) and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()


class Blackhole:
    """A port whose connects never complete: a full accept queue makes the kernel drop SYNs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = int(self.sock.getsockname()[1])
        self.fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect(("127.0.0.1", self.port))
            self.fillers.append(filler)
        time.sleep(0.1)

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()


# --- a SOCKS5 proxy ----------------------------------------------------------------------------


class Socks5Proxy:
    """A SOCKS5 relay on 127.0.0.1 (RFC 1928, no authentication, CONNECT only), as a bastion's
    `ssh -D` gives. Records the host and port of every CONNECT, so a test can tell that the
    traffic really went through it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.connects: list[tuple[str, int]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ConnectionError), conn:
            _version, methods = self._read(conn, 2)
            self._read(conn, methods)
            conn.sendall(b"\x05\x00")  # no authentication
            _version, command, _reserved, kind = self._read(conn, 4)
            if kind == 1:
                host = socket.inet_ntoa(self._read(conn, 4))
            elif kind == 3:
                host = self._read(conn, self._read(conn, 1)[0]).decode("idna")
            else:
                conn.sendall(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
                return
            port = int.from_bytes(self._read(conn, 2), "big")
            if command != 1:
                conn.sendall(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
                return
            self.connects.append((host, port))
            upstream = socket.create_connection((host, port), timeout=10)
            upstream.settimeout(None)
            conn.sendall(b"\x05\x00\x00\x01" + bytes(6))
            threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True).start()
            self._pipe(conn, upstream)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


# --- certificates -------------------------------------------------------------------------------


@dataclass
class Pki:
    ca_file: Path
    good: tuple[Path, Path]  # cert, key for localhost / 127.0.0.1, valid 90 days
    expiring: tuple[Path, Path]  # same names, expires in 3 days
    wrong_name: tuple[Path, Path]  # for wrong.example only


def make_pki(folder: Path) -> Pki:
    from cockpit.rehearsal.pki import CertificateAuthority

    ca = CertificateAuthority(folder, "cockpit test CA")

    def pair(stem: str, names: list[str], days: float, ip: str | None) -> tuple[Path, Path]:
        leaf = ca.issue(stem, names, days=days, ip=ip)
        return leaf.cert, leaf.key

    return Pki(
        ca_file=ca.ca_file,
        good=pair("good", ["localhost"], 90, "127.0.0.1"),
        expiring=pair("expiring", ["localhost"], 3, "127.0.0.1"),
        wrong_name=pair("wrong", ["wrong.example"], 90, None),
    )


# --- HTTP(S) ------------------------------------------------------------------------------------


class AppHandler(http.server.BaseHTTPRequestHandler):
    """A pretend web application with the endpoints the http checks look at."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(
                200,
                json.dumps({"status": "ok", "checks": {"db": "up"}}).encode(),
                {"Content-Type": "application/json"},
            )
        elif self.path == "/health-degraded":
            self._send(
                200,
                json.dumps({"status": "degraded"}).encode(),
                {"Content-Type": "application/json"},
            )
        elif self.path == "/login":
            self._send(
                200,
                b"<html><h1>Sign in</h1></html>",
                {
                    "Content-Type": "text/html",
                    "Strict-Transport-Security": "max-age=63072000",
                    "Content-Security-Policy": "default-src 'self'",
                    "X-Frame-Options": "DENY",
                },
            )
        elif self.path == "/bare":
            self._send(200, b"<html>no security headers</html>", {"Content-Type": "text/html"})
        elif self.path == "/to-https":
            self._send(301, b"", {"Location": "https://localhost/"})
        elif self.path == "/to-http":
            self._send(302, b"", {"Location": "http://localhost/elsewhere"})
        elif self.path == "/down":
            self._send(503, b"maintenance")
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, b"late")
        elif self.path == "/auth":
            ok = self.headers.get("Authorization") == "Bearer " + os.environ.get(
                "TEST_HTTP_TOKEN", ""
            )
            self._send(200 if ok else 401, b"")
        else:
            self._send(404, b"not found")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class HttpServers:
    http_port: int
    https_port: int
    expiring_port: int
    wrong_name_port: int
    pki: Pki


@contextlib.contextmanager
def http_servers(folder: Path) -> Iterator[HttpServers]:
    pki = make_pki(folder)
    servers: list[_Server] = []

    def start(cert: tuple[Path, Path] | None) -> int:
        server = _Server(("127.0.0.1", 0), AppHandler)
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    try:
        yield HttpServers(
            http_port=start(None),
            https_port=start(pki.good),
            expiring_port=start(pki.expiring),
            wrong_name_port=start(pki.wrong_name),
            pki=pki,
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


# --- DNS ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def dns_server(records: dict[str, str]) -> Iterator[int]:
    """A tiny authoritative UDP server: A records from `records`, NXDOMAIN otherwise."""
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port = int(sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            name = query.question[0].name.to_text()
            if name in records:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", records[name]))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(2)
        sock.close()


# --- PostgreSQL, Redis, Prometheus --------------------------------------------------------------


def _as_postgres_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root but there is no postgres user: apt-get install postgresql")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class Postgres:
    port: int
    password: str

    @property
    def dsn(self) -> str:
        return (
            f"postgresql://cockpit:{self.password}@127.0.0.1:{self.port}/postgres?connect_timeout=5"
        )


def _wait_accepting(bin_dir: Path, port: int, proc: subprocess.Popen[bytes]) -> None:
    """PostgreSQL listens before it accepts: until recovery ends a connection is refused with
    "the database system is starting up" (on a loaded machine, long enough for a test to see
    it). pg_isready exits 0 once it accepts."""
    deadline = time.monotonic() + 30
    command = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "2"]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {proc.returncode}")
        if subprocess.run(command, check=False, capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres on 127.0.0.1:{port} does not accept connections after 30 s")


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    if not PG_BIN_CANDIDATES:
        need("initdb")
    bin_dir = PG_BIN_CANDIDATES[0]
    prefix = _as_postgres_user()
    # pytest's own temp folders are private to root; the postgres user needs its own
    folder = Path(tempfile.mkdtemp(prefix="cockpit-test-pg-"))
    data = folder / "pgdata"
    password = "pg-Secret-4242-canary"
    pwfile = folder / "pw"
    pwfile.write_text(password)
    if prefix:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "cockpit",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            *prefix,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={folder}",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        _wait_accepting(bin_dir, port, proc)
        yield Postgres(port, password)
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Redis:
    port: int
    password: str


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    binary = need("redis-server")
    port = free_port()
    password = "redis-Secret-7777-canary"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            password,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield Redis(port, password)
    finally:
        proc.terminate()
        proc.wait(20)


@contextlib.contextmanager
def prometheus_server(
    folder: Path, openmetrics: str = "", *, web_config: str | None = None, rules: str = ""
) -> Iterator[int]:
    """Prometheus with `openmetrics` backfilled by promtool (samples carry timestamps), or
    empty. `web_config`: Prometheus's own --web.config.file (TLS, client certificates, basic
    auth); readiness is then seen as the port accepting connections."""
    prometheus = need("prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "tsdb"
    if openmetrics:
        source = folder / "backfill.om"
        source.write_text(openmetrics)
        subprocess.run(
            [need("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
            check=True,
            capture_output=True,
        )
    config = folder / "prometheus.yml"
    if rules:  # alerting rules, evaluated every second
        (folder / "rules.yml").write_text(rules)
        config.write_text(
            "global:\n  scrape_interval: 1h\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {folder / 'rules.yml'}\n"
        )
    else:
        config.write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    extra = []
    if web_config is not None:
        (folder / "web.yml").write_text(web_config)
        extra.append(f"--web.config.file={folder / 'web.yml'}")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        import urllib.request

        while True:
            if proc.poll() is not None:
                raise RuntimeError("prometheus exited")
            if web_config is not None:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    time.sleep(0.5)  # the listener is up; TSDB opening an empty folder is quick
                    break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus not ready after 60 s")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


# --- Bugsink ------------------------------------------------------------------------------------


@dataclass
class Bugsink:
    url: str
    token: str
    project: str
    dsn: str


def bugsink_bin() -> Path:
    """Bugsink lives in a venv of its own (its pins clash with the kubernetes client's)."""
    here = Path(__file__).resolve().parents[1] / ".venv-bugsink" / "bin"
    if (here / "bugsink-manage").exists():
        return here
    message = "Bugsink is not installed: `make test` creates .venv-bugsink"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError


@contextlib.contextmanager
def bugsink_server(folder: Path) -> Iterator[Bugsink]:
    import httpx

    bin_dir = bugsink_bin()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bugsink_conf", "PYTHONPATH": str(folder)}
    subprocess.run(
        [
            str(bin_dir / "bugsink-create-conf"),
            "--template=local",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    # Bugsink keeps events waiting for digestion in /tmp/bugsink/ingestion and snappea its
    # wake-up files in /tmp/snappea.wakeup unless told otherwise: shared by every run on the
    # machine. This run's live in its own folder (and TMPDIR sends anything else there too).
    (folder / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(folder / "tmp")
    with (folder / "bugsink_conf.py").open("a", encoding="utf-8") as conf:
        conf.write(
            f"\nBUGSINK['INGEST_STORE_BASE_DIR'] = {str(folder / 'ingestion')!r}\n"
            f"SNAPPEA['WAKEUP_CALLS_DIR'] = {str(folder / 'snappea-wakeup')!r}\n"
        )
    manage = str(bin_dir / "bugsink-manage")
    for args in (["migrate", "snappea", "--database=snappea"], ["migrate"]):
        subprocess.run([manage, *args], cwd=folder, env=env, check=True, capture_output=True)
    token = subprocess.run(
        [manage, "create_auth_token"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("bugsink exited")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("bugsink not ready after 60 s")
            time.sleep(0.2)
        api = httpx.Client(
            base_url=f"{url}/api/canonical/0",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        team = api.post("/teams/", json={"name": "shop"}).json()["id"]
        project = api.post(
            "/projects/", json={"name": "servicedesk", "team": team, "visibility": "team_members"}
        ).json()["id"]
        dsn = api.get(f"/projects/{project}/").json()["dsn"]
        api.close()
        yield Bugsink(url=url, token=token, project=str(project), dsn=dsn)
    finally:
        proc.terminate()
        proc.wait(20)
