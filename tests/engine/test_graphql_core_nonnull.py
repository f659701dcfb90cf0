"""graphql-core's non-null tests, run on graphql-core's execution and on the engine's: same bytes.

Ported from graphql-core's tests/execution/test_nonnull.py (commit e49e4e2d, 3.3.0rc0; run here
on the installed 3.3.2), `describe_execute_handles_non_nullable_types`. graphql-core's
`NullingData` and `ThrowingData` answer through resolvers; here their fields are plain
attributes (what the engine's plans complete) holding the same values: None, an error (which
graphql-core reports as if raised), or an awaitable of either (`Later`, for the `promise`
fields). The object sits under the root field `data` (tests/support/both_paths.py): where
graphql-core's test nulls the whole response, `data` is null here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import strawberry

from tests.support.both_paths import Answer, Later, both_ways, same, under_data

SYNC = RuntimeError("sync")
SYNC_NON_NULL = RuntimeError("syncNonNull")
PROMISE = RuntimeError("promise")
PROMISE_NON_NULL = RuntimeError("promiseNonNull")
DEPTH = 7  # below the deepest query of these tests


@strawberry.type
class DataType:
    sync: str | None
    sync_non_null: str
    promise: str | None
    promise_non_null: str
    sync_nest: DataType | None
    sync_non_null_nest: DataType
    promise_nest: DataType | None
    promise_non_null_nest: DataType


def data(depth: int, throwing: bool) -> Any:
    if depth == 0:
        return None
    child = data(depth - 1, throwing)
    return DataType(
        sync=SYNC if throwing else None,  # type: ignore[arg-type]
        sync_non_null=SYNC_NON_NULL if throwing else None,  # type: ignore[arg-type]
        promise=Later(PROMISE if throwing else None),  # type: ignore[arg-type]
        promise_non_null=Later(PROMISE_NON_NULL if throwing else None),  # type: ignore[arg-type]
        sync_nest=child,
        sync_non_null_nest=child,
        promise_nest=Later(child),  # type: ignore[arg-type]
        promise_non_null_nest=Later(child),  # type: ignore[arg-type]
    )


NULLING = data(DEPTH, throwing=False)
THROWING = data(DEPTH, throwing=True)


def patch(text: str) -> str:
    """graphql-core's `patch`: the same query on the promise fields."""
    return re.sub(r"\bsyncNonNull\b", "promiseNonNull", re.sub(r"\bsync\b", "promise", text))


async def run(query: str, root: Any) -> Answer:
    return await both_ways(DataType, lambda: root, query)


async def sync_and_async(query: str, root: Any) -> Answer:
    """graphql-core's `execute_sync_and_async`: the query, and its patched twin, agree."""
    sync_answer = await run(query, root)
    async_answer = await run(patch(query), root)
    assert patch(repr((async_answer.data, async_answer.errors))) == patch(
        repr((sync_answer.data, sync_answer.errors))
    )
    return sync_answer


def null_message(field: str) -> str:
    return f"Cannot return null for non-nullable field DataType.{field}."


async def test_nulls_a_nullable_field() -> None:
    query = "{ sync }"
    assert same(await sync_and_async(query, NULLING), under_data({"sync": None}))
    expected = under_data({"sync": None}, [("sync", ["sync"])])
    assert same(await sync_and_async(query, THROWING), expected)


async def test_nulls_a_returned_object_that_contains_a_non_null_field() -> None:
    query = "{ syncNest { syncNonNull, } }"
    path: list[str | int] = ["syncNest", "syncNonNull"]
    expected = under_data({"syncNest": None}, [(null_message("syncNonNull"), path)])
    assert same(await sync_and_async(query, NULLING), expected)
    expected = under_data({"syncNest": None}, [("syncNonNull", path)])
    assert same(await sync_and_async(query, THROWING), expected)


COMPLEX_TREE = """{
  syncNest {
    sync
    promise
    syncNest { sync promise }
    promiseNest { sync promise }
  }
  promiseNest {
    sync
    promise
    syncNest { sync promise }
    promiseNest { sync promise }
  }
}"""
NULL_TREE = {
    "sync": None,
    "promise": None,
    "syncNest": {"sync": None, "promise": None},
    "promiseNest": {"sync": None, "promise": None},
}


async def test_nulls_a_complex_tree_of_nullable_fields_each() -> None:
    data = {"syncNest": NULL_TREE, "promiseNest": NULL_TREE}
    assert same(await run(COMPLEX_TREE, NULLING), under_data(data))
    errors: list[tuple[str, list[str | int]]] = [
        ("sync", ["syncNest", "sync"]),
        ("sync", ["syncNest", "syncNest", "sync"]),
        ("sync", ["promiseNest", "sync"]),
        ("sync", ["promiseNest", "syncNest", "sync"]),
        ("promise", ["syncNest", "promise"]),
        ("promise", ["syncNest", "syncNest", "promise"]),
        ("sync", ["syncNest", "promiseNest", "sync"]),
        ("promise", ["syncNest", "promiseNest", "promise"]),
        ("promise", ["promiseNest", "promise"]),
        ("promise", ["promiseNest", "syncNest", "promise"]),
        ("sync", ["promiseNest", "promiseNest", "sync"]),
        ("promise", ["promiseNest", "promiseNest", "promise"]),
    ]
    assert same(await run(COMPLEX_TREE, THROWING), under_data(data, errors))


LONG_CHAIN = """{
  syncNest {
    syncNonNullNest {
      promiseNonNullNest { syncNonNullNest { promiseNonNullNest { syncNonNull } } }
    }
  }
  promiseNest {
    syncNonNullNest {
      promiseNonNullNest { syncNonNullNest { promiseNonNullNest { syncNonNull } } }
    }
  }
  anotherNest: syncNest {
    syncNonNullNest {
      promiseNonNullNest { syncNonNullNest { promiseNonNullNest { promiseNonNull } } }
    }
  }
  anotherPromiseNest: promiseNest {
    syncNonNullNest {
      promiseNonNullNest { syncNonNullNest { promiseNonNullNest { promiseNonNull } } }
    }
  }
}"""
CHAIN = ["syncNonNullNest", "promiseNonNullNest", "syncNonNullNest", "promiseNonNullNest"]


@pytest.mark.parametrize("throwing", [False, True], ids=["returns_null", "throws"])
async def test_nulls_first_nullable_after_long_chain_of_non_null_fields(throwing: bool) -> None:
    data = dict.fromkeys(["syncNest", "promiseNest", "anotherNest", "anotherPromiseNest"])
    ends = [
        ("syncNest", "syncNonNull"),
        ("promiseNest", "syncNonNull"),
        ("anotherNest", "promiseNonNull"),
        ("anotherPromiseNest", "promiseNonNull"),
    ]
    errors: list[tuple[str, list[str | int]]] = [
        (leaf if throwing else null_message(leaf), [top, *CHAIN, leaf]) for top, leaf in ends
    ]
    answer = await run(LONG_CHAIN, THROWING if throwing else NULLING)
    assert same(answer, under_data(data, errors))


async def test_nulls_the_top_level_if_non_nullable_field() -> None:
    query = "{ syncNonNull }"
    expected = under_data(None, [(null_message("syncNonNull"), ["syncNonNull"])])
    assert same(await sync_and_async(query, NULLING), expected)
    expected = under_data(None, [("syncNonNull", ["syncNonNull"])])
    assert same(await sync_and_async(query, THROWING), expected)


# describe_handles_multiple_errors_for_a_single_response_position


async def test_nullable_and_non_nullable_root_fields_throw_nested_errors() -> None:
    query = "{ promiseNonNullNest { syncNonNull } promiseNest { syncNonNull } }"
    errors: list[tuple[str, list[str | int]]] = [
        ("syncNonNull", ["promiseNest", "syncNonNull"]),
        ("syncNonNull", ["promiseNonNullNest", "syncNonNull"]),
    ]
    assert same(await run(query, THROWING), under_data(None, errors))


async def test_slower_nullable_after_non_nullable_root_field() -> None:
    query = "{ promiseNonNullNest { syncNonNull } promiseNest { promiseNonNull } }"
    errors: list[tuple[str, list[str | int]]] = [
        ("promiseNonNull", ["promiseNest", "promiseNonNull"]),
        ("syncNonNull", ["promiseNonNullNest", "syncNonNull"]),
    ]
    assert same(await run(query, THROWING), under_data(None, errors))


async def test_nullable_and_non_nullable_nested_fields_throw_nested_errors() -> None:
    query = """{ syncNest {
      promiseNonNullNest { syncNonNull }
      promiseNest { syncNonNull } } }"""
    errors: list[tuple[str, list[str | int]]] = [
        ("syncNonNull", ["syncNest", "promiseNest", "syncNonNull"]),
        ("syncNonNull", ["syncNest", "promiseNonNullNest", "syncNonNull"]),
    ]
    assert same(await run(query, THROWING), under_data({"syncNest": None}, errors))
