"""graphql-core's executor and directive tests, run on graphql-core's execution and on the
engine's: same bytes.

Ported from graphql-core's tests/execution/test_executor.py and test_directives.py (commit
e49e4e2d, 3.3.0rc0; run here on the installed 3.3.2). graphql-core's data answers through
resolvers; here fields are plain attributes (what the engine's plans complete) holding the
same values, awaitables as `Later`, errors as values (which graphql-core reports as if
raised). The object sits under the root field `data` (tests/support/both_paths.py). Left out:
what the engine leaves to graphql-core whole (fields with arguments, such as `pic(size:)` of
`executes_arbitrary_code`; abstract types) and what is about building the executor.
"""

from __future__ import annotations

from typing import Any, NewType

import pytest
import strawberry
from graphql import GraphQLError, Undefined
from strawberry.schema.config import StrawberryConfig

from tests.support.both_paths import Later, both_ways, same, under_data

# executes_arbitrary_code (without `pic`, a field with an argument)


@strawberry.type
class DeepDataType:
    a: str | None
    b: str | None
    c: list[str | None] | None
    deeper: list[DataType | None] | None


@strawberry.type
class DataType:
    a: str | None
    b: str | None
    c: str | None
    d: str | None
    e: str | None
    f: str | None
    deep: DeepDataType | None
    promise: DataType | None


def arbitrary() -> DataType:
    def plain() -> DataType:
        return DataType(
            a="Apple", b="Banana", c="Cookie", d="Donut", e="Egg", f="Fish", deep=None, promise=None
        )

    deep = DeepDataType(
        a="Already Been Done",
        b="Boring",
        c=["Contrived", None, "Confusing"],
        deeper=[plain(), None, plain()],
    )
    data = plain()
    data.deep = deep
    data.promise = Later(plain())  # type: ignore[assignment]
    return data


async def test_executes_arbitrary_code() -> None:
    query = """{
      a,
      b,
      x: c
      ...c
      f
      ...on DataType {
        promise {
          a
        }
      }
      deep {
        a
        b
        c
        deeper {
          a
          b
        }
      }
    }"""
    answer = await both_ways(DataType, arbitrary, query, "\nfragment c on DataType { d e }")
    expected = {
        "a": "Apple",
        "b": "Banana",
        "x": "Cookie",
        "d": "Donut",
        "e": "Egg",
        "f": "Fish",
        "promise": {"a": "Apple"},
        "deep": {
            "a": "Already Been Done",
            "b": "Boring",
            "c": ["Contrived", None, "Confusing"],
            "deeper": [{"a": "Apple", "b": "Banana"}, None, {"a": "Apple", "b": "Banana"}],
        },
    }
    assert same(answer, under_data(expected))


# merges_parallel_fragments


@strawberry.type
class Type:
    a: str | None
    b: str | None
    c: str | None
    deep: Type | None


def fruit(depth: int) -> Type | None:
    if depth == 0:
        return None
    return Type(a="Apple", b="Banana", c="Cherry", deep=fruit(depth - 1))


async def test_merges_parallel_fragments() -> None:
    fragments = """
    fragment FragOne on Type { b deep { b, deeper: deep { b } } }
    fragment FragTwo on Type { c deep { c, deeper: deep { c } } }"""
    answer = await both_ways(Type, lambda: fruit(4), "{ a, ...FragOne, ...FragTwo }", fragments)
    expected = {
        "a": "Apple",
        "b": "Banana",
        "c": "Cherry",
        "deep": {"b": "Banana", "c": "Cherry", "deeper": {"b": "Banana", "c": "Cherry"}},
    }
    assert same(answer, under_data(expected))
    assert answer.planned


# nulls_out_error_subtrees


@strawberry.type
class ErrorType:
    sync_ok: str | None
    sync_error: str | None
    sync_raw_error: str | None
    sync_return_error: str | None
    sync_return_error_list: list[str | None] | None
    async_ok: str | None
    async_error: str | None
    async_raw_error: str | None
    async_return_error: str | None
    async_return_error_with_extensions: str | None


def errors_data() -> Any:
    return ErrorType(
        sync_ok="sync ok",
        sync_error=GraphQLError("Error getting syncError"),  # type: ignore[arg-type]
        sync_raw_error=Exception("Error getting syncRawError"),  # type: ignore[arg-type]
        sync_return_error=Exception("Error getting syncReturnError"),  # type: ignore[arg-type]
        sync_return_error_list=[
            "sync0",
            Exception("Error getting syncReturnErrorList1"),  # type: ignore[list-item]
            "sync2",
            Exception("Error getting syncReturnErrorList3"),  # type: ignore[list-item]
        ],
        async_ok=Later("async ok"),  # type: ignore[arg-type]
        async_error=Later(GraphQLError("Error getting asyncError")),  # type: ignore[arg-type]
        async_raw_error=Later(Exception("Error getting asyncRawError")),  # type: ignore[arg-type]
        async_return_error=Later(GraphQLError("Error getting asyncReturnError")),  # type: ignore[arg-type]
        async_return_error_with_extensions=Later(  # type: ignore[arg-type]
            GraphQLError("Error getting asyncReturnErrorWithExtensions", extensions={"foo": "bar"})
        ),
    )


async def test_nulls_out_error_subtrees() -> None:
    query = """{
      syncOk
      syncError
      syncRawError
      syncReturnError
      syncReturnErrorList
      asyncOk
      asyncError
      asyncRawError
      asyncReturnError
      asyncReturnErrorWithExtensions
    }"""
    answer = await both_ways(ErrorType, errors_data, query)
    data = {
        "syncOk": "sync ok",
        "syncError": None,
        "syncRawError": None,
        "syncReturnError": None,
        "syncReturnErrorList": ["sync0", None, "sync2", None],
        "asyncOk": "async ok",
        "asyncError": None,
        "asyncRawError": None,
        "asyncReturnError": None,
        "asyncReturnErrorWithExtensions": None,
    }
    errors: list[tuple[str, list[str | int]]] = [
        ("Error getting syncError", ["syncError"]),
        ("Error getting syncRawError", ["syncRawError"]),
        ("Error getting syncReturnError", ["syncReturnError"]),
        ("Error getting syncReturnErrorList1", ["syncReturnErrorList", 1]),
        ("Error getting syncReturnErrorList3", ["syncReturnErrorList", 3]),
        ("Error getting asyncError", ["asyncError"]),
        ("Error getting asyncRawError", ["asyncRawError"]),
        ("Error getting asyncReturnError", ["asyncReturnError"]),
        ("Error getting asyncReturnErrorWithExtensions", ["asyncReturnErrorWithExtensions"]),
    ]
    assert same(answer, under_data(data, errors))


# full_response_path_is_included_for_non_nullable_fields


@strawberry.type
class A:
    nullable_a: A | None
    non_null_a: A
    throws: A


def chain(depth: int) -> Any:
    if depth == 0:
        return None
    below = chain(depth - 1)
    return A(nullable_a=below, non_null_a=below, throws=Exception("Catch me if you can"))  # type: ignore[arg-type]


async def test_full_response_path_is_included_for_non_nullable_fields() -> None:
    query = """{
      nullableA {
        aliasedA: nullableA {
          nonNullA {
            anotherA: nonNullA {
              throws
            }
          }
        }
      }
    }"""
    answer = await both_ways(A, lambda: chain(7), query.replace("throws", "throws { __typename }"))
    path: list[str | int] = ["nullableA", "aliasedA", "nonNullA", "anotherA", "throws"]
    expected = under_data({"nullableA": {"aliasedA": None}}, [("Catch me if you can", path)])
    assert same(answer, expected)


# correct_field_ordering_despite_execution_order


@strawberry.type
class Ordered:
    a: str | None
    b: str | None
    c: str | None
    d: str | None
    e: str | None


async def test_correct_field_ordering_despite_execution_order() -> None:
    def make() -> Ordered:
        return Ordered(a="a", b=Later("b"), c="c", d=Later("d"), e="e")  # type: ignore[arg-type]

    answer = await both_ways(Ordered, make, "{ a, b, c, d, e}")
    assert same(answer, under_data({"a": "a", "b": "b", "c": "c", "d": "d", "e": "e"}))


# fails_when_coerce_output_value_of_custom_scalar_does_not_return_a_value

Custom = NewType("Custom", str)
CUSTOM = strawberry.scalar(
    name="CustomScalar", serialize=lambda _value: Undefined, parse_value=lambda value: value
)


@strawberry.type
class CustomType:
    custom_scalar: Custom | None


async def test_fails_when_coerce_output_value_of_custom_scalar_does_not_return_a_value() -> None:
    answer = await both_ways(
        CustomType,
        lambda: CustomType(custom_scalar=Custom("CUSTOM_VALUE")),
        "{ customScalar }",
        config=StrawberryConfig(scalar_map={Custom: CUSTOM}),
    )
    message = (
        "Expected `CustomScalar.coerce_output_value('CUSTOM_VALUE')` to return non-nullable"
        " value, returned: Undefined"
    )
    assert same(answer, under_data({"customScalar": None}, [(message, ["customScalar"])]))


# test_directives.py: describe_execute_handles_directives


@strawberry.type(name="TestType")
class Directed:
    a: str | None
    b: str | None


AB = {"a": "a", "b": "b"}
A_ONLY = {"a": "a"}
FRAG = "\nfragment Frag on TestType { b }"


@pytest.mark.parametrize(
    ("query", "fragments", "expected"),
    [
        ("{ a, b }", "", AB),  # basic_query_works
        ("{ a, b @include(if: true) }", "", AB),  # if_true_includes_scalar
        ("{ a, b @include(if: false) }", "", A_ONLY),  # if_false_omits_on_scalar
        ("{ a, b @skip(if: false) }", "", AB),  # unless_false_includes_scalar
        ("{ a, b @skip(if: true) }", "", A_ONLY),  # unless_true_omits_scalar
        ("{ a ...Frag @include(if: false) }", FRAG, A_ONLY),  # if_false_omits_fragment_spread
        ("{ a ...Frag @include(if: true) }", FRAG, AB),  # if_true_includes_fragment_spread
        ("{ a ...Frag @skip(if: false) }", FRAG, AB),  # unless_false_includes_fragment_spread
        ("{ a ...Frag @skip(if: true) }", FRAG, A_ONLY),  # unless_true_omits_fragment_spread
        ("{ a ... on TestType @include(if: false) { b } }", "", A_ONLY),
        ("{ a ... on TestType @include(if: true) { b } }", "", AB),
        ("{ a ... on TestType @skip(if: false) { b } }", "", AB),
        ("{ a ... on TestType @skip(if: true) { b } }", "", A_ONLY),
        ("{ a ... @include(if: false) { b } }", "", A_ONLY),  # anonymous inline fragments
        ("{ a ... @include(if: true) { b } }", "", AB),
        ("{ a ... @skip(if: false) { b } }", "", AB),
        ("{ a ... @skip(if: true) { b } }", "", A_ONLY),
        ("{ a b @include(if: true) @skip(if: false) }", "", AB),  # include_and_no_skip
        ("{ a b @include(if: true) @skip(if: true) }", "", A_ONLY),  # include_and_skip
        ("{ a b @include(if: false) @skip(if: false) }", "", A_ONLY),  # no_include_or_skip
    ],
)
async def test_directives(query: str, fragments: str, expected: dict[str, str]) -> None:
    answer = await both_ways(Directed, lambda: Directed(a="a", b="b"), query, fragments)
    assert same(answer, under_data(expected))
