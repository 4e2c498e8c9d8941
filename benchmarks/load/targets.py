"""The servers under load: liteio, a static nginx ceiling, moto as a Python peer.

Each runs as our own child in its own session (Ctrl-C reaches the harness, which
then stops the servers in order), listens on a free 127.0.0.1 port, keeps its
files in the run's temp dir and is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from benchmarks.load.client import Connection, ProtocolError
from benchmarks.load.generator import Endpoint, RequestBuilder

ACCESS_KEY = "benchaccesskey"
SECRET_KEY = "bench-secret-key-0123456789"
REGION = "us-east-1"
START_TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (all threads)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _cpu_s(current)
        todo += _children(current)
    return total


def tree_rss_kib(pid: int) -> int:
    """RSS of a process and its descendants (nginx: master plus workers)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_kib(current)
        todo += _children(current)
    return total


class Server:
    """A server subprocess on a free loopback port; ``start`` returns seconds to first answer."""

    name = "server"
    signed = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / f"{self.name}.log"
        self._log: BinaryIO | None = None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.port, self.signed, ACCESS_KEY, SECRET_KEY, REGION)

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> float:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        began = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.environment(), cwd=self.root, start_new_session=True)
        probe = RequestBuilder(self.endpoint).head("GET", "/")
        deadline = began + START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            if self._answers(probe):
                return time.perf_counter() - began
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not answer in {START_TIMEOUT}s:\n{self.log_tail()}")

    def _answers(self, head: bytes) -> bool:
        conn = Connection(self.port, timeout=2.0)
        try:
            conn.connect()
            conn.send(head, None)
            status, _, _ = conn.read_response(False)
            return 200 <= status < 300
        except (OSError, ProtocolError):
            return False
        finally:
            conn.close()

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """One request outside the timed phases (setup): status and body."""
        conn = Connection(self.port)
        try:
            conn.connect()
            rb = RequestBuilder(self.endpoint)
            conn.send(rb.head(method, path, length=len(body) if method == "PUT" else None),
                      body or None)
            status, _, data = conn.read_response(method == "HEAD", keep=True)
            return status, data
        finally:
            conn.close()

    def create_bucket(self, bucket: str) -> None:
        status, data = self.request("PUT", f"/{bucket}")
        if status != 200:
            raise RuntimeError(f"{self.name}: create bucket {bucket}: {status} {data[:300]!r}")

    def rss_kib(self) -> int:
        return tree_rss_kib(self.proc.pid) if self.proc is not None else 0

    def cpu_s(self) -> float:
        return tree_cpu_s(self.proc.pid) if self.proc is not None else 0.0

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    stop_signal = signal.SIGTERM

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class LiteioServer(Server):
    """``liteio server`` on four drive folders (EC 2+2, as ``make run``), default settings."""

    name = "liteio"

    def __init__(self, root: Path, drives: int = 4, extra_args: list[str] | None = None) -> None:
        super().__init__(root)
        self.drives = [root / "liteio-drives" / f"drive{i}" for i in range(1, drives + 1)]
        self.extra_args = extra_args or []

    def command(self) -> list[str]:
        return [sys.executable, "-m", "liteio", "server", "--address", f"127.0.0.1:{self.port}",
                *map(str, self.drives), *self.extra_args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "LITEIO_ACCESS_KEY": ACCESS_KEY, "LITEIO_SECRET_KEY": SECRET_KEY,
                "LITEIO_REGION": REGION}


class MotoServer(Server):
    """moto's own server (Werkzeug, threaded): the Python S3 peer, objects in memory."""

    name = "moto"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION, "MOTO_CALL_RESET_API": "false"}

    @staticmethod
    def missing() -> str | None:
        """Why moto's server cannot run here, or None."""
        try:
            import flask  # noqa: F401 - moto.server needs moto[server]
            import moto.server  # noqa: F401
        except ImportError as exc:
            return f"moto[server] is not installed ({exc})"
        return None


NGINX_CONF = """\
{user}worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    default_type application/octet-stream;
    client_max_body_size 0;
    client_body_temp_path {root}/body-temp;
    proxy_temp_path {root}/proxy-temp;
    fastcgi_temp_path {root}/fastcgi-temp;
    uwsgi_temp_path {root}/uwsgi-temp;
    scgi_temp_path {root}/scgi-temp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }}
    }}
}}
"""


class NginxServer(Server):
    """Static files by ``sendfile``; PUT and DELETE by the dav module (no fsync): the ceiling."""

    name = "nginx"
    signed = False
    stop_signal = signal.SIGQUIT  # graceful: the master stops its workers

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.dir = root / "nginx"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
            None)

    @classmethod
    def has_dav(cls) -> bool:
        binary = cls.binary()
        if binary is None:
            return False
        out = subprocess.run([binary, "-V"], check=False, capture_output=True, text=True)
        return "--with-http_dav_module" in out.stderr + out.stdout

    def command(self) -> list[str]:
        binary = self.binary()
        assert binary is not None
        (self.dir / "www").mkdir(parents=True, exist_ok=True)
        (self.dir / "www" / "index.html").write_text("ok\n")  # the start-up probe's answer
        user = "user root root;\n" if os.geteuid() == 0 else ""
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, root=self.dir, port=self.port))
        return [binary, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")]

    def create_bucket(self, bucket: str) -> None:
        (self.dir / "www" / bucket).mkdir(parents=True, exist_ok=True)
