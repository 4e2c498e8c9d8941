"""What a heal found and did, per object and per drive (plain records, JSON-able).

One ``HealResult`` per object: the versions a read quorum holds (the truth),
then one ``DriveReport`` per set position saying how that drive differed
from the truth and what was rebuilt there. In a dry run the same records
describe what *would* change; nothing on the drives does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# DriveReport.metadata: why a drive's xl.meta had to be rewritten.
META_OK = "ok"
META_MISSING = "missing"  # no xl.meta (or no bucket directory) on the drive
META_CORRUPT = "corrupt"  # xl.meta there but unreadable
META_OUTDATED = "outdated"  # readable, but versions missing, stale or misplaced
META_UNKNOWN = "unknown"  # drive unreachable: not looked at

# ShardRepair.reason
SHARD_MISSING = "missing"  # no part file / no inline stream
SHARD_SHORT = "short"  # shorter than the version's framed size (truncated)
SHARD_LONG = "long"  # longer than it should be
SHARD_BITROT = "bitrot"  # a frame fails its HighwayHash (deep mode, or found while rebuilding)
SHARD_UNREADABLE = "unreadable"  # the drive failed the read
SHARD_MISPLACED = "misplaced"  # the drive's copy of the version names another shard number


@dataclass(slots=True)
class ShardRepair:
    """One shard stream of one drive that was (or would be) rebuilt."""

    version_id: str
    part: int  # part number (inline streams are part 1)
    reason: str
    inline: bool = False
    done: bool = False  # rebuilt and in place (False in a dry run or when it failed)


@dataclass(slots=True)
class DriveReport:
    position: int
    endpoint: str
    online: bool = True
    metadata: str = META_OK
    missing_versions: list[str] = field(default_factory=list)  # quorum versions it lacked
    stale_versions: list[str] = field(default_factory=list)  # versions the quorum does not have
    shards: list[ShardRepair] = field(default_factory=list)
    stray_data_dirs: list[str] = field(default_factory=list)  # data dirs nothing refers to
    strays_removed: bool = False
    metadata_written: bool = False
    bytes_rebuilt: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        """Whether this drive differed from the quorum in any way heal repairs."""
        return (self.metadata != META_OK and self.metadata != META_UNKNOWN) or bool(
            self.shards or self.stray_data_dirs or self.stale_versions)


@dataclass(slots=True)
class DanglingVersion:
    """A version some drives hold but no read quorum does."""

    version_id: str
    holders: list[int]  # drives whose xl.meta has it
    removable: bool  # the answers prove no write quorum ever held it
    removed: bool = False
    shard_holders: list[int] = field(default_factory=list)  # others that still have its shards


@dataclass(slots=True)
class HealResult:
    bucket: str
    key: str
    deep: bool = False
    dry_run: bool = False
    found: bool = True  # any trace of the object on any reachable drive
    versions: list[str] = field(default_factory=list)  # quorum versions, latest first
    drives: list[DriveReport] = field(default_factory=list)
    dangling: list[DanglingVersion] = field(default_factory=list)
    unrecoverable: list[str] = field(default_factory=list)  # versions too few shards survive of
    errors: list[str] = field(default_factory=list)
    fully_redundant: bool = False  # every drive holds every quorum version, all shards intact
    seconds: float = 0.0

    @property
    def bytes_rebuilt(self) -> int:
        return sum(d.bytes_rebuilt for d in self.drives)

    @property
    def damaged_drives(self) -> list[int]:
        return [d.position for d in self.drives if d.damaged]

    @property
    def needs_heal(self) -> bool:
        """Damage was found that heal can act on."""
        return bool(self.damaged_drives) or any(
            d.removable and not d.removed for d in self.dangling)

    @property
    def healed(self) -> bool:
        """Something on the drives was changed."""
        return not self.dry_run and (
            any(d.metadata_written or d.strays_removed or any(s.done for s in d.shards)
                for d in self.drives)
            or any(d.removed for d in self.dangling))

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.unrecoverable or any(d.errors for d in self.drives))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bytes_rebuilt"] = self.bytes_rebuilt
        out["healed"] = self.healed
        return out

    def summary(self) -> str:
        """One log line: key=value."""
        state = ("unrecoverable" if self.unrecoverable else "failed" if self.failed
                 else "healed" if self.healed else "damaged" if self.needs_heal else "ok")
        return (f"bucket={self.bucket} key={self.key!r} state={state} deep={self.deep} "
                f"dry_run={self.dry_run} versions={len(self.versions)} "
                f"damaged_drives={self.damaged_drives} bytes_rebuilt={self.bytes_rebuilt} "
                f"dangling={len(self.dangling)} redundant={self.fully_redundant}")
