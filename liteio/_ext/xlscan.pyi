from typing import Any, TypeAlias

Buffer: TypeAlias = Any  # any C-contiguous object supporting the buffer protocol

# (version_id, mod_time, signature, type, flags, ec_n, ec_m, body_offset, body_length)
ScannedVersion: TypeAlias = tuple[bytes, int, bytes, int, int, int, int, int, int]

# (header_version, meta_version, stored_crc, inline_offset, in_order, versions)
ScanResult: TypeAlias = tuple[int, int, int, int, bool, list[ScannedVersion]]

def xxh64(data: Buffer, seed: int = 0) -> int: ...
def scan(data: Buffer, verify_crc: bool = True) -> ScanResult | None: ...
def decode_body(data: Buffer) -> tuple[int, list[Any]] | None: ...
