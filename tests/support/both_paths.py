"""One operation run both ways: graphql-core's own execution, and every path of the engine.

For the ports of graphql-core's execution tests (tests/engine/test_graphql_core_*.py). Their
data sits one level down, under the root field `data`, so that the engine's paths can take
it: the direct path answers the root field, the plans complete the object below it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

import graphql
import orjson
import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import engine
from engine.fast_execution import FastExecutionContext


class Later:
    """An awaitable of a value, or of an error raised when awaited (graphql-core's tests use
    async resolvers); awaitable any number of times, and nothing to warn about if never is."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value
        yield  # a generator: awaiting it runs the lines above


def nested(query: str) -> str:
    """An anonymous operation `{ ... }` of graphql-core's tests, under the root field `data`."""
    body = query.strip()
    assert body.startswith("{"), body
    return "{ data {\n " + body[1:] + " }"


def schemas(
    data_type: type, make: Callable[[], Any], config: StrawberryConfig | None = None
) -> tuple[Any, Any]:
    """`type Query { data: <data_type> }` answering `make()`: graphql-core's execution, and
    the engine's (the app's executor)."""

    def data() -> Any:
        return make()

    data.__annotations__["return"] = data_type | None
    built = []
    for executor in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
        query = type("Query", (), {"__annotations__": {"data": data_type | None}})
        query.data = strawberry.field(resolver=data)  # type: ignore[attr-defined]
        root = strawberry.type(query)
        built.append(strawberry.Schema(root, execution_context_class=executor, config=config))
    return built[0], built[1]


def body(result: graphql.ExecutionResult) -> bytes:
    errors = [error.formatted for error in result.errors or ()]
    return orjson.dumps({"data": result.data, **({"errors": errors} if errors else {})})


async def settled(result: Any) -> graphql.ExecutionResult:
    answer: graphql.ExecutionResult = await result if isawaitable(result) else result
    return answer


@dataclass(frozen=True)
class Answer:
    data: Any
    errors: list[tuple[str, list[str | int]]]  # message and path of each error, in order
    planned: bool  # a plan completed an object on the engine's path


async def both_ways(
    data_type: type,
    make: Callable[[], Any],
    query: str,
    fragments: str = "",
    config: StrawberryConfig | None = None,
) -> Answer:
    """graphql-core's answer to `query` nested under `data` (and `fragments`), after checking
    that every path of the engine answers the same bytes: the direct path where the document
    takes it (the first request completing through graphql-core, the next ones by their plan),
    graphql-core's executor with the document's plans, and with plans made for one request."""
    reference_schema, engine_schema = schemas(data_type, make, config)
    text = nested(query) + fragments
    expected = body(await settled(graphql.execute(reference_schema._schema, graphql.parse(text))))
    documents = engine.Documents(engine_schema, engine.DocumentRules(), lambda _errors: None)
    prepared = documents.prepare(text)
    assert prepared.valid, prepared.errors
    for request in range(3):
        result = await engine.run(
            engine_schema,
            prepared,
            operation_name=None,
            variables=None,
            extensions=None,
            context=None,
            alone=lambda: None,
        )
        assert body(result) == expected, f"direct path, request {request + 1}"
    for plans in (prepared.plans, None):
        executed = graphql.execute(
            engine_schema._schema,
            prepared.document,  # type: ignore[arg-type]
            executor_class=FastExecutionContext,
            plans=plans,
        )
        assert body(await settled(executed)) == expected, f"executor, plans {plans}"
    answer = orjson.loads(expected)
    errors = [(error["message"], error["path"]) for error in answer.get("errors", ())]
    planned = any(plan is not None for plan in (prepared.plans or {}).values())
    return Answer(answer["data"], errors, planned)


def under_data(data: Any, errors: list[tuple[str, list[str | int]]] | None = None) -> Answer:
    """What graphql-core's test expects (`data`, and each error's message and path), moved
    under the root field `data`; whether a plan was used is not compared."""
    moved = [(message, ["data", *path]) for message, path in errors or ()]
    return Answer({"data": data}, moved, planned=False)


def same(answer: Answer, expected: Answer) -> bool:
    return (answer.data, answer.errors) == (expected.data, expected.errors)
