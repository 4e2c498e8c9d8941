"""Drive replacement: a drive that answers without a format.json is formatted
into its slot and refilled with every object its set holds.

    every ``interval`` seconds (and on ``check_now``), per online drive:
        no format.json      tracker, then format.json = the deployment's layout with
                            this slot's drive id (the old drive's identity, restored)
        tracker unfinished  refill the drive (one task per drive; start-up formatting
                            in liteio.object.bootstrap writes trackers too)
    refill one drive:
        every bucket's directory, then bucket settings (.minio.sys/buckets/...) and
        every bucket in name order (as the scanner walks):
            every key the set's drives have, merged      heal_object(set, bucket, key)
            the position to the tracker every ``checkpoint_every`` objects, so a
            restarted server resumes there
        the tracker marked finished and kept, with its counts, for ``status``

The tracker lives on the drive being refilled (tracker.py): it is that
drive's state, and goes away with it if the drive is emptied again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from liteio.heal.object_heal import heal_object
from liteio.heal.scanner import set_keys, volumes_to_scan
from liteio.heal.tracker import DriveHealTracker, new_tracker, read_tracker, write_tracker
from liteio.meta.errors import FormatJSONError
from liteio.meta.format_json import FormatErasureV3
from liteio.object.erasure_set import ErasureSet
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import FORMAT_FILE, SYSTEM_VOLUME

if TYPE_CHECKING:
    from liteio.object.layer import ObjectLayer

log = logging.getLogger("liteio.heal.drive")

PAST_END = "\U0010ffff"  # a key after every key: the whole volume is done
Slot = tuple[int, int]  # (set index, position in the set)


@dataclass(slots=True)
class DriveHealConfig:
    """A replaced drive holds no redundancy until refilled, so by default the
    refill runs flat out (``pause`` 0); a pause per object spares a busy server."""

    interval: float = 10.0  # seconds between looks for emptied or replaced drives
    checkpoint_every: int = 64  # objects between saves of the tracker
    pause: float = 0.0  # seconds of rest after each object
    deep: bool = False  # verify every frame of every shard on the other drives too

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DriveHealConfig:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            interval=float(env.get("LITEIO_HEAL_DRIVE_INTERVAL", default.interval)),
            checkpoint_every=int(env.get("LITEIO_HEAL_DRIVE_CHECKPOINT", default.checkpoint_every)),
            pause=float(env.get("LITEIO_HEAL_DRIVE_PAUSE", default.pause)),
            deep=env.get("LITEIO_HEAL_DRIVE_DEEP", "").lower() in ("1", "true", "on", "yes"),
        )


class _Unformatted:
    """A drive's answer: it has no format.json."""


UNFORMATTED = _Unformatted()


async def _read_format(drive: StorageAPI) -> FormatErasureV3 | _Unformatted:
    try:
        return FormatErasureV3.load(await drive.read_all(SYSTEM_VOLUME, FORMAT_FILE))
    except (serr.FileNotFound, serr.VolumeNotFound):
        return UNFORMATTED


class DriveHealer:
    """Finds emptied or replaced drives of one ``ObjectLayer`` and refills them."""

    def __init__(self, layer: ObjectLayer, config: DriveHealConfig | None = None) -> None:
        self.layer = layer
        self.config = config or DriveHealConfig()
        self.trackers: dict[Slot, DriveHealTracker] = {}  # every drive seen being refilled
        self._refills: dict[Slot, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._complained: set[tuple[Slot, str]] = set()  # logged once, not every interval
        self._looking = asyncio.Lock()  # one look at a time: a drive is formatted once

    # -- running --------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._forever(), name="liteio-heal-drives")

    async def stop(self) -> None:
        """Stop looking and refilling; each refill saves its tracker as it stops."""
        tasks = [self._task, *self._refills.values()]
        self._task = None
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)

    async def _forever(self) -> None:
        while True:
            try:
                await self._look()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the healer take the server down
                log.exception("event=drive_heal_error")
            await asyncio.sleep(max(self.config.interval, 0.01))

    async def check_now(self, *, limit: int | None = None) -> None:
        """Look for drives to format or refill now, and wait until every refill
        ends. ``limit``: refills started now stop after that many objects (the
        tracker keeps the position for the next refill)."""
        await self._look(limit)
        while self._refills:
            await asyncio.gather(*self._refills.values(), return_exceptions=True)

    def status(self) -> list[dict[str, Any]]:
        """One record per drive being (or last) refilled, JSON-able."""
        out = []
        for slot, tracker in sorted(self.trackers.items()):
            record = tracker.to_dict()
            del record["version"]
            record["state"] = "done" if tracker.finished else "healing"
            record["running"] = slot in self._refills
            out.append(record)
        return out

    # -- finding drives to format and refill ------------------------------------------

    async def _look(self, limit: int | None = None) -> None:
        async with self._looking:
            for es in self.layer.sets:
                await self._look_at(es, limit)

    async def _look_at(self, es: ErasureSet, limit: int | None) -> None:
        formats = await es.each_drive(lambda i, d: _read_format(d))
        reference = self._reference(es, formats)
        for position, found in enumerate(formats):
            slot = (es.index, position)
            if slot in self._refills:
                continue
            drive = es.drives[position]
            tracker = None
            if found is UNFORMATTED:
                if reference is not None:
                    tracker = await self._format(es, position, drive, reference)
            elif isinstance(found, FormatErasureV3):
                tracker = await self._tracker_of(slot, drive, found)
            elif isinstance(found, FormatJSONError):
                self._complain(slot, "corrupt_format", f"error={found!s:.200}")
            if tracker is None:
                continue
            self.trackers[slot] = tracker
            if not tracker.finished:
                task = asyncio.create_task(self._refill(es, position, tracker, limit),
                                           name=f"liteio-heal-drive-{es.index}-{position}")
                self._refills[slot] = task
                # NOTE: a callback, not the task's own finally: a task cancelled
                # before it ever ran has no finally to run.
                task.add_done_callback(functools.partial(self._refill_ended, slot))

    def _reference(self, es: ErasureSet, formats: list[Any]) -> FormatErasureV3 | None:
        """The deployment's layout, from the set's own drives, when it is safe to
        format a drive of this set from it: every formatted drive of the set belongs
        to this deployment and sits at the position its drive id names."""
        found = [(p, f) for p, f in enumerate(formats) if isinstance(f, FormatErasureV3)]
        if not found:
            return None
        reference = found[0][1]
        for position, fmt in found:
            if (fmt.id != self.layer.deployment_id or fmt.sets != reference.sets
                    or fmt.drive_position() != (es.index, position)):
                self._complain((es.index, position), "layout_mismatch",
                               f"drive_id={fmt.this} deployment={fmt.id}")
                return None
        if reference.set_count != len(self.layer.sets) or reference.drives_per_set != es.total:
            self._complain((es.index, -1), "layout_mismatch", "set shape differs from format.json")
            return None
        return reference

    async def _format(self, es: ErasureSet, position: int, drive: StorageAPI,
                      reference: FormatErasureV3) -> DriveHealTracker | None:
        fmt = reference.for_drive(es.index, position)
        tracker = new_tracker(fmt.this, drive.endpoint, es.index, position)
        try:
            with contextlib.suppress(serr.VolumeExists):
                await drive.make_volume(SYSTEM_VOLUME)
            # NOTE: the tracker first: a drive with a format.json but no tracker then
            # never was one we set out to refill.
            await write_tracker(drive, tracker)
            await drive.write_all(SYSTEM_VOLUME, FORMAT_FILE, fmt.dump())
        except serr.StorageError as exc:
            log.warning("event=drive_format_failed endpoint=%s set=%d position=%d error=%r",
                        drive.endpoint, es.index, position, exc)
            return None
        with contextlib.suppress(serr.StorageError):
            await drive.disk_info()  # the drive learns its id (reconnect compares it)
        log.info("event=drive_formatted endpoint=%s set=%d position=%d drive_id=%s",
                 drive.endpoint, es.index, position, fmt.this)
        return tracker

    async def _tracker_of(self, slot: Slot, drive: StorageAPI,
                          fmt: FormatErasureV3) -> DriveHealTracker | None:
        try:
            tracker = await read_tracker(drive)
        except serr.StorageError:
            return None
        if tracker is None or tracker.drive_id != fmt.this:
            return None  # never replaced, or a tracker left from another identity
        known = self.trackers.get(slot)
        if known is not None and known.finished and known.drive_id == tracker.drive_id:
            return known  # keep the figures of this process's refill
        return tracker

    def _complain(self, slot: Slot, event: str, detail: str) -> None:
        if (slot, event) not in self._complained:
            self._complained.add((slot, event))
            log.warning("event=drive_heal_%s set=%d position=%d %s", event, slot[0], slot[1],
                        detail)

    # -- refilling one drive -----------------------------------------------------------

    async def _refill(self, es: ErasureSet, position: int, tracker: DriveHealTracker,
                      limit: int | None) -> None:
        drive = es.drives[position]
        log.info("event=drive_heal_start endpoint=%s set=%d position=%d bucket=%s key=%r",
                 drive.endpoint, es.index, position, tracker.bucket, tracker.key)
        try:
            await self._walk_and_heal(es, position, tracker, limit)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next look resumes from the tracker
            tracker.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("event=drive_heal_error endpoint=%s", drive.endpoint)
        finally:
            await self._save(drive, tracker)

    def _refill_ended(self, slot: Slot, task: asyncio.Task[None]) -> None:
        if self._refills.get(slot) is task:
            del self._refills[slot]

    async def _walk_and_heal(self, es: ErasureSet, position: int, tracker: DriveHealTracker,
                             limit: int | None) -> None:
        drive = es.drives[position]
        volumes = await volumes_to_scan(self.layer)
        await self._make_bucket_dirs(drive, [v for v, _ in volumes if v != SYSTEM_VOLUME])
        done = 0
        for volume, prefix in volumes:
            if tracker.bucket and volume < tracker.bucket:
                continue  # refilled before the last restart
            start_after = tracker.key if volume == tracker.bucket else ""
            async with aclosing(set_keys(es, volume, prefix, start_after)) as keys:
                async for key in keys:
                    if limit is not None and done >= limit:
                        return
                    if not await self._heal_one(es, position, tracker, volume, key):
                        return  # the drive left again: resume from the tracker when it is back
                    done += 1
                    if self.config.checkpoint_every and done % self.config.checkpoint_every == 0:
                        await self._save(drive, tracker)
                    if self.config.pause > 0:
                        await asyncio.sleep(self.config.pause)
            tracker.bucket, tracker.key = volume, PAST_END
        tracker.finished, tracker.finished_ns = True, time.time_ns()
        log.info("event=drive_heal_done endpoint=%s set=%d position=%d scanned=%d healed=%d "
                 "failed=%d bytes_rebuilt=%d seconds=%.1f", drive.endpoint, es.index, position,
                 tracker.scanned, tracker.healed, tracker.failed, tracker.bytes_rebuilt,
                 (tracker.finished_ns - tracker.started_ns) / 1e9)

    async def _make_bucket_dirs(self, drive: StorageAPI, buckets: list[str]) -> None:
        """So writes of new objects land on the drive at once, not only after the refill."""
        for bucket in buckets:
            with contextlib.suppress(serr.VolumeExists):
                await drive.make_volume(bucket)

    async def _heal_one(self, es: ErasureSet, position: int, tracker: DriveHealTracker,
                        bucket: str, key: str) -> bool:
        """Heal one object; False when the drive being refilled did not take part."""
        if not es.drives[position].is_online():
            return False
        name = f"{bucket}/{key}"
        try:
            result = await heal_object(es, bucket, key, deep=self.config.deep)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            tracker.note_failure(name, f"{name}: {type(exc).__name__}: {exc}")
            log.warning("event=drive_heal_failed bucket=%s key=%r error=%r", bucket, key, exc,
                        exc_info=True)
        else:
            mine = next((d for d in result.drives if d.position == position), None)
            if mine is not None and not mine.online:
                return False  # not counted: this object is redone on resume
            tracker.bytes_rebuilt += result.bytes_rebuilt
            if result.failed:
                errors = [*result.errors, *(mine.errors if mine is not None else [])]
                tracker.note_failure(name, f"{name}: {errors[0]}" if errors else "")
            elif result.healed:
                tracker.healed += 1
        tracker.scanned += 1
        tracker.bucket, tracker.key = bucket, key
        return True

    async def _save(self, drive: StorageAPI, tracker: DriveHealTracker) -> None:
        """Best effort: an offline drive keeps its last checkpoint, which is where
        a refill resumes (redoing a few objects costs little)."""
        if not drive.is_online():
            return
        try:
            await write_tracker(drive, tracker)
        except serr.StorageError as exc:
            tracker.last_error = f"saving the tracker: {exc}"
