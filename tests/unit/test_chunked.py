"""liteio.s3.auth.chunked: aws-chunked bodies, signed and unsigned, with and without trailers.

The signed bodies come from an independent encoder written here from the AWS
documentation (botocore has no chunk signer); the AWS documentation's own
examples pin both. Unsigned-trailer bodies come from botocore's AwsChunkedWrapper.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import hashlib
import hmac
import io
import random
import zlib
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liteio import checksums
from liteio.s3.auth import (
    AuthError,
    AuthRequest,
    AuthResult,
    ChunkDecoder,
    Credentials,
    PayloadMode,
    SigningContext,
    strip_aws_chunked,
    verify_request,
)

# -- an independent encoder, straight from the AWS documentation ----------------------

EMPTY = hashlib.sha256(b"").hexdigest()
ACCESS = "AKIDCHUNKED000000000"
SECRET = "chunked/secret+key=00000000000000000000"
REGION = "us-east-1"
WHEN = datetime(2024, 3, 1, 12, 30, 45)
NOW = float(calendar.timegm(WHEN.timetuple()))
AMZ_DATE = "20240301T123045Z"
SCOPE = f"20240301/{REGION}/s3/aws4_request"
CREDS = Credentials.single(ACCESS, SECRET)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def derive_key(secret: str, date: str, region: str = REGION) -> bytes:
    return _hmac(
        _hmac(_hmac(_hmac(("AWS4" + secret).encode(), date), region), "s3"), "aws4_request"
    )


KEY = derive_key(SECRET, AMZ_DATE[:8])


def sign_chunk(
    key: bytes, previous: str, data: bytes, *, date: str = AMZ_DATE, scope: str = SCOPE
) -> str:
    text = "\n".join(
        ["AWS4-HMAC-SHA256-PAYLOAD", date, scope, previous, EMPTY, hashlib.sha256(data).hexdigest()]
    )
    return _hmac(key, text).hex()


def sign_trailer(key: bytes, previous: str, trailers: dict[str, str]) -> str:
    canonical = "".join(f"{name}:{value}\n" for name, value in trailers.items())
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            AMZ_DATE,
            SCOPE,
            previous,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    return _hmac(key, text).hex()


def split_payload(payload: bytes, chunk_size: int) -> list[bytes]:
    return [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)]


def encode_signed(
    payload: bytes,
    chunk_size: int,
    seed: str,
    *,
    key: bytes = KEY,
    trailers: dict[str, str] | None = None,
    date: str = AMZ_DATE,
    scope: str = SCOPE,
) -> bytes:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD (``trailers`` None) or its -TRAILER variant."""
    out = []
    previous = seed
    for data in [*split_payload(payload, chunk_size), b""]:
        previous = sign_chunk(key, previous, data, date=date, scope=scope)
        out.append(f"{len(data):x};chunk-signature={previous}\r\n".encode() + data)
        if data:
            out.append(b"\r\n")
    if trailers is None:
        out.append(b"\r\n")
    else:
        for name, value in trailers.items():
            out.append(f"{name}:{value}\r\n".encode())
        out.append(f"x-amz-trailer-signature:{sign_trailer(key, previous, trailers)}\r\n".encode())
        out.append(b"\r\n")
    return b"".join(out)


def encode_unsigned(payload: bytes, chunk_size: int, trailers: dict[str, str]) -> bytes:
    out = [f"{len(d):x}\r\n".encode() + d + b"\r\n" for d in split_payload(payload, chunk_size)]
    out.append(b"0\r\n")
    out += [f"{name}:{value}\r\n".encode() for name, value in trailers.items()]
    out.append(b"\r\n")
    return b"".join(out)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def signing(seed: str = "f" * 64) -> SigningContext:
    return SigningContext(KEY, AMZ_DATE, SCOPE, seed)


def decode(decoder: ChunkDecoder, body: bytes, cuts: Iterable[int] = ()) -> bytes:
    """Feed ``body`` split at ``cuts``; the decoded payload once ``finish`` accepted it."""
    out = []
    start = 0
    for cut in [*sorted(cuts), len(body)]:
        out += [bytes(piece) for piece in decoder.feed(body[start:cut])]
        start = cut
    decoder.finish()
    return b"".join(out)


def expect(code: str, decoder: ChunkDecoder, body: bytes, cuts: Iterable[int] = ()) -> AuthError:
    with pytest.raises(AuthError) as info:
        decode(decoder, body, cuts)
    assert info.value.code == code, (info.value.code, info.value.message)
    return info.value


# -- signed requests through botocore (seed signature) --------------------------------


class StreamingS3Auth(S3SigV4Auth):
    """botocore's S3 signer with the streaming literal as payload hash (it has no chunk signer)."""

    def payload(self, request):  # type: ignore[no-untyped-def]
        return request.context.get("streaming_mode") or super().payload(request)


def signed_request(
    mode: PayloadMode,
    decoded_length: int,
    trailer: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[AuthResult, str]:
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(decoded_length),
        **(extra or {}),
    }
    if trailer:
        headers["X-Amz-Trailer"] = trailer
    req = AWSRequest(method="PUT", url="http://127.0.0.1:9000/bucket/obj", headers=headers)
    req.context["streaming_mode"] = mode.value
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        StreamingS3Auth(BotoCredentials(ACCESS, SECRET), "s3", REGION).add_auth(req)
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    auth_req = AuthRequest(
        "PUT", "/bucket/obj", "", [*req.headers.items(), ("Host", "127.0.0.1:9000")], now=NOW
    )
    return verify_request(auth_req, CREDS, REGION), seed


# -- AWS's published examples ---------------------------------------------------------

DOC_CREDS = Credentials.single("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
DOC_NOW = float(calendar.timegm((2013, 5, 24, 0, 0, 0)))
DOC_SCOPE = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
DOC_PAYLOAD = b"a" * 66560


def doc_result(mode: str, signed: str, seed: str, extra: dict[str, str]) -> AuthResult:
    headers = {
        "Host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": mode,
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        **extra,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={DOC_SCOPE},SignedHeaders={signed},"
        f"Signature={seed}",
    }
    req = AuthRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, now=DOC_NOW)
    return verify_request(req, DOC_CREDS, "us-east-1")


# "Example: PUT Object" of "Transferring Payload in Multiple Chunks".
DOC_BODY = (
    b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
    + b"a" * 65536
    + b"\r\n"
    b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
    + b"a"
    * 1024
    + b"\r\n"
    b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
)
# The example of "Signature calculations for trailing headers".
DOC_TRAILER_BODY = (
    b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
    + b"a" * 65536
    + b"\r\n"
    b"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n"
    + b"a"
    * 1024
    + b"\r\n"
    b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    b"x-amz-trailer-signature:63bddb248ad2590c92712055f51b8e78ab024eead08276b24f010b0efd74843f\r\n"
    b"\r\n"
)


def doc_plain() -> AuthResult:
    return doc_result(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        {"Content-Length": "66824"},
    )


def doc_trailer() -> AuthResult:
    return doc_result(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
        "x-amz-storage-class;x-amz-trailer",
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
        {"x-amz-trailer": "x-amz-checksum-crc32c"},
    )


def test_aws_example_put_object() -> None:
    result = doc_plain()
    assert result.payload_mode is PayloadMode.STREAMING_SIGNED
    assert result.decoded_content_length == 66560 and len(DOC_BODY) == 66824
    assert decode(result.chunk_decoder(), DOC_BODY) == DOC_PAYLOAD
    one_byte_at_a_time = range(1, len(DOC_BODY))
    assert decode(result.chunk_decoder(), DOC_BODY, one_byte_at_a_time) == DOC_PAYLOAD
    # the encoder these tests use reproduces AWS's body byte for byte
    assert (
        encode_signed(
            DOC_PAYLOAD,
            65536,
            result.signature or "",
            key=derive_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524"),
            date="20130524T000000Z",
            scope="20130524/us-east-1/s3/aws4_request",
        )
        == DOC_BODY
    )


def test_aws_example_trailing_headers() -> None:
    result = doc_trailer()
    assert result.trailer_names == ("x-amz-checksum-crc32c",)
    assert len(DOC_TRAILER_BODY) == 66946  # the example's Content-Length
    decoder = result.chunk_decoder()
    assert decode(decoder, DOC_TRAILER_BODY, range(7, len(DOC_TRAILER_BODY), 4093)) == DOC_PAYLOAD
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    crc = checksums.new("CRC32C")
    crc.update(DOC_PAYLOAD)
    assert crc.b64() == "sOO8/Q=="


def test_independent_encoder_matches_aws_example() -> None:
    key = derive_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524")
    date, scope = "20130524T000000Z", "20130524/us-east-1/s3/aws4_request"
    seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    first = sign_chunk(key, seed, b"a" * 65536, date=date, scope=scope)
    assert first == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"


# -- round trips ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 150_000),
    st.sampled_from([8192, 8193, 65536, 100_000]),
    st.lists(st.integers(0, 200_000), max_size=40),
    st.booleans(),
)
def test_signed_random_fragmentation(size: int, chunk: int, cuts: list[int], trailer: bool) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    trailers = {"x-amz-checksum-crc32": crc32_b64(payload)} if trailer else None
    mode = PayloadMode.STREAMING_SIGNED_TRAILER if trailer else PayloadMode.STREAMING_SIGNED
    result, seed = signed_request(mode, size, "x-amz-checksum-crc32" if trailer else None)
    body = encode_signed(payload, chunk, seed, trailers=trailers)
    decoder = result.chunk_decoder()
    assert decode(decoder, body, [c for c in cuts if c < len(body)]) == payload
    assert decoder.trailers == (trailers or {})
    assert decoder.decoded_length == size


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 40_000), st.integers(1, 20_000), st.lists(st.integers(0, 50_000), max_size=30)
)
def test_unsigned_random_fragmentation(size: int, chunk: int, cuts: list[int]) -> None:
    payload = bytes(i % 251 for i in range(size))
    trailers = {"x-amz-checksum-crc32": crc32_b64(payload)}
    body = encode_unsigned(payload, chunk, trailers)
    decoder = ChunkDecoder(
        PayloadMode.STREAMING_UNSIGNED_TRAILER, size, trailer_names=["x-amz-checksum-crc32"]
    )
    assert decode(decoder, body, [c for c in cuts if c < len(body)]) == payload
    assert decoder.trailers == trailers


@pytest.mark.parametrize(
    ("size", "chunk_size"), [(0, None), (5, None), (3 * 2**20 + 17, None), (5000, 1000)]
)
def test_botocore_unsigned_trailer(size: int, chunk_size: int | None) -> None:
    payload = bytes(i % 253 for i in range(size))
    req = AWSRequest(
        method="PUT",
        url="https://127.0.0.1:9000/bucket/obj",
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(size),
            "Transfer-Encoding": "chunked",
        },
    )
    req.context["checksum"] = {
        "request_algorithm": {"in": "trailer", "algorithm": "crc32", "name": "x-amz-checksum-crc32"}
    }
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        S3SigV4Auth(BotoCredentials(ACCESS, SECRET), "s3", REGION).add_auth(req)
    assert req.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    body = AwsChunkedWrapper(
        io.BytesIO(payload),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    ).read()
    auth = AuthRequest(
        "PUT", "/bucket/obj", "", [*req.headers.items(), ("Host", "127.0.0.1:9000")], now=NOW
    )
    result = verify_request(auth, CREDS, REGION)
    assert result.payload_mode is PayloadMode.STREAMING_UNSIGNED_TRAILER
    decoder = result.chunk_decoder()
    assert decode(decoder, body, range(0, len(body), 65536)) == payload
    assert decoder.trailers == {"x-amz-checksum-crc32": crc32_b64(payload)}


# -- refusals -------------------------------------------------------------------------


def test_bad_chunk_signatures() -> None:
    payload = bytes(30_000)
    result, seed = signed_request(PayloadMode.STREAMING_SIGNED, len(payload))
    body = encode_signed(payload, 10_000, seed)
    signatures = [
        i + len(b"chunk-signature=")
        for i in range(len(body))
        if body.startswith(b"chunk-signature=", i)
    ]
    assert len(signatures) == 4
    for where in signatures:
        for position in (where, where + 63):
            tampered = bytearray(body)
            tampered[position] = ord("0") if tampered[position] != ord("0") else ord("1")
            error = expect("SignatureDoesNotMatch", result.chunk_decoder(), bytes(tampered))
            assert error.status == 403
    # a decoder seeded with another signature refuses the first chunk
    expect(
        "SignatureDoesNotMatch",
        ChunkDecoder(PayloadMode.STREAMING_SIGNED, len(payload), signing=signing("0" * 64)),
        body,
    )


def test_tampered_data_and_reordered_chunks() -> None:
    payload = random.Random(7).randbytes(8192 * 4 + 100)
    result, seed = signed_request(PayloadMode.STREAMING_SIGNED, len(payload))
    body = encode_signed(payload, 8192, seed)
    tampered = bytearray(body)
    tampered[body.index(b"\r\n") + 100] ^= 1
    expect("SignatureDoesNotMatch", result.chunk_decoder(), bytes(tampered))
    # whole frames (size, signature, data) swapped: each is genuine, the chain is not
    frame = len(f"{8192:x};chunk-signature=".encode()) + 64 + 2 + 8192 + 2
    frames = [body[i * frame : (i + 1) * frame] for i in range(4)]
    swapped = frames[1] + frames[0] + b"".join(frames[2:]) + body[4 * frame :]
    assert len(swapped) == len(body) and swapped != body
    expect("SignatureDoesNotMatch", result.chunk_decoder(), swapped)
    dropped = frames[0] + b"".join(frames[2:]) + body[4 * frame :]
    expect(
        "SignatureDoesNotMatch",
        ChunkDecoder(
            PayloadMode.STREAMING_SIGNED,
            len(payload) - 8192,
            signing=SigningContext(KEY, AMZ_DATE, SCOPE, seed),
        ),
        dropped,
    )


def test_truncated_streams() -> None:
    payload = bytes(9000)
    result, seed = signed_request(PayloadMode.STREAMING_SIGNED, len(payload))
    body = encode_signed(payload, 8192, seed)
    for cut in range(len(body)):
        decoder = result.chunk_decoder()
        if cut == len(body) - 2:
            # only the closing CRLF is missing: everything was verified, accept
            assert decode(decoder, body[:cut]) == payload
            continue
        error = expect("IncompleteBody", decoder, body[:cut])
        assert error.message == "The request body terminated unexpectedly"


def test_truncated_trailer_streams() -> None:
    payload = b"x" * 20
    trailers = {"x-amz-checksum-crc32": crc32_b64(payload)}
    body = encode_unsigned(payload, 8, trailers)
    for cut in range(len(body) - 2):
        decoder = ChunkDecoder(PayloadMode.STREAMING_UNSIGNED_TRAILER, 20, trailer_names=trailers)
        with pytest.raises(AuthError) as info:
            decode(decoder, body[:cut])
        assert info.value.code in ("IncompleteBody", "MalformedTrailerError")


def test_decoded_length_mismatch() -> None:
    payload = bytes(20_000)
    for declared in (len(payload) + 1, len(payload) - 1, 0, 10**12):
        result, seed = signed_request(PayloadMode.STREAMING_SIGNED, declared)
        error = expect("IncompleteBody", result.chunk_decoder(), encode_signed(payload, 8192, seed))
        assert error.details["NumberBytesExpected"] == str(declared)
        assert int(error.details["NumberBytesProvided"]) != declared


def test_chunk_size_floor() -> None:
    payload = bytes(10_000)
    result, seed = signed_request(PayloadMode.STREAMING_SIGNED, len(payload))
    error = expect(
        "InvalidChunkSizeError", result.chunk_decoder(), encode_signed(payload, 4096, seed)
    )
    assert error.details == {"Chunk": "1", "BadChunkSize": "4096"}
    # one small chunk, or a small last chunk, is fine
    small, seed = signed_request(PayloadMode.STREAMING_SIGNED, 100)
    assert decode(small.chunk_decoder(), encode_signed(bytes(100), 8192, seed)) == bytes(100)
    assert decode(result.chunk_decoder(), encode_signed(payload, 8192, result.signature or ""))
    # unsigned chunks may be any size
    unsigned = ChunkDecoder(PayloadMode.STREAMING_UNSIGNED_TRAILER, 10)
    assert decode(unsigned, encode_unsigned(bytes(10), 1, {})) == bytes(10)


@pytest.mark.parametrize(
    "header", [b"zz", b"-1", b"+a", b" a", b"a ", b"1_0", b"0x10", b"1" * 17, b"", b"\xff"]
)
def test_bad_chunk_size_fields(header: bytes) -> None:
    unsigned = ChunkDecoder(PayloadMode.STREAMING_UNSIGNED_TRAILER, 16)
    expect("IncompleteBody", unsigned, header + b"\r\n" + bytes(16) + b"\r\n0\r\n\r\n")
    signed = ChunkDecoder(PayloadMode.STREAMING_SIGNED, 16, signing=signing())
    expect("IncompleteBody", signed, header + b";chunk-signature=" + b"0" * 64 + b"\r\n")


@pytest.mark.parametrize(
    "body",
    [
        b"10\r\n" + bytes(16) + b"\n0\r\n\r\n",  # LF only after data
        b"10\r\n" + bytes(16) + b"XX0\r\n\r\n",  # no CRLF after data
        b"10\n" + bytes(16) + b"\r\n0\r\n\r\n",  # LF-terminated size line
        b"10\r\n" + bytes(17) + b"\r\n0\r\n\r\n",  # more data than the size says
        b"10\r\n" + bytes(16) + b"\r\n0\r\n\r\nextra",  # bytes after the end
    ],
)
def test_malformed_framing(body: bytes) -> None:
    expect("IncompleteBody", ChunkDecoder(PayloadMode.STREAMING_UNSIGNED_TRAILER, 16), body)


def test_signed_header_needs_signature_extension() -> None:
    for header in (b"10", b"10;chunk-sig=" + b"0" * 64, b"10;" + b"0" * 64):
        decoder = ChunkDecoder(PayloadMode.STREAMING_SIGNED, 16, signing=signing())
        expect("IncompleteBody", decoder, header + b"\r\n")


def test_lines_are_bounded() -> None:
    decoder = ChunkDecoder(PayloadMode.STREAMING_UNSIGNED_TRAILER, 16)
    with pytest.raises(AuthError, match="IncompleteBody"):
        for _ in range(10_000):
            decoder.feed(b"1" * 100)  # a size line that never ends
    assert len(decoder._line) <= 4096
    decoder = ChunkDecoder(
        PayloadMode.STREAMING_UNSIGNED_TRAILER, 0, trailer_names=["x-amz-checksum-crc32"]
    )
    with pytest.raises(AuthError, match="MalformedTrailerError"):
        decoder.feed(b"0\r\nx-amz-checksum-crc32:" + b"A" * 10_000)


def test_trailer_refusals() -> None:
    payload = b"hello trailers" * 1000
    good = {"x-amz-checksum-crc32": crc32_b64(payload)}
    mode = PayloadMode.STREAMING_SIGNED_TRAILER
    result, seed = signed_request(mode, len(payload), "x-amz-checksum-crc32")
    ok = encode_signed(payload, 8192, seed, trailers=good)
    assert decode(result.chunk_decoder(), ok) == payload

    # the checksum value changed after signing
    forged = ok.replace(good["x-amz-checksum-crc32"].encode(), b"AAAAAA==")
    expect("SignatureDoesNotMatch", result.chunk_decoder(), forged)
    # a trailer signature of another trailer
    other = encode_signed(payload, 8192, seed, trailers={"x-amz-checksum-crc32": "AAAAAA=="})
    sig_line = other[other.index(b"x-amz-trailer-signature") :]
    expect(
        "SignatureDoesNotMatch",
        result.chunk_decoder(),
        ok[: ok.index(b"x-amz-trailer-sig")] + sig_line,
    )
    # no trailer signature
    unsigned_end = ok[: ok.index(b"x-amz-trailer-signature")] + b"\r\n"
    expect("MalformedTrailerError", result.chunk_decoder(), unsigned_end)
    # the declared trailer missing, or another one sent
    missing = encode_signed(payload, 8192, seed, trailers={})
    expect("MalformedTrailerError", result.chunk_decoder(), missing)
    extra = encode_signed(payload, 8192, seed, trailers={**good, "x-amz-checksum-sha1": "x"})
    expect("MalformedTrailerError", result.chunk_decoder(), extra)
    wrong = encode_signed(payload, 8192, seed, trailers={"x-amz-checksum-crc32c": "AAAAAA=="})
    expect("MalformedTrailerError", result.chunk_decoder(), wrong)
    # the signature must come last; no colon; a trailer where none was announced
    final = ok.index(b"x-amz-checksum-crc32:")
    sig = ok[ok.index(b"x-amz-trailer-signature") : -2]
    reordered = ok[:final] + sig + ok[final : ok.index(b"x-amz-trailer-signature")] + b"\r\n"
    expect("MalformedTrailerError", result.chunk_decoder(), reordered)
    expect("MalformedTrailerError", result.chunk_decoder(), ok[:final] + b"no colon here\r\n\r\n")
    plain, seed2 = signed_request(PayloadMode.STREAMING_SIGNED, len(payload))
    with_trailer = encode_signed(payload, 8192, seed2, trailers=good)
    expect("MalformedTrailerError", plain.chunk_decoder(), with_trailer)
    # unsigned trailers carry no signature line
    unsigned = ChunkDecoder(PayloadMode.STREAMING_UNSIGNED_TRAILER, 0)
    expect(
        "MalformedTrailerError",
        unsigned,
        b"0\r\nx-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n",
    )


def test_trailer_whitespace_and_missing_final_line() -> None:
    decoder = ChunkDecoder(
        PayloadMode.STREAMING_UNSIGNED_TRAILER, 3, trailer_names=["x-amz-checksum-sha256"]
    )
    assert decode(decoder, b"3\r\nabc\r\n0\r\nX-Amz-Checksum-SHA256 :  v== \r\n") == b"abc"
    assert decoder.trailers == {"x-amz-checksum-sha256": "v=="}


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=400),
    st.sampled_from(list(PayloadMode)[2:]),
    st.integers(0, 300),
    st.lists(st.integers(0, 400), max_size=8),
)
def test_garbage_bodies_only_raise_auth_errors(
    body: bytes, mode: PayloadMode, length: int, cuts: list[int]
) -> None:
    decoder = ChunkDecoder(mode, length, signing=signing(), trailer_names=["x-amz-checksum-crc32"])
    try:
        decode(decoder, body, [c for c in cuts if c < len(body)])
    except AuthError as error:
        assert 400 <= error.status < 500


def test_request_level_checks() -> None:
    with pytest.raises(AuthError, match="MissingContentLength") as info:
        signed_request(
            PayloadMode.STREAMING_SIGNED, 0, extra={"X-Amz-Decoded-Content-Length": "-1"}
        )
    assert info.value.status == 411
    with pytest.raises(AuthError, match="InvalidRequest"):
        signed_request(PayloadMode.STREAMING_SIGNED_TRAILER, 0, trailer="x-amz-checksum-md5")
    result, _ = signed_request(
        PayloadMode.STREAMING_UNSIGNED_TRAILER, 5, trailer="x-amz-checksum-crc64nvme"
    )
    assert result.trailer_names == ("x-amz-checksum-crc64nvme",) and result.signing is not None
    with pytest.raises(ValueError):
        AuthResult(
            kind=result.kind, access_key=None, payload_mode=PayloadMode.UNSIGNED
        ).chunk_decoder()
    with pytest.raises(ValueError):
        ChunkDecoder(PayloadMode.STREAMING_SIGNED, 1)


def test_strip_aws_chunked() -> None:
    assert strip_aws_chunked(None) is None
    assert strip_aws_chunked("aws-chunked") is None
    assert strip_aws_chunked("gzip,aws-chunked") == "gzip"
    assert strip_aws_chunked("aws-chunked, gzip , br") == "gzip,br"


# -- the async body reader ------------------------------------------------------------


async def pieces(body: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


async def collect(result: AuthResult, body: bytes) -> tuple[bytes, dict[str, str], int]:
    reader = result.body(pieces(body, 7000))
    out = b"".join([bytes(p) async for p in reader])
    return out, reader.trailers, reader.length


def test_body_reader_all_modes() -> None:
    payload = bytes(range(256)) * 300
    trailers = {"x-amz-checksum-crc32": crc32_b64(payload)}
    result, seed = signed_request(
        PayloadMode.STREAMING_SIGNED_TRAILER, len(payload), "x-amz-checksum-crc32"
    )
    body = encode_signed(payload, 10_000, seed, trailers=trailers)
    assert asyncio.run(collect(result, body)) == (payload, trailers, len(payload))

    unsigned = AuthResult(kind=result.kind, access_key=ACCESS, payload_mode=PayloadMode.UNSIGNED)
    assert asyncio.run(collect(unsigned, payload)) == (payload, {}, len(payload))
    hashed = AuthResult(
        kind=result.kind,
        access_key=ACCESS,
        payload_mode=PayloadMode.SIGNED,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )
    assert asyncio.run(collect(hashed, payload))[0] == payload


def test_body_reader_fails_before_its_end() -> None:
    payload = bytes(50_000)
    hashed = AuthResult(
        kind=doc_plain().kind,
        access_key=ACCESS,
        payload_mode=PayloadMode.SIGNED,
        payload_sha256=hashlib.sha256(b"something else").hexdigest(),
    )

    async def consume(result: AuthResult, body: bytes) -> int:
        received = 0
        async for piece in result.body(pieces(body)):
            received += len(piece)
        return received  # a consumer would commit here

    with pytest.raises(AuthError, match="XAmzContentSHA256Mismatch"):
        asyncio.run(consume(hashed, payload))
    result, seed = signed_request(PayloadMode.STREAMING_SIGNED, len(payload))
    truncated = encode_signed(payload, 8192, seed)[:-40]
    with pytest.raises(AuthError, match="IncompleteBody"):
        asyncio.run(consume(result, truncated))
