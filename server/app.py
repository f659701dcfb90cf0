"""The one application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from schema.root import build_schema
from server.auth import Authenticator, ScopeCheck
from server.cors import cors
from server.graphiql import STATIC_DIR, STATIC_PATH
from server.graphql import GraphQLEndpoint
from server.health import healthz, readyz
from server.limits import BodySizeLimit, document_limits
from server.metrics import Metrics
from server.persisted import PersistedQueries
from server.requestlog import OperationNames, RequestLog
from server.runtime import Runtime
from server.settings import Settings, SettingsError
from server.shutdown import OpenWebSockets, TrackWebSockets
from storage.connection import Storage, open_storage
from storage.driver import Database

logger = logging.getLogger("outdial.server")


def create_app(settings: Settings, *, database: Database | None = None) -> Starlette:
    """The ASGI app; `database` injects a ready database (tests), else settings decide."""
    metrics = Metrics()
    websockets = OpenWebSockets()
    authenticator = Authenticator(settings.auth_tokens)
    authenticator.warn_if_open()
    schema = build_schema(
        extensions=[metrics.extension(), OperationNames, ScopeCheck],
        hide_suggestions=not settings.introspection,
        rules=document_limits(settings),
    )
    persisted = PersistedQueries(
        schema.documents,
        cache_size=settings.persisted_queries_cache_size,
        trusted=settings.trusted_documents,
        trusted_only=settings.trusted_documents_only,
        outcome=metrics.persisted_lookup,
    )
    if invalid := persisted.invalid_trusted():
        raise SettingsError(f"TRUSTED_DOCUMENTS_FILE: invalid operations: {'; '.join(invalid)}")
    graphql = GraphQLEndpoint(
        schema,
        persisted=persisted,
        metrics=metrics,
        cache_control=settings.persisted_query_cache_control,
        keep_alive=True,
        keep_alive_interval=settings.keep_alive_interval_s,
        authenticator=authenticator,
        allowed_origins=settings.cors_origins,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(milliseconds=settings.connection_init_timeout_ms),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            _storage(settings, database) as storage,
            Runtime.running(
                settings,
                storage,
                on_status_change=metrics.status_changed,
                on_claim=metrics.claim_finished,
            ) as runtime,
        ):
            app.state.runtime = runtime
            metrics.watch(runtime.broker)
            yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
        ],
        middleware=[
            Middleware(RequestLog),
            *cors(settings.cors_origins),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            Middleware(TrackWebSockets, websockets=websockets),
        ],
        lifespan=lifespan,
    )
    # The server closes these with 1001 when it stops (server.shutdown.GracefulServer).
    app.state.websockets = websockets
    return app


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
