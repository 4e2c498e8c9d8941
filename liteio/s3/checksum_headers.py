"""S3 flexible checksums on requests: which algorithm, the claimed value, the check.

A client names the checksum in a header (``x-amz-checksum-crc32: <b64>``) or
promises it in a trailer (``x-amz-trailer: x-amz-checksum-crc32``). We hash
the body on the erasure pipeline's CPU stage and compare before the object
becomes visible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from liteio import checksums
from liteio.meta.checksums import ChecksumRecord, encode_checksum_blob
from liteio.s3.errors import S3Error

PREFIX = "x-amz-checksum-"


class ChecksumPlan:
    """The checksum one request carries; ``hasher`` goes to the pipeline."""

    def __init__(self, algorithm: str, header: str, claimed: str | None) -> None:
        self.algorithm = algorithm
        self.header = header  # e.g. x-amz-checksum-crc32
        self.claimed = claimed  # from the headers; None when it comes in a trailer
        self.hasher = checksums.new(algorithm)

    def verifier(self, trailers: Callable[[], Mapping[str, str]]) -> Callable[[], None]:
        def verify() -> None:
            claimed = self.claimed if self.claimed is not None else trailers().get(self.header)
            if claimed is None:
                raise S3Error("MalformedTrailerError", f"The {self.header} trailer is missing")
            if claimed.strip() != self.hasher.b64():
                raise S3Error("BadDigest",
                              f"The {self.algorithm} you specified did not match the calculated "
                              "checksum.")

        return verify

    def value_b64(self) -> str:
        return self.hasher.b64()

    def blob(self) -> bytes:
        return encode_checksum_blob([ChecksumRecord(0, self.algorithm, self.hasher.digest())])


def plan_from_headers(headers: Mapping[str, str]) -> ChecksumPlan | None:
    named = [h for h in headers if h.startswith(PREFIX) and h != PREFIX + "mode"
             and h != PREFIX + "type" and h != PREFIX + "algorithm"]
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if len(named) > 1:
        raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header")
    if named:
        header = named[0]
        claimed: str | None = headers[header]
    elif trailer.startswith(PREFIX):
        header, claimed = trailer, None
    else:
        sdk = headers.get("x-amz-sdk-checksum-algorithm")
        if sdk:
            # The algorithm is named but its value never sent: nothing to compare.
            try:
                checksums.algorithm(sdk)
            except checksums.ChecksumError:
                raise S3Error("InvalidRequest", f"Invalid checksum algorithm {sdk}") from None
        return None
    name = header[len(PREFIX):].upper()
    try:
        algorithm = checksums.algorithm(name).name
    except checksums.ChecksumError:
        raise S3Error("InvalidRequest", f"Unsupported checksum {header}") from None
    if claimed is not None:
        try:
            checksums.from_b64(algorithm, claimed)
        except checksums.ChecksumError:
            raise S3Error("InvalidRequest", f"Value for {header} header is invalid.") from None
    return ChecksumPlan(algorithm, header, claimed)


def stored_checksum_headers(blob: bytes | None) -> dict[str, str]:
    """x-amz-checksum-* response headers from a stored x-minio-internal-crc blob."""
    if not blob:
        return {}
    from liteio.meta.checksums import parse_checksum_blob
    from liteio.meta.errors import XLMetaError

    try:
        records = parse_checksum_blob(blob)
    except XLMetaError:
        return {}
    out = {}
    for record in records:
        value = record.value_b64
        if record.is_multipart and record.part_count and not record.is_full_object:
            value = f"{value}-{record.part_count}"
        out[PREFIX + record.algorithm.lower()] = value
        out["x-amz-checksum-type"] = "FULL_OBJECT" if (record.is_full_object or not record.is_multipart) else "COMPOSITE"
    return out
