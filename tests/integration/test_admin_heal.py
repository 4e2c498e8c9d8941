"""The admin API and ``liteio admin`` against a real server: heal now, heal status,
healing in the background (MRF), several workers, and who may ask."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.raw import send, signed_headers
from tests.support.server import ACCESS_KEY, REGION, SECRET_KEY, LiteioServer

BIG = 300_000  # EC 2+2: 150,000-byte shards, above the inline limit: part files
SMALL = 1_000  # inline in xl.meta
STATUS = "/_liteio/admin/v1/heal/status"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteioServer]:
    """One worker, no scanner: only what a test does heals anything."""
    root: Path = tmp_path_factory.mktemp("admin")
    with LiteioServer(root, extra_args=["--workers", "1"],
                      env={"LITEIO_HEAL_SCAN": "off"}) as running:
        yield running


def admin(server: LiteioServer, *args: str, secret: str = SECRET_KEY,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LITEIO_", "AWS_"))}
    env.update(LITEIO_ENDPOINT=server.endpoint, AWS_ACCESS_KEY_ID=ACCESS_KEY,
               AWS_SECRET_ACCESS_KEY=secret, AWS_REGION=REGION)
    return subprocess.run([sys.executable, "-m", "liteio", "admin", *args], env=env, check=False,
                          capture_output=True, text=True, timeout=timeout)


def heal_json(server: LiteioServer, *args: str) -> tuple[int, list[dict[str, Any]]]:
    done = admin(server, "heal", "--json", *args)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines and lines[-1]["type"] == "summary", done.stdout + done.stderr
    return done.returncode, lines


def objects(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["key"]: line for line in lines if line["type"] == "object"}


def status(server: LiteioServer) -> dict[str, Any]:
    reply = send(server, "GET", STATUS)
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    return json.loads(reply.body)


def put_objects(server: LiteioServer, bucket: str, bodies: dict[str, bytes]) -> None:
    assert send(server, "PUT", f"/{bucket}").status == 200

    def put(item: tuple[str, bytes]) -> int:
        return send(server, "PUT", f"/{bucket}/{item[0]}", item[1]).status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, bodies.items())) == {200}


def obj_dir(server: LiteioServer, drive: int, bucket: str, key: str) -> Path:
    return server.drive_paths[drive] / bucket / key


def part_file(server: LiteioServer, drive: int, bucket: str, key: str) -> Path:
    found = list(obj_dir(server, drive, bucket, key).glob("*/part.1"))
    assert len(found) == 1, found
    return found[0]


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- heal now -------------------------------------------------------------------------


def test_heal_repairs_what_was_damaged_and_says_so(server: LiteioServer) -> None:
    bucket = "damaged"
    bodies = {"big-a": os.urandom(BIG), "big-b": os.urandom(BIG), "small-c": os.urandom(SMALL),
              "big-d": os.urandom(BIG), "small-e": os.urandom(SMALL)}
    put_objects(server, bucket, bodies)
    lost = [part_file(server, 0, bucket, "big-a"), part_file(server, 1, bucket, "big-b"),
            part_file(server, 2, bucket, "big-b"), obj_dir(server, 3, bucket, "small-c") / "xl.meta"]
    for path in lost:
        path.unlink()

    # A dry run reports the damage and changes nothing.
    code, lines = heal_json(server, bucket, "--dry-run")
    assert code == 0
    summary = lines[-1]
    assert summary["dry_run"] is True and summary["deep"] is False
    assert (summary["scanned"], summary["damaged"], summary["healed"], summary["failed"]) == (
        6, 3, 0, 0)  # five objects and the bucket's settings
    found = objects(lines)
    assert {k: (v["state"], v["damaged_drives"]) for k, v in found.items()} == {
        "big-a": ("damaged", [0]), "big-b": ("damaged", [1, 2]), "small-c": ("damaged", [3])}
    assert not any(path.exists() for path in lost)

    # The real thing.
    code, lines = heal_json(server, bucket)
    assert code == 0
    summary = lines[-1]
    assert (summary["scanned"], summary["healed"], summary["damaged"], summary["failed"],
            summary["unrecoverable"]) == (6, 3, 0, 0, 0)
    healed = objects(lines)
    assert {k: (v["state"], v["damaged_drives"]) for k, v in healed.items()} == {
        "big-a": ("healed", [0]), "big-b": ("healed", [1, 2]), "small-c": ("healed", [3])}
    assert healed["big-a"]["bytes_rebuilt"] > 0 and healed["big-b"]["bytes_rebuilt"] > 0
    assert summary["bytes_rebuilt"] == sum(v["bytes_rebuilt"] for v in healed.values())
    assert all(path.exists() for path in lost[:3])
    assert (obj_dir(server, 3, bucket, "small-c") / "xl.meta").exists()
    for key, body in bodies.items():
        assert send(server, "GET", f"/{bucket}/{key}").body == body

    # Nothing left to do, and --verbose lists every object.
    code, lines = heal_json(server, bucket, "--verbose")
    assert code == 0
    assert (lines[-1]["healed"], lines[-1]["damaged"], lines[-1]["scanned"]) == (0, 0, 6)
    assert {(v["bucket"], k): v["state"] for k, v in objects(lines).items()} == dict.fromkeys(
        [(bucket, k) for k in bodies] + [(".minio.sys", f"buckets/{bucket}/.metadata.bin")], "ok")


def test_human_output_and_whole_store_heal(server: LiteioServer) -> None:
    bucket = "human"
    put_objects(server, bucket, {"one": os.urandom(BIG), "two": os.urandom(SMALL)})
    part_file(server, 1, bucket, "one").unlink()
    done = admin(server, "heal")  # every bucket
    assert done.returncode == 0, done.stderr
    assert "healed        human/one  drives 1  rebuilt" in done.stdout
    assert "heal of every bucket" in done.stdout
    assert "objects scanned" in done.stdout and "bytes rebuilt" in done.stdout
    assert part_file(server, 1, bucket, "one").exists()
    prefixed = admin(server, "heal", f"{bucket}/tw", "--verbose", "--deep")
    assert prefixed.returncode == 0
    assert "ok            human/two" in prefixed.stdout and "human/one" not in prefixed.stdout
    assert "heal of human/tw (deep)" in prefixed.stdout


def test_unrecoverable_objects_are_named_and_exit_3(server: LiteioServer) -> None:
    bucket = "lost-data"
    put_objects(server, bucket, {"gone": os.urandom(BIG), "fine": os.urandom(BIG)})
    for drive in (0, 1, 2):  # EC 2+2: one shard of four left
        part_file(server, drive, bucket, "gone").unlink()
    code, lines = heal_json(server, bucket)
    assert code == 3
    assert objects(lines)["gone"]["state"] == "unrecoverable"
    assert objects(lines)["gone"]["unrecoverable_versions"]
    assert lines[-1]["unrecoverable"] == 1
    done = admin(server, "heal", bucket)
    assert done.returncode == 3
    assert "unrecoverable           1: lost-data/gone" in done.stdout


def test_unknown_bucket(server: LiteioServer) -> None:
    done = admin(server, "heal", "no-such-bucket")
    assert done.returncode == 1
    assert "NoSuchBucket" in done.stderr and "Traceback" not in done.stderr
    reply = send(server, "POST", "/_liteio/admin/v1/heal?bucket=no-such-bucket")
    assert reply.status == 404 and reply.code == "NoSuchBucket"
    reply = send(server, "POST", "/_liteio/admin/v1/heal?prefix=x")
    assert reply.status == 400 and reply.code == "InvalidArgument"
    reply = send(server, "POST", "/_liteio/admin/v1/heal?bucket=Bad_Name")
    assert reply.status == 400 and reply.code == "InvalidBucketName"


def test_client_hanging_up_stops_the_walk(server: LiteioServer) -> None:
    bucket = "hang-up"
    count = 400
    put_objects(server, bucket, {f"k{i:04}": os.urandom(SMALL) for i in range(count)})
    path = f"/_liteio/admin/v1/heal?bucket={bucket}&all=true&deep=true"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", path, body=b"", headers=signed_headers(server, "POST", path))
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("content-type") == "application/x-ndjson"
    first = json.loads(resp.readline())
    assert first["type"] == "object"
    resp.close()
    conn.close()

    def ended() -> str | None:
        return next((line for line in server.log().splitlines()
                     if "event=admin_heal" in line and f"bucket={bucket} " in line), None)

    line = wait_for("the walk to end", ended)
    assert "client=gone" in line and "outcome=stopped" in line, line
    scanned = int(line.split(" scanned=")[1].split()[0])
    assert scanned < count + 1, line
    assert "Traceback" not in server.log()
    assert status(server)["mrf"] is not None  # still serving


# -- who may ask ------------------------------------------------------------------------


def test_unsigned_and_badly_signed_requests_are_refused(server: LiteioServer) -> None:
    for method, path in (("GET", STATUS), ("POST", "/_liteio/admin/v1/heal")):
        reply = send(server, method, path, sign=False)
        assert reply.status == 403 and reply.code == "AccessDenied", reply.body
        assert reply.body.startswith(b"<?xml")
        reply = send(server, method, path, secret="not-the-secret-key")
        assert reply.status == 403 and reply.code == "SignatureDoesNotMatch", reply.body
        reply = send(server, method, path, access="someone-else")
        assert reply.status == 403 and reply.code == "InvalidAccessKeyId", reply.body
    done = admin(server, "heal-status", secret="not-the-secret-key")
    assert done.returncode == 1 and "SignatureDoesNotMatch" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_admin_routes_are_errors_not_crashes(server: LiteioServer) -> None:
    for method, path, status_code, code in (
        ("GET", "/_liteio/admin/v1/nothing", 501, "NotImplemented"),
        ("GET", "/_liteio/admin/v2/heal", 501, "NotImplemented"),
        ("GET", "/_liteio", 501, "NotImplemented"),
        ("GET", "/_liteio/admin/v1/heal", 405, "MethodNotAllowed"),
        ("DELETE", STATUS, 405, "MethodNotAllowed"),
        ("POST", "/_liteio/admin/v1/heal?deep=maybe", 400, "InvalidArgument"),
    ):
        reply = send(server, method, path)
        assert (reply.status, reply.code) == (status_code, code), (path, reply.body)


def test_connection_refused_is_exit_1(tmp_path: Path) -> None:
    from tests.support.server import free_port

    down = LiteioServer(tmp_path)
    down.endpoint = f"http://127.0.0.1:{free_port()}"
    done = admin(down, "heal-status")
    assert done.returncode == 1
    assert "failed" in done.stderr and "Traceback" not in done.stderr


# -- heal status and MRF ------------------------------------------------------------------


def test_heal_status_shape(server: LiteioServer) -> None:
    got = status(server)
    assert {"mrf", "scanner", "drives", "disks", "workers"} <= set(got)
    assert got["scanner"] is None  # LITEIO_HEAL_SCAN=off
    for name in ("queued", "in_flight", "healed", "failed", "added", "dropped"):
        assert isinstance(got["mrf"][name], int), name
    assert [(d["set"], d["position"], d["online"]) for d in got["disks"]] == [
        (0, i, True) for i in range(4)]
    assert [d["endpoint"] for d in got["disks"]] == [
        str(p.resolve()) for p in server.drive_paths]
    assert len(got["workers"]) == 1
    human = admin(server, "heal-status")
    assert human.returncode == 0
    assert human.stdout.startswith("MRF       queued ") and "scanner   off" in human.stdout
    assert "set 0 drive 3  online" in human.stdout
    as_json = admin(server, "heal-status", "--json")
    assert as_json.returncode == 0 and set(json.loads(as_json.stdout)) == set(got)


def test_a_read_of_a_damaged_object_heals_it_in_the_background(server: LiteioServer) -> None:
    bucket = "mrf-read"
    body = os.urandom(BIG)
    put_objects(server, bucket, {"obj": body})
    before = status(server)["mrf"]["healed"]
    meta = obj_dir(server, 2, bucket, "obj") / "xl.meta"
    meta.unlink()
    assert send(server, "GET", f"/{bucket}/obj").body == body
    wait_for("an MRF heal", lambda: status(server)["mrf"]["healed"] >= before + 1)
    assert meta.exists()
    assert status(server)["mrf"]["queued"] == 0


# -- several workers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteioServer]:
    root: Path = tmp_path_factory.mktemp("admin-workers")
    with LiteioServer(root, extra_args=["--workers", "2"]) as running:  # scanner on
        yield running


def shm_files(server: LiteioServer) -> list[Path]:
    doc = json.loads((server.drive_paths[0] / ".minio.sys" / "format.json").read_text())
    return sorted(Path("/dev/shm").glob(f"liteio-{doc['id']}.heal.*"))


def test_status_merges_every_worker(two_workers: LiteioServer) -> None:
    # The scanner runs in worker 0 only, yet every answer shows it: a first cycle over
    # the empty store ends at once.
    wait_for("a scanner cycle", lambda: (status(two_workers)["scanner"] or {}).get("cycle"))
    pids = set()
    for _ in range(16):  # new connections: the kernel spreads them over both workers
        got = status(two_workers)
        assert got["scanner"] is not None and got["mrf"] is not None
        assert [w["index"] for w in got["workers"]] == [0, 1]
        assert all(w["mrf"] is not None for w in got["workers"]), got["workers"]
        pids.update(w["pid"] for w in got["workers"])
    assert len(pids) == 2
    if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        assert [p.name.rsplit(".", 2)[-2] for p in shm_files(two_workers)] == ["0", "1"]


def test_mrf_counts_add_up_across_workers(two_workers: LiteioServer) -> None:
    bucket = "mrf-workers"
    bodies = {f"obj{i}": os.urandom(SMALL) for i in range(4)}
    put_objects(two_workers, bucket, bodies)
    before = status(two_workers)["mrf"]["healed"]
    for key in bodies:
        (obj_dir(two_workers, 1, bucket, key) / "xl.meta").unlink()
    for key, body in bodies.items():  # whichever worker reads it queues and heals it
        assert send(two_workers, "GET", f"/{bucket}/{key}").body == body
    wait_for("four MRF heals", lambda: status(two_workers)["mrf"]["healed"] >= before + 4)
    got = status(two_workers)
    assert got["mrf"]["healed"] == sum(w["mrf"]["healed"] for w in got["workers"])
    assert all((obj_dir(two_workers, 1, bucket, k) / "xl.meta").exists() for k in bodies)
    code, lines = heal_json(two_workers, bucket)
    assert code == 0 and lines[-1]["healed"] == 0 and lines[-1]["scanned"] == 5


def test_status_files_go_away_with_the_server(tmp_path: Path) -> None:
    server = LiteioServer(tmp_path, extra_args=["--workers", "2"],
                          env={"LITEIO_HEAL_SCAN": "off"})
    with server:
        wait_for("both workers", lambda: all(
            not w.get("missing") for w in status(server)["workers"]))
        files = shm_files(server)
    assert server.stop() is None  # already stopped by the with block
    if files:
        assert not any(p.exists() for p in files)
    assert not shm_files(server)
