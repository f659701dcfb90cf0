"""Runs an operation of a prepared document: directly, when its document decided so when it
was prepared (engine.direct_query), else by graphql-core's executor with the document's plans.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import isawaitable
from typing import Any

from graphql import ExecutionResult, execute

from engine.fast_execution import FastExecutionContext
from engine.prepared import Prepared
from engine.seam import StrawberrySchema, graphql_schema_of, is_awaitable


async def run(
    schema: StrawberrySchema,
    prepared: Prepared,
    *,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    extensions: dict[str, Any] | None,
    context: object,
    alone: Callable[[], object],
) -> ExecutionResult:
    """The result of the operation `operation_name` of `prepared`, a valid document.

    `context` is what every resolver receives; `alone` makes the context of a request whose
    one resolver is the root field's (the direct path: its loads have nothing to batch with).
    """
    executor = schema.execution_context_class
    planned = issubclass(executor, FastExecutionContext)
    extra: dict[str, Any] = {"operation_extensions": extensions}
    if planned:
        extra["plans"] = prepared.plans
    direct = prepared.direct.get(operation_name) if planned else None
    if direct is not None:
        answer = await direct.run(alone(), variables, extensions)
        if isinstance(answer, ExecutionResult):
            return answer
        extra["middleware"] = [answer]  # graphql-core completes the root field's value
    assert prepared.document is not None
    result = execute(
        graphql_schema_of(schema),
        prepared.document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=executor,
        is_awaitable=is_awaitable,
        **extra,
    )
    return await result if isawaitable(result) else result
