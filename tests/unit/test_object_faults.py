"""Faults: the erasure set survives up to M bad drives and refuses honestly beyond.

Every scenario runs on a 4-drive 2+2 and a 6-drive 4+2 set, for an inline
object, a single-block part-file object and a multi-block one. "Survives"
means the bytes read back are identical (MD5) *and* the damage was noticed:
each damaged data shard shows up in the set's ``heal_hints`` (parity shards
are read only when a data shard is bad, so damage there may go unread), and
no healthy drive is blamed. "Refuses" means the exact error, and for writes
not one byte left behind on the drives that were up.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from liteio.meta.ids import NULL_VERSION_ID
from liteio.meta.versions import ObjectVersion
from liteio.meta.xlmeta import XLMeta
from liteio.object import errors as oerr
from liteio.object.erasure_set import ErasureSet
from liteio.storage.api import StorageAPI
from liteio.storage.errors import DriveOffline
from liteio.storage.faulty import Fault, FaultyDrive
from tests.support.store import Store

MIB = 1 << 20
BUCKET = "bkt"

# (drives, parity) of the two sets under test.
LAYOUTS = [(4, 2), (6, 2)]
SIZES = {
    "inline": 100_000,  # shard <= 128 KiB on both layouts: lives in xl.meta
    "single-block": 700_000,  # one block, shards in part.1
    "multi-block": 3 * MIB + 12_345,  # four blocks, the last one short
}

# Every call a drive can get: a drive "offline" fails all of them.
ALL_CALLS = (
    "disk_info", "make_volume", "list_volumes", "stat_volume", "delete_volume", "read_all",
    "write_all", "delete", "list_dir", "rename", "create_shard", "open_shard", "read_xl",
    "commit_version", "add_delete_marker", "delete_version", "update_version", "restore_xl",
    "discard_data_dir", "walk", "walk_next", "clean_tmp", "write", "writer_close",
    "writer_abort", "read_at", "reader_close",
)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def body(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


# -- the store and its drives ---------------------------------------------------------------


class FaultStore(Store):
    """A ``Store`` whose drives are all ``FaultyDrive``s, with on-disk helpers."""

    def __init__(self, root: Path, drives: int, parity: int) -> None:
        super().__init__(root, drives, parity, wrap=lambda i, d: FaultyDrive(d))
        self.run(self.layer.make_bucket(BUCKET))

    @property
    def eset(self) -> ErasureSet:
        return self.layer.sets[0]

    def faulty(self, position: int) -> FaultyDrive:
        drive = self.eset.drives[position]
        assert isinstance(drive, FaultyDrive)
        return drive

    def root_of(self, position: int) -> Path:
        return Path(self.faulty(position).inner.endpoint)

    def obj_dir(self, position: int, key: str) -> Path:
        return self.root_of(position) / BUCKET / key

    def version_on(self, position: int, key: str) -> ObjectVersion:
        xl = XLMeta.load((self.obj_dir(position, key) / "xl.meta").read_bytes())
        version = xl.latest()
        assert isinstance(version, ObjectVersion)
        return version

    def part_file(self, position: int, key: str) -> Path:
        version = self.version_on(position, key)
        return self.obj_dir(position, key) / version.data_dir_text / "part.1"

    def is_inline(self, key: str) -> bool:
        return not any(p.is_dir() for p in self.obj_dir(0, key).iterdir())

    def shards(self, key: str) -> dict[int, int]:
        """Set position -> the shard index (1-based) its drive holds for ``key``."""
        return {p: self.version_on(p, key).ec_index for p in range(self.eset.total)}

    def data_positions(self, key: str) -> set[int]:
        """Set positions whose drive holds a data shard (read first) of ``key``."""
        return {p for p, shard in self.shards(key).items() if shard <= self.eset.data}

    def offline(self, position: int) -> list[Fault]:
        drive = self.faulty(position)
        return [drive.add(Fault(name, error=DriveOffline)) for name in ALL_CALLS]

    def online_again(self) -> None:
        for p in range(self.eset.total):
            self.faulty(p).clear()

    def hinted(self, key: str) -> set[int]:
        return {pos for (b, k, pos) in self.eset.heal_hints if (b, k) == (BUCKET, key)}

    def tree(self, positions: Iterable[int]) -> dict[str, str]:
        """Every file under the given drives (relative path -> SHA-256), dirs as ''."""
        out: dict[str, str] = {}
        for p in positions:
            root = self.root_of(p)
            for dirpath, dirnames, filenames in os.walk(root):
                rel = os.path.relpath(dirpath, root)
                for d in dirnames:
                    out[f"{p}:{rel}/{d}/"] = ""
                for f in filenames:
                    data = Path(dirpath, f).read_bytes()
                    out[f"{p}:{rel}/{f}"] = hashlib.sha256(data).hexdigest()
        return out


def flip(path: Path, at: int) -> None:
    blob = bytearray(path.read_bytes())
    blob[at] ^= 0x5A
    path.write_bytes(bytes(blob))


def flip_inline(path: Path) -> None:
    """Flip one byte of the inline shard inside an xl.meta, past the xl.meta CRC.

    The CRC covers only the metadata section, so the file still loads: only the
    shard's bitrot hash can catch this.
    """
    raw = path.read_bytes()
    shard = XLMeta.load(raw).inline_data(NULL_VERSION_ID)
    assert shard is not None and len(shard) > 64
    at = raw.find(shard)
    assert at > 0 and raw.find(shard, at + 1) == -1
    flip(path, at + 32 + len(shard) // 3)  # inside the payload, after the 32-byte hash
    damaged = XLMeta.load(path.read_bytes())  # the metadata CRC does not notice
    assert damaged.inline_data(NULL_VERSION_ID) != shard


@pytest.fixture(params=LAYOUTS, ids=lambda l: f"{l[0] - l[1]}+{l[1]}")
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultStore]:
    drives, parity = request.param
    s = FaultStore(tmp_path, drives, parity)
    yield s
    s.close()


# -- damage kinds --------------------------------------------------------------------------


@dataclass
class Damage:
    """What was done to one drive, and whether a read must notice it."""

    position: int
    kind: str
    faults: list[Fault]


def damage(store: FaultStore, key: str, position: int, kind: str) -> Damage:
    inline = store.is_inline(key)
    faults: list[Fault] = []
    if kind == "offline":
        faults = store.offline(position)
    elif kind == "no-xl.meta":
        (store.obj_dir(position, key) / "xl.meta").unlink()
    elif kind == "no-shard":
        if inline:  # the shard *is* in xl.meta
            (store.obj_dir(position, key) / "xl.meta").unlink()
        else:
            store.part_file(position, key).unlink()
    elif kind == "bitrot":
        if inline:
            flip_inline(store.obj_dir(position, key) / "xl.meta")
        else:
            part = store.part_file(position, key)
            # Somewhere in the middle: a later block for multi-block objects.
            flip(part, part.stat().st_size * 2 // 3)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return Damage(position, kind, faults)


def expected_hints(store: FaultStore, key: str, done: list[Damage], shard_of: dict[int, int]
                   ) -> set[int]:
    """The drives a full read must blame, by the decoder's rule.

    Drives that answer without the version (no xl.meta) are hinted when the
    version is resolved. Offline drives are the health checker's business, never
    a hint. The decoder reads shards in index order (data first), dropping each
    one that is missing or fails its hash, until K are good: the damaged shards
    it meets on the way are hinted, the ones after it are never read.
    """
    kinds = {d.position: d.kind for d in done}
    inline = store.is_inline(key)
    hinted = {p for p, kind in kinds.items()
              if kind == "no-xl.meta" or (kind == "no-shard" and inline)}
    good = 0
    for p in sorted(shard_of, key=shard_of.__getitem__):
        if good == store.eset.data:
            break
        kind = kinds.get(p)
        if kind in ("offline", "no-xl.meta") or p in hinted:
            continue  # no metadata from it: not a source at all
        if kind in ("no-shard", "bitrot"):
            hinted.add(p)
        else:
            good += 1
    return hinted


KINDS = ["offline", "no-xl.meta", "no-shard", "bitrot", "mixed"]


@pytest.mark.parametrize("size_name", list(SIZES))
@pytest.mark.parametrize("kind", KINDS)
def test_up_to_m_bad_drives_read_back_identical(store: FaultStore, kind: str, size_name: str) -> None:
    """Every choice of M drives, damaged: identical bytes, damage noticed, nobody else blamed."""
    s = store
    n, m = s.eset.total, s.eset.parity
    size = SIZES[size_name]
    combos = list(itertools.combinations(range(n), m))
    kinds = ["offline", "bitrot", "no-xl.meta", "no-shard"]
    bodies = {}
    for c, combo in enumerate(combos):
        key = f"{size_name}/{c}"
        bodies[key] = body(zlib.crc32(f"{kind}/{size_name}/{n}/{c}".encode()), size)
        s.put(BUCKET, key, bodies[key])
    noticed_any = False
    for c, combo in enumerate(combos):
        key = f"{size_name}/{c}"
        assert s.is_inline(key) == (size_name == "inline")
        shard_of = s.shards(key)
        done = [damage(s, key, p, kinds[(c + j) % 4] if kind == "mixed" else kind)
                for j, p in enumerate(combo)]
        s.eset.heal_hints.clear()
        got = s.get(BUCKET, key)
        head = s.run(s.layer.get_object_info(BUCKET, key))
        s.online_again()
        assert md5(got) == md5(bodies[key]) and len(got) == size
        assert (head.size, head.etag) == (size, md5(bodies[key]))
        for d in done:
            if d.kind == "offline":  # the drive really was asked, and really failed
                assert sum(f.fired for f in d.faults) > 0
        expected = expected_hints(s, key, done, shard_of)
        # get + head both resolve, so stale metadata is hinted; never a healthy drive.
        assert s.hinted(key) == expected, (combo, [d.kind for d in done])
        noticed_any |= bool(expected)
    if kind != "offline":
        assert noticed_any  # some combination put damage where the read had to go


def test_bit_flip_in_inline_data_is_caught_by_the_bitrot_hash(tmp_path: Path) -> None:
    """All data shards of an inline object flipped: parity rebuilds them, both are hinted."""
    s = FaultStore(tmp_path, 4, 2)
    try:
        data = body(7, 50_000)
        s.put(BUCKET, "small", data)
        positions = sorted(s.data_positions("small"))
        for p in positions:
            flip_inline(s.obj_dir(p, "small") / "xl.meta")
        assert s.get(BUCKET, "small") == data
        assert s.hinted("small") == set(positions)
    finally:
        s.close()


# -- more than M drives gone ------------------------------------------------------------------


@pytest.mark.parametrize("size_name", list(SIZES))
@pytest.mark.parametrize("kind", ["offline", "no-xl.meta", "no-shard", "bitrot"])
def test_more_than_m_bad_drives_refuse_reads(store: FaultStore, kind: str, size_name: str) -> None:
    """M+1 bad drives: the exact error, and intact data again once the drives return.

    Offline drives or lost shards: InsufficientReadQuorum (the object exists,
    we cannot read it). xl.meta gone from M+1 drives: ObjectNotFound only when
    K drives say "not here" (2+2: 3 of 4) -- a quorum answer, since no write
    that reached its write quorum can leave K drives without it -- else
    InsufficientReadQuorum (4+2: 3 say yes, 3 say no).
    """
    s = store
    n, m, k = s.eset.total, s.eset.parity, s.eset.data
    size = SIZES[size_name]
    data = body(size, size)
    s.put(BUCKET, "obj", data)
    # The data shards first, so the read cannot dodge the damage through parity.
    order = sorted(range(n), key=lambda p: s.version_on(p, "obj").ec_index)
    victims = order[: m + 1]
    for p in victims:
        damage(s, "obj", p, kind)
    expected: type[oerr.ObjectError] = oerr.InsufficientReadQuorum
    if kind == "no-xl.meta" or (kind == "no-shard" and size_name == "inline"):
        expected = oerr.ObjectNotFound if m + 1 >= k else oerr.InsufficientReadQuorum
    with pytest.raises(expected):
        s.get(BUCKET, "obj")
    if kind in ("offline", "no-xl.meta") or size_name == "inline" and kind == "no-shard":
        # Metadata quorum is lost too: HEAD says the same as GET.
        with pytest.raises(expected):
            s.run(s.layer.get_object_info(BUCKET, "obj"))
    else:
        # Metadata is fine, the data is not: HEAD works, the bad data shards are hinted.
        assert s.run(s.layer.get_object_info(BUCKET, "obj")).etag == md5(data)
        assert set(victims) & s.data_positions("obj") <= s.hinted("obj")
    if kind == "offline":
        s.online_again()
        assert s.get(BUCKET, "obj") == data


@pytest.mark.parametrize("size_name", list(SIZES))
@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_more_than_m_offline_refuse_writes_and_leave_nothing(
    store: FaultStore, size_name: str, existing: bool
) -> None:
    s = store
    n, m = s.eset.total, s.eset.parity
    size = SIZES[size_name]
    old = body(1, SIZES["multi-block"])
    if existing:
        s.put(BUCKET, "obj", old)
    before = s.tree(range(n))
    for p in range(m + 1):  # more than the write quorum allows
        s.offline(p)
    with pytest.raises(oerr.InsufficientWriteQuorum):
        s.put(BUCKET, "obj", body(2, size))
    with pytest.raises(oerr.InsufficientWriteQuorum):
        s.put(BUCKET, "other", body(3, size))
    s.online_again()
    # The drives that were up: byte for byte what they held before (no xl.meta,
    # no data dir, nothing staged in .minio.sys/tmp).
    assert s.tree(range(n)) == before
    for p in range(n):
        assert list((s.root_of(p) / ".minio.sys" / "tmp").iterdir()) == []
        assert not (s.root_of(p) / BUCKET / "other").exists()
    if existing:
        assert s.get(BUCKET, "obj") == old
    else:
        with pytest.raises(oerr.ObjectNotFound):
            s.get(BUCKET, "obj")


# -- a drive failing in the middle of a write -------------------------------------------------


def _fail_nth_write(nth: int) -> Callable[[int, StorageAPI], Fault]:
    def add(position: int, drive: StorageAPI) -> Fault:
        assert isinstance(drive, FaultyDrive)
        return drive.add(Fault("write", after=nth - 1, times=1))
    return add


@pytest.mark.parametrize("size_name", ["single-block", "multi-block"])
def test_shard_write_failing_midway_within_quorum(store: FaultStore, size_name: str) -> None:
    """N - W drives lose their shard stream mid-object: the put succeeds and reads back."""
    s = store
    spare = s.eset.total - s.eset.write_quorum
    old = body(10, SIZES["multi-block"])
    s.put(BUCKET, "obj", old)
    nth = 1 if size_name == "single-block" else 3  # the 3rd block of a 4-block object
    faults = [_fail_nth_write(nth)(p, s.eset.drives[p]) for p in range(spare)]
    new = body(11, SIZES[size_name])
    info = s.put(BUCKET, "obj", new)
    assert all(f.fired == 1 for f in faults)
    assert info.etag == md5(new)
    # The drives that failed still hold the old version: hinted for healing by
    # the put, outvoted on read (and hinted again there).
    assert s.hinted("obj") == set(range(spare))
    s.eset.heal_hints.clear()
    assert s.get(BUCKET, "obj") == new
    assert s.hinted("obj") == set(range(spare))
    for p in range(spare):
        assert s.version_on(p, "obj").size == len(old)
    for p in range(s.eset.total):
        assert list((s.root_of(p) / ".minio.sys" / "tmp").iterdir()) == []


@pytest.mark.parametrize("size_name", list(SIZES))
def test_shard_write_failing_below_quorum_keeps_the_old_version(
    store: FaultStore, size_name: str
) -> None:
    s = store
    lost = s.eset.total - s.eset.write_quorum + 1
    old = body(20, SIZES["single-block"])
    s.put(BUCKET, "obj", old)
    before = s.tree(range(s.eset.total))
    new = body(21, SIZES[size_name])
    if size_name == "inline":
        # Inline shards never touch a drive before the commit: fail the commit.
        for p in range(lost):
            s.faulty(p).add(Fault("commit_version"))
    else:
        for p in range(lost):
            _fail_nth_write(2 if size_name == "multi-block" else 1)(p, s.eset.drives[p])
    with pytest.raises(oerr.InsufficientWriteQuorum):
        s.put(BUCKET, "obj", new)
    s.online_again()
    assert s.tree(range(s.eset.total)) == before
    assert s.get(BUCKET, "obj") == old


@pytest.mark.parametrize("size_name", list(SIZES))
@pytest.mark.parametrize("failing", ["within-quorum", "below-quorum"])
def test_commit_failing_on_some_drives(store: FaultStore, size_name: str, failing: str) -> None:
    """commit_version fails on one or more drives after the others committed.

    Within quorum: success, and the object reads back. Below quorum: the drives
    that did commit are rolled back, byte for byte, and the old version reads
    back from every drive.
    """
    s = store
    n, m, quorum = s.eset.total, s.eset.parity, s.eset.write_quorum
    old = body(30, SIZES["multi-block"])
    s.put(BUCKET, "obj", old)
    before = s.tree(range(n))
    new = body(31, SIZES[size_name])
    bad = n - quorum if failing == "within-quorum" else n - quorum + 1
    # The last positions fail: gather starts the first ones, which do commit.
    faults = [s.faulty(p).add(Fault("commit_version", times=1)) for p in range(n - bad, n)]
    if failing == "within-quorum":
        assert s.put(BUCKET, "obj", new).etag == md5(new)
        assert all(f.fired == 1 for f in faults)
        assert s.hinted("obj") == set(range(n - bad, n))
        assert s.get(BUCKET, "obj") == new
        return
    with pytest.raises(oerr.InsufficientWriteQuorum):
        s.put(BUCKET, "obj", new)
    assert all(f.fired == 1 for f in faults)
    rolled_back = n - bad
    assert s.faulty(0).calls["restore_xl"] == 1 and rolled_back >= 1
    assert s.tree(range(n)) == before
    # Readable from every drive: each choice of K drives alone gives the old bytes.
    for keep in itertools.combinations(range(n), s.eset.data):
        for p in range(n):
            if p not in keep:
                s.offline(p)
        assert s.get(BUCKET, "obj") == old
        s.online_again()
    assert m >= 1
