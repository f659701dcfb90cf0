"""Graceful stop: no new connections, in-flight requests finish, websockets hear 1001."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("outdial.server")

GOING_AWAY = 1001
GOING_AWAY_REASON = "server shutting down"


class _OpenWebSocket:
    def __init__(self, send: Send) -> None:
        self._send = send
        self.accepted = False
        self.closed = False

    async def send(self, message: Message) -> None:
        if self.closed:
            return  # the server already said goodbye; late frames have no one to go to
        if message["type"] == "websocket.accept":
            self.accepted = True
        elif message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)

    async def go_away(self) -> bool:
        if not self.accepted or self.closed:
            return False
        with suppress(OSError):  # the client left first: nothing more to say
            await self.send(
                {"type": "websocket.close", "code": GOING_AWAY, "reason": GOING_AWAY_REASON}
            )
        return True


class OpenWebSockets:
    """Every websocket the app holds, so a stopping server can close them as going away.

    uvicorn itself closes websockets with 1012 (service restart) when it stops; closing them
    first, with 1001, tells clients the server is going away and they should reconnect
    elsewhere.
    """

    def __init__(self) -> None:
        self._open: set[_OpenWebSocket] = set()
        self._event_streams: list[Callable[[], int]] = []
        self.closing = False

    def also_end(self, event_streams: Callable[[], int]) -> None:
        """Server-Sent Events streams to end as well: `event_streams()` ends them, says how many."""
        self._event_streams.append(event_streams)

    def add(self, connection: _OpenWebSocket) -> None:
        self._open.add(connection)

    def discard(self, connection: _OpenWebSocket) -> None:
        self._open.discard(connection)

    async def close_all(self) -> int:
        """Close every open websocket with 1001 and refuse new ones; returns how many."""
        self.closing = True
        ended = sum(end() for end in self._event_streams)
        if ended:
            logger.info("ended %d event stream(s)", ended)
        return sum([await connection.go_away() for connection in list(self._open)])


class TrackWebSockets:
    """Pure ASGI middleware keeping `websockets` up to date."""

    def __init__(self, app: ASGIApp, *, websockets: OpenWebSockets) -> None:
        self.app = app
        self.websockets = websockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        if self.websockets.closing:
            await send({"type": "websocket.close", "code": GOING_AWAY})
            return
        connection = _OpenWebSocket(send)
        self.websockets.add(connection)
        try:
            await self.app(scope, receive, connection.send)
        finally:
            self.websockets.discard(connection)


class GracefulServer(uvicorn.Server):
    """uvicorn's server, stopping in the order clients expect, and exiting 0 on SIGTERM."""

    def __init__(
        self,
        config: uvicorn.Config,
        websockets: OpenWebSockets,
        *,
        on_started: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config)
        self._websockets = websockets
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting first; uvicorn's shutdown does it again, harmlessly
        closed = await self._websockets.close_all()
        if closed:
            logger.info("closed %d websocket(s) with 1001 going away", closed)
        await super().shutdown(sockets)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal once it has stopped, so a clean stop on SIGTERM would
        # end with status 143; a drained, orderly stop is a success and exits 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {signum: signal.signal(signum, self.handle_exit) for signum in handled}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
