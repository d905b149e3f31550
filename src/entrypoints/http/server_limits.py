"""What `scoremate serve` holds a client to before a request reaches the application, on every connection of
every API process: uvicorn's httptools protocol, which sets no limit on the size of the request line and
headers and no deadline for receiving them or a body, with those limits added.

- the request line and headers: at most `max_request_header_bytes` (431, connection closed), all received within
  `request_header_timeout_seconds` of the connection (or of the first byte of a kept-alive connection's next
  request) (408, closed);
- a body: JSON bodies whole within `request_body_timeout_seconds` of the headers; a local-storage upload may take
  that long to start and must then average `upload_min_bytes_per_second` (408, closed). Time the server itself
  keeps the body waiting (flow control) is not held against the client;
- at most `max_connections` open connections per process (and no more than the file-descriptor limit leaves
  room for): past it, the oldest connection that is not being answered (idle, or still sending its headers) is
  closed to make room, so a new client is served while thousands of unfinished requests are open.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.storage.local import URL_PREFIX
from entrypoints.settings import Settings

logger = logging.getLogger("scoremate.http")

# File descriptors one API process keeps for itself besides its clients' connections: database and Redis
# connections, render processes' pipes, open files, logs.
_RESERVED_DESCRIPTORS = 256
_NOTE_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    upload_min_rate: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        room = soft if soft == resource.RLIM_INFINITY else max(soft - _RESERVED_DESCRIPTORS, soft // 2)
        return cls(
            max_header_bytes=settings.max_request_header_bytes,
            header_timeout=settings.request_header_timeout_seconds,
            body_timeout=settings.request_body_timeout_seconds,
            upload_min_rate=float(settings.upload_min_bytes_per_second),
            max_connections=min(settings.max_connections, room),
        )


class _Notes:
    """Counts what the limits did and says so at most every ten seconds: a flood makes one line, not thousands."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last = 0.0

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        now = time.monotonic()
        if now - self.last >= _NOTE_EVERY_SECONDS:
            self.last = now
            summary = ", ".join(f"{count} {name}" for name, count in sorted(self.counts.items()))
            self.counts.clear()
            logger.warning("HTTP limits closed connections: %s", summary)


_notes = _Notes()
# This process's connections, oldest first.
_open: dict[LimitedHttpToolsProtocol, None] = {}


def _raw_response(status: int, reason: str) -> bytes:
    body = f"{reason}\n".encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits | None] = None  # read from the environment once per process, as the app is

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.limits is None:
            cls.limits = HttpLimits.of(Settings.from_env())
        self._limits: HttpLimits = cls.limits
        self._reading_headers = True  # no request's headers are complete, nor a body on its way
        self._header_bytes = 0
        self._body_bytes = 0
        self._body_started = 0.0
        self._upload = False
        self._timer: asyncio.TimerHandle | None = None

    # The connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _open[self] = None
        self._arm(self._limits.header_timeout)
        if len(_open) > self._limits.max_connections:
            victim = next((other for other in _open if other is not self and not other._answering()), None)
            if victim is not None:
                _notes.add("shed to make room for new ones")
                victim._close()
            else:
                _notes.add("refused, every connection being answered")
                self._close(_raw_response(503, "Service Unavailable"))

    def connection_lost(self, exc: Exception | None) -> None:
        _open.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self._reading_headers
        super().data_received(data)
        if self.transport.is_closing() or not (before and self._reading_headers) or self._answering():
            return
        self._header_bytes += len(data)
        if self._header_bytes > self._limits.max_header_bytes:
            _notes.add("with request headers too large")
            self._close(_raw_response(431, "Request Header Fields Too Large"))
        elif self._timer is None:
            self._arm(self._limits.header_timeout)

    # Parser callbacks
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._reading_headers = False
        self._header_bytes = 0
        self._body_bytes = 0
        self._body_started = self.loop.time()
        self._upload = self.url.startswith(URL_PREFIX.encode())
        self._disarm()
        self._arm(self._limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_bytes += len(body)
        if self._upload:
            self._disarm()
            self._arm_at(self._upload_deadline())

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_headers = True
        self._header_bytes = 0
        self._disarm()
        if not self._answering() and self.timeout_keep_alive_task is None and not self.transport.is_closing():
            # The body ended after its answer (it went unread): the connection is idle from now on.
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    # The limits
    def _answering(self) -> bool:
        """Whether a request of this connection is being answered (or waits in its pipeline)."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _upload_deadline(self) -> float:
        return self._body_started + self._limits.body_timeout + self._body_bytes / self._limits.upload_min_rate

    def _arm(self, delay: float) -> None:
        self._arm_at(self.loop.time() + delay)

    def _arm_at(self, when: float) -> None:
        self._timer = self.loop.call_at(when, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._reading_headers:
            if self._answering():
                return  # a pipelined request waits for its turn: the server's time, not the client's
            _notes.add("without their request headers in time")
            self._close(_raw_response(408, "Request Timeout") if self._header_bytes else b"")
            return
        if self.flow.read_paused:
            # The application has not taken what arrived yet: not the client's delay.
            self._arm(1.0)
            return
        _notes.add("without their request body in time")
        answered = self.cycle is not None and self.cycle.response_started
        self._close(b"" if answered else _raw_response(408, "Request Timeout"))

    def _close(self, last_words: bytes = b"") -> None:
        _open.pop(self, None)
        self._disarm()
        if last_words:
            self.transport.write(last_words)
        if self.cycle is not None and not self.cycle.response_complete:
            # The application, waiting for the rest of the body, hears that the client is gone.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()
