"""The GraphQL endpoint: HTTP through server.http.execution, websockets through strawberry."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from engine import Lru
from resolvers.context import Context
from schema.root import OutdialSchema
from server.guards.auth import Authenticator, scope_refusal
from server.guards.budget import Budget
from server.http import negotiation as http
from server.http.execution import Answer, Operations
from server.http.graphiql import STATIC_PATH, graphiql_html
from server.http.persisted import PersistedQueries
from server.http.request import read_request
from server.http.sse import GraphQLOverSSE
from server.http.subscriptions import LiveSubscriptions
from server.http.websocket import LegacyWSHandler, TransportWSHandler, WebSocketAdapter
from server.observability.metrics import Metrics
from server.observability.traces import OperationTracing
from server.runtime import Runtime
from server.settings import NO_STORE

KEEP_ALIVE_S = 15.0


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = WebSocketAdapter

    def __init__(
        self,
        schema: OutdialSchema,
        *,
        authenticator: Authenticator,
        persisted: PersistedQueries,
        metrics: Metrics,
        budget: Budget | None = None,
        tracing: OperationTracing | None = None,
        cache_control: str = NO_STORE,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        self.authenticator = authenticator
        self.persisted = persisted
        self.metrics = metrics
        self.operations = Operations(schema, persisted, metrics, budget, tracing)
        self.live = LiveSubscriptions(schema, metrics, budget, traced=tracing is not None)
        self.cache_control = cache_control
        self.sse = GraphQLOverSSE(
            self,
            schema,
            keep_alive_s=self.keep_alive_interval or KEEP_ALIVE_S,
            max_operations=self.max_subscriptions_per_connection,
            tracing=tracing,
        )
        self.page = graphiql_html(
            graphql_path="/graphql", static_path=STATIC_PATH, trusted_only=persisted.trusted_only
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = _Request(scope, receive)
        if self.sse.wants(request):
            await (await self.sse.respond(request))(scope, receive, send)
            return
        response = await self.respond(request)
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        """GraphQL over HTTP: negotiate, run, then pick the status the media type calls for."""
        headers = request.headers
        if request.method not in http.OPERATIONS:  # PUT and DELETE speak graphql-sse only
            refused = self._refuse(405, "GraphQL over HTTP takes GET and POST.")
            refused.headers["allow"] = "GET, POST"
            return refused
        if (
            request.method == "GET"
            and "extensions" not in request.query_params
            and self.should_render_graphql_ide(self.request_adapter_class(request))
        ):  # a GET without query and extensions: a browser opening the page
            return await self.render_graphql_ide(request)
        try:
            media_type = http.negotiate(headers.get("accept"))
        except http.NotAcceptable as refusal:
            return self._refuse(406, str(refusal))
        if request.method == "POST" and not http.is_json_body(headers.get("content-type")):
            message = "POST bodies must be application/json (UTF-8)."
            return self._refuse(415, message, media_type)
        try:
            data = await read_request(request)
        except HTTPException as error:
            return self._refuse(error.status_code, error.reason, media_type)
        context = await self.get_context(request, None)
        try:
            answer = await self.operations.run(data, context, request.method)
        except HTTPException as error:  # counted in /metrics by the operation
            return http.error_response(error.status_code, error.reason, media_type)
        return self._response(request, answer, media_type)

    def _refuse(self, status: int, message: str, media_type: str = http.JSON) -> Response:
        """A request refused before it named an operation, counted in /metrics."""
        self.metrics.refused("BAD_REQUEST")
        return http.error_response(status, message, media_type)

    def _response(self, request: Request, answer: Answer, media_type: str) -> Response:
        result = answer.result
        body: dict[str, object] = {"data": result.data}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        status = 200
        if http.is_request_error(result):
            del body["data"]
            if media_type == http.GRAPHQL_RESPONSE:
                status = http.request_error_status(result)
        response = Response(orjson.dumps(body), status, media_type=http.content_type(media_type))
        if status == 401:
            response.headers["www-authenticate"] = "Bearer"
        if answer.persisted and request.method == "GET":
            cacheable = not result.errors
            response.headers["cache-control"] = self.cache_control if cacheable else NO_STORE
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        runtime: Runtime = request.app.state.runtime
        scope = self.authenticator.scope_of(request.headers.get("authorization"))
        return Context(service=runtime.service, broker=runtime.broker, scope=scope)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        context.scope = self.authenticator.connection_scope(
            context.scope, context.connection_params
        )
        if error := scope_refusal(context.scope):
            self.metrics.refused(error.code)
            raise ConnectionRejectionError({"message": error.message, **error.extensions})
        return UnsetType()  # acknowledge with no payload

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.page)


class _Request(Request):
    """Query strings parsed once per text: GET requests by hash repeat theirs exactly."""

    @property
    def query_params(self) -> QueryParams:
        raw: bytes = self.scope["query_string"]
        params = _query_strings.get(raw)
        if params is None:
            params = QueryParams(raw)  # immutable, so requests can share it
            if len(raw) <= _REMEMBERED_QUERY_BYTES:
                _query_strings.put(raw, params)
        return params


_REMEMBERED_QUERIES = 256
_REMEMBERED_QUERY_BYTES = 4096
_query_strings: Lru[bytes, QueryParams] = Lru(_REMEMBERED_QUERIES)
