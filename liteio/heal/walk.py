"""An operator's heal: every object of the store (or of one bucket, under a prefix), now.

    walk    the scanner's key walk (every drive of every set merged, so a key
            only some drives still have is found too), all at once: no pace,
            no saved position
            all buckets: bucket settings first, then every bucket in name order
            one bucket: its settings (unless a prefix is given), then its keys
    each    heal_object(set, bucket, key, deep, dry_run) -> one ObjectOutcome
    stop()  the walk ends after the object in hand (the caller went away)

The counts say what was found: every object lands in exactly one state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from liteio.heal.object_heal import heal_object
from liteio.heal.results import HealResult
from liteio.heal.scanner import Scanner
from liteio.object.erasure_set import ErasureSet
from liteio.storage.paths import BUCKETS_DIR, SYSTEM_VOLUME

if TYPE_CHECKING:
    from liteio.object.layer import ObjectLayer

log = logging.getLogger("liteio.heal.walk")

# ObjectOutcome.state, worst first
UNRECOVERABLE = "unrecoverable"  # some version has too few shards left to rebuild
FAILED = "failed"  # heal raised, or left damage it could not repair
HEALED = "healed"  # something on the drives was repaired
DAMAGED = "damaged"  # damage found and left as is (a dry run, or nothing heal can do)
OK = "ok"
STATES = (UNRECOVERABLE, FAILED, HEALED, DAMAGED, OK)


def object_state(result: HealResult) -> str:
    if result.unrecoverable:
        return UNRECOVERABLE
    if result.failed:
        return FAILED
    if result.healed:
        return HEALED
    if result.needs_heal:
        return DAMAGED
    return OK


@dataclass(slots=True)
class ObjectOutcome:
    bucket: str
    key: str
    state: str
    damaged_drives: list[int] = field(default_factory=list)
    bytes_rebuilt: int = 0
    unrecoverable_versions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, result: HealResult) -> ObjectOutcome:
        errors = list(result.errors)
        errors += [f"drive {d.position} ({d.endpoint}): {e}" for d in result.drives
                   for e in d.errors]
        return cls(result.bucket, result.key, object_state(result), result.damaged_drives,
                   result.bytes_rebuilt, list(result.unrecoverable), errors)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "object", **asdict(self)}


OnObject = Callable[[ObjectOutcome], Awaitable[None]]


class HealWalk:
    """``bucket`` empty: the whole store (``prefix`` must be empty too)."""

    def __init__(self, layer: ObjectLayer, bucket: str = "", prefix: str = "", *,
                 deep: bool = False, dry_run: bool = False) -> None:
        if prefix and not bucket:
            raise ValueError("a prefix needs a bucket")
        self.layer = layer
        self.bucket = bucket
        self.prefix = prefix
        self.deep = deep
        self.dry_run = dry_run
        self.counts = dict.fromkeys(STATES, 0)
        self.scanned = 0
        self.bytes_rebuilt = 0
        self.position = ("", "")  # the last object looked at
        self.error = ""  # what ended the walk early, if anything did
        self.stopped = False
        self._stopping = False
        self._started = time.monotonic()
        self._seconds: float | None = None
        # NOTE: the scanner's walk, borrowed whole (never started: no pace, no checkpoint).
        self._scanner = Scanner(layer)

    def stop(self) -> None:
        self._stopping = True

    @property
    def seconds(self) -> float:
        end = self._seconds if self._seconds is not None else time.monotonic() - self._started
        return round(end, 3)

    async def _volumes(self) -> list[tuple[str, str]]:
        """(volume, prefix) pairs to walk, in order."""
        if not self.bucket:
            return await self._scanner._buckets()
        settings = [] if self.prefix else [(SYSTEM_VOLUME, f"{BUCKETS_DIR}/{self.bucket}/")]
        return [*settings, (self.bucket, self.prefix)]

    async def run(self, on_object: OnObject, every: bool = False) -> None:
        """Walk and heal; ``on_object`` gets each object that was not simply fine (with
        ``every``, each object). Failures of single objects are counted, not raised."""
        self._started = time.monotonic()
        try:
            for volume, prefix in await self._volumes():
                if self._stopping:
                    break
                if not self.dry_run and not prefix and volume != SYSTEM_VOLUME:
                    await self._scanner._heal_bucket_dirs(volume)
                async with aclosing(self._scanner._keys(volume, prefix, "")) as keys:
                    async for es, key in keys:
                        if self._stopping:
                            break
                        outcome = await self._one(es, volume, key)
                        if every or outcome.state != OK:
                            await on_object(outcome)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a listing that failed: report it, keep what was done
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("event=heal_walk_error bucket=%s prefix=%r error=%r", self.bucket,
                        self.prefix, exc, exc_info=True)
        finally:
            self.stopped = self._stopping
            self._seconds = time.monotonic() - self._started

    async def _one(self, es: ErasureSet, bucket: str, key: str) -> ObjectOutcome:
        try:
            result = await heal_object(es, bucket, key, deep=self.deep, dry_run=self.dry_run)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("event=heal_walk_object_failed bucket=%s key=%r error=%r", bucket, key,
                        exc, exc_info=True)
            outcome = ObjectOutcome(bucket, key, FAILED, errors=[f"{type(exc).__name__}: {exc}"])
        else:
            outcome = ObjectOutcome.of(result)
        self.scanned += 1
        self.counts[outcome.state] += 1
        self.bytes_rebuilt += outcome.bytes_rebuilt
        self.position = (bucket, key)
        return outcome

    @property
    def buckets_healed(self) -> int:
        return self._scanner.stats.buckets_healed

    def _figures(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "healed": self.counts[HEALED],
                "damaged": self.counts[DAMAGED], "failed": self.counts[FAILED],
                "unrecoverable": self.counts[UNRECOVERABLE], "ok": self.counts[OK],
                "bytes_rebuilt": self.bytes_rebuilt, "buckets_healed": self.buckets_healed,
                "seconds": self.seconds}

    def progress(self) -> dict[str, Any]:
        return {"type": "progress", **self._figures(), "bucket": self.position[0],
                "key": self.position[1]}

    def summary(self) -> dict[str, Any]:
        return {"type": "summary", **self._figures(), "dry_run": self.dry_run, "deep": self.deep,
                "bucket": self.bucket, "prefix": self.prefix, "stopped": self.stopped,
                "error": self.error or None}

    def log_line(self) -> str:
        f = self._figures()
        return (f"bucket={self.bucket or '*'} prefix={self.prefix!r} deep={self.deep} "
                f"dry_run={self.dry_run} " + " ".join(f"{k}={v}" for k, v in f.items())
                + f" outcome={'stopped' if self.stopped else 'error' if self.error else 'done'}")
