"""The app under uvicorn on the test's own event loop, so its broker and tasks can be counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from domain.events import Broker
from server.app import StorageOpener, create_app
from server.observability.traces import TracingFactory
from server.serving.shutdown import GracefulServer
from server.settings import Settings
from tests.support.hardening import mock_storage
from tests.support.live_server import free_port

TIMEOUT = 5.0


@dataclass
class InProcessServer:
    ws_url: str
    broker: Broker
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(asyncio.shield(self.task), 15)


@asynccontextmanager
async def in_process_server(
    storage: StorageOpener = mock_storage,
    tracing: TracingFactory = lambda: None,
) -> AsyncIterator[InProcessServer]:
    """The app under uvicorn on this test's loop (on mongomock unless `storage` says otherwise;
    untraced unless `tracing` says otherwise): its broker is in reach."""
    app = create_app(Settings(), storage=storage, tracing=tracing)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, ws_per_message_deflate=False
    )
    server = GracefulServer(config, app.state.websockets)  # what `serve` runs
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started or task.done())
    assert server.started, "uvicorn did not start"
    ws_url = f"ws://127.0.0.1:{port}/graphql"
    running = InProcessServer(ws_url, app.state.runtime.broker, server, task, port)
    try:
        yield running
    finally:
        await running.stop()


async def until(condition: Any, timeout: float = TIMEOUT) -> None:
    """Polls in-process state that offers nothing to wait on, within a bound."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
