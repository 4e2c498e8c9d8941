"""LocalDrive.walk: S3 key order against a brute-force reference, prefixes, start_after."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liteio.meta import NULL_VERSION_ID, ObjectVersion, XLMeta
from liteio.storage import local_walk
from liteio.storage.api import WalkEntry
from liteio.storage.errors import VolumeNotFound
from liteio.storage.local import LocalDrive
from liteio.storage.paths import encode_key

T = TypeVar("T")
NS = 1_000_000_000


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def xl_for(key: str, data_dir: bytes | None = None) -> bytes:
    """A distinct, valid xl.meta per key (its etag is the key)."""
    v = ObjectVersion(
        version_id=NULL_VERSION_ID,
        data_dir=data_dir or uuid.uuid4().bytes,
        ec_m=2,
        ec_n=2,
        ec_index=1,
        ec_dist=[1, 2, 3, 4],
        part_numbers=[1],
        part_sizes=[1],
        size=1,
        mod_time=1_700_000_000 * NS,
        meta_sys={},
        meta_usr={"etag": key},
    )
    xl = XLMeta()
    xl.add_version(v, inline_data=None if data_dir else b"i")
    return xl.dump()


def plant(volume_dir: str, keys: Iterable[str], with_data_dir: Iterable[str] = ()) -> dict[str, bytes]:
    """Write objects straight to disk (no fsyncs: fast); key -> xl.meta bytes."""
    big = set(with_data_dir)
    out = {}
    for key in keys:
        obj = os.path.join(volume_dir, encode_key(key))
        mkdirs(obj)
        dd = uuid.uuid4() if key in big else None
        raw = xl_for(key, dd.bytes if dd else None)
        Path(obj, "xl.meta").write_bytes(raw)
        if dd is not None:
            os.mkdir(os.path.join(obj, str(dd)))
            Path(obj, str(dd), "part.1").write_bytes(b"shard")
        out[key] = raw
    return out


def mkdirs(path: str) -> None:
    """os.makedirs without its recursion (keys may have a thousand components)."""
    todo = []
    while not os.path.isdir(path):
        todo.append(path)
        path = os.path.dirname(path)
    for p in reversed(todo):
        os.mkdir(p)


def new_drive(parent: Path, **kw: Any) -> LocalDrive:
    root = tempfile.mkdtemp(dir=parent)
    drive = LocalDrive(root, **kw)
    os.mkdir(os.path.join(root, "b"))
    return drive


async def collect(drive: LocalDrive, prefix: str = "", *, recursive: bool, after: str = "") -> list[WalkEntry]:
    return [e async for e in drive.walk("b", prefix, recursive=recursive, start_after=after)]


def utf8(k: str) -> bytes:
    return k.encode()


def ref_recursive(keys: Iterable[str], prefix: str, after: str) -> list[tuple[str, bool]]:
    sel = [k for k in keys if k.startswith(prefix) and utf8(k) > utf8(after)]
    return [(k, False) for k in sorted(sel, key=utf8)]


def ref_delimited(keys: Iterable[str], prefix: str, after: str) -> list[tuple[str, bool]]:
    out: dict[str, bool] = {}
    for k in keys:
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix) :]
        cut = rest.find("/")
        if cut >= 0:
            out[prefix + rest[: cut + 1]] = True
        else:
            out[k] = False
    sel = [(k, p) for k, p in out.items() if utf8(k) > utf8(after)]
    return sorted(sel, key=lambda kp: utf8(kp[0]))


def shape(entries: list[WalkEntry]) -> list[tuple[str, bool]]:
    return [(e.key, e.is_prefix) for e in entries]


# -- random key sets -----------------------------------------------------------------

COMPONENTS = ["a", "b", "a-b", "a.b", "a b", "ab", "a!", "é", "日本", "z", "A", "0", "~",
              "a_b", "-", "x", "a0", "😀", "\u00a0"]

component = st.sampled_from(COMPONENTS)


@st.composite
def key_strategy(draw: st.DrawFn) -> str:
    parts = draw(st.lists(component, min_size=1, max_size=4))
    key = "/".join(parts)
    return key + "/" if draw(st.booleans()) and draw(st.booleans()) else key


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[str], list[str], list[str], str, str]:
    keys = sorted(draw(st.sets(key_strategy(), max_size=30)))
    big = [k for k in keys if draw(st.booleans())]
    stale = ["/".join(draw(st.lists(component, min_size=1, max_size=3))) for _ in range(draw(
        st.integers(0, 3)))]
    every = keys + ["", "a", "a/", "a-", "z/", "~"]
    prefix = draw(st.one_of(
        st.just(""),
        st.sampled_from(every).flatmap(lambda k: st.integers(0, len(k)).map(lambda i: k[:i])),
        st.text(alphabet="ab/-.é", max_size=4),
    ))
    after = draw(st.one_of(
        st.just(""),
        st.sampled_from(every),
        st.sampled_from(every).flatmap(lambda k: st.integers(0, len(k)).map(lambda i: k[:i])),
        st.text(alphabet="ab/-z~é", max_size=5),
    ))
    return keys, big, stale, prefix, after


@pytest.mark.parametrize("nlink", [True, False], ids=["nlink", "no-nlink"])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=scenario())
def test_walk_matches_reference(tmp_path: Path, nlink: bool, case: Any) -> None:
    keys, big, stale, prefix, after = case
    drive = new_drive(tmp_path)
    drive._nlink_ok = drive._nlink_ok and nlink
    vol = os.path.join(drive.root, "b")
    planted = plant(vol, keys, big)
    for s in stale:
        # Stale, object-less directories (e.g. left by a crash) must not show.
        mkdirs(os.path.join(vol, s, "stale-leaf"))

    async def go() -> None:
        rec = await collect(drive, prefix, recursive=True, after=after)
        assert shape(rec) == ref_recursive(keys, prefix, after)
        for e in rec:
            assert e.xl == planted[e.key]
        flat = await collect(drive, prefix, recursive=False, after=after)
        assert shape(flat) == ref_delimited(keys, prefix, after)
        for e in flat:
            if not e.is_prefix:
                assert e.xl == planted[e.key]
        await drive.close()

    run(go())


# -- specific cases ------------------------------------------------------------------------


def test_order_of_object_dirs_with_children(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    keys = ["a", "a-b", "a/c", "a/", "a/c/", "a/c/d", "a.txt", "a0", "b/", "b/x"]
    plant(os.path.join(drive.root, "b"), keys, ["a", "a/c"])

    async def go() -> None:
        rec = await collect(drive, recursive=True)
        assert [e.key for e in rec] == ["a", "a-b", "a.txt", "a/", "a/c", "a/c/", "a/c/d",
                                        "a0", "b/", "b/x"]
        flat = await collect(drive, recursive=False)
        assert shape(flat) == [("a", False), ("a-b", False), ("a.txt", False), ("a/", True),
                               ("a0", False), ("b/", True)]
        assert shape(await collect(drive, "a/", recursive=False)) == [
            ("a/", False), ("a/c", False), ("a/c/", True)]
        assert shape(await collect(drive, "a/c/", recursive=True)) == [
            ("a/c/", False), ("a/c/d", False)]
        assert shape(await collect(drive, "a", recursive=False)) == [
            ("a", False), ("a-b", False), ("a.txt", False), ("a/", True), ("a0", False)]
        await drive.close()

    run(go())


def test_prefix_mid_name_and_invalid_prefixes(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    keys = ["photos/jan/1.jpg", "photos/jan/2.jpg", "photos/java.txt", "photos/ja/", "photos/k",
            "photos/jam", "photosx"]
    plant(os.path.join(drive.root, "b"), keys)

    async def go() -> None:
        assert shape(await collect(drive, "photos/ja", recursive=False)) == [
            ("photos/ja/", True), ("photos/jam", False), ("photos/jan/", True),
            ("photos/java.txt", False)]
        assert [e.key for e in await collect(drive, "photos/ja", recursive=True)] == [
            "photos/ja/", "photos/jam", "photos/jan/1.jpg", "photos/jan/2.jpg",
            "photos/java.txt"]
        assert [e.key for e in await collect(drive, "photos/ja/", recursive=True)] == [
            "photos/ja/"]
        assert shape(await collect(drive, "photos/ja/", recursive=False)) == [
            ("photos/ja/", False)]
        for bad in ("/", "/photos", "photos//", "../b", "photos/../photos/", "nothing/here"):
            assert await collect(drive, bad, recursive=True) == []
            assert await collect(drive, bad, recursive=False) == []
        await drive.close()

    run(go())


def test_data_dirs_are_skipped_not_children(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    vol = os.path.join(drive.root, "b")
    child = str(uuid.uuid4())  # a key component that merely looks like a data dir
    plant(vol, ["o", "p"], ["o", "p"])
    plant(vol, [f"o/{child}"])

    async def go() -> None:
        for nlink in (True, False):
            drive._nlink_ok = nlink
            assert [e.key for e in await collect(drive, recursive=True)] == [
                "o", f"o/{child}", "p"]
            assert shape(await collect(drive, recursive=False)) == [
                ("o", False), ("o/", True), ("p", False)]
            assert shape(await collect(drive, "o/", recursive=False)) == [(f"o/{child}", False)]
            assert shape(await collect(drive, "p/", recursive=False)) == []
        await drive.close()

    run(go())


def test_no_prefix_for_stale_or_deleted_subtrees(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    vol = os.path.join(drive.root, "b")
    plant(vol, ["keep/x", "gone/deep/obj", "top"])
    os.makedirs(os.path.join(vol, "empty", "nested", "dirs"))

    async def go() -> None:
        assert shape(await collect(drive, recursive=False)) == [
            ("gone/", True), ("keep/", True), ("top", False)]
        await drive.delete_version("b", "gone/deep/obj", NULL_VERSION_ID)
        assert not os.path.exists(os.path.join(vol, "gone"))
        assert shape(await collect(drive, recursive=False)) == [("keep/", True), ("top", False)]
        await drive.close()

    run(go())


def test_start_after_skips_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drive = new_drive(tmp_path)
    keys = [f"d{i // 10}/k{i:03d}" for i in range(100)]
    plant(os.path.join(drive.root, "b"), keys)
    reads: list[str] = []
    real = local_walk.read_file_or_none

    def counting(path: str) -> bytes | None:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(local_walk, "read_file_or_none", counting)

    async def go() -> None:
        got = await collect(drive, recursive=True, after="d8/k085")
        assert [e.key for e in got] == keys[86:]
        assert len(reads) <= 16  # the 14 yielded, not the 86 skipped
        reads.clear()
        got = await collect(drive, recursive=False, after="d8/")
        assert shape(got) == [("d9/", True)]
        assert [os.path.relpath(r, os.path.join(drive.root, "b")) for r in reads] == [
            "d9/xl.meta"]  # is "d9" an object too? Nothing before it is read.
        await drive.close()

    run(go())


def test_many_keys_across_batches(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    keys = [f"k{i:05d}" for i in range(1500)] + [f"dir/{i:04d}" for i in range(1200)]
    plant(os.path.join(drive.root, "b"), keys)

    async def go() -> None:
        got = await collect(drive, recursive=True)
        assert [e.key for e in got] == sorted(keys)
        got = await collect(drive, recursive=True, after="dir/0999")
        assert [e.key for e in got] == sorted(k for k in keys if k > "dir/0999")
        flat = await collect(drive, recursive=False)
        assert len(flat) == 1501 and flat[0].key == "dir/" and flat[0].is_prefix
        await drive.close()

    run(go())


def test_deep_keys_do_not_recurse(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    deep = "/".join(["d"] * 1500) + "/leaf"
    plant(os.path.join(drive.root, "b"), [deep, "d/x"])

    async def go() -> None:
        assert [e.key for e in await collect(drive, recursive=True)] == [deep, "d/x"]
        assert [e.key for e in await collect(drive, recursive=True, after=deep[:-1])] == [
            deep, "d/x"]
        assert shape(await collect(drive, "d/d/", recursive=False)) == [("d/d/d/", True)]
        await drive.delete_version("b", deep, NULL_VERSION_ID)  # prunes 1500 levels
        assert [e.key for e in await collect(drive, recursive=True)] == ["d/x"]
        plant(os.path.join(drive.root, "b"), [deep])
        await drive.delete_volume("b", force=True)  # pytest's rmtree would recurse too deep
        await drive.close()

    run(go())


def test_vanishing_object_is_skipped(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    vol = os.path.join(drive.root, "b")
    keys = [f"k{i:04d}" for i in range(300)]
    plant(vol, keys)

    async def go() -> None:
        it = drive.walk("b", "", recursive=True)
        first = await anext(it)
        assert first.key == "k0000"
        os.unlink(os.path.join(vol, "k0200", "xl.meta"))
        rest = [e.key async for e in it]
        assert rest == [k for k in keys[1:] if k != "k0200"]
        await drive.close()

    run(go())


def test_walk_missing_volume_and_early_close(tmp_path: Path) -> None:
    drive = new_drive(tmp_path)
    plant(os.path.join(drive.root, "b"), [f"k{i}" for i in range(200)])

    async def go() -> None:
        with pytest.raises(VolumeNotFound):
            await collect_volume(drive, "nope")
        it = drive.walk("b", "", recursive=True)
        await anext(it)
        await it.aclose()  # type: ignore[attr-defined]
        await drive.close()

    async def collect_volume(drive: LocalDrive, volume: str) -> list[WalkEntry]:
        return [e async for e in drive.walk(volume, "", recursive=True)]

    run(go())
