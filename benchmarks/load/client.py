"""A raw HTTP/1.1 keep-alive connection: send prebuilt request bytes, read one response.

No parsing beyond what framing needs (status, ``Content-Length``, chunked,
``Connection: close``), so one Python process drives thousands of requests a
second. Bodies are counted and dropped into one reusable buffer unless asked
for.
"""

from __future__ import annotations

import socket

SCRATCH = 1 << 20
DISCARD = getattr(socket, "MSG_TRUNC", 0)
MAX_HEAD = 256 * 1024


class ProtocolError(Exception):
    pass


class Connection:
    """One blocking keep-alive socket to 127.0.0.1:port; reconnects after a close."""

    __slots__ = ("buf", "closed", "port", "scratch", "sock", "timeout", "view")

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.scratch = bytearray(SCRATCH)
        self.view = memoryview(self.scratch)
        self.closed = True

    def connect(self) -> None:
        self.close()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf = b""
        self.closed = False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.closed = True

    def send(self, head: bytes, body: bytes | memoryview | None) -> None:
        sock = self.sock
        assert sock is not None
        if body is None:
            sock.sendall(head)
            return
        # One syscall for head and body when it fits (small objects); sendall for the rest.
        sent = sock.sendmsg([head, body])
        total = len(head) + len(body)
        if sent < total:
            if sent < len(head):
                sock.sendall(memoryview(head)[sent:])
                sock.sendall(body)
            else:
                sock.sendall(memoryview(body)[sent - len(head):])

    def _fill(self) -> None:
        sock = self.sock
        assert sock is not None
        n = sock.recv_into(self.scratch)
        if n == 0:
            raise ProtocolError("connection closed by the server")
        self.buf += self.view[:n]

    def read_response(self, head_only: bool, keep: bool = False) -> tuple[int, int, bytes]:
        """(status, body length, body if ``keep`` or status >= 300 else b"")."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > MAX_HEAD:
                raise ProtocolError("response head too large")
            self._fill()
        head = self.buf[:end]
        rest = self.buf[end + 4:]
        status = int(head[9:12])
        if status < 200:  # an interim response (100 Continue): the real one follows
            self.buf = rest
            return self.read_response(head_only, keep)
        lower = head.lower()
        if b"\r\nconnection: close" in lower:
            self.closed = True
        if head_only or status == 204 or status == 304:
            self.buf = rest
            return status, 0, b""
        keep = keep or status >= 300
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = lower.find(b"\r\n", at + 17)
            length = int(lower[at + 17:stop if stop >= 0 else len(lower)])
            return status, length, self._read_length(rest, length, keep)
        if b"\r\ntransfer-encoding: chunked" in lower:
            body = self._read_chunked(rest)
            return status, len(body), body if keep else b""
        # No framing: the body runs to the close.
        self.closed = True
        rest_of = bytearray(rest)
        try:
            while True:
                self.buf = b""
                self._fill()
                rest_of += self.buf
        except ProtocolError:
            pass
        self.buf = b""
        return status, len(rest_of), bytes(rest_of) if keep else b""

    def _read_length(self, rest: bytes, length: int, keep: bool) -> bytes:
        if len(rest) >= length:
            self.buf = rest[length:]
            return rest[:length] if keep else b""
        sock = self.sock
        assert sock is not None
        kept = bytearray(rest) if keep else None
        remaining = length - len(rest)
        view = self.view
        # PERF: a body we only count is dropped in the kernel (TCP's MSG_TRUNC), not copied out.
        flags = 0 if keep else DISCARD
        while remaining:
            n = sock.recv_into(view, min(remaining, SCRATCH), flags)
            if n == 0:
                raise ProtocolError("connection closed mid-body")
            if kept is not None:
                kept += view[:n]
            remaining -= n
        self.buf = b""
        return bytes(kept) if kept is not None else b""

    def _read_chunked(self, rest: bytes) -> bytes:
        self.buf = rest
        body = bytearray()
        while True:
            while (eol := self.buf.find(b"\r\n")) < 0:
                self._fill()
            size = int(self.buf[:eol].split(b";")[0], 16)
            self.buf = self.buf[eol + 2:]
            if size == 0:
                while (end := self.buf.find(b"\r\n")) != 0:  # trailers end at an empty line
                    if end < 0:
                        self._fill()
                    else:
                        self.buf = self.buf[end + 2:]
                self.buf = self.buf[2:]
                return bytes(body)
            while len(self.buf) < size + 2:
                self._fill()
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]
