"""Two worker processes behind one port behave as one server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.raw import send
from tests.support.server import LiteioServer

VERSIONING_ON = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"<Status>Enabled</Status></VersioningConfiguration>")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteioServer]:
    root: Path = tmp_path_factory.mktemp("workers")
    with LiteioServer(root, extra_args=["--workers", "2"]) as running:
        yield running


def test_both_workers_serve(two_workers: LiteioServer) -> None:
    assert "workers     2 process(es)" in two_workers.log()
    # Every request opens its own connection, so the kernel spreads them over both.
    assert send(two_workers, "PUT", "/spread").status == 200
    for i in range(20):
        assert send(two_workers, "PUT", f"/spread/k{i}", f"v{i}".encode()).status == 200
    for i in range(20):
        assert send(two_workers, "GET", f"/spread/k{i}").body == f"v{i}".encode()


def test_bucket_settings_reach_every_worker_at_once(two_workers: LiteioServer) -> None:
    assert send(two_workers, "PUT", "/versioned").status == 200
    assert send(two_workers, "PUT", "/versioned?versioning", VERSIONING_ON).status == 200
    for i in range(20):
        reply = send(two_workers, "PUT", "/versioned/obj", f"body {i}".encode())
        assert reply.status == 200
        assert reply.headers.get("x-amz-version-id", "null") != "null", i


def test_concurrent_writers_lose_no_version(two_workers: LiteioServer) -> None:
    """Without locks shared by the workers, concurrent commits would overwrite each
    other's xl.meta and versions would vanish."""
    assert send(two_workers, "PUT", "/race").status == 200
    assert send(two_workers, "PUT", "/race?versioning", VERSIONING_ON).status == 200
    bodies = [os.urandom(3000) + f"writer {i}".encode() for i in range(48)]

    def put(body: bytes) -> int:
        return send(two_workers, "PUT", "/race/hot", body).status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, bodies)) == {200}
    listing = send(two_workers, "GET", "/race?versions").body
    assert listing.count(b"<Version>") == len(bodies)
    latest = send(two_workers, "GET", "/race/hot").body
    assert hashlib.md5(latest).digest() in {hashlib.md5(b).digest() for b in bodies}
