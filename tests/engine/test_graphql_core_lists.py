"""graphql-core's list tests, run on graphql-core's execution and on the engine's: same bytes.

Ported from graphql-core's tests/execution/test_lists.py (commit e49e4e2d, 3.3.0rc0; run here
on the installed 3.3.2): `describe_execute_accepts_any_iterable_as_list_value`,
`describe_execute_handles_list_nullability` and the async iterable cases of
`describe_execute_accepts_async_iterables_as_list_value`. The list is a plain attribute of the
object under the root field `data` (tests/support/both_paths.py), so that the engine's plans
complete it; values the engine hands to graphql-core (iterators, awaitables) must come out
the same too. graphql-core's tests also run each value as an awaitable and as a list of
awaitables: so do these (`Later`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry

from tests.support.both_paths import Later, both_ways, same, under_data


def data_type(annotation: Any) -> type:
    return strawberry.type(type("DataType", (), {"__annotations__": {"list_field": annotation}}))


LIST_OF_STRINGS = data_type(list[str | None] | None)
NULLABILITY = {
    "[Int]": list[int | None] | None,
    "[Int]!": list[int | None],
    "[Int!]": list[int] | None,
    "[Int!]!": list[int],
}


async def complete(value: Any, as_: Any = LIST_OF_STRINGS) -> Any:
    return await both_ways(as_, lambda: as_(list_field=value), "{ listField }")


async def complete_each(make: Any, as_: Any = LIST_OF_STRINGS) -> Any:
    """`complete` of a value made anew for each execution (an iterator is read once)."""
    return await both_ways(as_, lambda: as_(list_field=make()), "{ listField }")


NOT_ITERABLE = "Expected Iterable, but did not find one for field 'DataType.listField'."


# describe_execute_accepts_any_iterable_as_list_value


async def test_accepts_a_list_as_a_list_value() -> None:
    for value in ([], ["just an apple"], ["apple", "banana", "coconut"]):
        answer = await complete(value)
        assert same(answer, under_data({"listField": value}))
        assert answer.planned


async def test_accepts_a_tuple_as_a_list_value() -> None:
    value = ("apple", "banana", "coconut")
    assert same(await complete(value), under_data({"listField": list(value)}))


async def test_accepts_a_one_item_set_as_a_list_value() -> None:
    # graphql-core's test uses three items and compares them as a set: sets are unordered.
    assert same(await complete({"apple"}), under_data({"listField": ["apple"]}))


async def test_accepts_a_generator_as_a_list_value() -> None:
    def list_field() -> Iterator[Any]:
        yield "one"
        yield 2
        yield True

    answer = await complete_each(list_field)
    assert same(answer, under_data({"listField": ["one", "2", "true"]}))


async def test_accepts_a_custom_iterable_as_a_list_value() -> None:
    class ListField:
        def __iter__(self) -> ListField:
            self.last = "hello"
            return self

        def __next__(self) -> str:
            last = self.last
            if last == "stop":
                raise StopIteration
            self.last = "world" if last == "hello" else "stop"
            return last

    answer = await complete(ListField())
    assert same(answer, under_data({"listField": ["hello", "world"]}))


async def test_accepts_function_arguments_as_a_list_value() -> None:
    def get_args(*args: str) -> tuple[str, ...]:
        return args

    assert same(await complete(get_args("one", "two")), under_data({"listField": ["one", "two"]}))


async def test_does_not_accept_a_dict_as_a_list_value() -> None:
    answer = await complete({1: "one", 2: "two"})
    assert same(answer, under_data({"listField": None}, [(NOT_ITERABLE, ["listField"])]))


async def test_does_not_accept_iterable_string_literal_as_a_list_value() -> None:
    answer = await complete("Singular")
    assert same(answer, under_data({"listField": None}, [(NOT_ITERABLE, ["listField"])]))


# describe_execute_accepts_async_iterables_as_list_value


def async_generator(*values: Any) -> Any:
    async def list_field() -> AsyncIterator[Any]:
        for value in values:
            if isinstance(value, Exception):
                raise value
            yield value

    return list_field


async def test_accepts_an_async_generator_as_a_list_value() -> None:
    values = async_generator("two", 4, False)
    answer = await both_ways(
        LIST_OF_STRINGS, lambda: LIST_OF_STRINGS(list_field=values()), "{ listField }"
    )
    assert same(answer, under_data({"listField": ["two", "4", "false"]}))


async def test_handles_an_async_generator_that_throws() -> None:
    values = async_generator("two", 4, RuntimeError("bad"))
    answer = await both_ways(
        LIST_OF_STRINGS, lambda: LIST_OF_STRINGS(list_field=values()), "{ listField }"
    )
    assert same(answer, under_data({"listField": None}, [("bad", ["listField"])]))


async def test_handles_an_async_generator_where_intermediate_value_triggers_an_error() -> None:
    values = async_generator("two", {}, 4)
    answer = await both_ways(
        LIST_OF_STRINGS, lambda: LIST_OF_STRINGS(list_field=values()), "{ listField }"
    )
    message = "String cannot represent value: {}"
    assert same(
        answer, under_data({"listField": ["two", None, "4"]}, [(message, ["listField", 1])])
    )


async def test_handles_nulls_yielded_by_async_generator() -> None:
    values = async_generator(1, None, 2)
    message = "Cannot return null for non-nullable field DataType.listField."
    errors = [(message, ["listField", 1])]
    for as_, expected in [
        ("[Int]", under_data({"listField": [1, None, 2]})),
        ("[Int]!", under_data({"listField": [1, None, 2]})),
        ("[Int!]", under_data({"listField": None}, errors)),
        ("[Int!]!", under_data(None, errors)),
    ]:
        type_ = data_type(NULLABILITY[as_])
        answer = await complete_each(values, type_)
        assert same(answer, expected), as_


# describe_execute_handles_list_nullability: each value as it is, as an awaitable, and (for
# lists) as a list of awaitables, as graphql-core's `_complete` does


def shapes(value: Any) -> list[Any]:
    shaped = [value, Later(value)]
    if isinstance(value, list):
        shaped.append([Later(item) for item in value])
    return shaped


NULL_ITEM = "Cannot return null for non-nullable field DataType.listField."
BAD = RuntimeError("bad")

NULLABILITY_CASES = {
    "contains_values": (
        [1, 2],
        {
            "[Int]": ({"listField": [1, 2]}, None),
            "[Int]!": ({"listField": [1, 2]}, None),
            "[Int!]": ({"listField": [1, 2]}, None),
            "[Int!]!": ({"listField": [1, 2]}, None),
        },
    ),
    "contains_null": (
        [1, None, 2],
        {
            "[Int]": ({"listField": [1, None, 2]}, None),
            "[Int]!": ({"listField": [1, None, 2]}, None),
            "[Int!]": ({"listField": None}, [(NULL_ITEM, ["listField", 1])]),
            "[Int!]!": (None, [(NULL_ITEM, ["listField", 1])]),
        },
    ),
    "returns_null": (
        None,
        {
            "[Int]": ({"listField": None}, None),
            "[Int]!": (None, [(NULL_ITEM, ["listField"])]),
            "[Int!]": ({"listField": None}, None),
            "[Int!]!": (None, [(NULL_ITEM, ["listField"])]),
        },
    ),
    "contains_error": (
        [1, BAD, 2],
        {
            "[Int]": ({"listField": [1, None, 2]}, [("bad", ["listField", 1])]),
            "[Int]!": ({"listField": [1, None, 2]}, [("bad", ["listField", 1])]),
            "[Int!]": ({"listField": None}, [("bad", ["listField", 1])]),
            "[Int!]!": (None, [("bad", ["listField", 1])]),
        },
    ),
    "results_in_errors": (
        BAD,
        {
            "[Int]": ({"listField": None}, [("bad", ["listField"])]),
            "[Int]!": (None, [("bad", ["listField"])]),
            "[Int!]": ({"listField": None}, [("bad", ["listField"])]),
            "[Int!]!": (None, [("bad", ["listField"])]),
        },
    ),
}


@pytest.mark.parametrize("as_", list(NULLABILITY))
@pytest.mark.parametrize("case", list(NULLABILITY_CASES))
async def test_list_nullability(case: str, as_: str) -> None:
    value, by_type = NULLABILITY_CASES[case]
    data, errors = by_type[as_]
    type_ = data_type(NULLABILITY[as_])
    for shaped in shapes(value):
        answer = await complete(shaped, type_)
        assert same(answer, under_data(data, errors)), shaped
