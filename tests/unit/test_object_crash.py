"""Crash: a writer SIGKILLed at random points, and in the middle of a commit.

``tests/support/crash_writer.py`` overwrites a few keys with bodies that name
their key and version and end in their own MD5, until it is killed. After
each kill the store is reopened (bring-up cleans the staging area) and every
key must read back as exactly one complete body -- never a mix of two -- of
a version that was at least started, and no older than the last one whose
put returned. ``.minio.sys/tmp`` must be empty on every drive.

Kill points: a seeded number of acknowledged puts plus a seeded sub-put
delay (anywhere in staging, encoding or committing), then deterministic
kills after exactly c of the N drive commits of a put: with c < K the new
version lacks read quorum and the previous one is served; with c >= K the
new one is.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from liteio.object import errors as oerr
from tests.support.crash_writer import BUCKET, KEYS, parse_body
from tests.support.store import Store

REPO = Path(__file__).resolve().parents[2]
DRIVES, PARITY = 4, 2
K = DRIVES - PARITY
RANDOM_ROUNDS = 10
DEADLINE = 15.0  # seconds any one wait may take before the test gives up


class Writer:
    """The writer subprocess and the progress lines it printed."""

    def __init__(self, root: Path, seed: int, base: int, crash_after: int = 0) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        if crash_after:
            env["LITEIO_CRASH_AFTER_COMMITS"] = str(crash_after)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crash_writer", str(root), str(DRIVES),
             str(PARITY), str(seed), str(base)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.strip())
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<eof>")
            self._cond.notify_all()

    def wait_for(self, ready: Callable[[list[str]], bool]) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: ready(self.lines) or "<eof>" in self.lines,
                                       DEADLINE):
                raise AssertionError(f"writer made no progress: {self.lines[-3:]}")
        if not ready(self.lines):
            raise AssertionError(f"writer ended early: {self.stderr()}")

    def acks(self) -> int:
        return sum(line.startswith("ack ") for line in self.lines)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(DEADLINE)

    def died_by_sigkill(self) -> bool:
        return self.proc.wait(DEADLINE) == -signal.SIGKILL

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._reader.join(DEADLINE)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


class History:
    """What the writers said: versions started and the last acknowledged, per key."""

    def __init__(self) -> None:
        self.started: dict[int, set[int]] = {k: set() for k in range(len(KEYS))}
        self.acked: dict[int, int | None] = dict.fromkeys(range(len(KEYS)))
        self.seen: dict[int, int | None] = dict.fromkeys(range(len(KEYS)))

    def absorb(self, lines: list[str]) -> tuple[int, int] | None:
        """Record a writer's lines; the (key, version) in flight when it died, if any."""
        in_flight = None
        for line in lines:
            word, *rest = line.split()
            if word == "start":
                key, version = int(rest[0]), int(rest[1])
                self.started[key].add(version)
                in_flight = (key, version)
            elif word == "ack":
                key, version = int(rest[0]), int(rest[1])
                self.acked[key] = version
                in_flight = None
        return in_flight


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    store = Store(tmp_path, DRIVES, PARITY)
    store.run(store.layer.make_bucket(BUCKET))
    store.close()
    yield tmp_path


def check_after_crash(root: Path, history: History) -> dict[int, int | None]:
    """Reopen, check every key and the staging dirs; key -> version read (None: absent)."""
    store = Store(root, DRIVES, PARITY)  # bring-up: format.json read, tmp cleaned
    try:
        for p in store.paths:
            assert list((p / ".minio.sys" / "tmp").iterdir()) == [], p
        found: dict[int, int | None] = {}
        for k, name in enumerate(KEYS):
            try:
                data = store.get(BUCKET, name)
            except oerr.ObjectNotFound:
                assert history.acked[k] is None, f"{name}: acknowledged, then lost"
                found[k] = None
                continue
            key, version = parse_body(data)  # complete and unmixed, or ValueError
            assert key == k, f"{name} holds key {key}'s body"
            assert version in history.started[k], f"{name}: version {version} never written"
            acked = history.acked[k]
            assert acked is None or version >= acked, (
                f"{name}: version {version} is older than the acknowledged {acked}")
            info = store.run(store.layer.get_object_info(BUCKET, name))
            assert info.size == len(data)
            found[k] = version
        return found
    finally:
        store.close()


def test_sigkill_at_random_points_and_mid_commit(root: Path) -> None:
    rng = random.Random(20240611)
    history = History()
    started = time.monotonic()
    base = 0

    for n in range(RANDOM_ROUNDS):
        base += 100_000
        writer = Writer(root, seed=n, base=base)
        try:
            target = rng.randint(1, 5)

            def acked_enough(lines: list[str], n: int = target) -> bool:
                return sum(x.startswith("ack ") for x in lines) >= n

            writer.wait_for(acked_enough)
            # Anywhere inside the next put (a multi-block put takes tens of ms).
            time.sleep(rng.uniform(0.0, 0.05))
            writer.kill()
            history.absorb(writer.lines)
        finally:
            writer.close()
        history.seen = check_after_crash(root, history)

    # Deterministic: die right after c drive commits of the (j+1)-th put.
    for c in range(1, DRIVES + 1):
        base += 100_000
        j = rng.randint(1, 3)
        writer = Writer(root, seed=100 + c, base=base, crash_after=DRIVES * j + c)
        try:
            writer.wait_for(lambda lines: "<eof>" in lines)
            assert writer.died_by_sigkill(), writer.stderr()
            assert writer.acks() == j
            before = dict(history.seen)
            for line in writer.lines:  # what this round's acknowledged puts left
                if line.startswith("ack "):
                    _, key_text, version_text = line.split()
                    before[int(key_text)] = int(version_text)
            in_flight = history.absorb(writer.lines)
        finally:
            writer.close()
        assert in_flight is not None
        key, version = in_flight
        history.seen = check_after_crash(root, history)
        if c >= K:
            assert history.seen[key] == version, (c, key, version, history.seen)
        else:
            assert history.seen[key] == before[key], (c, key, version, history.seen)

    assert time.monotonic() - started < 60
