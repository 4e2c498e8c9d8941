"""The scanner: a slow, endless walk over every object, healing what it finds.

    cycle:  .minio.sys/buckets/...  (bucket settings, stored as objects)
            then every bucket in name order:
                make the bucket's directory on drives that lost it
                every key, in S3 order, merged from the walks of every drive of
                every set (a key only some drives still have is found too)
                    heal_object(set, bucket, key, deep=config.deep)
                    sleep: the pace (see ScannerConfig)

Its position (bucket, last key) goes to ``.minio.sys/heal/scanner.json`` on
every drive every ``checkpoint_every`` objects, so a restarted server goes
on where the last one stopped instead of starting over; the newest copy
wins on load.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from liteio.heal.object_heal import heal_object
from liteio.object.erasure_set import ErasureSet
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import BUCKETS_DIR, SYSTEM_VOLUME

if TYPE_CHECKING:
    from liteio.object.layer import ObjectLayer

log = logging.getLogger("liteio.heal.scanner")

STATE_PATH = "heal/scanner.json"
STATE_VERSION = 1


@dataclass(slots=True)
class ScannerConfig:
    """How fast and how thoroughly to scan. The defaults are gentle: at most
    ``objects_per_second`` objects, and after each one a pause of
    ``sleep_factor`` times what it took, so the scanner uses at most
    1 / (1 + sleep_factor) of one drive's time. 0 turns either limit off."""

    deep: bool = False  # verify every frame of every shard (reads all data)
    objects_per_second: float = 20.0
    sleep_factor: float = 4.0
    cycle_pause: float = 3600.0  # seconds between the end of a cycle and the next
    checkpoint_every: int = 256  # objects between saves of the position

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScannerConfig:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            deep=env.get("LITEIO_HEAL_SCAN_DEEP", "").lower() in ("1", "true", "on", "yes"),
            objects_per_second=float(env.get("LITEIO_HEAL_SCAN_RATE", default.objects_per_second)),
            sleep_factor=float(env.get("LITEIO_HEAL_SCAN_SLEEP_FACTOR", default.sleep_factor)),
            cycle_pause=float(env.get("LITEIO_HEAL_SCAN_CYCLE_PAUSE", default.cycle_pause)),
            checkpoint_every=int(env.get("LITEIO_HEAL_SCAN_CHECKPOINT", default.checkpoint_every)),
        )


@dataclass(slots=True)
class ScannerStats:
    running: bool = False
    cycle: int = 0  # cycles completed since the deployment began
    bucket: str = ""  # position: the last object healed
    key: str = ""
    scanned: int = 0  # since this process started
    healed: int = 0
    failed: int = 0
    buckets_healed: int = 0  # bucket directories recreated on drives
    bytes_rebuilt: int = 0
    cycle_started_ns: int = 0
    last_cycle_seconds: float = 0.0
    last_cycle_end_ns: int = 0
    last_error: str = ""
    failures: list[str] = field(default_factory=list)  # last few objects that failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Scanner:
    FAILURES_KEPT = 20

    def __init__(self, layer: ObjectLayer, config: ScannerConfig | None = None) -> None:
        self.layer = layer
        self.config = config or ScannerConfig()
        self.stats = ScannerStats()
        self._loaded = False
        self._since_checkpoint = 0
        self._task: asyncio.Task[None] | None = None

    # -- the persisted position ---------------------------------------------------

    def _state(self) -> bytes:
        s = self.stats
        return json.dumps({
            "version": STATE_VERSION, "cycle": s.cycle, "bucket": s.bucket, "key": s.key,
            "saved_ns": time.time_ns(), "cycle_started_ns": s.cycle_started_ns,
            "last_cycle_seconds": s.last_cycle_seconds, "last_cycle_end_ns": s.last_cycle_end_ns,
        }, sort_keys=True).encode()

    async def load(self) -> None:
        """Take the newest saved position from any drive (no state: start at the top)."""
        self._loaded = True
        found: list[dict[str, Any]] = []
        for drive in self.layer.drives:
            if not drive.is_online():
                continue
            try:
                doc = json.loads(await drive.read_all(SYSTEM_VOLUME, STATE_PATH))
            except (serr.StorageError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("version") == STATE_VERSION:
                found.append(doc)
        if not found:
            return
        doc = max(found, key=lambda d: (int(d.get("cycle", 0)), int(d.get("saved_ns", 0))))
        s = self.stats
        s.cycle = int(doc.get("cycle", 0))
        s.bucket, s.key = str(doc.get("bucket", "")), str(doc.get("key", ""))
        s.cycle_started_ns = int(doc.get("cycle_started_ns", 0))
        s.last_cycle_seconds = float(doc.get("last_cycle_seconds", 0.0))
        s.last_cycle_end_ns = int(doc.get("last_cycle_end_ns", 0))

    async def save(self) -> None:
        """The position, to every drive (best effort: a drive that fails just misses it)."""
        self._since_checkpoint = 0
        data = self._state()
        await asyncio.gather(*(d.write_all(SYSTEM_VOLUME, STATE_PATH, data)
                               for d in self.layer.drives if d.is_online()),
                             return_exceptions=True)

    # -- running --------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.create_task(self._forever(), name="liteio-heal-scanner")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.save()

    async def _forever(self) -> None:
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the scanner take the server down
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("event=scanner_error")
                await asyncio.sleep(min(60.0, self.config.cycle_pause or 1.0))
                continue
            # A whole cycle done: rest (never spin, even when told not to pause).
            await asyncio.sleep(max(self.config.cycle_pause, 0.01))

    async def run(self, limit: int | None = None) -> int:
        """Scan from the saved position to the end of the cycle, or ``limit`` objects;
        returns how many were scanned. The position is saved before returning."""
        if not self._loaded:
            await self.load()
        s = self.stats
        s.running = True
        done = 0
        try:
            if not s.bucket and not s.key:
                s.cycle_started_ns = time.time_ns()
            for bucket, prefix in await self._buckets():
                if s.bucket and bucket < s.bucket:
                    continue  # done earlier in this cycle
                start_after = s.key if bucket == s.bucket else ""
                if not start_after:
                    await self._heal_bucket_dirs(bucket)
                async with aclosing(self._keys(bucket, prefix, start_after)) as keys:
                    async for es, key in keys:
                        if limit is not None and done >= limit:
                            return done
                        await self._scan_one(es, bucket, key)
                        done += 1
                s.bucket, s.key = bucket, "\U0010ffff"  # every key of it: past the end
            self._cycle_done()
            return done
        finally:
            s.running = False
            await self.save()

    def _cycle_done(self) -> None:
        s = self.stats
        now = time.time_ns()
        s.cycle += 1
        s.last_cycle_end_ns = now
        s.last_cycle_seconds = (now - s.cycle_started_ns) / 1e9 if s.cycle_started_ns else 0.0
        s.bucket = s.key = ""
        log.info("event=scanner_cycle cycle=%d seconds=%.1f scanned=%d healed=%d failed=%d",
                 s.cycle, s.last_cycle_seconds, s.scanned, s.healed, s.failed)

    async def _buckets(self) -> list[tuple[str, str]]:
        return await volumes_to_scan(self.layer)

    async def _heal_bucket_dirs(self, bucket: str) -> None:
        """A drive that lost a bucket's directory (emptied, replaced) gets it back."""
        if bucket == SYSTEM_VOLUME:
            return
        for es in self.layer.sets:
            stat = await es.each_drive(lambda i, d: d.stat_volume(bucket))
            for i, answer in enumerate(stat):
                if isinstance(answer, serr.VolumeNotFound):
                    try:
                        await es.drives[i].make_volume(bucket)
                        self.stats.buckets_healed += 1
                    except serr.VolumeExists:
                        pass
                    except serr.StorageError as exc:
                        self.stats.last_error = f"make bucket {bucket} on {es.drives[i]}: {exc}"

    async def _keys(self, bucket: str, prefix: str, start_after: str
                    ) -> AsyncGenerator[tuple[ErasureSet, str], None]:
        """Every key any drive of any set has, once per set, in key order."""
        walks = [(es, set_keys(es, bucket, prefix, start_after)) for es in self.layer.sets]
        heap: list[tuple[str, int]] = []
        for n, (_, walk) in enumerate(walks):
            first = await anext(walk, None)
            if first is not None:
                heap.append((first, n))
        heapq.heapify(heap)
        try:
            while heap:
                key, n = heapq.heappop(heap)
                yield walks[n][0], key
                following = await anext(walks[n][1], None)
                if following is not None:
                    heapq.heappush(heap, (following, n))
        finally:
            for _, walk in walks:
                await walk.aclose()

    async def _scan_one(self, es: ErasureSet, bucket: str, key: str) -> None:
        s = self.stats
        started = time.monotonic()
        try:
            result = await heal_object(es, bucket, key, deep=self.config.deep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            s.failed += 1
            s.last_error = f"{bucket}/{key}: {type(exc).__name__}: {exc}"
            s.failures = [*s.failures[-(self.FAILURES_KEPT - 1):], f"{bucket}/{key}"]
            log.warning("event=scanner_heal_failed bucket=%s key=%r error=%r", bucket, key, exc,
                        exc_info=True)
        else:
            s.bytes_rebuilt += result.bytes_rebuilt
            if result.failed:
                s.failed += 1
                s.failures = [*s.failures[-(self.FAILURES_KEPT - 1):], f"{bucket}/{key}"]
            elif result.healed:
                s.healed += 1
        s.scanned += 1
        s.bucket, s.key = bucket, key
        self._since_checkpoint += 1
        if self.config.checkpoint_every and self._since_checkpoint >= self.config.checkpoint_every:
            await self.save()
        await self._pace(time.monotonic() - started)

    async def _pace(self, spent: float) -> None:
        delay = self.config.sleep_factor * spent
        if self.config.objects_per_second > 0:
            delay = max(delay, 1.0 / self.config.objects_per_second - spent)
        if delay > 0:
            await asyncio.sleep(delay)


async def volumes_to_scan(layer: ObjectLayer) -> list[tuple[str, str]]:
    """(volume, prefix) to walk, in order: bucket settings first (".minio.sys"
    sorts before every bucket name), then the buckets. The drive healer
    (drive_heal.py) walks in the same order."""
    names = sorted(b.name for b in await layer.list_buckets())
    return [(SYSTEM_VOLUME, BUCKETS_DIR + "/")] + [(name, "") for name in names]


async def set_keys(es: ErasureSet, bucket: str, prefix: str, start_after: str
                   ) -> AsyncGenerator[str, None]:
    """Keys of one set: the walks of its online drives merged, each key once
    (the scanner merges these over sets; the drive healer walks one set)."""
    walks = [_drive_keys(d, bucket, prefix, start_after) for d in es.drives if d.is_online()]
    heap: list[tuple[str, int]] = []
    for n, walk in enumerate(walks):
        first = await anext(walk, None)
        if first is not None:
            heap.append((first, n))
    heapq.heapify(heap)
    last = None
    try:
        while heap:
            key, n = heapq.heappop(heap)
            following = await anext(walks[n], None)
            if following is not None:
                heapq.heappush(heap, (following, n))
            if key != last:
                last = key
                yield key
    finally:
        for walk in walks:
            await walk.aclose()


async def _drive_keys(drive: StorageAPI, bucket: str, prefix: str, start_after: str
                      ) -> AsyncGenerator[str, None]:
    try:
        async for entry in drive.walk(bucket, prefix, recursive=True, start_after=start_after):
            if not entry.is_prefix:
                yield entry.key
    except serr.StorageError:
        return  # a drive failing mid-walk just stops contributing
