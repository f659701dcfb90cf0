"""Subscriptions over websockets: each a small record, each event executed and serialised once.

Strawberry runs a subscription as a chain of async generators (its operation, the schema's
stream with every extension's hooks, graphql-core's mapping of events to results) and executes,
shapes and serialises every event once per subscriber. With thousands of subscribers that is
most of the fan-out's time and memory (bench/fanout.py). Here a subscription whose document is
valid and allowed is started as the HTTP path runs a query (server.http.execution: the prepared
document, scopes, budgets, then graphql-core), and then holds only its source stream and its
executor. Each event is executed, its errors shaped and its payload serialised once per distinct
(event, document, operation, variables); each subscriber splices its operation id in.

Anything else (a document that fails, a refusal, a resolver that raises before the stream) is
left to strawberry, which answers it exactly as before: `start` returns None. So is every
subscription of a service that traces its operations (OTEL_*), for the tracing extension's spans.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLError
from graphql.execution import Executor, create_source_event_stream
from strawberry.types.graphql import OperationType

import engine
from engine import Lru, Prepared
from resolvers.context import Context
from schema.root import OutdialSchema
from server.guards.auth import scope_refusal
from server.guards.budget import Budget
from server.observability.metrics import Metrics, outcome_of
from server.observability.requestlog import note_operation

RECENT_EVENTS = 1024
SHARED_EXECUTORS = 256
SORTED = orjson.OPT_SORT_KEYS
SUBSCRIPTION = OperationType.SUBSCRIPTION


@dataclass(slots=True, eq=False)
class Live:
    """One running subscription: what each of its events needs, nothing more."""

    source: AsyncIterator[Any]  # the resolver's stream of payloads
    executor: Executor[Any]
    shared_by: tuple[object, ...]  # (prepared document, operation name, variables)
    name: str | None
    started: float


class LiveSubscriptions:
    def __init__(
        self, schema: OutdialSchema, metrics: Metrics, budget: Budget | None, *, traced: bool
    ) -> None:
        # Traced operations keep strawberry's execution, where the tracing extension opens
        # their spans (server.observability.traces).
        self._enabled = not traced
        self._schema = schema
        self._graphql_schema = engine.graphql_schema_of(schema)
        self._metrics = metrics
        self._budget = budget
        # One executor per (document, operation, variables), for the events of every subscription
        # that shares them: an executor holds what graphql-core learnt of them, and our fields do
        # not depend on the context it was built with (engine.shared_events).
        self._executors: Lru[tuple[object, ...], Executor[Any]] = Lru(SHARED_EXECUTORS)
        # (id(payload), shared_by) -> (payload, serialised response payload); the payload is
        # kept so that its id is not reused while the entry lives.
        self._recent: OrderedDict[tuple[int, tuple[object, ...]], tuple[object, str]] = (
            OrderedDict()
        )

    async def start(
        self, query: str, variables: dict[str, Any] | None, name: str | None, context: Context
    ) -> Live | None:
        """The subscription asked for, started; None when strawberry should run it."""
        if not self._enabled:
            return None
        variables = variables or {}
        prepared = self._schema.documents.get(query)
        if not self._runs(prepared, name, variables, context):
            return None
        assert prepared.document is not None
        executor = self._schema.execution_context_class.build(
            self._graphql_schema,
            prepared.document,
            None,
            context,
            variables,
            name,
            plans=prepared.plans,
        )
        if not isinstance(executor, Executor):
            return None
        self._metrics.executing.inc()
        try:
            source = create_source_event_stream(executor)
            if isawaitable(source):
                source = await source
        finally:
            self._metrics.executing.dec()
        if not isinstance(source, AsyncIterator):
            return None  # the resolver refused: strawberry asks it again and says why
        shared_by = (prepared, name, orjson.dumps(variables, option=SORTED).decode())
        shared = self._executors.get(shared_by)
        if shared is None:
            self._executors.put(shared_by, executor)
            shared = executor
        operation_name = name or _name_of(prepared)
        return Live(source, shared, shared_by, operation_name, time.perf_counter())

    def _runs(
        self, prepared: Prepared, name: str | None, variables: dict[str, Any], context: Context
    ) -> bool:
        if not prepared.valid:
            return False
        operation = prepared.operation(name)
        if operation is None or operation.operation.value != SUBSCRIPTION.value:
            return False
        if scope_refusal(context.scope, SUBSCRIPTION) is not None:
            return False
        if self._budget is None:
            return True
        assert prepared.document is not None
        refusal = self._budget.refusal(
            self._graphql_schema, prepared.document, variables, name, prepared.memo
        )
        return refusal is None

    async def response(self, live: Live, event: object) -> str:
        """The event's response payload as JSON, computed once for everyone who shares it."""
        key = (id(event), live.shared_by)
        recent = self._recent.get(key)
        if recent is not None and recent[0] is event:
            return recent[1]
        result = live.executor.build_per_event_executor(event).execute_operation(False)
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        serialised = self._serialise(result.data, list(result.errors or ()))
        self._recent[key] = (event, serialised)
        while len(self._recent) > RECENT_EVENTS:
            self._recent.popitem(last=False)
        return serialised

    def failure(self, error: Exception) -> tuple[str, list[GraphQLError]]:
        """A stream that failed (SUBSCRIBER_TOO_SLOW): its last response, as strawberry sends it."""
        coerced = error if isinstance(error, GraphQLError) else GraphQLError(str(error))
        if coerced is not error:
            coerced.original_error = error
        return self._serialise(None, [coerced]), [coerced]

    def _serialise(self, data: object, errors: list[GraphQLError]) -> str:
        body: dict[str, object] = {"data": data}
        if errors:
            self._schema.process_errors(errors)
            body["errors"] = [error.formatted for error in errors]
        return orjson.dumps(body).decode()

    async def finished(self, live: Live, errors: list[GraphQLError]) -> None:
        """Closes the stream (its broker subscription ends at once) and records what
        strawberry's extensions record when an operation ends: metrics, request log."""
        close = getattr(live.source, "aclose", None)
        if close is not None:
            await close()
        seconds = time.perf_counter() - live.started
        kind = SUBSCRIPTION.value
        self._metrics.finished(live.name, kind, errors, outcome_of(errors), seconds)
        note_operation(live.name)


def _name_of(prepared: Prepared) -> str | None:
    operation = prepared.operation(None)
    return operation.name.value if operation is not None and operation.name else None
