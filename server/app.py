"""The one application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from schema.root import build_schema
from server.graphiql import STATIC_DIR, STATIC_PATH
from server.graphql import GraphQLEndpoint
from server.health import healthz, readyz
from server.runtime import Runtime
from server.settings import Settings
from storage.connection import Storage, open_storage
from storage.driver import Database

logger = logging.getLogger("outdial.server")


def create_app(settings: Settings, *, database: Database | None = None) -> Starlette:
    """The ASGI app; `database` injects a ready database (tests), else settings decide."""
    graphql = GraphQLEndpoint(build_schema(), keep_alive=True, keep_alive_interval=15)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            _storage(settings, database) as storage,
            Runtime.running(settings, storage) as runtime,
        ):
            app.state.runtime = runtime
            yield

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
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
