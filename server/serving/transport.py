"""How uvicorn serves the app, hardened against slow clients and oversized websocket messages.

uvicorn waits forever for a request's headers (its keep-alive timer runs only between
requests) and for a body that trickles in; here the headers must arrive within
`REQUEST_HEADERS_TIMEOUT_MS` of the connection or request starting, and the whole body within
`REQUEST_BODY_TIMEOUT_MS` of the headers, else the client gets 408 and the connection closes.
A connection closed while its client is still sending lingers (`_HardenedHttp`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.guards.limits import send_refusal
from server.settings import Settings

LINGER_S = 2.0
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def uvicorn_config(app: ASGIApp, settings: Settings, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=header_deadline(settings.request_headers_timeout_ms / 1000),
        ws_max_size=settings.max_body_bytes,  # larger messages: closed with 1009, unread
        ws_per_message_deflate=False,
        log_config=None,
        access_log=False,  # server.observability.requestlog writes one line per request
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        **options,
    )


class _ClosingGently(asyncio.Transport):
    """A connection's transport whose `close` is the protocol's `close_gently`, so that the
    closes uvicorn makes itself (after a refusal, a 400 for garbage) linger too."""

    def __init__(self, transport: asyncio.Transport, close_gently: Callable[[], None]) -> None:
        super().__init__()
        self.underlying = transport
        self._close_gently = close_gently
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self._close_gently()

    def is_closing(self) -> bool:
        return self._closed or self.underlying.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closed:  # as a closed transport drops what is written after its close
            self.underlying.write(data)

    def pause_reading(self) -> None:
        self.underlying.pause_reading()

    def resume_reading(self) -> None:
        self.underlying.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.underlying.get_extra_info(name, default)


class _HardenedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for headers and a lingering close.

    Closing while the client is still sending would answer its next bytes with a reset, and a
    reset can destroy our answer (a 408, a 413) before the client reads it. So such a close
    sends our end of the stream and reads and drops theirs, for at most `LINGER_S`."""

    timeout_s = 10.0
    _deadline: asyncio.TimerHandle | None = None
    _mid_request = False
    _lingering: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_ClosingGently(transport, self._close))
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._lingering is None:
            super().data_received(data)

    def on_message_begin(self) -> None:
        self._mid_request = True
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._mid_request = False
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self.transport = self._underlying  # a websocket closes as uvicorn closes it
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._mid_request = False
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    @property
    def _underlying(self) -> asyncio.Transport:
        transport = self.transport
        return transport.underlying if isinstance(transport, _ClosingGently) else transport

    def _close(self) -> None:
        underlying = self._underlying
        if (
            self._lingering is not None
            or not self._mid_request
            or underlying.is_closing()
            or not underlying.can_write_eof()
        ):
            underlying.close()
            return
        # The client's end of stream (eof_received returning None) closes the transport.
        self._lingering = self.loop.call_later(LINGER_S, underlying.close)
        underlying.write_eof()
        underlying.resume_reading()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined request waits for the answer before it: not its fault
            return
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def header_deadline(timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, hardened (`_HardenedHttp`) with this deadline for headers."""
    return type("HeaderDeadlineProtocol", (_HardenedHttp,), {"timeout_s": timeout_s})


class BodyLimits:
    """ASGI middleware: 413 for a request body over `max_bytes` (without reading it all), 408
    when it has not fully arrived within `timeout_s` of the request starting.

    One middleware for both, so a request's receive and send pass one wrapper each."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float,
        on_refusal: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        max_bytes = self.max_bytes
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        received = 0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later receives wait for the client to leave: no deadline
                message = await receive()
            else:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    raise _BodyTooSlow from None
                body_done = message["type"] != "http.request" or not message.get("more_body")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large(send)
        except _BodyTooSlow:
            if started:
                raise
            self.on_refusal()
            message = f"The request body did not arrive within {self.timeout_s:g} s."
            await send_refusal(send, 408, message)

    async def _too_large(self, send: Send) -> None:
        self.on_refusal()
        message = f"The request body is larger than the limit of {self.max_bytes:,} bytes."
        await send_refusal(send, 413, message)


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
