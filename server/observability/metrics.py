"""Prometheus metrics of one app, kept in a registry of its own (never the global one)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from domain.errors import DatabaseUnavailable, OutdialError
from domain.events import Broker
from domain.models import Status, StatusChange
from domain.service import Claimed

# Operation names come from clients: beyond this many distinct ones, new names count as "other".
MAX_OPERATION_NAMES = 200
ANONYMOUS = "anonymous"
OTHER = "other"
OK = "ok"
UNKNOWN_TYPE = "unknown"

_SUBSCRIPTION = OperationType.SUBSCRIPTION.value
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_REQUEST_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError)
_LEGAL_TRANSITIONS = (
    (Status.IDLE, Status.PROGRESSING),
    (Status.PROGRESSING, Status.IDLE),
    (Status.PROGRESSING, Status.DONE),
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.operations = Counter(
            "outdial_graphql_operations",
            "GraphQL operations by operation name, type and outcome "
            "(ok, or the code of the first error)",
            ["operation", "type", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "outdial_graphql_operation_duration_seconds",
            "Time to answer a query or mutation (subscriptions are not timed)",
            ["operation", "type"],
            registry=self.registry,
        )
        self.executing = Gauge(
            "outdial_graphql_operations_executing",
            "Operations being executed right now",
            registry=self.registry,
        )
        self.subscriptions = Gauge(
            "outdial_subscriptions_active",
            "Status-change subscriptions open on this instance",
            registry=self.registry,
        )
        self.claims = Counter(
            "outdial_claims",
            "claimOutdialtarget calls by outcome: claimed, or empty when nothing was available",
            ["outcome"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "outdial_status_transitions",
            "Status changes this instance wrote, by previous and new status",
            ["from", "to"],
            registry=self.registry,
        )
        self.database_errors = Counter(
            "outdial_database_errors",
            "Operations that failed with SERVICE_UNAVAILABLE, by reason: the database did not "
            "answer in time (TIMEOUT), or its disk refused a write (DISK_FULL, READ_ONLY, ...)",
            ["reason"],
            registry=self.registry,
        )
        self.unreadable = Counter(
            "outdial_unreadable_documents",
            "Stored documents found breaking the stored shape (each counted once)",
            registry=self.registry,
        )
        self.persisted = Counter(
            "outdial_persisted_queries",
            "Persisted query lookups: hit, miss (unknown hash), registered (stored with its "
            "text), refused (not a trusted document)",
            ["outcome"],
            registry=self.registry,
        )
        self._operation_names: set[str] = set()
        # The labelled children operations use, looked up once each (their labels are bounded:
        # MAX_OPERATION_NAMES names, a few types and outcomes).
        self._counted: dict[tuple[str, str, str], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}
        self._lookups = {
            outcome: self.persisted.labels(outcome)
            for outcome in ("hit", "miss", "registered", "refused")
        }
        for outcome in ("claimed", "empty"):
            self.claims.labels(outcome)
        for reason in DatabaseUnavailable.REASONS:
            self.database_errors.labels(reason)
        for before, after in _LEGAL_TRANSITIONS:
            self.transitions.labels(before.name, after.name)
        self.subscriptions.set_function(lambda: 0)

    def watch(self, broker: Broker) -> None:
        self.subscriptions.set_function(lambda: len(broker))

    def unreadable_found(self) -> None:
        self.unreadable.inc()

    def status_changed(self, change: StatusChange) -> None:
        self.transitions.labels(change.previous_status.name, change.status.name).inc()

    def claim_finished(self, claimed: Claimed | None) -> None:
        self.claims.labels("empty" if claimed is None else "claimed").inc()

    def persisted_lookup(self, outcome: str) -> None:
        counted = self._lookups.get(outcome)
        (self.persisted.labels(outcome) if counted is None else counted).inc()

    def refused(self, code: str, operation: str | None = None) -> None:
        """A request refused before any GraphQL operation ran (bad HTTP, no token, too big, a
        persisted query unknown or not trusted)."""
        self._counter(self.operation_label(operation), UNKNOWN_TYPE, code).inc()

    def finished(
        self, name: str | None, kind: str, errors: list[GraphQLError], outcome: str, seconds: float
    ) -> None:
        operation = self.operation_label(name)
        self._counter(operation, kind, outcome).inc()
        if kind != _SUBSCRIPTION:
            timed = self._timed.get((operation, kind))
            if timed is None:
                timed = self._timed[operation, kind] = self.duration.labels(operation, kind)
            timed.observe(seconds)
        unavailable = next(
            (e.original_error for e in errors if isinstance(e.original_error, DatabaseUnavailable)),
            None,
        )
        if unavailable is not None:
            self.database_errors.labels(unavailable.reason).inc()

    def _counter(self, operation: str, kind: str, outcome: str) -> Counter:
        key = (operation, kind, outcome)
        counted = self._counted.get(key)
        if counted is None:
            counted = self._counted[key] = self.operations.labels(operation, kind, outcome)
        return counted

    def extension(self) -> Callable[[], SchemaExtension]:
        return lambda: OperationMetrics(self)

    async def endpoint(self, request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(self.registry), headers={"Content-Type": content_type})

    def operation_label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self._operation_names:
            return name
        if not _NAME.fullmatch(name) or len(self._operation_names) >= MAX_OPERATION_NAMES:
            return OTHER
        self._operation_names.add(name)
        return name


class OperationMetrics(SchemaExtension):
    """Counts and times every operation; one instance per operation."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as error:
            failure = error
            raise
        finally:
            self._record(time.perf_counter() - started, failure)

    def on_execute(self) -> Iterator[None]:
        self._metrics.executing.inc()
        try:
            yield
        finally:
            self._metrics.executing.dec()

    def _record(self, seconds: float, failure: BaseException | None) -> None:
        context = self.execution_context
        kind, errors, outcome = operation_summary(context, failure)
        self._metrics.finished(context.operation_name, kind, errors, outcome, seconds)


def operation_summary(
    context: ExecutionContext, failure: BaseException | None
) -> tuple[str, list[GraphQLError], str]:
    """An operation strawberry ran: its type, its errors and its outcome."""
    kind = _operation_type(context)
    errors = _errors(context)
    return kind, errors, _outcome(kind, errors, failure)


def _operation_type(context: ExecutionContext) -> str:
    try:
        return context.operation_type.value
    except (RuntimeError, *_REQUEST_ERRORS):
        return UNKNOWN_TYPE


def _errors(context: ExecutionContext) -> list[GraphQLError]:
    errors = context.pre_execution_errors if context.result is None else context.result.errors
    return list(errors or [])


def outcome_of(errors: list[GraphQLError]) -> str:
    """`ok`, or the code of the first error."""
    return _code(errors[0]) if errors else OK


def _code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else "INTERNAL_SERVER_ERROR"


def _outcome(kind: str, errors: list[GraphQLError], failure: BaseException | None) -> str:
    if isinstance(failure, GeneratorExit | asyncio.CancelledError):
        # A subscription ends this way when its client stops it or goes away.
        return OK if kind == OperationType.SUBSCRIPTION.value else "CANCELLED"
    if isinstance(failure, _REQUEST_ERRORS):
        return "BAD_REQUEST"
    if isinstance(failure, OutdialError):  # raised by an extension before execution (auth)
        return failure.code
    if failure is not None:
        return _code(failure) if isinstance(failure, GraphQLError) else "INTERNAL_SERVER_ERROR"
    return outcome_of(errors)
