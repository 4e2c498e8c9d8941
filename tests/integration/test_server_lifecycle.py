"""The server as an operator runs it: default start, banner, restart, clean stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.raw import send
from tests.support.server import LiteioServer, free_port


def test_default_start_prints_endpoint_credentials_and_layout(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITEIO_")}
    env["LITEIO_ADDRESS"] = f"127.0.0.1:{port}"  # the default port may be taken on a shared box
    proc = subprocess.Popen([sys.executable, "-m", "liteio", "server"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("  stop"):
                break
        banner = "".join(lines)
        assert f"serving S3 at http://127.0.0.1:{port}" in banner
        assert "access key  liteioadmin" in banner and "secret key  " in banner
        assert "EC 2+2" in banner
        for i in range(1, 5):
            assert (tmp_path / "liteio-data" / f"drive{i}" / ".minio.sys" / "format.json").exists()
        creds = tmp_path / "liteio-data" / "drive1" / ".minio.sys" / "liteio-credentials.json"
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert "liteio stopped" in proc.stdout.read()


def test_restart_keeps_data_and_credentials(tmp_path: Path) -> None:
    server = LiteioServer(tmp_path)
    with server:
        assert send(server, "PUT", "/keep").status == 200
        assert send(server, "PUT", "/keep/obj", b"durable").status == 200
    assert server.stop() is None
    with server:
        reply = send(server, "GET", "/keep/obj")
        assert reply.status == 200 and reply.body == b"durable"


def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    server = LiteioServer(tmp_path)
    server.start()
    assert send(server, "PUT", "/bucket-one").status == 200
    assert server.stop() == 0
    assert "liteio stopped" in server.log()


def test_bad_layout_refuses_to_start(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "liteio", "server", "--address",
                          f"127.0.0.1:{free_port()}", "--parity", "3", *(str(tmp_path / f"d{i}") for i in range(4))],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "cannot start" in out.stderr and "parity 3" in out.stderr
