"""A root resolver runs once per request, whatever path answers and whatever it touches.

The direct path (engine.direct_query) once gave way to graphql-core's full execution when a
resolver used the executor's async helpers, and the full execution ran that resolver again:
a mutation that wrote before touching them would have written twice. Here resolvers count
their calls and touch everything that used to make the direct path give way, and every answer
is compared with graphql-core's own execution of the same operation.
"""

from __future__ import annotations

from collections import Counter
from inspect import isawaitable
from typing import Any

import graphql
import orjson
import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from engine import execution
from engine.fast_execution import FastExecutionContext
from engine.prepared import DocumentRules, Documents, Prepared

calls: Counter[str] = Counter()


@strawberry.type
class Greeting:
    plain: str
    count: int


async def _gathered(info: strawberry.Info) -> Greeting:
    async def greet() -> str:
        return "hey"

    helpers = info._raw_info.async_helpers
    (text,) = await helpers.gather([greet()])
    helpers.track([greet()])
    return Greeting(plain=text, count=calls[info.field_name])


@strawberry.type
class Query:
    @strawberry.field
    async def gathered(self, info: strawberry.Info) -> Greeting:
        calls["gathered"] += 1
        return await _gathered(info)

    @strawberry.field
    def refused(self, info: strawberry.Info, fail: bool = False) -> Greeting | None:
        calls["refused"] += 1
        if fail:
            raise ValueError("refused")
        return Greeting(plain=None, count=calls["refused"])  # type: ignore[arg-type]

    @strawberry.field
    def greetings(self) -> list[Greeting]:
        calls["greetings"] += 1
        return [Greeting(plain="a", count=1), Greeting(plain="b", count=2)]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def write(self, info: strawberry.Info) -> Greeting:
        calls["write"] += 1  # the write: it must happen once per request
        return await _gathered(info)


SCHEMA = strawberry.Schema(Query, Mutation, execution_context_class=FastExecutionContext)
REFERENCE = strawberry.Schema(Query, Mutation)  # graphql-core's own execution


def body(result: graphql.ExecutionResult) -> bytes:
    errors = [error.formatted for error in result.errors or ()]
    return orjson.dumps({"data": result.data, **({"errors": errors} if errors else {})})


async def answer(prepared: Prepared, variables: dict[str, Any] | None = None) -> bytes:
    result = await execution.run(
        SCHEMA,
        prepared,
        operation_name=None,
        variables=variables,
        extensions=None,
        context=None,
        alone=lambda: None,
    )
    return body(result)


async def reference(query: str, variables: dict[str, Any] | None = None) -> bytes:
    result = graphql.execute(
        REFERENCE._schema,
        graphql.parse(query),
        variable_values=variables,
        executor_class=StrawberryGraphQLCoreExecutionContext,
    )
    return body(await result if isawaitable(result) else result)


@pytest.fixture(autouse=True)
def no_calls_yet() -> None:
    calls.clear()


def prepare(query: str) -> Prepared:
    prepared = Documents(SCHEMA, DocumentRules(), lambda _errors: None).prepare(query)
    assert prepared.valid
    return prepared


@pytest.mark.parametrize(
    ("query", "variables", "root_field"),
    [
        ("{ gathered { plain count } }", None, "gathered"),  # the executor's async helpers
        ("mutation { write { plain count } }", None, "write"),
        ("{ refused { plain } }", None, "refused"),  # a value the plan gives up on
        ("query($f: Boolean) { refused(fail: $f) { plain } }", {"f": True}, "refused"),
        ("query($f: Boolean) { refused(fail: $f) { plain } }", {"f": "x"}, "refused"),
        ("{ greetings { plain count __typename } }", None, "greetings"),
    ],
)
async def test_a_root_resolver_runs_once_per_request(
    query: str, variables: dict[str, Any] | None, root_field: str
) -> None:
    prepared = prepare(query)
    assert prepared.direct, "decided when the document was prepared"
    expected = [await reference(query, variables) for _ in range(3)]
    ran_for_reference = calls[root_field]
    calls.clear()
    answers = [await answer(prepared, variables) for _ in range(3)]  # planned by the first
    assert answers == expected
    assert calls[root_field] == ran_for_reference  # 3, or 0 when the variables do not coerce
    assert ran_for_reference in (0, 3)


async def test_the_path_is_decided_when_the_document_is_prepared() -> None:
    assert set(prepare("query A { gathered { plain } } query B { __typename }").direct) == {"A"}
    assert set(prepare("{ gathered { plain } }").direct) == {None}
    assert not prepare("{ a: gathered { plain } b: gathered { plain } }").direct
    assert not prepare("{ gathered { plain @skip(if: false) } }").direct
