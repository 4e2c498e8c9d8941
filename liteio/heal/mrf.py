"""MRF ("most recently failed"): heal objects soon after a request saw them damaged.

Reads that met a missing or rotten shard, stale metadata, and puts that
committed on fewer than all drives hint the object (``ErasureSet.note_bad_shard``).
Attached sets pass those hints here: a bounded, deduplicated FIFO of
(set, bucket, key) that background workers drain with ``heal_object``. A
hint about a drive that is offline (a put it missed) waits, bounded and
deduplicated too, until the drive is back. A hint is only a hint: a full
queue drops new ones (the scanner finds the damage later), and nothing is
persisted.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from liteio.heal.object_heal import heal_object
from liteio.heal.results import HealResult
from liteio.object.erasure_set import ErasureSet

log = logging.getLogger("liteio.heal.mrf")

Item = tuple[int, str, str]  # (set index, bucket, key)
HealFn = Callable[[ErasureSet, str, str], Awaitable[HealResult]]


@dataclass(slots=True)
class MRFConfig:
    capacity: int = 10_000  # hints held at most; more are dropped
    workers: int = 1  # objects healed at once
    deep: bool = False  # also verify every frame of shards that look fine
    retry_delay: float = 0.0  # seconds to wait before healing a fresh hint
    recheck_seconds: float = 10.0  # how often hints held for offline drives are looked at

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MRFConfig:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            capacity=int(env.get("LITEIO_HEAL_MRF_CAPACITY", default.capacity)),
            workers=max(1, int(env.get("LITEIO_HEAL_MRF_WORKERS", default.workers))),
            deep=env.get("LITEIO_HEAL_MRF_DEEP", "").lower() in ("1", "true", "on", "yes"),
        )


@dataclass(slots=True)
class MRFStats:
    queued: int = 0  # waiting now
    in_flight: int = 0  # being healed now
    added: int = 0  # hints accepted
    deduplicated: int = 0  # hints for an object already waiting
    dropped: int = 0  # hints refused because the queue was full
    waiting_for_drive: int = 0  # hints held until their offline drive is back
    healed: int = 0  # heals that repaired something
    clean: int = 0  # heals that found nothing to do
    failed: int = 0  # heals that raised, or left damage they could not repair
    bytes_rebuilt: int = 0
    last_error: str = ""
    recent: list[str] = field(default_factory=list)  # last few summaries

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MRFQueue:
    """The queue and its workers. ``attach`` wires it to the sets' hints."""

    RECENT = 20

    def __init__(self, sets: Sequence[ErasureSet], config: MRFConfig | None = None,
                 heal: HealFn | None = None) -> None:
        self.sets = {s.index: s for s in sets}
        self.config = config or MRFConfig()
        self.stats = MRFStats()
        self._heal = heal or self._default_heal
        self._pending: dict[Item, None] = {}  # insertion-ordered: a FIFO without duplicates
        self._deferred: dict[Item, int] = {}  # hints for offline drives -> the drive's position
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []

    async def _default_heal(self, es: ErasureSet, bucket: str, key: str) -> HealResult:
        return await heal_object(es, bucket, key, deep=self.config.deep)

    # -- feeding ------------------------------------------------------------------

    def attach(self) -> None:
        for es in self.sets.values():
            es.on_heal_hint = self._hint

    def detach(self) -> None:
        for es in self.sets.values():
            if es.on_heal_hint == self._hint:
                es.on_heal_hint = None

    def _hint(self, es: ErasureSet, bucket: str, key: str, position: int) -> None:
        if 0 <= position < es.total and not es.drives[position].is_online():
            # Nothing to do while the drive is away: keep the hint until it is back.
            item = (es.index, bucket, key)
            if item in self._deferred:
                self.stats.deduplicated += 1
            elif len(self._deferred) >= self.config.capacity:
                self.stats.dropped += 1
            else:
                self._deferred[item] = position
                self.stats.waiting_for_drive = len(self._deferred)
            return
        self.add(es.index, bucket, key)

    def _release_deferred(self) -> None:
        """Queue the held hints whose drive is online again."""
        back = [item for item, position in self._deferred.items()
                if self.sets[item[0]].drives[position].is_online()]
        for item in back:
            del self._deferred[item]
            self.add(*item)
        self.stats.waiting_for_drive = len(self._deferred)

    def add(self, set_index: int, bucket: str, key: str) -> bool:
        """Queue an object; False when it is already waiting or the queue is full."""
        item = (set_index, bucket, key)
        if item in self._pending:
            self.stats.deduplicated += 1
            return False
        if len(self._pending) >= self.config.capacity:
            self.stats.dropped += 1
            return False
        self._pending[item] = None
        self.stats.added += 1
        self.stats.queued = len(self._pending)
        self._idle.clear()
        self._wake.set()
        return True

    # -- running ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def start(self) -> None:
        if self.running:
            return
        self.attach()
        self._tasks = [asyncio.create_task(self._worker(), name=f"liteio-mrf-{n}")
                       for n in range(max(1, self.config.workers))]
        self._tasks.append(asyncio.create_task(self._watch(), name="liteio-mrf-watch"))

    async def stop(self) -> None:
        self.detach()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being healed; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.recheck_seconds)
            if self._deferred:
                self._release_deferred()

    async def _worker(self) -> None:
        while True:
            if not self._pending:
                if self.stats.in_flight == 0:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            item = next(iter(self._pending))
            del self._pending[item]
            self.stats.queued = len(self._pending)
            self.stats.in_flight += 1
            try:
                if self.config.retry_delay:
                    await asyncio.sleep(self.config.retry_delay)
                await self._heal_one(item)
            finally:
                self.stats.in_flight -= 1
                if not self._pending and self.stats.in_flight == 0:
                    self._idle.set()

    async def _heal_one(self, item: Item) -> None:
        set_index, bucket, key = item
        es = self.sets.get(set_index)
        if es is None:
            return
        try:
            result = await self._heal(es, bucket, key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a background healer must never take the server down
            self.stats.failed += 1
            self.stats.last_error = f"{bucket}/{key}: {type(exc).__name__}: {exc}"
            log.warning("event=mrf_heal_failed bucket=%s key=%r error=%r", bucket, key, exc,
                        exc_info=True)
            return
        self.stats.bytes_rebuilt += result.bytes_rebuilt
        if result.failed:
            self.stats.failed += 1
            self.stats.last_error = f"{bucket}/{key}: {(result.errors or ['see drives'])[0]}"
        elif result.healed:
            self.stats.healed += 1
        else:
            self.stats.clean += 1
        self.stats.recent = [*self.stats.recent[-(self.RECENT - 1):], result.summary()]
