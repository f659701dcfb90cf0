"""The one application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from schema.root import schema
from server.graphql import GraphQLEndpoint
from server.health import healthz, readyz
from server.runtime import Runtime
from server.settings import Settings
from storage.connection import Storage, open_storage
from storage.driver import Database

logger = logging.getLogger("outdial.server")


def create_app(settings: Settings, *, database: Database | None = None) -> Starlette:
    """The ASGI app; `database` injects a ready database (tests), else settings decide."""
    graphql = GraphQLEndpoint(schema, keep_alive=True, keep_alive_interval=15)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _storage(settings, database) as storage:
            runtime = Runtime.build(settings, storage)
            app.state.runtime = runtime
            try:
                yield
            finally:
                runtime.broker.close()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


def _storage(settings: Settings, database: Database | None) -> AbstractAsyncContextManager[Storage]:
    if database is not None:
        return _injected(database)
    return open_storage(
        url=settings.mongodb_url,
        database=settings.mongodb_db,
        data_dir=settings.data_dir,
        timeout_ms=settings.db_timeout_ms,
    )


@asynccontextmanager
async def _injected(database: Database) -> AsyncIterator[Storage]:
    yield await Storage.prepare(database)
