"""A small GraphQL-over-websocket client for tests, speaking both subprotocols.

`graphql-transport-ws` (subscribe / next / error / complete, ping / pong) and the legacy
`graphql-ws` (start / data / error / complete / stop, server `ka`). Frames are normalised to
the transport-ws names, so tests read the same for both: next, error, complete.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)
TIMEOUT = 5.0

_LEGACY_KINDS = {"data": "next", "error": "error", "complete": "complete"}


@dataclass(frozen=True)
class Frame:
    kind: str  # next | error | complete
    payload: Any = None


def errors_of(frame: Frame) -> list[dict[str, Any]]:
    """transport-ws sends a list of errors, legacy graphql-ws a single one."""
    payload = frame.payload
    if frame.kind == "next":
        payload = payload["errors"]
    return payload if isinstance(payload, list) else [payload]


class ConnectionEnded(Exception):
    pass


class Operation:
    """One subscription on a connection: the frames the server sent for it, in order."""

    def __init__(self, client: GraphQLWebSocket, operation_id: str) -> None:
        self.client = client
        self.id = operation_id
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()

    async def frame(self, timeout: float = TIMEOUT) -> Frame:
        getting = asyncio.ensure_future(self.frames.get())
        closed = asyncio.ensure_future(asyncio.shield(self.client.closed))
        either: set[asyncio.Future[Any]] = {getting, closed}
        try:
            done, _ = await asyncio.wait(
                either, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            closed.cancel()
        if getting in done:
            return getting.result()
        getting.cancel()
        if not done:
            raise TimeoutError(f"no frame for operation {self.id} within {timeout}s")
        raise ConnectionEnded(f"connection closed: {self.client.closed.result()}")

    async def next(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The data of the next event; fails on anything else."""
        frame = await self.frame(timeout)
        assert frame.kind == "next", frame
        assert "errors" not in frame.payload, frame
        data: dict[str, Any] = frame.payload["data"]
        return data

    async def events(self, count: int, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
        return [await self.next(timeout) for _ in range(count)]

    def received(self) -> list[Frame]:
        """Frames already here, without waiting."""
        frames = []
        while not self.frames.empty():
            frames.append(self.frames.get_nowait())
        return frames

    async def complete(self) -> None:
        await self.client.complete(self)


class GraphQLWebSocket:
    def __init__(self, connection: ClientConnection, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol
        self.operations: dict[str, Operation] = {}
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.reading = asyncio.Event()
        self.reading.set()
        self._ids = itertools.count(1)
        self.binary_frames = 0
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        protocol: str,
        *,
        receive_buffer: int | None = None,
        **options: Any,
    ) -> AsyncIterator[GraphQLWebSocket]:
        """Connect and acknowledge; `receive_buffer` shrinks the socket's receive buffer."""
        sock = None
        if receive_buffer is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        connection = await connect(
            url,
            subprotocols=[protocol],  # type: ignore[list-item]
            compression=None,
            proxy=None,
            ping_interval=None,
            open_timeout=TIMEOUT,
            close_timeout=1,
            sock=sock,
            **options,
        )
        client = cls(connection, protocol)
        try:
            assert connection.subprotocol == protocol
            await client.send({"type": "connection_init", "payload": {}})
            ack = client._decode(await asyncio.wait_for(connection.recv(), TIMEOUT))
            assert ack["type"] == "connection_ack", ack
            client._reader = asyncio.create_task(client._read())
            yield client
        finally:
            await client.close()

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(message).decode())

    async def subscribe(self, query: str, **variables: Any) -> Operation:
        return await self.start({"query": query, "variables": variables})

    async def start(self, payload: dict[str, Any]) -> Operation:
        """Any operation payload (a persisted one: `extensions` without `query`)."""
        operation = Operation(self, str(next(self._ids)))
        self.operations[operation.id] = operation
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.send({"id": operation.id, "type": kind, "payload": payload})
        return operation

    async def complete(self, operation: Operation) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.send({"id": operation.id, "type": kind})

    async def ping(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """graphql-transport-ws: send a ping, return the pong."""
        await self.send({"type": "ping"})
        return await self.control_message(timeout)

    async def control_message(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message that belongs to no operation (pong, ka)."""
        return await asyncio.wait_for(self.control.get(), timeout)

    def stall(self) -> None:
        """Stop reading: the library's small queue and then the socket buffers fill up."""
        self.reading.clear()

    def resume(self) -> None:
        self.reading.set()

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake, like a crashed client."""
        self.connection.transport.abort()

    async def close(self) -> None:
        self.resume()
        with suppress(ConnectionClosed, OSError):
            await asyncio.wait_for(self.connection.close(), TIMEOUT)
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        try:
            while True:
                await self.reading.wait()
                self._dispatch(self._decode(await self.connection.recv()))
        except ConnectionClosed as closed:
            reason = f"{closed.rcvd.code} {closed.rcvd.reason}" if closed.rcvd else "no close frame"
            self.closed.set_result(reason)
        finally:
            if not self.closed.done():
                self.closed.set_result("client closed")

    def _decode(self, message: str | bytes) -> dict[str, Any]:
        # Both protocols send JSON text; browsers' clients cannot read binary frames.
        if isinstance(message, bytes):
            self.binary_frames += 1
        decoded: dict[str, Any] = orjson.loads(message)
        return decoded

    def _dispatch(self, message: dict[str, Any]) -> None:
        operation = self.operations.get(message.get("id", ""))
        if operation is None:
            self.control.put_nowait(message)
            return
        kind = message["type"]
        if self.protocol == LEGACY_WS:
            kind = _LEGACY_KINDS[kind]
        operation.frames.put_nowait(Frame(kind, message.get("payload")))
