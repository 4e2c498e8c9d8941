"""Object layer over four real local drives (EC 2+2): the basic verbs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from liteio.object import errors as oerr
from liteio.object.types import PutOptions
from tests.support.store import Store, md5

MIB = 1 << 20


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    s.run(s.layer.make_bucket("bkt"))
    yield s
    s.close()


@pytest.mark.parametrize("size", [0, 1, 4096, 300_000, MIB, 3 * MIB + 7])
def test_put_get_round_trip(store: Store, size: int) -> None:
    data = os.urandom(size)
    info = store.put("bkt", "obj", data, PutOptions(metadata={"content-type": "text/x"}))
    assert info.etag == md5(data) and info.size == size
    assert store.get("bkt", "obj") == data
    head = store.run(store.layer.get_object_info("bkt", "obj"))
    assert (head.size, head.etag, head.content_type) == (size, md5(data), "text/x")


def test_ranges(store: Store) -> None:
    data = os.urandom(2 * MIB + 123)
    store.put("bkt", "r", data)
    for offset, length in [(0, 1), (MIB - 1, 2), (MIB, MIB), (2 * MIB, 123), (5, 2 * MIB)]:
        assert store.get("bkt", "r", offset=offset, length=length) == data[offset : offset + length]


def test_small_objects_are_inline_and_large_ones_are_not(store: Store) -> None:
    store.put("bkt", "small", b"x" * 1000)
    store.put("bkt", "large", os.urandom(MIB))
    for p in store.paths:
        assert sorted(os.listdir(p / "bkt" / "small")) == ["xl.meta"]
        entries = os.listdir(p / "bkt" / "large")
        assert "xl.meta" in entries and len(entries) == 2


def test_overwrite_replaces_and_cleans_old_data(store: Store) -> None:
    store.put("bkt", "k", os.urandom(MIB))
    second = os.urandom(MIB + 5)
    store.put("bkt", "k", second)
    assert store.get("bkt", "k") == second
    for p in store.paths:
        assert len(os.listdir(p / "bkt" / "k")) == 2  # xl.meta + one data dir


def test_missing_things(store: Store) -> None:
    with pytest.raises(oerr.ObjectNotFound):
        store.get("bkt", "nope")
    with pytest.raises(oerr.BucketNotFound):
        store.put("nobucket", "k", b"x")
    with pytest.raises(oerr.BucketExists):
        store.run(store.layer.make_bucket("bkt"))
    with pytest.raises(oerr.InvalidObjectName):
        store.put("bkt", "a/../b", b"x")


def test_delete_unversioned(store: Store) -> None:
    store.put("bkt", "a/b/c", b"hello")
    store.run(store.layer.delete_object("bkt", "a/b/c"))
    with pytest.raises(oerr.ObjectNotFound):
        store.get("bkt", "a/b/c")
    for p in store.paths:
        assert os.listdir(p / "bkt") == []  # empty parents pruned
    store.run(store.layer.delete_object("bkt", "never-existed"))


def test_versioning(store: Store) -> None:
    def enable(meta):  # type: ignore[no-untyped-def]
        meta.versioning_xml = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"

    store.run(store.layer.update_bucket_metadata("bkt", enable))
    v1 = store.put("bkt", "k", b"one")
    v2 = store.put("bkt", "k", b"two" * 100_000)
    assert v1.version_id != v2.version_id != "null"
    assert store.get("bkt", "k") == b"two" * 100_000
    assert store.get("bkt", "k", v1.version_id) == b"one"
    gone = store.run(store.layer.delete_object("bkt", "k"))
    assert gone.delete_marker and gone.delete_marker_version_id
    with pytest.raises(oerr.ObjectNotFound) as err:
        store.get("bkt", "k")
    assert err.value.delete_marker
    with pytest.raises(oerr.MethodNotAllowed):
        store.run(store.layer.get_object_info("bkt", "k", gone.delete_marker_version_id))
    store.run(store.layer.delete_object("bkt", "k", gone.delete_marker_version_id))
    assert store.get("bkt", "k") == b"two" * 100_000
    store.run(store.layer.delete_object("bkt", "k", v2.version_id))
    assert store.get("bkt", "k") == b"one"


def test_survives_two_lost_drives_and_refuses_three(store: Store) -> None:
    data = os.urandom(3 * MIB)
    small = os.urandom(500)
    store.put("bkt", "big", data)
    store.put("bkt", "small", small)
    import shutil

    for p in store.paths[:2]:
        shutil.rmtree(p / "bkt")
    assert store.get("bkt", "big") == data
    assert store.get("bkt", "small") == small
    shutil.rmtree(store.paths[2] / "bkt")
    with pytest.raises((oerr.InsufficientReadQuorum, oerr.ObjectNotFound)):
        store.get("bkt", "big")


def test_bit_flips_are_detected_and_corrected(store: Store) -> None:
    data = os.urandom(2 * MIB)
    store.put("bkt", "big", data)
    for p in store.paths[:2]:
        ddir = next(d for d in os.listdir(p / "bkt" / "big") if d != "xl.meta")
        part = p / "bkt" / "big" / ddir / "part.1"
        blob = bytearray(part.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        part.write_bytes(bytes(blob))
    assert store.get("bkt", "big") == data


def test_list_objects(store: Store) -> None:
    from liteio.object.listing import list_objects

    keys = ["a", "a/b", "a/c/d", "a-b", "b/", "b/x", "c"]
    for k in keys:
        store.put("bkt", k, k.encode())
    everything = store.run(list_objects(store.layer.sets, "bkt"))
    assert [o.key for o in everything.objects] == sorted(keys)
    top = store.run(list_objects(store.layer.sets, "bkt", delimiter="/"))
    assert [o.key for o in top.objects] == ["a", "a-b", "c"]
    assert top.prefixes == ["a/", "b/"]
    page = store.run(list_objects(store.layer.sets, "bkt", max_keys=2))
    assert page.is_truncated and [o.key for o in page.objects] == ["a", "a-b"]
    rest = store.run(list_objects(store.layer.sets, "bkt", marker=page.next_marker))
    assert [o.key for o in rest.objects] == ["a/b", "a/c/d", "b/", "b/x", "c"]
    under = store.run(list_objects(store.layer.sets, "bkt", prefix="a/", delimiter="/"))
    assert [o.key for o in under.objects] == ["a/b"] and under.prefixes == ["a/c/"]
