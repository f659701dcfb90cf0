"""One Server-Sent Events response and the GraphQL operations that feed it (graphql-sse).

Each operation runs in its own task and puts its frames in the stream's queue; the response
writes them, a `:` comment whenever the stream has been idle for the keep-alive interval, and
ends every operation the moment the client goes away (it listens for the disconnect rather
than waiting for the next write to fail, so an idle subscription is freed at once). The queue
is small: a client that stops reading holds its operations up, and a subscription that falls
behind is ended by the broker (`SUBSCRIBER_TOO_SLOW`) as over websockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing, suppress
from typing import Any

import orjson
from graphql import ExecutionResult as GraphQLResult
from graphql import GraphQLError
from starlette.types import Receive, Scope, Send

from engine import Lru
from server.http import negotiation as http

logger = logging.getLogger("outdial.sse")

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx would otherwise hold events back
]
KEEP_ALIVE = b":\n\n"
QUEUED_FRAMES = 16
REMEMBERED_FINISHED = 256

_END = b""  # a distinct stream's last frame: its one operation completed
_INTERNAL_ERROR = GraphQLResult(
    None, [GraphQLError("Internal server error", extensions={"code": "INTERNAL_SERVER_ERROR"})]
)


class EventStream:
    """The operations of one stream (one for a distinct connection, any number for a
    reservation) and the queue of frames they produce."""

    def __init__(self, *, keep_alive_s: float, distinct: bool) -> None:
        self.keep_alive_s = keep_alive_s
        self.distinct = distinct
        self.opened = False
        self.closed = False
        self._frames: asyncio.Queue[bytes] = asyncio.Queue(QUEUED_FRAMES)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._finished: Lru[str, bool] = Lru(REMEMBERED_FINISHED)
        self._ending = asyncio.Event()

    def __len__(self) -> int:
        return len(self._running)

    def knows(self, operation_id: str) -> bool:
        return operation_id in self._running or self._finished.get(operation_id) is not None

    def start(self, operation_id: str, results: AsyncGenerator[Any]) -> None:
        task = asyncio.create_task(self._forward(operation_id, results))
        self._running[operation_id] = task
        task.add_done_callback(lambda _: self._done(operation_id))

    def stop(self, operation_id: str) -> bool:
        """Ends a running operation without a `complete` (the client asked); False if unknown."""
        task = self._running.get(operation_id)
        if task is not None:
            task.cancel()
        return self.knows(operation_id)

    def end(self) -> None:
        """Ends the response as if complete (the server is stopping): clients reconnect."""
        self._ending.set()

    def close(self) -> None:
        self.closed = True
        for task in list(self._running.values()):
            task.cancel()

    async def _forward(self, operation_id: str, results: AsyncGenerator[Any]) -> None:
        try:
            async with aclosing(results):
                async for result in results:
                    await self._frames.put(self._next(operation_id, result))
        except Exception:  # the client hears of it; the stream's other operations go on
            logger.exception("operation %s failed", operation_id)
            await self._frames.put(self._next(operation_id, _INTERNAL_ERROR))
        await self._frames.put(self._complete(operation_id))
        if self.distinct:
            await self._frames.put(_END)

    def _done(self, operation_id: str) -> None:
        self._running.pop(operation_id, None)
        self._finished.put(operation_id, True)

    def _next(self, operation_id: str, result: Any) -> bytes:
        payload = result_body(result)
        data = payload if self.distinct else {"id": operation_id, "payload": payload}
        return b"event: next\ndata: " + orjson.dumps(data) + b"\n\n"

    def _complete(self, operation_id: str) -> bytes:
        data = b"" if self.distinct else orjson.dumps({"id": operation_id})
        return b"event: complete\ndata: " + data + b"\n\n"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI response: the stream until its end or the client's."""
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        # Some browsers show nothing of a stream before its first bytes.
        await send({"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True})
        writer = asyncio.create_task(self._write(send))
        watcher = asyncio.create_task(_until_disconnect(receive))
        ending = asyncio.create_task(self._ending.wait())
        try:
            done, _ = await asyncio.wait(
                (writer, watcher, ending), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self.close()
            for task in (writer, watcher, ending):
                task.cancel()
                with suppress(asyncio.CancelledError, OSError):
                    await task
        if watcher not in done:
            with suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, send: Send) -> None:
        while True:
            try:
                frame = await asyncio.wait_for(self._frames.get(), self.keep_alive_s)
            except TimeoutError:
                frame = KEEP_ALIVE
            frames = [frame]
            while not self._frames.empty():  # what else is ready goes in one write
                frames.append(self._frames.get_nowait())
            ended = _END in frames
            body = b"".join(frames)
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if ended:
                return


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def result_body(result: Any) -> dict[str, object]:
    """An execution result as GraphQL over HTTP answers it: no `data` for a request error."""
    errors: list[GraphQLError] = list(result.errors or ())
    body: dict[str, object] = {"data": result.data}
    if errors:
        body["errors"] = [error.formatted for error in errors]
        if http.is_request_error(GraphQLResult(result.data, errors)):
            del body["data"]
    extensions: Mapping[str, object] | None = getattr(result, "extensions", None)
    if extensions:
        body["extensions"] = extensions
    return body
