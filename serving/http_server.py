"""HTTP/1.1 on asyncio with httptools (llhttp, Node.js's parser), bounded against slow clients.

Every request has absolute deadlines, not per-byte ones: its head must arrive within
`header_timeout_s` of its first byte, its body within `body_timeout_s` of the end of the head, and
a response the client does not read within `write_timeout_s` aborts the connection (this also
bounds a close: the kernel buffer is dropped, never lingered on). A connection idle between
requests is closed after `keepalive_s`. Pipelined requests are answered in order, one per turn of
the loop so that every connection gets its turn; a connection that queues more than
`MAX_PIPELINED` is closed, and while a client does not read its answers, reading stops (asyncio's
flow control) so it cannot queue more. A process
holds at most `max_connections`; one more is answered 503 and closed. Nothing here blocks the
loop: the handler is synchronous and short (one prediction).
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httptools

from serving.http_errors import PayloadTooLarge, ProtocolError, ServingError

logger = logging.getLogger(__name__)

CRLF = "\r\n"
MAX_PIPELINED = 64
"""Requests one connection may queue unanswered; more closes it (a client that never reads)."""
MAX_HEAD_BYTES = 65536
"""A request head (line and headers) above this is refused (gunicorn and nginx use 8-64 KiB)."""
# Upper-case, as werkzeug wrote them for Seldon's Flask app: SeldonClient reports the phrase.
REASONS = {
    200: "OK",
    400: "BAD REQUEST",
    404: "NOT FOUND",
    405: "METHOD NOT ALLOWED",
    413: "REQUEST ENTITY TOO LARGE",
    431: "REQUEST HEADER FIELDS TOO LARGE",
    500: "INTERNAL SERVER ERROR",
    503: "SERVICE UNAVAILABLE",
}


@dataclass(frozen=True)
class HttpLimits:
    """Deadlines in seconds and sizes in bytes for one listening port."""

    header_timeout_s: float
    body_timeout_s: float
    write_timeout_s: float
    keepalive_s: float
    max_request_bytes: int
    max_connections: int


@dataclass
class Request:
    """One parsed request; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    """What a handler answers."""

    status: int
    body: bytes
    content_type: str = "application/json"


Handler = Callable[[Request], Response]


@dataclass
class _Incoming:
    url: bytearray = field(default_factory=bytearray)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class HttpConnection(asyncio.Protocol):
    """One client connection; `connections` is the port's set of open ones."""

    def __init__(self, handler: Handler, limits: HttpLimits, connections: set) -> None:
        self._handler = handler
        self._limits = limits
        self._connections = connections
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._incoming: _Incoming | None = None
        self._in_body = False
        self._head_bytes = 0
        self._ready: list[tuple[Request, bool]] = []
        self._writing_paused = False
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if len(self._connections) >= self._limits.max_connections:
            self._fail(
                ProtocolError(
                    503,
                    f"this process already holds {self._limits.max_connections} connections "
                    "(HTTP_MAX_CONNECTIONS); retry",
                )
            )
            return
        self._connections.add(self)
        self._deadline(self._limits.keepalive_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._cancel_timer()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if not self._in_body:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError(400, "protocol upgrades are not supported"))
        except httptools.HttpParserError as error:
            if not self._closing:
                self._fail(ProtocolError(400, f"malformed HTTP request: {error}"))
        if not self._in_body and self._head_bytes > MAX_HEAD_BYTES:
            self._fail(ProtocolError(431, f"request head exceeds {MAX_HEAD_BYTES} bytes"))

    def pause_writing(self) -> None:
        """The client is not reading: read nothing more, and give it `write_timeout_s`."""
        self._writing_paused = True
        if self._transport is not None:
            self._transport.pause_reading()
        self._deadline(self._limits.write_timeout_s)

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._cancel_timer()
        self._answer_next()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._incoming = _Incoming()
        self._deadline(self._limits.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        self._incoming.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._incoming.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._in_body = True
        headers = self._incoming.headers
        length = headers.get("content-length")
        limit = self._limits.max_request_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            self._fail(PayloadTooLarge.for_size(f"{int(length)} bytes", limit))
            return
        if headers.get("expect", "").lower() == "100-continue":
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._deadline(self._limits.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        incoming = self._incoming
        incoming.body += body
        if len(incoming.body) > self._limits.max_request_bytes:
            self._fail(PayloadTooLarge.for_size("a chunked body", self._limits.max_request_bytes))

    def on_message_complete(self) -> None:
        if self._closing:
            return
        incoming, self._incoming = self._incoming, None
        self._in_body = False
        self._head_bytes = 0
        url = httptools.parse_url(bytes(incoming.url))
        request = Request(
            method=self._parser.get_method().decode("ascii"),
            path=(url.path or b"/").decode("latin-1"),
            query=(url.query or b"").decode("latin-1"),
            headers=incoming.headers,
            body=bytes(incoming.body),
        )
        self._ready.append((request, self._parser.should_keep_alive()))
        self._cancel_timer()
        if len(self._ready) > MAX_PIPELINED:
            logger.warning("closing a connection that pipelined over %d requests", MAX_PIPELINED)
            self._transport.abort()
            self._closing = True
        elif len(self._ready) == 1:
            self._transport.pause_reading()
            self._loop.call_soon(self._answer_next)

    # internals
    def _answer_next(self) -> None:
        """Answer one queued request, then let other connections have a turn."""
        if self._transport is None:
            return  # the client left before its turn came: nothing was answered, nothing counted
        if self._ready and not self._writing_paused and not self._closing:
            request, keep_alive = self._ready.pop(0)
            try:
                response = self._handler(request)
            except ServingError as error:
                response = Response(error.status_code, error.body())
            except Exception as error:  # noqa: BLE001 - any bug answers 500, the loop lives on
                logger.exception("unhandled error answering %s %s", request.method, request.path)
                response = Response(500, ServingError(str(error)).body())
            self._write(response, keep_alive)
            if not keep_alive:
                self._close()
                return
        if self._closing or self._writing_paused or self._transport is None:
            return
        if self._ready:
            self._loop.call_soon(self._answer_next)
            return
        self._transport.resume_reading()
        if self._incoming is None:
            self._deadline(self._limits.keepalive_s)

    def _write(self, response: Response, keep_alive: bool) -> None:
        head = (
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            f"{'' if keep_alive else 'Connection: close' + CRLF}{CRLF}"
        )
        self._transport.write(head.encode("latin-1") + response.body)

    def _fail(self, error: ServingError) -> None:
        """Answer an error the connection cannot continue after, then close it."""
        if self._closing or self._transport is None:
            return
        self._ready.clear()
        self._write(Response(error.status_code, error.body()), keep_alive=False)
        self._close()

    def _close(self) -> None:
        """Close once the answer is flushed, or abort if the client has not read it in time."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()
            self._deadline(self._limits.write_timeout_s)

    def _deadline(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self._loop.call_later(seconds, self._expire)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.abort()


async def serve_http(
    handler: Handler, limits: HttpLimits, **where: object
) -> asyncio.base_events.Server:
    """Listen with `loop.create_server` (`host`/`port`, or an inherited `sock`)."""
    connections: set = set()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HttpConnection(handler, limits, connections), backlog=2048, **where
    )
