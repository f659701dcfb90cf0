"""The GraphQL endpoint: strawberry's ASGI view with our context and a fast encoder."""

from __future__ import annotations

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


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = WebSocketAdapter

    def __init__(self, *args: Any, authenticator: Authenticator, **options: Any) -> None:
        super().__init__(*args, **options)
        self.authenticator = authenticator

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
            return http.error_response(406, str(refusal))
        if request.method == "POST" and not http.is_json_body(request.headers.get("content-type")):
            message = "POST bodies must be application/json (UTF-8)."
            return http.error_response(415, message, media_type)
        try:
            response = await self.run(request)
        except HTTPException as error:
            return http.error_response(error.status_code, error.reason, media_type)
        response.headers["content-type"] = http.content_type(media_type)
        if media_type == http.GRAPHQL_RESPONSE:
            response.status_code = getattr(request.state, "request_error_status", 200)
        if response.status_code == 401:
            response.headers["www-authenticate"] = "Bearer"
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        runtime: Runtime = request.app.state.runtime
        scope = self.authenticator.scope_of(request.headers.get("authorization"))
        return Context(service=runtime.service, broker=runtime.broker, scope=scope)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        context.scope = self.authenticator.connection_scope(
            context.scope, context.connection_params
        )
        if context.scope is None:
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
            return http.request_error(Unauthenticated("a valid bearer token is required"))
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
