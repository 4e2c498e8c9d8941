"""Bring a deployment's drives up: read or write format.json, order drives into sets.

- No drive formatted: a new deployment. Every drive gets a format.json naming
  the deployment and its slot. Drives that already hold MinIO objects but no
  format.json (MinIO never wrote one on them, or it was lost) are adopted as
  they are: only format.json is added, no object is moved or rewritten.
- Some drives formatted: they must agree on one deployment and on the shape
  of the sets; each formatted drive takes the slot its format.json names, and
  unformatted drives (replacements) fill the remaining slots, each with a
  heal tracker so the drive healer (liteio.heal.drive_heal) refills it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from liteio.heal.tracker import new_tracker, write_tracker
from liteio.meta.errors import FormatJSONError
from liteio.meta.format_json import FormatErasureV3
from liteio.object.errors import DriveLayoutError
from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import FORMAT_FILE, SYSTEM_VOLUME


async def _read_format(drive: StorageAPI) -> FormatErasureV3 | None | BaseException:
    try:
        return FormatErasureV3.load(await drive.read_all(SYSTEM_VOLUME, FORMAT_FILE))
    except (serr.FileNotFound, serr.VolumeNotFound):
        return None
    except (FormatJSONError, serr.FileCorrupt) as exc:
        return DriveLayoutError(f"{drive.endpoint}: unreadable format.json ({exc})")
    except serr.StorageError as exc:
        return exc


async def _ensure_system_volume(drive: StorageAPI) -> None:
    try:
        await drive.make_volume(SYSTEM_VOLUME)
    except serr.VolumeExists:
        pass


async def format_drives(
    drives: Sequence[StorageAPI], set_count: int, set_size: int, *, clean_tmp: bool = True
) -> tuple[str, list[list[StorageAPI]]]:
    """Returns (deployment id, drives grouped into sets in slot order).

    ``clean_tmp`` removes staging leftovers first; only a process that knows no
    other process is writing (the first to start) may ask for it."""
    if len(drives) != set_count * set_size:
        raise DriveLayoutError(f"{len(drives)} drives cannot form {set_count} sets of {set_size}")
    # Leftovers of writers that died mid-write are never visible; remove them.
    if clean_tmp:
        await asyncio.gather(*(d.clean_tmp() for d in drives if d.is_online()),
                             return_exceptions=True)
    found = await asyncio.gather(*(_read_format(d) for d in drives))
    formats = {i: f for i, f in enumerate(found) if isinstance(f, FormatErasureV3)}
    broken = [f for f in found if isinstance(f, DriveLayoutError)]
    if broken:
        raise broken[0]
    offline = [i for i, f in enumerate(found) if isinstance(f, serr.StorageError)]

    if not formats:
        if offline:
            raise DriveLayoutError(
                f"cannot create a new deployment while {len(offline)} drive(s) are unreachable: "
                + ", ".join(drives[i].endpoint for i in offline))
        reference = FormatErasureV3.new(set_count, set_size)
        await asyncio.gather(*(_ensure_system_volume(d) for d in drives))
        await asyncio.gather(*(
            drives[s * set_size + d].write_all(
                SYSTEM_VOLUME, FORMAT_FILE, reference.for_drive(s, d).dump())
            for s in range(set_count) for d in range(set_size)
        ))
        sets = [list(drives[s * set_size : (s + 1) * set_size]) for s in range(set_count)]
        return reference.id, sets

    deployment, _ = Counter(f.id for f in formats.values()).most_common(1)[0]
    strangers = [drives[i].endpoint for i, f in formats.items() if f.id != deployment]
    if strangers:
        raise DriveLayoutError(
            f"drive(s) {', '.join(strangers)} belong to another deployment than {deployment}")
    reference = next(f for f in formats.values() if f.id == deployment)
    if reference.set_count != set_count or reference.drives_per_set != set_size:
        raise DriveLayoutError(
            f"drives were formatted as {reference.set_count} set(s) of {reference.drives_per_set}, "
            f"but {set_count} of {set_size} were asked for")

    slots: list[list[StorageAPI | None]] = [[None] * set_size for _ in range(set_count)]
    for i, fmt in formats.items():
        position = reference.drive_position(fmt.this)
        if position is None:
            raise DriveLayoutError(f"{drives[i].endpoint}: drive id {fmt.this} is not in the layout")
        s, d = position
        if slots[s][d] is not None:
            raise DriveLayoutError(f"{drives[i].endpoint}: slot {s}/{d} is claimed twice")
        slots[s][d] = drives[i]
    fresh = [d for i, d in enumerate(drives) if i not in formats and i not in offline]
    unreachable = [d for i, d in enumerate(drives) if i in offline]
    for s in range(set_count):
        for d in range(set_size):
            if slots[s][d] is not None:
                continue
            if fresh:
                drive = fresh.pop(0)
                await _ensure_system_volume(drive)
                fmt = reference.for_drive(s, d)
                # The tracker before format.json: a replacement must never end up with
                # its identity but without the mark that it still has to be refilled.
                await write_tracker(drive, new_tracker(fmt.this, drive.endpoint, s, d))
                await drive.write_all(SYSTEM_VOLUME, FORMAT_FILE, fmt.dump())
            else:
                drive = unreachable.pop(0)  # keeps its slot; comes back later
            slots[s][d] = drive
    return deployment, [[d for d in row if d is not None] for row in slots]
