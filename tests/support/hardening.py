"""Shared by the hardening tests: tokens, the real server in this event loop, raw websockets."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import orjson
import uvicorn
from mongomock_motor import AsyncMongoMockClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.app import create_app
from server.guards.auth import Credential
from server.serving.transport import uvicorn_config
from server.settings import Settings
from storage.backend import Storage
from storage.mongo.connection import using_database

TIMEOUT = 5.0
READ_TOKEN = "read-token-9f1c2e7a4b"
WRITE_TOKEN = "write-token-3d8e6a1f0c"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


CREDENTIALS = (
    Credential("read", digest(READ_TOKEN), "dashboard"),
    Credential("write", digest(WRITE_TOKEN), "dialer"),
)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def mock_storage() -> AbstractAsyncContextManager[Storage]:
    """An opener for create_app: a fresh mongomock database."""
    return using_database(AsyncMongoMockClient()[f"test_{uuid.uuid4().hex}"])


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The app behind uvicorn on a loopback port, in this event loop; yields the base URL.

    The socket listens before the server starts, so clients may connect at once: the
    kernel holds them until uvicorn, its start-up done, accepts.
    """
    app = create_app(settings, storage=mock_storage)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn_config(app, settings, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
        sock.close()


@asynccontextmanager
async def websocket(
    base_url: str, protocol: str, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    url = base_url.replace("http://", "ws://", 1) + "/graphql"
    async with connect(
        url,
        subprotocols=[protocol],  # type: ignore[list-item]
        additional_headers=headers,
        proxy=None,
        open_timeout=TIMEOUT,
        close_timeout=1,
        ping_interval=None,
    ) as connection:
        yield connection


async def send(connection: ClientConnection, message: Any) -> None:
    await connection.send(orjson.dumps(message).decode())


async def receive(connection: ClientConnection) -> dict[str, Any]:
    """The next message that is not a legacy keep-alive."""
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
        if message.get("type") != "ka":
            return message


async def close_code(connection: ClientConnection) -> int | None:
    """Wait for the server to close; its close code (None: closed without a close frame)."""
    try:
        while True:
            await asyncio.wait_for(connection.recv(), TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
