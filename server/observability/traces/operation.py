"""One span per GraphQL operation, named by its type as OpenTelemetry's GraphQL conventions
say, with its name and outcome; never its variables or its document."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from strawberry.extensions import SchemaExtension

from server.observability.metrics import OK, UNKNOWN_TYPE, operation_summary

OPERATION = "GraphQL Operation"  # the conventions' name while the type is unknown
OPERATION_NAME = "graphql.operation.name"
OPERATION_TYPE = "graphql.operation.type"
OUTCOME = "outdial.graphql.outcome"  # ok, or the code of the first error (as /metrics counts)
ERROR_TYPE = "error.type"


class TracedSpan:
    __slots__ = ("_span", "done")

    def __init__(self, span: Span) -> None:
        self._span = span
        self.done = False

    def finished(self, *, name: str | None, kind: str, outcome: str) -> None:
        self.done = True
        span = self._span
        if kind != UNKNOWN_TYPE:
            span.update_name(kind)
            span.set_attribute(OPERATION_TYPE, kind)
        if name is not None:
            span.set_attribute(OPERATION_NAME, name)
        span.set_attribute(OUTCOME, outcome)
        if outcome != OK:
            span.set_attribute(ERROR_TYPE, outcome)
            span.set_status(Status(StatusCode.ERROR, outcome))


@contextmanager
def operation_span(tracer: Tracer) -> Iterator[TracedSpan]:
    # Exceptions are not recorded: their messages may quote variables.
    with tracer.start_as_current_span(
        OPERATION, kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
    ) as span:
        traced = TracedSpan(span)
        try:
            yield traced
        except BaseException as error:
            if not traced.done:
                cancelled = isinstance(error, asyncio.CancelledError | GeneratorExit)
                outcome = "CANCELLED" if cancelled else "INTERNAL_SERVER_ERROR"
                traced.finished(name=None, kind=UNKNOWN_TYPE, outcome=outcome)
            raise


class TracedOperation(SchemaExtension):
    """The operation's span where strawberry runs it (websockets); one instance per operation."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def on_operation(self) -> Iterator[None]:
        with operation_span(self._tracer) as span:
            failure: BaseException | None = None
            try:
                yield
            except BaseException as error:
                failure = error
                raise
            finally:
                context = self.execution_context
                kind, _, outcome = operation_summary(context, failure)
                span.finished(name=context.operation_name, kind=kind, outcome=outcome)
