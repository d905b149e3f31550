"""Frames on the pipes between the renderer and its workers: a JSON header and an optional binary body."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

Header = dict[str, Any]
Frame = tuple[Header, bytes]

_LENGTHS = struct.Struct(">II")
_MAX_HEADER_BYTES = 1 << 20
_MAX_BODY_BYTES = 64 << 20


class ProtocolError(Exception):
    """The other side sent something that is not a frame."""


def encode_frame(header: Header, body: bytes = b"") -> bytes:
    data = json.dumps(header).encode()
    return _LENGTHS.pack(len(data), len(body)) + data + body


class FrameBuffer:
    """Collects bytes read from a pipe and hands out complete frames."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def pop(self) -> Frame | None:
        if len(self._data) < _LENGTHS.size:
            return None
        header_length, body_length = _LENGTHS.unpack_from(self._data)
        if header_length > _MAX_HEADER_BYTES or body_length > _MAX_BODY_BYTES:
            raise ProtocolError("Frame too large.")
        end = _LENGTHS.size + header_length + body_length
        if len(self._data) < end:
            return None
        try:
            header = json.loads(self._data[_LENGTHS.size : _LENGTHS.size + header_length])
        except ValueError as exc:
            raise ProtocolError("Frame header is not JSON.") from exc
        if not isinstance(header, dict):
            raise ProtocolError("Frame header is not an object.")
        body = bytes(self._data[_LENGTHS.size + header_length : end])
        del self._data[:end]
        return header, body


def write_frame(fd: int, header: Header, body: bytes = b"") -> None:
    """Write a whole frame to a blocking file descriptor."""
    view = memoryview(encode_frame(header, body))
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int, frames: FrameBuffer) -> Frame | None:
    """Block until a whole frame has arrived on `fd`; None when the pipe closes first."""
    while (frame := frames.pop()) is None:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        frames.feed(chunk)
    return frame
