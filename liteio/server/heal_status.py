"""Heal status that is right whichever worker process answers.

Each worker heals what its own requests saw damaged (MRF), and only worker 0
runs the scanner (and the drive healer), so no one process knows the whole
picture. Every worker publishes its ``HealService.status()`` to a small file
beside the other shared state, and the one answering a status request merges
them::

    {shared}.heal.0.json   {"index": 0, "pid": ..., "published_ns": ..., "status": {...}}
    {shared}.heal.1.json   ...

written whole to a temp name and renamed (a reader never sees half a file),
about once a second while the figures change (every ``REFRESH_EVERY`` seconds
regardless, so an old file means a worker gone), and once more at stop. The
merge sums the MRF counters over the workers (each one's own figures are
listed too) and takes every other part (scanner, drives) from worker 0. The
answering worker uses its in-memory status, never its own file. With one
worker there are no files at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger("liteio.server.heal")

Status = dict[str, Any]
StatusSource = Callable[[], Status | None]

PUBLISH_EVERY = 1.0  # seconds between looks for a change to publish
REFRESH_EVERY = 10.0  # written even unchanged this often: an old file means a gone worker
RECENT_KEPT = 20  # list fields (e.g. MRF "recent") keep this many entries once merged


def status_file(prefix: str, index: int) -> str:
    return f"{prefix}.heal.{index}.json"


class HealStatusBoard:
    """One worker's side: publish its status; merge everyone's on request."""

    def __init__(self, prefix: str, index: int, workers: int, source: StatusSource) -> None:
        self.prefix = prefix
        self.index = index
        self.workers = workers
        self.source = source
        self._published: str | None = None
        self._when = 0.0  # monotonic time of the last write
        self._task: asyncio.Task[None] | None = None

    # -- publishing ---------------------------------------------------------------------

    def publish(self, *, force: bool = False) -> bool:
        """Write this worker's status if it changed since the last write; True if written."""
        status = self.source()
        body = json.dumps(status, sort_keys=True, default=str)
        now = time.monotonic()
        if body == self._published and not force and now - self._when < REFRESH_EVERY:
            return False
        doc = {"index": self.index, "pid": os.getpid(), "published_ns": time.time_ns(),
               "status": status}
        path = status_file(self.prefix, self.index)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, sort_keys=True, default=str)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("event=heal_status_publish_failed path=%s error=%r", path, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False
        self._published, self._when = body, now
        return True

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._forever(), name="liteio-heal-status")

    async def stop(self) -> None:
        """Stop publishing; the last figures are written once more."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.publish(force=True)

    async def _forever(self) -> None:
        self.publish(force=True)
        while True:
            await asyncio.sleep(PUBLISH_EVERY)
            try:
                self.publish()
            except Exception:  # a status board must never take the worker down
                log.exception("event=heal_status_publish_error")

    # -- reading ------------------------------------------------------------------------

    def read_peer(self, index: int) -> dict[str, Any] | None:
        try:
            with open(status_file(self.prefix, index), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def merged(self) -> Status:
        """Every worker's status merged: this one's from memory, the others' from files."""
        now = time.time_ns()
        entries: list[dict[str, Any]] = []
        for index in range(self.workers):
            if index == self.index:
                entries.append({"index": index, "pid": os.getpid(), "age_seconds": 0.0,
                                "status": self.source()})
                continue
            doc = self.read_peer(index)
            if doc is None:
                entries.append({"index": index, "pid": None, "age_seconds": None,
                                "status": None, "missing": True})
                continue
            published = int(doc.get("published_ns", 0) or 0)
            entries.append({"index": index, "pid": doc.get("pid"),
                            "age_seconds": round(max(0, now - published) / 1e9, 3),
                            "status": doc.get("status")})
        return merge_status(entries)


def merge_status(entries: Sequence[Mapping[str, Any]]) -> Status:
    """Worker entries (``index``, ``pid``, ``age_seconds``, ``status``) -> one status.

    Everything but ``mrf`` comes from worker 0 as it is (scanner, drives, and
    whatever else ``HealService.status()`` grows); ``mrf`` is the sum over the
    workers, each worker's own figures under ``workers``.
    """
    by_index = {int(e["index"]): e for e in entries}
    first = by_index.get(0)
    base = first.get("status") if first is not None else None
    out: Status = dict(base) if isinstance(base, Mapping) else {"mrf": None, "scanner": None}
    mrfs = [e["status"]["mrf"] for e in entries
            if isinstance(e.get("status"), Mapping) and isinstance(e["status"].get("mrf"), Mapping)]
    out["mrf"] = sum_counters(mrfs) if mrfs else None
    workers = []
    for e in sorted(entries, key=lambda e: int(e["index"])):
        status = e.get("status")
        worker = {"index": e["index"], "pid": e.get("pid"), "age_seconds": e.get("age_seconds"),
                  "mrf": status.get("mrf") if isinstance(status, Mapping) else None}
        if e.get("missing"):
            worker["missing"] = True
        workers.append(worker)
    out["workers"] = workers
    return out


def sum_counters(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Numbers added, flags or-ed, lists joined (the last ``RECENT_KEPT``), text: the
    first non-empty. Keys any part has are kept."""
    out: dict[str, Any] = {}
    for part in parts:
        for name, value in part.items():
            have = out.get(name)
            if name not in out:
                out[name] = list(value) if isinstance(value, list) else value
            elif isinstance(value, bool) or isinstance(have, bool):
                out[name] = bool(have) or bool(value)
            elif isinstance(value, (int, float)) and isinstance(have, (int, float)):
                out[name] = have + value
            elif isinstance(value, list) and isinstance(have, list):
                out[name] = (have + value)[-RECENT_KEPT:]
            elif not have and value:
                out[name] = value
    return out


def remove_status_files(prefix: str) -> None:
    """Every worker's file (and temp files a killed one left): at supervisor exit."""
    directory, _, base = f"{prefix}.heal.".rpartition("/")
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return
    for name in names:
        if name.startswith(base) and name.endswith((".json", ".tmp")):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))
