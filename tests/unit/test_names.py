from __future__ import annotations

import pytest

from liteio.object.errors import InvalidBucketName, InvalidObjectName
from liteio.object.names import check_bucket_name, check_object_key


@pytest.mark.parametrize("name", ["abc", "my-bucket.1", "a" * 63, "0ab"])
def test_good_bucket_names(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Abc", "a_b", "-ab", "ab-", "a..b", "a.-b", "192.168.1.1",
     "xn--abc", "abc-s3alias", ".minio.sys", "a b"],
)
def test_bad_bucket_names(name: str) -> None:
    with pytest.raises(InvalidBucketName):
        check_bucket_name(name)


@pytest.mark.parametrize("key", ["a", "a/b/c", "dir/", "ü/日本", "a b+c=d", "x" * 255, "a.b/..c"])
def test_good_keys(key: str) -> None:
    assert check_object_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "/a", "a//b", "a/../b", "..", "./a", "a/.", "x" * 1025, "a\0b", "y" * 256,
     "a//", "/", "a/b__XLDIR__/c", "o/xl.meta", "xl.meta"],
)
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidObjectName):
        check_object_key(key)
