"""Multipart uploads through the object layer over real local drives."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from liteio import checksums as cks
from liteio.meta.checksums import parse_checksum_blob
from liteio.object import errors as oerr
from liteio.object.multipart_meta import upload_dir, upload_uuid_of
from liteio.object.types import CompletePart, ObjectInfo, PartInfo, PutOptions
from liteio.storage.paths import SYSTEM_VOLUME
from tests.support.store import Store, body_of

MIB = 1 << 20
MIN = 1000  # minimum part size for these tests (S3's 5 MiB would make them slow)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    s.run(s.layer.make_bucket("bkt"))
    yield s
    s.close()


# -- helpers ------------------------------------------------------------------------------


def new(store: Store, key: str, opts: PutOptions | None = None, **kw: str) -> str:
    return store.run(store.layer.new_multipart_upload("bkt", key, opts, **kw))


def put_part(store: Store, key: str, uid: str, number: int, data: bytes,
             opts: PutOptions | None = None) -> PartInfo:
    return store.run(store.layer.put_object_part(
        "bkt", key, uid, number, body_of(data), len(data), opts))


def complete(store: Store, key: str, uid: str, parts: list[Any],
             opts: PutOptions | None = None, min_part_size: int = MIN) -> ObjectInfo:
    return store.run(store.layer.complete_multipart_upload(
        "bkt", key, uid, parts, opts, min_part_size=min_part_size))


def md5_of_md5s(chunks: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(c).digest() for c in chunks)
    return f"{hashlib.md5(joined).hexdigest()}-{len(chunks)}"


def upload_paths(store: Store, key: str, uid: str) -> list[Path]:
    uuid_text = upload_uuid_of(uid)
    assert uuid_text is not None
    rel = upload_dir("bkt", key, uuid_text)
    return [p / SYSTEM_VOLUME / rel for p in store.paths]


def leftovers(store: Store) -> list[str]:
    """Anything left under .minio.sys/multipart or .minio.sys/tmp on any drive."""
    found = []
    for p in store.paths:
        for area in ("multipart", "tmp"):
            top = p / SYSTEM_VOLUME / area
            for dirpath, dirnames, filenames in os.walk(top):
                found += [os.path.join(dirpath, n) for n in filenames]
                if area == "multipart":
                    found += [os.path.join(dirpath, n) for n in dirnames]
    return found


def enable_versioning(store: Store) -> None:
    def enable(meta: Any) -> None:
        meta.versioning_xml = (b"<VersioningConfiguration><Status>Enabled</Status>"
                               b"</VersioningConfiguration>")

    store.run(store.layer.update_bucket_metadata("bkt", enable))


# -- the happy path ------------------------------------------------------------------------


def test_upload_out_of_order_complete_and_read_back(store: Store) -> None:
    sizes = [MIB + 1, MIB - 1, 2 * MIB + 17, 5000]
    chunks = [os.urandom(n) for n in sizes]
    uid = new(store, "big/obj", PutOptions(metadata={"content-type": "video/x",
                                                      "X-Amz-Meta-Color": "blue"}))
    for number in (3, 1, 4, 2):
        info = put_part(store, "big/obj", uid, number, chunks[number - 1])
        assert info.number == number and info.size == sizes[number - 1]
        assert info.etag == hashlib.md5(chunks[number - 1]).hexdigest()
    parts = [(n, hashlib.md5(c).hexdigest()) for n, c in enumerate(chunks, 1)]
    done = complete(store, "big/obj", uid, parts)
    data = b"".join(chunks)
    assert done.etag == md5_of_md5s(chunks) and done.size == len(data)
    assert [p.number for p in done.parts] == [1, 2, 3, 4]
    assert store.get("bkt", "big/obj") == data
    head = store.run(store.layer.get_object_info("bkt", "big/obj"))
    assert (head.etag, head.size, head.content_type) == (done.etag, len(data), "video/x")
    assert head.user_metadata == {"x-amz-meta-color": "blue"}
    assert [(p.number, p.size) for p in head.parts] == list(zip([1, 2, 3, 4], sizes))
    bounds = [0, sizes[0], sizes[0] + sizes[1], sum(sizes[:3])]
    for offset, length in [(bounds[1] - 3, 10), (bounds[2] - 1, 2), (bounds[1] - 5, sizes[1] + 10),
                           (MIB - 7, 3 * MIB), (bounds[3] - 100, 5100), (0, len(data)),
                           (len(data) - 1, 1)]:
        got = store.get("bkt", "big/obj", offset=offset, length=length)
        assert got == data[offset : offset + length], (offset, length)
    assert leftovers(store) == []
    with pytest.raises(oerr.NoSuchUpload):
        store.run(store.layer.list_parts("bkt", "big/obj", uid))


def test_upload_id_is_base64url_of_deployment_and_uuid(store: Store) -> None:
    uid = new(store, "k")
    assert "=" not in uid and "/" not in uid and "+" not in uid
    text = base64.urlsafe_b64decode(uid + "=" * (-len(uid) % 4)).decode()
    deployment, _, upload_uuid = text.partition(".")
    assert deployment == store.layer.deployment_id
    assert str(uuid.UUID(upload_uuid)) == upload_uuid
    for path in upload_paths(store, "k", uid):
        assert sorted(os.listdir(path)) == ["xl.meta"]
    info = store.run(store.layer.get_multipart_info("bkt", "k", uid))
    assert (info.bucket, info.key, info.upload_id) == ("bkt", "k", uid)
    assert info.initiated_ns > 0


def test_zero_length_last_part_and_single_part(store: Store) -> None:
    first = os.urandom(3000)
    uid = new(store, "z")
    put_part(store, "z", uid, 1, first)
    put_part(store, "z", uid, 2, b"")
    done = complete(store, "z", uid, [(1, hashlib.md5(first).hexdigest()),
                                      (2, hashlib.md5(b"").hexdigest())])
    assert done.etag == md5_of_md5s([first, b""])
    assert store.get("bkt", "z") == first
    uid = new(store, "one")
    put_part(store, "one", uid, 7, b"tiny")
    # A single part may be smaller than the minimum: it is the last one.
    done = complete(store, "one", uid, [(7, hashlib.md5(b"tiny").hexdigest())],
                    min_part_size=5 * MIB)
    assert store.get("bkt", "one") == b"tiny" and done.etag.endswith("-1")


def test_copy_object_part(store: Store) -> None:
    source = os.urandom(MIB + 500)
    store.put("bkt", "src", source)
    uid = new(store, "dst")
    info = store.run(store.layer.copy_object_part(
        "bkt", "src", None, "bkt", "dst", uid, 1, offset=100, length=MIB))
    assert info.etag == hashlib.md5(source[100 : 100 + MIB]).hexdigest()
    put_part(store, "dst", uid, 2, b"tail")
    complete(store, "dst", uid, [(1, info.etag), (2, hashlib.md5(b"tail").hexdigest())])
    assert store.get("bkt", "dst") == source[100 : 100 + MIB] + b"tail"
    with pytest.raises(oerr.InvalidRange):
        store.run(store.layer.copy_object_part(
            "bkt", "src", None, "bkt", "dst", new(store, "dst"), 1, offset=MIB, length=MIB))


# -- listing ---------------------------------------------------------------------------------


def test_list_parts_pagination(store: Store) -> None:
    uid = new(store, "lp", PutOptions(metadata={"content-type": "a/b"}))
    chunks = {n: os.urandom(100 + n) for n in (1, 2, 3, 5, 8, 9, 10)}
    for n in sorted(chunks, reverse=True):
        put_part(store, "lp", uid, n, chunks[n])
    everything = store.run(store.layer.list_parts("bkt", "lp", uid))
    assert [p.number for p in everything.parts] == sorted(chunks)
    assert not everything.is_truncated and everything.upload.content_type == "a/b"
    assert all(p.etag == hashlib.md5(chunks[p.number]).hexdigest() and p.size == 100 + p.number
               for p in everything.parts)
    pages, marker = [], 0
    while True:
        page = store.run(store.layer.list_parts("bkt", "lp", uid, marker, 3))
        pages.append([p.number for p in page.parts])
        if not page.is_truncated:
            break
        marker = page.next_part_number_marker
        assert marker == page.parts[-1].number
    assert pages == [[1, 2, 3], [5, 8, 9], [10]]
    assert store.run(store.layer.list_parts("bkt", "lp", uid, 10)).parts == []
    assert [p.number for p in store.run(store.layer.list_parts("bkt", "lp", uid, 4, 2)).parts] \
        == [5, 8]


def _start_uploads(store: Store) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for key in ["a/1", "a/2", "b", "b", "c/d/e", "c/x", "d", "b"]:
        ids.setdefault(key, []).append(new(store, key))
    return ids


@pytest.mark.parametrize("sets", [1, 2])
def test_list_multipart_uploads(tmp_path: Path, sets: int) -> None:
    store = Store(tmp_path, drives=4, sets=sets)
    try:
        store.run(store.layer.make_bucket("bkt"))
        store.run(store.layer.make_bucket("other"))
        store.run(store.layer.new_multipart_upload("other", "a/1"))
        ids = _start_uploads(store)
        layer = store.layer

        def ls(**kw: Any) -> Any:
            return store.run(layer.list_multipart_uploads("bkt", **kw))

        every = ls()
        assert [(u.key, u.upload_id) for u in every.uploads] == [
            (k, i) for k in sorted(ids) for i in ids[k]]  # key, then initiation order
        assert not every.is_truncated and every.prefixes == []
        assert all(u.initiated_ns > 0 for u in every.uploads)
        top = ls(delimiter="/")
        assert top.prefixes == ["a/", "c/"] and [u.key for u in top.uploads] == ["b"] * 3 + ["d"]
        under = ls(prefix="c/", delimiter="/")
        assert under.prefixes == ["c/d/"] and [u.key for u in under.uploads] == ["c/x"]
        assert [u.key for u in ls(prefix="a/").uploads] == ["a/1", "a/2"]
        # Pages of two: prefixes count as one entry each.
        seen: list[str] = []
        key_marker = upload_marker = ""
        while True:
            page = ls(delimiter="/", max_uploads=2, key_marker=key_marker,
                      upload_id_marker=upload_marker)
            seen += page.prefixes + [f"{u.key}#{u.upload_id}" for u in page.uploads]
            if not page.is_truncated:
                break
            key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker
        assert sorted(seen) == sorted(["a/", "c/"] + [f"b#{i}" for i in ids["b"]] + [
            f"d#{ids['d'][0]}"])
        # Markers: the second "b" upload onwards, then keys after "b".
        rest = ls(key_marker="b", upload_id_marker=ids["b"][0])
        assert [u.upload_id for u in rest.uploads][:2] == ids["b"][1:]
        assert [u.key for u in ls(key_marker="b").uploads] == ["c/d/e", "c/x", "d"]
        assert ls(max_uploads=0).uploads == []
    finally:
        store.close()


# -- abort and errors --------------------------------------------------------------------------


def test_abort_removes_everything(store: Store) -> None:
    uid = new(store, "ab")
    put_part(store, "ab", uid, 1, os.urandom(MIB + 3))
    put_part(store, "ab", uid, 2, b"x" * 10)
    store.run(store.layer.abort_multipart_upload("bkt", "ab", uid))
    assert leftovers(store) == []
    with pytest.raises(oerr.NoSuchUpload):
        store.run(store.layer.abort_multipart_upload("bkt", "ab", uid))
    with pytest.raises(oerr.NoSuchUpload):
        put_part(store, "ab", uid, 1, b"late")
    with pytest.raises(oerr.NoSuchUpload):
        complete(store, "ab", uid, [(1, "x")])
    assert store.run(store.layer.list_multipart_uploads("bkt")).uploads == []
    assert leftovers(store) == []


def test_error_cases(store: Store) -> None:
    uid = new(store, "e")
    one, two = os.urandom(2000), os.urandom(500)
    p1 = put_part(store, "e", uid, 1, one)
    p2 = put_part(store, "e", uid, 2, two)
    unknown = [uid[:-4] + "AAAA", "not-an-id", str(uuid.uuid4()), "", "../../x"]
    for bad in unknown:
        with pytest.raises(oerr.NoSuchUpload):
            put_part(store, "e", bad, 1, b"x")
        with pytest.raises(oerr.NoSuchUpload):
            store.run(store.layer.list_parts("bkt", "e", bad))
        with pytest.raises(oerr.NoSuchUpload):
            complete(store, "e", bad, [(1, p1.etag)])
    with pytest.raises(oerr.NoSuchUpload):  # right id, wrong key
        put_part(store, "other-key", uid, 1, b"x")
    for number in (0, 10001, -1):
        with pytest.raises(oerr.InvalidArgument):
            put_part(store, "e", uid, number, b"x")

    async def short() -> AsyncIterator[bytes]:
        yield b"abc"

    with pytest.raises(oerr.IncompleteBody):
        store.run(store.layer.put_object_part("bkt", "e", uid, 3, short(), 10))
    with pytest.raises(oerr.InvalidArgument):
        store.run(store.layer.put_object_part("bkt", "e", uid, 3, body_of(b"x" * 11), 10))
    with pytest.raises(oerr.EntityTooLarge):
        store.run(store.layer.put_object_part("bkt", "e", uid, 3, short(), (5 << 30) + 1))
    with pytest.raises(oerr.InvalidRequest):
        complete(store, "e", uid, [])
    with pytest.raises(oerr.InvalidPartOrder):
        complete(store, "e", uid, [(2, p2.etag), (1, p1.etag)])
    with pytest.raises(oerr.InvalidPartOrder):
        complete(store, "e", uid, [(1, p1.etag), (1, p1.etag)])
    with pytest.raises(oerr.InvalidPart):
        complete(store, "e", uid, [(1, p1.etag), (3, p2.etag)])
    with pytest.raises(oerr.InvalidPart):
        complete(store, "e", uid, [(1, p1.etag), (2, p1.etag)])
    with pytest.raises(oerr.InvalidPart):
        complete(store, "e", uid, [CompletePart(1, p1.etag, {"CRC32": "AAAAAA=="})])
    with pytest.raises(oerr.EntityTooSmall):
        complete(store, "e", uid, [(1, p1.etag), (2, p2.etag)], min_part_size=2001)
    with pytest.raises(oerr.EntityTooSmall):  # S3's own minimum by default
        complete(store, "e", uid, [(1, p1.etag), (2, p2.etag)], min_part_size=5 * MIB)
    with pytest.raises(oerr.BucketNotFound):
        store.run(store.layer.new_multipart_upload("nobucket", "k"))
    with pytest.raises(oerr.InvalidObjectName):
        store.run(store.layer.new_multipart_upload("bkt", "a/../b"))
    with pytest.raises(oerr.InvalidArgument):
        new(store, "k", checksum_algorithm="MD4")
    with pytest.raises(oerr.InvalidArgument):
        new(store, "k", checksum_algorithm="SHA256", checksum_type="FULL_OBJECT")
    # Nothing above harmed the upload; quoted ETags are fine.
    done = complete(store, "e", uid, [(1, f'"{p1.etag}"'), (2, p2.etag.upper())])
    assert store.get("bkt", "e") == one + two and done.etag == md5_of_md5s([one, two])
    assert leftovers(store) == []


def test_part_reupload_replaces(store: Store) -> None:
    uid = new(store, "re")
    put_part(store, "re", uid, 1, os.urandom(MIB + 10))
    first = os.urandom(MIB + 20)
    p1 = put_part(store, "re", uid, 1, first)
    p2 = put_part(store, "re", uid, 2, b"end")
    listed = store.run(store.layer.list_parts("bkt", "re", uid)).parts
    assert [(p.number, p.etag, p.size) for p in listed] == [(1, p1.etag, MIB + 20), (2, p2.etag, 3)]
    complete(store, "re", uid, [(1, p1.etag), (2, p2.etag)])
    assert store.get("bkt", "re") == first + b"end"


def test_complete_with_subset_drops_unlisted_parts(store: Store) -> None:
    chunks = [os.urandom(MIB + n) for n in range(3)]
    uid = new(store, "sub")
    infos = [put_part(store, "sub", uid, n, c) for n, c in enumerate(chunks, 1)]
    done = complete(store, "sub", uid, [(1, infos[0].etag), (3, infos[2].etag)])
    assert done.etag == md5_of_md5s([chunks[0], chunks[2]])
    assert store.get("bkt", "sub") == chunks[0] + chunks[2]
    for p in store.paths:
        entries = sorted(os.listdir(p / "bkt" / "sub"))
        assert len(entries) == 2 and entries[1] == "xl.meta"
        assert sorted(os.listdir(p / "bkt" / "sub" / entries[0])) == ["part.1", "part.3"]
    head = store.run(store.layer.get_object_info("bkt", "sub"))
    assert [p.number for p in head.parts] == [1, 3]
    assert leftovers(store) == []


def test_complete_onto_existing_object_replaces_it(store: Store) -> None:
    store.put("bkt", "k", os.urandom(2 * MIB))
    chunk = os.urandom(MIB + 1)
    uid = new(store, "k")
    p = put_part(store, "k", uid, 1, chunk)
    complete(store, "k", uid, [(1, p.etag)])
    assert store.get("bkt", "k") == chunk
    for path in store.paths:
        assert len(os.listdir(path / "bkt" / "k")) == 2  # xl.meta + one data dir
    # And a plain put onto the multipart object cleans the multipart data dir.
    store.put("bkt", "k", b"small")
    for path in store.paths:
        assert os.listdir(path / "bkt" / "k") == ["xl.meta"]


def test_versioned_bucket_completes_new_versions(store: Store) -> None:
    enable_versioning(store)
    v1 = store.put("bkt", "v", b"first")
    chunk = os.urandom(MIB + 5)
    uid = new(store, "v")
    p = put_part(store, "v", uid, 1, chunk)
    v2 = complete(store, "v", uid, [(1, p.etag)])
    uid = new(store, "v")
    p = put_part(store, "v", uid, 1, b"third")
    v3 = complete(store, "v", uid, [(1, p.etag)])
    assert len({v1.version_id, v2.version_id, v3.version_id}) == 3 and "null" not in (
        v2.version_id, v3.version_id)
    assert store.get("bkt", "v") == b"third"
    assert store.get("bkt", "v", v2.version_id) == chunk
    assert store.get("bkt", "v", v1.version_id) == b"first"


def test_precondition_refusal_keeps_the_upload(store: Store) -> None:
    store.put("bkt", "pc", b"existing")
    uid = new(store, "pc")
    p1 = put_part(store, "pc", uid, 1, b"a" * 2000)
    p2 = put_part(store, "pc", uid, 2, b"b" * 10)

    def if_none_match(current: ObjectInfo | None) -> None:
        if current is not None:
            raise oerr.PreconditionFailed("exists")

    with pytest.raises(oerr.PreconditionFailed):
        complete(store, "pc", uid, [(1, p1.etag)], PutOptions(precondition=if_none_match))
    assert store.get("bkt", "pc") == b"existing"
    assert [p.number for p in store.run(store.layer.list_parts("bkt", "pc", uid)).parts] == [1, 2]
    complete(store, "pc", uid, [(1, p1.etag), (2, p2.etag)])
    assert store.get("bkt", "pc") == b"a" * 2000 + b"b" * 10


# -- checksums ----------------------------------------------------------------------------------


def test_composite_checksum(store: Store) -> None:
    chunks = [os.urandom(MIB + 3), os.urandom(777)]
    uid = new(store, "ck", checksum_algorithm="crc32c")
    info = store.run(store.layer.get_multipart_info("bkt", "ck", uid))
    assert (info.checksum_algorithm, info.checksum_type) == ("CRC32C", "COMPOSITE")
    parts = []
    for n, chunk in enumerate(chunks, 1):
        p = put_part(store, "ck", uid, n, chunk)
        assert p.checksums["CRC32C"] == cks.new("CRC32C", chunk).b64()
        parts.append(CompletePart(n, p.etag, {"CRC32C": p.checksums["CRC32C"]}))
    done = complete(store, "ck", uid, parts)
    assert done.checksum_blob is not None
    (record,) = parse_checksum_blob(done.checksum_blob)
    part_digests = [cks.new("CRC32C", c).digest() for c in chunks]
    assert record.algorithm == "CRC32C" and record.is_multipart and not record.is_full_object
    assert record.value == cks.new("CRC32C", b"".join(part_digests)).digest()
    assert record.part_count == 2 and record.part_values == part_digests
    head = store.run(store.layer.get_object_info("bkt", "ck"))
    assert head.checksum_blob == done.checksum_blob
    assert "x-minio-multipart-checksum" not in head.metadata


def test_full_object_crc32_and_client_hashers(store: Store) -> None:
    chunks = [os.urandom(MIB + 9), os.urandom(4321), os.urandom(10)]
    uid = new(store, "fo", checksum_algorithm="CRC32", checksum_type="FULL_OBJECT")
    etags = []
    for n, chunk in enumerate(chunks, 1):
        hasher = cks.new("CRC32")  # the S3 layer hands in the checksum it verifies
        etags.append(put_part(store, "fo", uid, n, chunk, PutOptions(hashers=[hasher])).etag)
        assert hasher.b64() == cks.new("CRC32", chunk).b64()
    done = complete(store, "fo", uid, list(zip([1, 2, 3], etags)))
    assert done.checksum_blob is not None
    (record,) = parse_checksum_blob(done.checksum_blob)
    whole = zlib.crc32(b"".join(chunks))
    assert record.is_full_object and record.part_count == 3
    assert int.from_bytes(record.value, "big") == whole


# -- quorum -------------------------------------------------------------------------------------


def test_two_upload_dirs_lost_still_completes_on_6_drives(tmp_path: Path) -> None:
    store = Store(tmp_path, drives=6, parity=2)  # EC 4+2: write quorum 4
    try:
        store.run(store.layer.make_bucket("bkt"))
        chunks = [os.urandom(MIB + 100), os.urandom(MIB - 100), os.urandom(3333)]
        uid = new(store, "q")
        etags = [put_part(store, "q", uid, 1, chunks[0]).etag]
        for path in upload_paths(store, "q", uid)[:2]:
            shutil.rmtree(path)
        etags += [put_part(store, "q", uid, n, chunks[n - 1]).etag for n in (2, 3)]
        assert [p.number for p in store.run(store.layer.list_parts("bkt", "q", uid)).parts] \
            == [1, 2, 3]
        complete(store, "q", uid, list(zip([1, 2, 3], etags)))
        assert store.get("bkt", "q") == b"".join(chunks)
        # rmtree left the (empty) hash dirs; cleanup prunes those too.
        assert store.run(store.layer.cleanup_stale_uploads(3600)) == 0
        assert leftovers(store) == []

        uid = new(store, "q3")
        etag = put_part(store, "q3", uid, 1, chunks[0]).etag
        for path in upload_paths(store, "q3", uid)[:3]:
            shutil.rmtree(path)
        with pytest.raises(oerr.InsufficientWriteQuorum):
            put_part(store, "q3", uid, 2, b"x")
        with pytest.raises(oerr.InsufficientWriteQuorum):
            complete(store, "q3", uid, [(1, etag)])
        assert store.get("bkt", "q") == b"".join(chunks)
        with pytest.raises(oerr.ObjectNotFound):
            store.get("bkt", "q3")
    finally:
        store.close()


def test_lost_upload_dirs_on_4_drives(store: Store) -> None:
    # EC 2+2: write quorum 3, so one lost drive is fine and two are not.
    chunk = os.urandom(MIB + 1)
    uid = new(store, "one")
    e1 = put_part(store, "one", uid, 1, chunk).etag
    shutil.rmtree(upload_paths(store, "one", uid)[0])
    e2 = put_part(store, "one", uid, 2, b"tail").etag
    complete(store, "one", uid, [(1, e1), (2, e2)])
    assert store.get("bkt", "one") == chunk + b"tail"
    uid = new(store, "two")
    e1 = put_part(store, "two", uid, 1, chunk).etag
    for path in upload_paths(store, "two", uid)[2:]:
        shutil.rmtree(path)
    with pytest.raises(oerr.InsufficientWriteQuorum):
        complete(store, "two", uid, [(1, e1)])
    with pytest.raises(oerr.InsufficientWriteQuorum):
        put_part(store, "two", uid, 2, b"x")
    for path in upload_paths(store, "two", uid)[:1]:
        shutil.rmtree(path)
    with pytest.raises(oerr.NoSuchUpload):  # 3 of 4 drives say it is gone: it is
        complete(store, "two", uid, [(1, e1)])


def test_drive_missing_a_part_is_left_out_of_the_object(store: Store) -> None:
    chunks = [os.urandom(MIB + 1), os.urandom(2000)]
    uid = new(store, "m")
    etags = [put_part(store, "m", uid, n, c).etag for n, c in enumerate(chunks, 1)]
    (upload_paths(store, "m", uid)[1] / "part.2.meta").unlink()
    complete(store, "m", uid, list(zip([1, 2], etags)))
    assert not (store.paths[1] / "bkt" / "m").exists()
    assert store.get("bkt", "m") == b"".join(chunks)


# -- concurrency and housekeeping ----------------------------------------------------------------


def test_concurrent_parts_and_same_part_twice(store: Store) -> None:
    chunks = {n: os.urandom(MIB + 1000 * n) for n in range(1, 6)}
    rival = os.urandom(MIB + 2000)
    uid = new(store, "cc")

    async def upload_all() -> list[PartInfo]:
        layer = store.layer
        jobs = [layer.put_object_part("bkt", "cc", uid, n, body_of(c, 50_000), len(c))
                for n, c in chunks.items()]
        jobs.append(layer.put_object_part("bkt", "cc", uid, 2, body_of(rival, 70_000),
                                          len(rival)))
        return await asyncio.gather(*jobs)

    store.run(upload_all())
    listed = {p.number: p.etag for p in store.run(store.layer.list_parts("bkt", "cc", uid)).parts}
    assert sorted(listed) == [1, 2, 3, 4, 5]
    winner = chunks[2] if listed[2] == hashlib.md5(chunks[2]).hexdigest() else rival
    assert listed[2] == hashlib.md5(winner).hexdigest()
    complete(store, "cc", uid, sorted(listed.items()))
    expected = b"".join(winner if n == 2 else chunks[n] for n in range(1, 6))
    assert store.get("bkt", "cc") == expected
    assert leftovers(store) == []


def test_complete_and_abort_race(store: Store) -> None:
    uid = new(store, "race")
    p = put_part(store, "race", uid, 1, os.urandom(MIB))

    async def both() -> Any:
        return await asyncio.gather(
            store.layer.complete_multipart_upload("bkt", "race", uid, [(1, p.etag)],
                                                  min_part_size=MIN),
            store.layer.abort_multipart_upload("bkt", "race", uid),
            return_exceptions=True)

    done, aborted = store.run(both())
    if isinstance(done, ObjectInfo):
        assert isinstance(aborted, oerr.NoSuchUpload)
        assert len(store.get("bkt", "race")) == MIB
    else:
        assert isinstance(done, oerr.NoSuchUpload) and aborted is None
        with pytest.raises(oerr.ObjectNotFound):
            store.get("bkt", "race")
    assert leftovers(store) == []


def test_part_upload_racing_abort_fails_cleanly(store: Store) -> None:
    uid = new(store, "pa")

    async def scenario() -> BaseException | PartInfo:
        halfway = asyncio.Event()
        resume = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"x" * MIB
            halfway.set()
            await resume.wait()
            yield b"y" * 100

        task = asyncio.create_task(
            store.layer.put_object_part("bkt", "pa", uid, 1, slow(), MIB + 100))
        await halfway.wait()
        await store.layer.abort_multipart_upload("bkt", "pa", uid)
        resume.set()
        try:
            return await task
        except oerr.ObjectError as exc:
            return exc

    assert isinstance(store.run(scenario()), oerr.NoSuchUpload)
    assert leftovers(store) == []


def test_cleanup_stale_uploads(store: Store) -> None:
    old = new(store, "old")
    put_part(store, "old", old, 1, b"data")
    assert store.run(store.layer.cleanup_stale_uploads(3600)) == 0
    # An upload dir whose record is gone everywhere (a crash mid-abort) is garbage.
    orphan = new(store, "orphan")
    put_part(store, "orphan", orphan, 1, b"data")
    for path in upload_paths(store, "orphan", orphan):
        (path / "xl.meta").unlink()
    assert store.run(store.layer.cleanup_stale_uploads(3600)) == 1
    assert [u.key for u in store.run(store.layer.list_multipart_uploads("bkt")).uploads] == ["old"]
    assert store.run(store.layer.cleanup_stale_uploads(0)) == 1
    assert leftovers(store) == []
    with pytest.raises(oerr.NoSuchUpload):
        put_part(store, "old", old, 2, b"more")


def test_faulty_drives(tmp_path: Path) -> None:
    from liteio.storage.faulty import Fault, FaultyDrive

    faulty: list[FaultyDrive] = []

    def wrap(i: int, drive: Any) -> Any:
        faulty.append(FaultyDrive(drive))
        return faulty[-1]

    store = Store(tmp_path, wrap=wrap)
    try:
        store.run(store.layer.make_bucket("bkt"))
        uid = new(store, "f")
        chunk = os.urandom(MIB + 7)
        good = put_part(store, "f", uid, 1, chunk)
        # Two drives fail to take the re-upload: it fails, and is not half-listed.
        for drive in faulty[:2]:
            drive.add(Fault("rename", times=1))
        with pytest.raises(oerr.InsufficientWriteQuorum):
            put_part(store, "f", uid, 1, os.urandom(MIB))
        assert store.run(store.layer.list_parts("bkt", "f", uid)).parts == []
        good = put_part(store, "f", uid, 1, chunk)
        # One drive failing its commit is fine (the set heals it later).
        faulty[3].add(Fault("commit_version", times=1))
        complete(store, "f", uid, [(1, good.etag)])
        assert store.get("bkt", "f") == chunk
        assert not (store.paths[3] / "bkt" / "f").exists()
        # Two drives offline at new-upload time: refused, nothing left behind.
        for drive in faulty[:2]:
            drive.add(Fault("write_all", times=1))
        with pytest.raises(oerr.InsufficientWriteQuorum):
            new(store, "g")
        assert store.run(store.layer.list_multipart_uploads("bkt")).uploads == []
        assert leftovers(store) == []
    finally:
        store.close()


def test_part_content_md5_is_checked(store: Store) -> None:
    uid = new(store, "md5")
    with pytest.raises(oerr.BadDigest):
        put_part(store, "md5", uid, 1, b"body", PutOptions(content_md5=hashlib.md5(b"x").digest()))
    assert store.run(store.layer.list_parts("bkt", "md5", uid)).parts == []
    good = put_part(store, "md5", uid, 1, b"body", PutOptions(content_md5=hashlib.md5(b"body").digest()))
    assert good.etag == hashlib.md5(b"body").hexdigest()
