"""GraphQL over Server-Sent Events at /graphql: the graphql-sse protocol, both of its modes.

https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md

- Distinct connections: a GET or POST with `Accept: text/event-stream` is answered with a
  stream of `next` events, then `complete`.
- Single connection: PUT reserves a stream (201, the token as text); a GET with the token
  (`X-GraphQL-Event-Stream-Token`, or `?token=` for EventSource) and `Accept: text/event-stream`
  opens it; POSTs with the token start operations named by `extensions.operationId` (202),
  whose events carry that id; DELETE `?operationId=` stops one. A PUT with a body or a DELETE
  without a token is not graphql-sse: plain GraphQL over HTTP answers it 405.

Operations run as over websockets, through strawberry's `Schema.stream`, so the same schema
extensions check scopes, budgets and count metrics, and persisted operations resolve through
the same `resolve_persisted`. Credentials are checked before anything else (401), the type of
operation before it starts (a mutation needs POST, 405, and the write scope, 403). Other
request errors (validation, persisted-query refusals) travel in the stream of a distinct
connection, as the protocol asks; a single connection's POST answers them itself.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from cross_web import HTTPException
from graphql import ExecutionResult, GraphQLError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types.graphql import OperationType

from resolvers.context import Context
from schema.root import OutdialSchema
from server.guards.auth import Authenticator, scope_refusal
from server.http import negotiation as http
from server.http.event_stream import EventStream
from server.http.persisted import PersistedQueries
from server.http.request import read_request
from server.http.websocket import over_cap, resolve_persisted
from server.observability.metrics import UNKNOWN_TYPE, Metrics
from server.observability.traces import OperationTracing

TOKEN_HEADER = "x-graphql-event-stream-token"
TOKEN_PARAM = "token"
RESERVATION_TTL_S = 30.0  # a reservation whose stream is not opened by then is dropped

_EVERY_OPERATION = (OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION)


class SSEView(Protocol):
    persisted: PersistedQueries
    metrics: Metrics
    authenticator: Authenticator

    def get_context(self, request: Request, response: Any) -> Awaitable[Context]: ...


@dataclass(frozen=True, slots=True)
class _Refused:
    status: int
    error: GraphQLError
    in_stream: bool  # a distinct connection reports it in its stream, with status 200
    headers: dict[str, str] = field(default_factory=dict)


class GraphQLOverSSE:
    def __init__(
        self,
        view: SSEView,
        schema: OutdialSchema,
        *,
        keep_alive_s: float,
        max_operations: int | None,
        tracing: OperationTracing | None = None,
    ) -> None:
        self._view = view
        self._tracing = tracing
        self._schema = schema
        self._keep_alive_s = keep_alive_s
        self._max_operations = max_operations
        self._reserved: dict[str, EventStream] = {}
        self._streaming: set[EventStream] = set()

    @staticmethod
    def wants(request: Request) -> bool:
        """Whether this request speaks graphql-sse rather than plain GraphQL over HTTP."""
        if request.method == "PUT":  # a reservation carries no body
            return not _has_body(request)
        return _token(request) is not None or (
            request.method != "DELETE" and http.prefers_event_stream(request.headers.get("accept"))
        )

    def end_all(self) -> int:
        """Ends every open stream (the server is stopping); returns how many."""
        streams = list(self._streaming)
        for stream in streams:
            stream.end()
        return len(streams)

    async def respond(self, request: Request) -> ASGIApp:
        if request.method == "PUT":
            return self._reserve(request)
        token = _token(request)
        if token is None:
            return await self._distinct(request)
        stream = self._reserved.get(token)
        if stream is None:
            return _refusal(404, "No event stream is reserved with this token.")
        if request.method == "DELETE":
            return self._stop(request, stream)
        if request.method == "GET" and http.prefers_event_stream(request.headers.get("accept")):
            return self._open(token, stream)
        return await self._single(request, stream)

    # distinct connections

    async def _distinct(self, request: Request) -> ASGIApp:
        prepared = await self._read(request)
        if isinstance(prepared, Response):
            return prepared
        data, context = prepared
        started = await self._start(data, context, request.method)
        if isinstance(started, _Refused):
            if not started.in_stream:
                return self._refused(started)
            started = _once(started.error)
        stream = EventStream(keep_alive_s=self._keep_alive_s, distinct=True)
        stream.start("", started)
        return self._serving(stream)

    # single connection

    def _reserve(self, request: Request) -> Response:
        if scope_refusal(self._view.authenticator.scope_of(request.headers.get("authorization"))):
            return self._unauthenticated()
        token = secrets.token_urlsafe(24)
        stream = EventStream(keep_alive_s=self._keep_alive_s, distinct=False)
        self._reserved[token] = stream
        asyncio.get_running_loop().call_later(RESERVATION_TTL_S, self._expire, token, stream)
        return PlainTextResponse(token, 201)

    def _expire(self, token: str, stream: EventStream) -> None:
        if not stream.opened and self._reserved.get(token) is stream:
            self._release(token)

    def _release(self, token: str) -> None:
        stream = self._reserved.pop(token, None)
        if stream is not None:
            stream.close()

    def _open(self, token: str, stream: EventStream) -> ASGIApp:
        if stream.opened:  # one connection per reservation, ever
            return _refusal(409, "This event stream is open already.")
        stream.opened = True
        return self._serving(stream, token)

    def _serving(self, stream: EventStream, token: str | None = None) -> ASGIApp:
        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            self._streaming.add(stream)
            try:
                await stream(scope, receive, send)
            finally:
                self._streaming.discard(stream)
                if token is not None:
                    self._release(token)

        return serve

    async def _single(self, request: Request, stream: EventStream) -> ASGIApp:
        try:
            media_type = http.negotiate(request.headers.get("accept"))
        except http.NotAcceptable as refusal:
            return _refusal(406, str(refusal))
        prepared = await self._read(request, media_type)
        if isinstance(prepared, Response):
            return prepared
        data, context = prepared
        operation_id = (data.extensions or {}).get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            message = "Operations on a reserved stream need `extensions.operationId`, a string."
            return _refusal(400, message, media_type)
        if stream.knows(operation_id):
            return _refusal(409, f"Operation {operation_id!r} exists on this stream.", media_type)
        if self._max_operations is not None and len(stream) >= self._max_operations:
            error = over_cap(self._max_operations)
            return self._refused(_Refused(400, error, in_stream=False), media_type)
        started = await self._start(data, context, request.method)
        if isinstance(started, _Refused):
            return self._refused(started, media_type)
        if stream.closed:
            await started.aclose()
            return _refusal(404, "The event stream has closed.", media_type)
        stream.start(operation_id, started)
        return Response(status_code=202)

    def _stop(self, request: Request, stream: EventStream) -> Response:
        operation_id = request.query_params.get("operationId")
        if not operation_id:
            return _refusal(400, "DELETE needs `?operationId=`.")
        if not stream.stop(operation_id):
            return _refusal(404, f"No operation {operation_id!r} on this stream.")
        return Response(status_code=200)

    # both modes

    async def _read(
        self, request: Request, media_type: str = http.JSON
    ) -> tuple[GraphQLRequestData, Context] | Response:
        """The request's operation and its context, or the refusal of a request that cannot
        name one: unauthenticated (401, before anything), not JSON, malformed."""
        context = await self._view.get_context(request, None)
        if scope_refusal(context.scope):
            return self._unauthenticated(media_type)
        if request.method == "POST" and not http.is_json_body(request.headers.get("content-type")):
            return self._count(415, "POST bodies must be application/json (UTF-8).", media_type)
        try:
            return await read_request(request), context
        except HTTPException as error:
            return self._count(error.status_code, error.reason, media_type)

    async def _start(
        self, data: GraphQLRequestData, context: Context, method: str
    ) -> AsyncGenerator[Any] | _Refused:
        """The operation's results, or why it cannot start."""
        payload: dict[str, Any] = {
            "query": data.query,
            "variables": data.variables,
            "operationName": data.operation_name,
            "extensions": data.extensions,
        }
        if error := resolve_persisted(self._view, payload):  # counted in /metrics there
            status = http.request_error_status(ExecutionResult(None, [error]))
            return _Refused(status, error, in_stream=True)
        prepared = self._schema.documents.get(payload["query"])
        if prepared.errors:
            return self._count_refused(_Refused(400, prepared.errors[0], in_stream=True), data)
        operation = prepared.operation(data.operation_name)
        if operation is None:
            reason = CannotGetOperationTypeError(data.operation_name).as_http_error_reason()
            error = _request_error(reason)
            return self._count_refused(_Refused(400, error, in_stream=True), data)
        kind = OperationType(operation.operation.value)
        if kind is OperationType.MUTATION and method == "GET":
            refused = _Refused(
                405, _request_error("Mutations need POST."), False, {"allow": "POST"}
            )
            return self._count_refused(refused, data)
        if forbidden := scope_refusal(context.scope, kind):
            error = GraphQLError(forbidden.message, extensions=forbidden.extensions)
            return self._count_refused(_Refused(403, error, in_stream=False), data)
        return await self._schema.stream(
            payload["query"],
            variable_values=data.variables,
            context_value=context,
            operation_name=data.operation_name,
            operation_extensions=data.extensions,
            allowed_operation_types=_EVERY_OPERATION,
        )

    def _count_refused(self, refused: _Refused, data: GraphQLRequestData) -> _Refused:
        code = (refused.error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
        self._view.metrics.refused(str(code), data.operation_name)
        self._trace_refusal(str(code), data.operation_name)
        return refused

    def _trace_refusal(self, code: str, name: str | None = None) -> None:
        """Refused before strawberry runs it: a span of its own, as plain HTTP gives one."""
        if self._tracing is not None:
            with self._tracing.operation() as span:
                span.finished(name=name, kind=UNKNOWN_TYPE, outcome=code)

    @staticmethod
    def _refused(refused: _Refused, media_type: str = http.JSON) -> Response:
        body = orjson.dumps({"errors": [refused.error.formatted]})
        response = Response(body, refused.status, media_type=http.content_type(media_type))
        response.headers.update(refused.headers)
        return response

    def _unauthenticated(self, media_type: str = http.JSON) -> Response:
        refusal = scope_refusal(None)
        assert refusal is not None
        self._view.metrics.refused(refusal.code)
        self._trace_refusal(refusal.code)
        body = {"errors": [{"message": refusal.message, "extensions": refusal.extensions}]}
        response = Response(orjson.dumps(body), 401, media_type=http.content_type(media_type))
        response.headers["www-authenticate"] = "Bearer"
        return response

    def _count(self, status: int, message: str, media_type: str) -> Response:
        self._view.metrics.refused("BAD_REQUEST")
        self._trace_refusal("BAD_REQUEST")
        return _refusal(status, message, media_type)


def _has_body(request: Request) -> bool:
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


def _token(request: Request) -> str | None:
    return request.headers.get(TOKEN_HEADER) or request.query_params.get(TOKEN_PARAM) or None


def _refusal(status: int, message: str, media_type: str = http.JSON) -> Response:
    return http.error_response(status, message, media_type)


def _request_error(message: str) -> GraphQLError:
    errors = http.request_error(message).errors
    assert errors
    return errors[0]


async def _once(error: GraphQLError) -> AsyncGenerator[Any]:
    yield ExecutionResult(None, [error])
