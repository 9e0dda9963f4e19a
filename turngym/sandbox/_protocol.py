"""Length-prefixed JSON frames over pipes and Unix sockets (with optional fd passing).

JSON, not pickle: frames coming back from a confined child are untrusted input and must not be able
to execute anything in the worker or the trainer.
"""

from __future__ import annotations

import array
import json
import os
import socket
import struct
from typing import Any

_HDR = struct.Struct(">I")
MAX_FRAME = 256 << 20


class ProtocolError(ConnectionError):
    """Malformed or truncated frame, or the peer went away."""


def _loads(body: bytes | bytearray) -> Any:
    """Decode one frame's body; anything that is not JSON (bad UTF-8, nesting deep enough to exhaust
    the recursion limit, an integer past Python's digit limit) is a ``ProtocolError``."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad frame: {str(exc)[:200]}") from None


def encode(obj: Any) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return _HDR.pack(len(body)) + body


def write_frame(fd: int, obj: Any) -> None:
    data = memoryview(encode(obj))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise ProtocolError("peer closed the channel")
        buf += chunk
    return bytes(buf)


def read_frame(fd: int, max_size: int = MAX_FRAME) -> Any:
    (size,) = _HDR.unpack(_read_exact(fd, _HDR.size))
    if size > max_size:
        raise ProtocolError(f"frame of {size} bytes exceeds {max_size}")
    return _loads(_read_exact(fd, size))


def decode_buffer(buf: bytes | bytearray, max_size: int = MAX_FRAME) -> tuple[list[Any], bytes]:
    """Split complete frames off a byte buffer (for select-driven readers); returns (frames, rest)."""
    frames = []
    view = bytes(buf)
    while len(view) >= _HDR.size:
        (size,) = _HDR.unpack_from(view)
        if size > max_size:
            raise ProtocolError(f"frame of {size} bytes exceeds {max_size}")
        if len(view) < _HDR.size + size:
            break
        frames.append(_loads(view[_HDR.size:_HDR.size + size]))
        view = view[_HDR.size + size:]
    return frames, view


class FrameBuffer:
    """Incremental decoder for a byte stream of frames: ``feed`` costs O(len(chunk)) however large
    the frame being assembled (re-scanning a growing buffer per chunk made a 24 MB frame cost ~4 GB
    of copying), and a header announcing more than ``max_size`` fails at once instead of after
    the bytes arrive."""

    def __init__(self, max_size: int = MAX_FRAME) -> None:
        self.max_size = max_size
        self.buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self.buf)

    def feed(self, chunk: bytes) -> list[Any]:
        """Append ``chunk``; return the frames it completed (``ProtocolError`` for bad ones)."""
        if self.buf:
            self.buf += chunk
            data: bytes | bytearray = self.buf
        else:
            data = chunk  # the usual case, a whole reply in one read: decoded without a copy into buf
        frames, pos, end = [], 0, len(data)
        while end - pos >= _HDR.size:
            (size,) = _HDR.unpack_from(data, pos)
            if size > self.max_size:
                raise ProtocolError(f"frame of {size} bytes exceeds {self.max_size}")
            if end - pos - _HDR.size < size:
                break
            frames.append(_loads(data[pos + _HDR.size:pos + _HDR.size + size]))
            pos += _HDR.size + size
        if data is self.buf:
            if pos:
                del self.buf[:pos]
        elif pos < end:
            self.buf = bytearray(data[pos:])
        return frames


def send_msg(sock: socket.socket, obj: Any, fds: list[int] | tuple[int, ...] = ()) -> None:
    data = encode(obj)
    if fds:
        sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        data = data[sent:]
    if data:
        sock.sendall(data)


def recv_msg(sock: socket.socket, max_fds: int = 8) -> tuple[Any, list[int]]:
    """Receive one frame and any fds attached to it (they arrive with its first bytes)."""
    fds: list[int] = []
    hdr = b""
    while len(hdr) < _HDR.size:
        chunk, anc, _flags, _addr = sock.recvmsg(_HDR.size - len(hdr), socket.CMSG_SPACE(max_fds * 4))
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(cdata[: len(cdata) - (len(cdata) % a.itemsize)])
                fds.extend(a)
        if not chunk:
            for fd in fds:
                os.close(fd)
            raise ProtocolError("peer closed the channel")
        hdr += chunk
    (size,) = _HDR.unpack(hdr)
    body = bytearray()
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 20))
        if not chunk:
            raise ProtocolError("peer closed the channel")
        body += chunk
    try:
        return _loads(body), fds
    except ProtocolError:
        for fd in fds:
            os.close(fd)
        raise
