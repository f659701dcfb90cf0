"""The one application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from functools import partial

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from domain.clock import Clock, utc_now
from schema.root import build_schema
from server.guards.auth import Authenticator, ScopeCheck
from server.guards.budget import RequestBudget
from server.guards.limits import document_limits, request_budget
from server.http.endpoint import GraphQLEndpoint
from server.http.graphiql import STATIC_DIR, STATIC_PATH
from server.http.persisted import PersistedQueries
from server.observability.health import healthz, readyz
from server.observability.metrics import Metrics
from server.observability.requestlog import OperationNames, RequestLog
from server.observability.traces import TracingFactory, from_environment
from server.runtime import Runtime
from server.serving.cors import cors
from server.serving.shutdown import OpenWebSockets, TrackWebSockets
from server.serving.transport import BodyLimits
from server.settings import Settings, SettingsError
from storage.backend import Storage, open_storage

logger = logging.getLogger("outdial.server")


StorageOpener = Callable[[], AbstractAsyncContextManager[Storage]]


def create_app(
    settings: Settings,
    *,
    storage: StorageOpener | None = None,
    now: Clock = utc_now,
    tracing: TracingFactory = from_environment,
) -> Starlette:
    """The ASGI app; tests inject how to open the store (else settings decide), the clock and
    the tracing (else the OTEL_* variables decide)."""
    open_store = storage or partial(open_storage, settings)
    traces = tracing()
    metrics = Metrics()
    websockets = OpenWebSockets()
    authenticator = Authenticator(settings.auth_tokens)
    authenticator.warn_if_open()
    budget = request_budget(settings)
    traced = [] if traces is None else [traces.extension()]
    schema = build_schema(
        extensions=[
            *traced,
            metrics.extension(),
            OperationNames,
            ScopeCheck,
            lambda: RequestBudget(budget),
        ],
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
        budget=budget,
        tracing=traces,
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
        try:
            async with (
                open_store() as opened,
                Runtime.running(
                    settings,
                    opened,
                    on_status_change=metrics.status_changed,
                    on_claim=metrics.claim_finished,
                    now=now,
                    store=None if traces is None else traces.store(opened),
                ) as runtime,
            ):
                app.state.runtime = runtime
                metrics.watch(runtime.broker)
                opened.unreadable.listen(metrics.unreadable_found)
                await opened.report_unreadable()
                yield
        finally:
            if traces is not None:
                traces.close()  # once the lease sweep has stopped: its last spans go too

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST", "PUT", "DELETE"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
        ],
        middleware=[
            *([] if traces is None else [traces.middleware()]),
            Middleware(RequestLog),
            *cors(settings.cors_origins),
            Middleware(
                BodyLimits,
                max_bytes=settings.max_body_bytes,
                timeout_s=settings.request_body_timeout_ms / 1000,
                on_refusal=lambda: metrics.refused("BAD_REQUEST"),
            ),
            Middleware(TrackWebSockets, websockets=websockets),
        ],
        lifespan=lifespan,
    )
    # The server closes these with 1001 when it stops (server.serving.shutdown.GracefulServer),
    # and ends the SSE streams.
    websockets.also_end(graphql.sse.end_all)
    app.state.websockets = websockets
    return app
