"""Both websocket protocols, as strawberry speaks them, made safe against hostile clients.

Every message is checked for shape before strawberry reads it (a malformed one closes the
connection with 4400 instead of failing in the handler), the operation cap answers with a
coded error, the legacy protocol gets the connection_init timeout the newer one has, frames
go out as text, close reasons are cut to what a close frame can carry, and the legacy
protocol runs queries and mutations as the newer one does.

A client that leaves is ordinary churn: whatever a send to it raises (uvicorn's
ClientDisconnected, a closing connection, a socket already closed) ends its operations quietly,
and the connection reads on to the client's close code, which the request log reports once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from contextlib import suppress
from json import JSONDecodeError
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.schema import BaseSchema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInit,
)
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage

from resolvers.context import Context
from server.http.persisted import BAD_REQUEST, MissingQuery, PersistedQueries, Refused
from server.http.subscriptions import Live, LiveSubscriptions
from server.observability.metrics import Metrics

if TYPE_CHECKING:
    from strawberry.schema.schema import StreamResult

INVALID_MESSAGE = 4400
INIT_TIMEOUT = 4408
MAX_CLOSE_REASON_BYTES = 123  # what a close frame can carry (RFC 6455, 5.5)

_OPTIONAL = {"variables": (dict, "an object"), "operationName": (str, "a string")}
_OPTIONAL |= {"extensions": (dict, "an object")}


class WebSocketAdapter(ASGIWebSocketAdapter):
    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object]:
        """Client messages until the disconnect, read even after a send found the client gone."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self.ws.client_state = WebSocketState.DISCONNECTED
                return
            text = message.get("text")
            if text is None:
                raise NonTextMessageReceived
            try:
                decoded = self.view.decode_json(text)
            except JSONDecodeError as error:
                if ignore_parsing_errors:
                    continue
                raise NonJsonMessageReceived from error
            yield decoded

    async def send_json(self, message: Mapping[str, object]) -> None:
        # Browser clients (graphql-ws, subscriptions-transport-ws) read text frames only.
        await self.send_text(self.view.encode_json_string(message))

    async def send_text(self, text: str) -> None:
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnected
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, OSError) as gone:
            raise WebSocketDisconnected from gone

    async def close(self, code: int, reason: str) -> None:
        # Close reasons quote error messages, which quote the client's document.
        fitting = reason.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            return  # closed already, or the client left
        with suppress(WebSocketDisconnect, OSError):
            await super().close(code, fitting)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

    async def handle_task_exception(self, error: Exception) -> None:
        if not isinstance(error, WebSocketDisconnected):  # a client gone is no fault
            await super().handle_task_exception(error)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_init_received:
            self.connection_init_timeout_task = None  # cancelled: not kept for the connection

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        subscriptions = _live_subscriptions(self.view)
        live = await subscriptions.start(
            operation.query, operation.variables, operation.operation_name, self.context
        )
        if live is None:
            await super().run_operation(operation)
            return
        head = f'{{"id":{_json(operation.id)},"type":"next","payload":'
        try:
            await _deliver(subscriptions, live, cast(WebSocketAdapter, self.websocket), head)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except WebSocketDisconnected:
            self.operations.pop(operation.id, None)

    async def handle_message(self, message: Message) -> None:
        problem = _problem(cast(object, message), operation_types=("subscribe",))
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if message["type"] == "subscribe":
            error: GraphQLError | None
            if self._at_cap(message["id"]):
                error = over_cap(self.max_subscriptions_per_connection)
            else:
                error = resolve_persisted(self.view, message["payload"])
            if error is not None:
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [error.formatted]}
                )
                return
        await super().handle_message(message)

    def _at_cap(self, operation_id: str) -> bool:
        cap = self.max_subscriptions_per_connection
        return (
            self.connection_acknowledged
            and operation_id not in self.operations
            and cap is not None
            and len(self.operations) >= cap
        )


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws (subscriptions-transport-ws) protocol, queries and mutations too."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        # strawberry runs subscriptions only over this protocol, but clients such as Python
        # gql send every operation over it; the schema's extensions check scopes as over HTTP.
        self.schema = cast(BaseSchema, _EveryOperation(self.schema))

    async def handle(self) -> None:
        timer = self._init_timer = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timer.cancel()
            with suppress(asyncio.CancelledError):
                await timer

    async def handle_connection_init(self, message: LegacyConnectionInit) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self._init_timer.cancel()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(INIT_TIMEOUT, "Connection initialisation timeout")

    async def handle_message(self, message: OperationMessage) -> None:
        problem = _problem(cast(object, message), operation_types=("start",))
        if problem is not None:
            await self.send_message({"type": "connection_error", "payload": {"message": problem}})
            await self.websocket.close(INVALID_MESSAGE, problem)
            return
        if message["type"] == "start":
            error = resolve_persisted(self.view, message["payload"])
            if error is not None:
                payload = error.formatted
                await self.send_message({"type": "error", "id": message["id"], "payload": payload})
                return
        await super().handle_message(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        subscriptions = _live_subscriptions(self.view)
        live = await subscriptions.start(query, variables, operation_name, self.context)
        # Nothing awaits these tasks once they end: a client gone must not end one in error.
        with suppress(WebSocketDisconnected):
            if live is None:
                await super().handle_async_results(operation_id, query, operation_name, variables)
                return
            try:
                head = f'{{"type":"data","id":{_json(operation_id)},"payload":'
                await _deliver(subscriptions, live, cast(WebSocketAdapter, self.websocket), head)
                await self.send_message({"type": "complete", "id": operation_id})
            except asyncio.CancelledError:  # stopped by the client: as strawberry says it
                await self.send_message({"type": "complete", "id": operation_id})
            finally:
                self.tasks.pop(operation_id, None)

    async def handle_start(self, message: StartMessage) -> None:
        cap = self.max_subscriptions_per_connection
        operation_id = message["id"]
        at_cap = cap is not None and len(self.tasks) >= cap and operation_id not in self.tasks
        if self.connection_acknowledged and at_cap:
            payload = over_cap(cap).formatted
            await self.send_message({"type": "error", "id": operation_id, "payload": payload})
            return
        await super().handle_start(message)


async def _deliver(
    subscriptions: LiveSubscriptions, live: Live, websocket: WebSocketAdapter, head: str
) -> None:
    """Each event to the client as `head` + its response payload, until the stream ends; a
    stream that fails (SUBSCRIBER_TOO_SLOW) ends with one response carrying the error."""
    errors: list[GraphQLError] = []
    try:
        try:
            async for event in live.source:
                await websocket.send_text(head + await subscriptions.response(live, event) + "}")
        except WebSocketDisconnected:
            raise
        except Exception as error:
            response, errors = subscriptions.failure(error)
            await websocket.send_text(head + response + "}")
    finally:
        await subscriptions.finished(live, errors)


def _live_subscriptions(view: object) -> LiveSubscriptions:
    return cast(_LiveView, view).live


class _LiveView(Protocol):
    live: LiveSubscriptions


def _json(value: str) -> str:
    return orjson.dumps(value).decode()


class _EveryOperation:
    """A schema whose `subscribe` runs any operation: a subscription streams, others answer once."""

    def __init__(self, schema: BaseSchema) -> None:
        self._schema = schema

    async def subscribe(self, **arguments: Any) -> StreamResult:
        return await self._schema.stream(**arguments)


class PersistedView(Protocol):
    persisted: PersistedQueries
    metrics: Metrics
    schema: Any


def resolve_persisted(view: object, payload: Mapping[str, Any]) -> GraphQLError | None:
    """Puts the text of a persisted operation into `payload`; the refusal when it cannot run."""
    endpoint = cast(PersistedView, view)
    try:
        resolved = endpoint.persisted.resolve(payload.get("query"), payload.get("extensions"))
    except MissingQuery:
        return GraphQLError("No GraphQL query found.", extensions={"code": BAD_REQUEST})
    except Refused as refused:
        endpoint.metrics.refused(refused.code, payload.get("operationName"))
        return refused.error
    endpoint.schema.documents.keep(resolved.prepared)  # strawberry finds it by its text
    cast(dict[str, Any], payload)["query"] = resolved.prepared.query
    return None


def over_cap(cap: int | None) -> GraphQLError:
    return GraphQLError(
        f"At most {cap} operations may run at once on one connection.",
        extensions={"code": "BAD_USER_INPUT"},
    )


def _problem(message: object, operation_types: tuple[str, ...]) -> str | None:
    """What makes a client message unusable, or None when strawberry may read it."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "A message must be a JSON object with a string `type`."
    kind = message["type"]
    if kind in (*operation_types, "complete", "stop") and not isinstance(message.get("id"), str):
        return f"A `{kind}` message needs a string `id`."
    if kind in operation_types:
        payload = message.get("payload")
        if not isinstance(payload, dict) or not _has_query(payload):
            return f"A `{kind}` message needs a payload with a string `query`."
        for name, (expected, described) in _OPTIONAL.items():
            if payload.get(name) is not None and not isinstance(payload[name], expected):
                return f"The payload's `{name}` must be {described}."
    return None


def _has_query(payload: dict[str, object]) -> bool:
    """A string `query`, or none beside `extensions.persistedQuery`."""
    query, extensions = payload.get("query"), payload.get("extensions")
    persisted = isinstance(extensions, dict) and "persistedQuery" in extensions
    return isinstance(query, str) or (query is None and persisted)
