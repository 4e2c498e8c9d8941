"""The RPC framing (``Channel``) fed byte by byte, in odd pieces, and past its buffers."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgpack
import pytest

from liteio.rpc import codec
from liteio.rpc.wire import (
    ABORT,
    END,
    LAST,
    MAX_CHUNK,
    PAUSE_AT,
    STAGE_SIZE,
    U32,
    Channel,
    ProtocolError,
    pack,
)
from liteio.storage import errors as serr
from liteio.storage.api import CommitResult, DiskInfo


class FakeTransport:
    """Just enough transport for a Channel fed by hand."""

    def __init__(self) -> None:
        self.reading = True
        self.out = bytearray()
        self.closed = False

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def write(self, data: Any) -> None:
        self.out += data

    def writelines(self, parts: Any) -> None:
        for part in parts:
            self.out += part

    def set_write_buffer_limits(self, high: int = 0, low: int = 0) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    abort = close


def channel() -> tuple[Channel, FakeTransport]:
    ch = Channel()
    t = FakeTransport()
    ch.connection_made(t)  # type: ignore[arg-type]
    return ch, t


def feed(ch: Channel, data: bytes, most: int) -> int:
    """Deliver up to ``most`` bytes the way the event loop does; returns how many."""
    buf = ch.get_buffer(-1)
    n = min(len(buf), most, len(data))
    buf[:n] = data[:n]
    ch.buffer_updated(n)
    return n


def stream(parts: list[tuple[str, Any]]) -> bytes:
    out = bytearray()
    for kind, value in parts:
        if kind == "msg":
            out += pack(value)
        elif kind == "chunk":
            out += U32.pack(len(value)) + value
        else:
            out += U32.pack(value)
    return bytes(out)


async def consume(ch: Channel, parts: list[tuple[str, Any]]) -> list[Any]:
    got: list[Any] = []
    for kind, value in parts:
        if kind == "msg":
            got.append(await ch.read_message())
        elif kind == "chunk":
            n = await ch.read_u32()
            buf = bytearray(n)
            await ch.read_into(memoryview(buf))
            got.append(bytes(buf))
        else:
            got.append(await ch.read_u32())
    return got


PARTS: list[tuple[str, Any]] = [
    ("msg", [1, "read_at", "/d1", [0, 5]]),
    ("chunk", bytes(range(256)) * 5),
    ("chunk", b"x"),
    ("marker", END),
    ("msg", {"p": "liteio-rpc/1", "sn": b"\x00" * 32}),
    ("chunk", bytes(random.Random(1).randbytes(STAGE_SIZE + 12345))),
    ("msg", [2, 0, b"y" * (STAGE_SIZE * 3)]),  # a message bigger than the staging buffer
    ("marker", ABORT),
    ("msg", [3, 1, ["FileNotFound", "gone"]]),
]


# The same shapes, small enough to feed a byte at a time.
SMALL_PARTS: list[tuple[str, Any]] = [
    (kind, value[:3000] if isinstance(value, bytes) else value)
    for kind, value in PARTS if kind != "msg" or len(pack(value)) < 1000
]


@pytest.mark.parametrize("step", [1, 3, 4, 7, 4096, 65536, 1 << 30])
def test_frames_survive_any_split(step: int) -> None:
    parts = SMALL_PARTS if step < 8 else PARTS
    data = stream(parts)
    expected = [v for _, v in parts]

    async def main() -> None:
        ch, _ = channel()
        reader = asyncio.ensure_future(consume(ch, parts))
        at = 0
        rng = random.Random(step)
        while at < len(data):
            at += feed(ch, data[at:], step if step < 8 else rng.randint(1, step))
            await asyncio.sleep(0)
        assert await reader == expected

    asyncio.run(main())


def test_everything_arrives_before_anyone_reads() -> None:
    data = stream(PARTS)

    async def main() -> None:
        ch, t = channel()
        at = 0
        while at < len(data):
            at += feed(ch, data[at:], 1 << 30)
        assert not t.reading  # paused, not buffering without bound... then drained:
        reader = asyncio.ensure_future(consume(ch, PARTS))
        await asyncio.sleep(0)
        assert await reader == [v for _, v in PARTS]
        assert t.reading

    asyncio.run(main())


def test_reading_pauses_when_nobody_consumes() -> None:
    async def main() -> None:
        ch, t = channel()
        payload = b"z" * (PAUSE_AT + 10)
        data = stream([("chunk", payload[: MAX_CHUNK])])
        at = 0
        while t.reading and at < len(data):
            at += feed(ch, data[at:], 65536)
        assert not t.reading and at >= PAUSE_AT
        n = await ch.read_u32()
        buf = bytearray(n)
        reader = asyncio.ensure_future(ch.read_into(memoryview(buf)))
        await asyncio.sleep(0)
        assert t.reading  # consuming resumed it
        while at < len(data):
            at += feed(ch, data[at:], 65536)
            await asyncio.sleep(0)
        await reader
        assert bytes(buf) == payload[:n]

    asyncio.run(main())


def test_poll_message_never_waits() -> None:
    async def main() -> None:
        ch, _ = channel()
        assert ch.poll_message() is None
        data = pack([7, 1, ["DriveFull", "full"]])
        feed(ch, data, 5)
        assert ch.poll_message() is None  # incomplete: left in place
        feed(ch, data[5:], 1 << 20)
        assert ch.poll_message() == [7, 1, ["DriveFull", "full"]]
        assert ch.poll_message() is None

    asyncio.run(main())


def test_oversized_and_garbage_messages_are_protocol_errors() -> None:
    async def main() -> None:
        ch, _ = channel()
        feed(ch, U32.pack(5000) + b"x" * 10, 1 << 20)
        with pytest.raises(ProtocolError):
            await ch.read_message(limit=4096)
        ch, _ = channel()
        feed(ch, U32.pack(2) + b"\xc1\xc1", 1 << 20)  # 0xc1 is never valid msgpack
        with pytest.raises(ProtocolError):
            await ch.read_message()

    asyncio.run(main())


def test_connection_lost_wakes_readers_but_keeps_what_arrived() -> None:
    async def main() -> None:
        ch, _ = channel()
        feed(ch, pack([1, 0, None]), 1 << 20)
        waiting = asyncio.ensure_future(ch.read_message())
        await asyncio.sleep(0)
        assert await waiting == [1, 0, None]
        waiting = asyncio.ensure_future(ch.read_message())
        await asyncio.sleep(0)
        ch.connection_lost(None)
        with pytest.raises(ConnectionError):
            await waiting
        with pytest.raises(ConnectionError):
            ch.write_message([2, "x", "", []])
        assert not ch.usable

    asyncio.run(main())


def test_write_side_frames() -> None:
    async def main() -> None:
        ch, t = channel()
        ch.write_message([1, "m", "/d", [b"\x00"]])
        ch.write_chunk(memoryview(b"abc"))
        ch.write_chunk(memoryview(b"q" * 100_000))
        ch.write_chunk(memoryview(b"z" * 20_000), b"hd", last=True)
        ch.write_end()
        ch.write_abort()
        out = bytes(t.out)
        (n,) = U32.unpack_from(out)
        assert msgpack.unpackb(out[4 : 4 + n]) == [1, "m", "/d", [b"\x00"]]
        rest = out[4 + n :]
        assert rest[:7] == U32.pack(3) + b"abc"
        assert rest[7:11] == U32.pack(100_000) and rest[11:100_011] == b"q" * 100_000
        rest = rest[100_011:]
        assert rest[:6] == b"hd" + U32.pack(20_000 | LAST) and rest[6:20_006] == b"z" * 20_000
        assert rest[20_006:] == U32.pack(END) + U32.pack(ABORT)

    asyncio.run(main())


def test_sends_of_one_iteration_leave_together() -> None:
    async def main() -> None:
        ch, t = channel()
        calls: list[int] = []
        t.writelines = lambda parts: calls.append(len(list(parts)))  # type: ignore[method-assign]
        ch.send_message([1, "read_xl", "/d1", ["b", "k"]])
        first = bytes(t.out)
        assert first == pack([1, "read_xl", "/d1", ["b", "k"]])  # a lone call: at once
        ch.send_message([2, "read_xl", "/d2", ["b", "k"]])
        ch.send_body(pack([3, 2, None]), memoryview(b"x" * (MAX_CHUNK + 5)))
        assert bytes(t.out) == first and calls == []  # the rest of the burst: queued
        await asyncio.sleep(0)
        assert calls == [4]  # then one gathered write for all of it (4 pieces)
        await asyncio.sleep(0)  # a new loop iteration: sends go out at once again
        ch.send_message([4, "ping", "", []])
        assert bytes(t.out).endswith(pack([4, "ping", "", []]))
        ch.send_message([5, "ping", "", []])
        await ch.drain()  # drain flushes what is queued
        assert bytes(t.out).endswith(pack([5, "ping", "", []]))

    asyncio.run(main())


def test_body_frames_round_trip() -> None:
    async def main() -> None:
        ch, t = channel()
        data = bytes(random.Random(3).randbytes(2 * MAX_CHUNK + 7))
        ch.send_body(pack([9, 2, None]), memoryview(data))
        ch.send_body(pack([10, 2, None]), memoryview(b""))
        await ch.drain()
        rx, _ = channel()
        wire = bytes(t.out)
        at = 0
        while at < len(wire):
            at += feed(rx, wire[at:], 1 << 30)
        assert await rx.read_message() == [9, 2, None]
        got = bytearray()
        while True:
            n = await rx.read_u32()
            size = n & ~LAST
            buf = bytearray(size)
            await rx.read_into(memoryview(buf))
            got += buf
            if n & LAST:
                break
        assert bytes(got) == data
        assert await rx.read_message() == [10, 2, None]
        assert await rx.read_u32() == END

    asyncio.run(main())


def test_codec_round_trips_and_error_names() -> None:
    info = DiskInfo("ep", 10, 5, 4, True, False, "id")
    assert codec.disk_info_in(codec.disk_info_out(info), "ep") == info
    res = CommitResult(b"old", "dd")
    assert codec.commit_in(msgpack.unpackb(msgpack.packb(codec.commit_out(res)))) == res
    for cls in codec.ERRORS.values():
        back = codec.error_in(codec.error_out(cls("m")))
        assert type(back) is cls and str(back) == "m"
    assert type(codec.error_in(["NoSuchThing", "x"])) is serr.StorageError
    assert type(codec.error_in(None)) is serr.StorageError
    assert codec.error_out(ValueError("v")) == ["StorageError", "v"]
