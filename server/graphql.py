"""The GraphQL endpoint: strawberry's ASGI view with our context and a fast encoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from domain.errors import Unauthenticated
from resolvers.context import Context
from server import http_compliance as http
from server.auth import Authenticator
from server.graphiql import STATIC_PATH, graphiql_html
from server.runtime import Runtime
from server.websocket import LegacyWSHandler, TransportWSHandler, WebSocketAdapter

PAGE = graphiql_html(graphql_path="/graphql", static_path=STATIC_PATH)

# Hears each request refused before any GraphQL operation ran: (code, operation name).
RefusalListener = Callable[[str, str | None], None]


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = WebSocketAdapter

    def __init__(
        self,
        *args: Any,
        authenticator: Authenticator,
        on_refusal: RefusalListener = lambda code, operation: None,
        **options: Any,
    ) -> None:
        super().__init__(*args, **options)
        self.authenticator = authenticator
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        """GraphQL over HTTP: negotiate, run, then pick the status the media type calls for."""
        if self.should_render_graphql_ide(self.request_adapter_class(request)):
            return await self.render_graphql_ide(request)
        try:
            media_type = http.negotiate(request.headers.get("accept"))
        except http.NotAcceptable as refusal:
            return self._refuse(request, 406, str(refusal))
        if request.method == "POST" and not http.is_json_body(request.headers.get("content-type")):
            message = "POST bodies must be application/json (UTF-8)."
            return self._refuse(request, 415, message, media_type)
        try:
            response = await self.run(request)
        except HTTPException as error:
            return self._refuse(request, error.status_code, error.reason, media_type)
        response.headers["content-type"] = http.content_type(media_type)
        if media_type == http.GRAPHQL_RESPONSE:
            response.status_code = getattr(request.state, "request_error_status", 200)
        if response.status_code == 401:
            response.headers["www-authenticate"] = "Bearer"
        return response

    def _refuse(
        self, request: Request, status: int, message: str, media_type: str = http.JSON
    ) -> Response:
        if not getattr(request.state, "graphql_ran", False):  # else the metrics extension counted
            self.on_refusal("BAD_REQUEST", None)
        return http.error_response(status, message, media_type)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        runtime: Runtime = request.app.state.runtime
        scope = self.authenticator.scope_of(request.headers.get("authorization"))
        return Context(service=runtime.service, broker=runtime.broker, scope=scope)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        context.scope = self.authenticator.connection_scope(
            context.scope, context.connection_params
        )
        if context.scope is None:
            self.on_refusal(Unauthenticated.code, None)
            error = Unauthenticated("a valid bearer token is required")
            raise ConnectionRejectionError({"message": error.message, **error.extensions})
        return UnsetType()  # acknowledge with no payload

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST" and not http.is_json_container(await request.get_body()):
            raise HTTPException(400, "The request body must be a JSON object.")
        parsed = await super().parse_http_body(request)
        if isinstance(parsed, GraphQLRequestData) and not isinstance(
            parsed.operation_name, str | None
        ):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string.")
        return parsed

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if http.is_request_error(result):
            response.pop("data", None)
            request.state.request_error_status = http.request_error_status(result)
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if context.scope is None:
            self.on_refusal(Unauthenticated.code, request_data.operation_name)
            return http.request_error(Unauthenticated("a valid bearer token is required"))
        request.state.graphql_ran = True
        try:
            return await self.schema.execute(
                request_data.query,
                variable_values=request_data.variables,
                context_value=context,
                root_value=root_value,
                operation_name=request_data.operation_name,
                allowed_operation_types=http.OPERATIONS[request_adapter.method],
                operation_extensions=request_data.extensions,
            )
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request.") from error
        except CannotGetOperationTypeError as error:
            return http.request_error(error.as_http_error_reason())
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed.
                raise HTTPException(405, "Mutations need POST.") from error
            return http.request_error("Subscriptions need a websocket (graphql-transport-ws).")

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(PAGE)
