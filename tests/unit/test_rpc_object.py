"""The object layer over a set that mixes local drives and RemoteDrives.

Single-node and distributed mode are the same code: the object layer sees four
StorageAPIs, two of them reached over RPC (one RPCServer in this process). The
object-layer and multipart tests run here unchanged against such a set (pytest
collects the imported test functions with this module's ``store`` fixture),
plus checks of what only the mixed set shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liteio.object.layer import ObjectLayer
from liteio.object.listing import list_objects
from liteio.object.types import CompletePart
from liteio.rpc import RemoteDrive
from liteio.rpc.loopback import Loopback
from liteio.storage.api import StorageAPI
from liteio.storage.local import LocalDrive
from liteio.storage.paths import SYSTEM_VOLUME
from tests.support.store import Store, body_of, md5

# The object layer's own tests, collected here with the mixed store below.
from tests.unit.test_multipart import (  # noqa: F401
    test_abort_removes_everything,
    test_complete_and_abort_race,
    test_concurrent_parts_and_same_part_twice,
    test_copy_object_part,
    test_drive_missing_a_part_is_left_out_of_the_object,
    test_error_cases,
    test_list_parts_pagination,
    test_lost_upload_dirs_on_4_drives,
    test_upload_out_of_order_complete_and_read_back,
    test_zero_length_last_part_and_single_part,
)
from tests.unit.test_object_layer import (  # noqa: F401
    test_bit_flips_are_detected_and_corrected,
    test_delete_unversioned,
    test_list_objects,
    test_missing_things,
    test_overwrite_replaces_and_cleans_old_data,
    test_put_get_round_trip,
    test_ranges,
    test_small_objects_are_inline_and_large_ones_are_not,
    test_survives_two_lost_drives_and_refuses_three,
    test_versioning,
)

MIB = 1 << 20
SECRET = "rpc-object-test-secret"


class MixedStore(Store):
    """A Store whose drives at ``remote`` positions are RemoteDrives, served by an
    RPCServer in this process from the same folders (so tests that look at or
    damage the folders work as before)."""

    def __init__(self, root: Path, remote: tuple[int, ...] = (2, 3), **kw: Any) -> None:
        self.remote = set(remote)
        self.loopback: Loopback | None = None
        self.served: dict[str, StorageAPI] = {}
        super().__init__(root, wrap=self._wrap, **kw)

    async def _open(self) -> ObjectLayer:
        if self.loopback is None:
            self.loopback = await Loopback({}, SECRET, call_timeout=10.0).start()
        return await super()._open()

    def _wrap(self, i: int, drive: StorageAPI) -> StorageAPI:
        if i not in self.remote:
            return drive
        assert self.loopback is not None
        drive_id = f"/d{i}"
        old = self.served.get(drive_id)
        if old is not None:  # reopened: the layer closed only its RemoteDrive
            self.runner.get_loop().create_task(old.close())
        self.served[drive_id] = self.loopback.server.drives[drive_id] = drive
        return self.loopback.drive(drive_id)

    def close(self) -> None:
        self.run(self.layer.close())
        if self.loopback is not None:
            self.run(self.loopback.close())
        for drive in self.served.values():
            self.run(drive.close())
        self.runner.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = MixedStore(tmp_path)
    s.run(s.layer.make_bucket("bkt"))
    yield s
    s.close()


def test_the_set_really_is_mixed(store: MixedStore) -> None:
    kinds = [type(d) for d in store.layer.drives]
    assert kinds == [LocalDrive, LocalDrive, RemoteDrive, RemoteDrive]
    data = os.urandom(3 * MIB + 5)
    store.put("bkt", "obj", data)
    # Every drive, remote ones included, holds xl.meta and a data dir.
    for p in store.paths:
        entries = os.listdir(p / "bkt" / "obj")
        assert "xl.meta" in entries and len(entries) == 2
    assert store.get("bkt", "obj") == data


@pytest.mark.parametrize("size", [0, 100, 128 * 1024, MIB + 1, 9 * MIB + 3])
def test_put_get_delete_byte_identical(store: MixedStore, size: int) -> None:
    data = os.urandom(size)
    info = store.put("bkt", f"k/{size}", data)
    assert info.etag == md5(data)
    assert store.get("bkt", f"k/{size}") == data
    if size:
        assert store.get("bkt", f"k/{size}", offset=size // 3, length=size // 2) == \
            data[size // 3 : size // 3 + size // 2]
    store.run(store.layer.delete_object("bkt", f"k/{size}"))
    for p in store.paths:
        assert not (p / "bkt" / "k" / str(size)).exists()


def test_reads_survive_losing_both_local_drives(store: MixedStore) -> None:
    """K=2 of 2+2: with both local drives gone, the remote ones alone serve reads."""
    data = os.urandom(2 * MIB + 17)
    store.put("bkt", "o", data)
    for p in store.paths[:2]:
        shutil.rmtree(p)
    assert store.get("bkt", "o") == data


def test_listing_and_multipart_over_the_mixed_set(store: MixedStore) -> None:
    keys = [f"dir{i % 3}/obj{i:03d}" for i in range(40)]
    for key in keys:
        store.put("bkt", key, key.encode())
    page = store.run(list_objects(store.layer.sets, "bkt", max_keys=1000))
    assert [o.key for o in page.objects] == sorted(keys)
    top = store.run(list_objects(store.layer.sets, "bkt", delimiter="/"))
    assert sorted(top.prefixes) == ["dir0/", "dir1/", "dir2/"]

    parts = [os.urandom(MIB + 11), os.urandom(MIB - 3), os.urandom(777)]
    uid = store.run(store.layer.new_multipart_upload("bkt", "mp"))
    etags = []
    for n, chunk in enumerate(parts, 1):
        info = store.run(store.layer.put_object_part("bkt", "mp", uid, n, body_of(chunk),
                                                     len(chunk)))
        etags.append(info.etag)
    store.run(store.layer.complete_multipart_upload(
        "bkt", "mp", uid, [CompletePart(n, e) for n, e in enumerate(etags, 1)],
        min_part_size=1000))
    assert store.get("bkt", "mp") == b"".join(parts)
    for p in store.paths:
        tmp = p / SYSTEM_VOLUME / "tmp"
        assert not any(f.is_file() for f in tmp.rglob("*"))
