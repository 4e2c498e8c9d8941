"""``.minio.sys/heal/drive.json``: the progress of healing one replaced drive.

Written on the drive being healed, before its format.json (so a drive that
has its identity but no tracker was never ours to refill), then every few
objects while it is refilled, and kept, marked finished, when it is done:

    {"version": 1, "drive_id": "<format.json this>", "endpoint": "...",
     "set": 0, "position": 2, "started_ns": ..., "saved_ns": ...,
     "bucket": "<volume being healed>", "key": "<last key healed>",
     "scanned": 0, "healed": 0, "failed": 0, "bytes_rebuilt": 0,
     "failures": ["bucket/key", ...], "last_error": "",
     "finished": false, "finished_ns": 0}

This module knows only drives (start-up formatting in ``liteio.object``
writes trackers too, and must not import the healer).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from liteio.storage import errors as serr
from liteio.storage.api import StorageAPI
from liteio.storage.paths import SYSTEM_VOLUME

TRACKER_PATH = "heal/drive.json"
TRACKER_VERSION = 1
FAILURES_KEPT = 20


@dataclass(slots=True)
class DriveHealTracker:
    drive_id: str
    endpoint: str
    set: int
    position: int
    started_ns: int = 0
    saved_ns: int = 0
    bucket: str = ""  # position: the last object healed
    key: str = ""
    scanned: int = 0
    healed: int = 0
    failed: int = 0
    bytes_rebuilt: int = 0
    failures: list[str] = field(default_factory=list)  # the last few objects that failed
    last_error: str = ""
    finished: bool = False
    finished_ns: int = 0

    def note_failure(self, name: str, error: str = "") -> None:
        self.failed += 1
        self.failures = [*self.failures[-(FAILURES_KEPT - 1):], name]
        if error:
            self.last_error = error

    def to_dict(self) -> dict[str, Any]:
        return {"version": TRACKER_VERSION, **asdict(self)}

    def dump(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True).encode()

    @classmethod
    def load(cls, data: bytes) -> DriveHealTracker | None:
        """None for anything but a tracker of this version (a torn or foreign file)."""
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(doc, dict) or doc.get("version") != TRACKER_VERSION:
            return None
        known = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        try:
            tracker = cls(**known)
        except TypeError:  # a required field is missing
            return None
        types_ok = (isinstance(tracker.set, int) and isinstance(tracker.position, int)
                    and isinstance(tracker.key, str) and isinstance(tracker.bucket, str)
                    and isinstance(tracker.failures, list))
        return tracker if types_ok else None


def new_tracker(drive_id: str, endpoint: str, set_index: int, position: int) -> DriveHealTracker:
    """The tracker of a drive formatted into slot (set, position) just now."""
    return DriveHealTracker(drive_id=drive_id, endpoint=endpoint, set=set_index,
                            position=position, started_ns=time.time_ns())


async def write_tracker(drive: StorageAPI, tracker: DriveHealTracker) -> None:
    tracker.saved_ns = time.time_ns()
    await drive.write_all(SYSTEM_VOLUME, TRACKER_PATH, tracker.dump())


async def read_tracker(drive: StorageAPI) -> DriveHealTracker | None:
    """The drive's tracker; None when it has none (or an unreadable one)."""
    try:
        return DriveHealTracker.load(await drive.read_all(SYSTEM_VOLUME, TRACKER_PATH))
    except (serr.FileNotFound, serr.VolumeNotFound):
        return None
