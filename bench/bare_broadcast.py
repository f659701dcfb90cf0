"""The reference for bench.fanout: a bare ASGI app that sends the same bytes to the same sockets.

    python -m bench.bare_broadcast      (HOST and PORT from the environment, as the service)

It runs under the same uvicorn, with the same websocket implementation and settings
(server.serving.transport.uvicorn_config) and event loop as `outdial-graphql serve`, speaks just
enough graphql-transport-ws for bench.fanout's clients (connection_init, subscribe, ping), and
answers the bench's three mutations over HTTP. A status change sends every subscriber the
`next` frame the service would send, one `websocket.send` after another: what no GraphQL server
on this stack can beat, so bench.fanout reports the service beside it.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
import uvicorn
import uvloop

from server.serving.transport import uvicorn_config
from server.settings import Settings

Send = Any
Receive = Any


class BareBroadcast:
    def __init__(self) -> None:
        self.subscribers: dict[Send, list[bytes]] = {}  # each socket's send: its operation ids
        self.status, self.tries = "IDLE", 0
        self.broadcasts: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def websocket(self, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self.client_message(orjson.loads(message.get("text") or b"{}"), send)
        finally:
            self.subscribers.pop(send, None)

    async def client_message(self, message: dict[str, Any], send: Send) -> None:
        kind = message.get("type")
        if kind == "connection_init":
            await send({"type": "websocket.send", "text": '{"type":"connection_ack"}'})
        elif kind == "ping":
            await send({"type": "websocket.send", "text": '{"type":"pong"}'})
        elif kind == "subscribe":
            self.subscribers.setdefault(send, []).append(orjson.dumps(message["id"]))

    async def http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/readyz":
            answer = b'{"status":"ok"}'
        else:
            answer = self.mutation(orjson.loads(body)["query"])
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def mutation(self, query: str) -> bytes:
        if "createOutdialtarget" in query:
            return b'{"data":{"createOutdialtarget":{"id":"00000000-0000-4000-8000-000000000000"}}}'
        field = "updateOutdialtargetStatus"
        if "markOutdialtargetProgressing" in query:
            field = "markOutdialtargetProgressing"
            self.status, self.tries = "PROGRESSING", self.tries + 1
        else:
            self.status = "IDLE"
        change = {"status": self.status, "tryCount0": self.tries}
        event = {"status": self.status, "target": {"tryCount0": self.tries}}
        task = asyncio.create_task(self.broadcast(orjson.dumps(event)))
        self.broadcasts.add(task)
        task.add_done_callback(self.broadcasts.discard)
        return orjson.dumps({"data": {field: change}})

    async def broadcast(self, event: bytes) -> None:
        tail = b',"type":"next","payload":{"data":{"outdialtargetStatusChanged":%s}}}' % event
        for send, operation_ids in list(self.subscribers.items()):
            for operation_id in operation_ids:
                frame = (b'{"id":' + operation_id + tail).decode()
                try:
                    await send({"type": "websocket.send", "text": frame})
                except OSError:
                    break


def main() -> int:
    gc.set_threshold(50_000, 50, 1000)  # as `outdial-graphql serve` sets it
    settings = Settings.from_env()
    server = uvicorn.Server(uvicorn_config(BareBroadcast(), settings, lifespan="off"))
    uvloop.run(server.serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
