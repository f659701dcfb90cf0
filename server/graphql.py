"""The GraphQL endpoint: strawberry's ASGI view with our context and a fast encoder."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from resolvers.context import Context
from server.graphiql import STATIC_PATH, graphiql_html
from server.runtime import Runtime

PAGE = graphiql_html(graphql_path="/graphql", static_path=STATIC_PATH)


class GraphQLEndpoint(GraphQL[Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        runtime: Runtime = request.app.state.runtime
        return Context(service=runtime.service, broker=runtime.broker)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as error:
            # GraphQL over HTTP: an operation the method may not carry (a mutation over GET)
            # is 405 Method Not Allowed, not a malformed request.
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, error.reason) from error
            raise

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(PAGE)
