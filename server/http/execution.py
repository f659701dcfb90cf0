"""One GraphQL operation over HTTP, from its prepared document straight to graphql-core.

Strawberry's `Schema.execute` runs every extension hook of every request through context
managers and looks the document up by hashing its whole syntax tree, about as much time as
a one-target query takes to execute. Here the same steps run in the same order, once each:
the document (persisted or by text, parsed and validated once), the operation and its type,
validation errors, scopes, the request budgets with the request's variables, then graphql-core
with the document's plans, errors shaped by the schema, and the metrics and request log the
schema extensions would have written. The engine runs the operation (engine.execution: a query or
mutation of one root field skips graphql-core's executor). Websockets keep strawberry's execution
(engine.seam.PreparedDocuments), where the same budgets run as `RequestBudget`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cross_web import HTTPException
from graphql import ExecutionResult, GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types.graphql import OperationType

import engine
from engine import Prepared
from resolvers.context import Context
from schema.root import OutdialSchema
from server.guards.auth import scope_refusal
from server.guards.budget import Budget
from server.http import negotiation as http
from server.http.persisted import BAD_REQUEST, MissingQuery, PersistedQueries, Refused
from server.observability.metrics import UNKNOWN_TYPE, Metrics, outcome_of
from server.observability.requestlog import note_operation
from server.observability.traces import NO_SPAN, OperationSpan, OperationTracing

_SUBSCRIPTION_OVER_HTTP = "Subscriptions need a websocket (graphql-transport-ws)."


@dataclass(frozen=True, slots=True)
class Answer:
    result: ExecutionResult
    persisted: bool = False  # the request named its operation by hash


class Operations:
    def __init__(
        self,
        schema: OutdialSchema,
        persisted: PersistedQueries,
        metrics: Metrics,
        budget: Budget | None = None,
        tracing: OperationTracing | None = None,
    ) -> None:
        self._schema = schema
        self._graphql_schema = engine.graphql_schema_of(schema)
        self._persisted = persisted
        self._metrics = metrics
        self._budget = budget
        self._tracing = tracing

    async def run(self, request: GraphQLRequestData, context: Context, method: str) -> Answer:
        if self._tracing is None:
            return await self._answer(request, context, method, NO_SPAN)
        with self._tracing.operation() as span:
            return await self._answer(request, context, method, span)

    async def _answer(
        self, request: GraphQLRequestData, context: Context, method: str, span: OperationSpan
    ) -> Answer:
        # Before anything, so strangers learn and register nothing.
        if unauthenticated := scope_refusal(context.scope):
            self._refused(span, unauthenticated.code, request.operation_name)
            return Answer(http.request_error(unauthenticated))
        try:
            resolved = self._persisted.resolve(request.query, request.extensions)
        except MissingQuery as missing:
            self._refused(span, BAD_REQUEST, request.operation_name)
            raise HTTPException(400, "No GraphQL query found in the request.") from missing
        except Refused as refused:
            self._refused(span, refused.code, request.operation_name)
            return Answer(ExecutionResult(None, [refused.error]), persisted=True)
        started = time.perf_counter()
        name = request.operation_name or _name_of(resolved.prepared)
        status: int | None = None
        try:
            result, kind = await self._run(resolved.prepared, request, context, method)
            outcome = outcome_of(result.errors or [])
        except _RefusedByType as refused:  # counted as strawberry counts these
            result, kind, outcome = refused.result, refused.kind, "BAD_REQUEST"
            status = refused.status
        finally:
            note_operation(name)
        errors = result.errors or []
        self._metrics.finished(name, kind, errors, outcome, time.perf_counter() - started)
        span.finished(name=name, kind=kind, outcome=outcome)
        if status is not None and result.errors:
            raise HTTPException(status, result.errors[0].message)
        return Answer(result, resolved.persisted)

    def _refused(self, span: OperationSpan, code: str, name: str | None) -> None:
        self._metrics.refused(code, name)
        span.finished(name=name, kind=UNKNOWN_TYPE, outcome=code)

    async def _run(
        self, prepared: Prepared, request: GraphQLRequestData, context: Context, method: str
    ) -> tuple[ExecutionResult, str]:
        if prepared.document is None:
            return ExecutionResult(None, list(prepared.errors)), "unknown"
        operation = prepared.operation(request.operation_name)
        if operation is None:
            reason = CannotGetOperationTypeError(request.operation_name).as_http_error_reason()
            raise _RefusedByType(reason, "unknown")
        kind = OperationType(operation.operation.value)
        if kind is OperationType.MUTATION and method == "GET":
            # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed.
            raise _RefusedByType("Mutations need POST.", kind.value, status=405)
        if kind not in http.OPERATIONS[method]:
            raise _RefusedByType(_SUBSCRIPTION_OVER_HTTP, kind.value)
        if prepared.errors:
            return ExecutionResult(None, list(prepared.errors)), kind.value
        if forbidden := scope_refusal(context.scope, kind):
            return http.request_error(forbidden), kind.value
        if over_budget := self._over_budget(prepared, request):
            return over_budget, kind.value
        return await self._execute(prepared, request, context), kind.value

    def _over_budget(
        self, prepared: Prepared, request: GraphQLRequestData
    ) -> ExecutionResult | None:
        """The request budgets (server/guards/budget.py), with the request's variables, as over
        websockets: refused whole before any resolver runs."""
        if self._budget is None:
            return None
        assert prepared.document is not None
        refusal = self._budget.refusal(
            self._graphql_schema,
            prepared.document,
            request.variables,
            request.operation_name,
            prepared.memo,
        )
        if refusal is None:
            return None
        self._schema.process_errors([refusal])
        return ExecutionResult(None, [refusal])

    async def _execute(
        self, prepared: Prepared, request: GraphQLRequestData, context: Context
    ) -> ExecutionResult:
        self._metrics.executing.inc()
        try:
            result = await engine.run(
                self._schema,
                prepared,
                operation_name=request.operation_name,
                variables=request.variables,
                extensions=request.extensions,
                context=context,
                alone=context.for_one_resolver,
            )
        except Exception as error:  # as strawberry does: the error is shaped and logged
            result = ExecutionResult(None, [_coerced(error)])
        finally:
            self._metrics.executing.dec()
        if result.errors:
            self._schema.process_errors(result.errors)
        return result


class _RefusedByType(Exception):
    """No operation of that name, or one of a type this method does not run."""

    def __init__(self, reason: str, kind: str, status: int | None = None) -> None:
        self.result = http.request_error(reason)
        self.kind = kind
        self.status = status  # answered with this HTTP status instead of a GraphQL error


def _coerced(error: Exception) -> GraphQLError:
    if isinstance(error, GraphQLError):
        return error
    return GraphQLError(str(error), original_error=error)


def _name_of(prepared: Prepared) -> str | None:
    operation = prepared.operation(None)
    return operation.name.value if operation is not None and operation.name else None
