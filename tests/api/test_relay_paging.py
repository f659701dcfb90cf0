"""Relay paging of outdialtargets: both directions exact, totals, and the rules of mixing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.operations import create, newest_first

PAGE = """query($outdialId: ID!, $status: OutdialtargetStatus, $first: Int, $after: String,
             $last: Int, $before: String) {
  outdialtargets(outdialId: $outdialId, status: $status, first: $first, after: $after,
                 last: $last, before: $before) {
    totalCount edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

Between = Callable[[], Awaitable[None]] | None


async def page(gql: GraphQLClient, **arguments: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await gql.data(PAGE, outdialId=OUTDIAL, **arguments))["outdialtargets"]
    edges = found["edges"]
    info = found["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
    return found


def ids(found: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in found["edges"]]


async def walk_forward(gql: GraphQLClient, size: int, between: Between = None) -> list[str]:
    seen: list[str] = []
    found = await page(gql, first=size)
    assert not found["pageInfo"]["hasPreviousPage"]
    while True:
        seen += ids(found)
        if not found["pageInfo"]["hasNextPage"]:
            return seen
        if between is not None:
            await between()
        found = await page(gql, first=size, after=found["pageInfo"]["endCursor"])
        assert found["pageInfo"]["hasPreviousPage"]


async def walk_backward(gql: GraphQLClient, size: int, between: Between = None) -> list[str]:
    seen: list[str] = []
    found = await page(gql, last=size)
    assert not found["pageInfo"]["hasNextPage"]
    while True:
        seen = ids(found) + seen
        if not found["pageInfo"]["hasPreviousPage"]:
            return seen
        if between is not None:
            await between()
        found = await page(gql, last=size, before=found["pageInfo"]["startCursor"])
        assert found["pageInfo"]["hasNextPage"]


async def test_both_directions_walk_the_same_sequence(gql: GraphQLClient) -> None:
    created = await create(gql, 23)
    await create(gql, 2, OTHER_OUTDIAL)
    order = newest_first(created)
    assert await walk_forward(gql, 5) == order
    assert await walk_backward(gql, 5) == order
    assert await walk_backward(gql, 100) == order


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
async def test_walks_stay_exact_while_targets_are_created_and_deleted(
    gql: GraphQLClient, backward: bool
) -> None:
    order = newest_first(await create(gql, 30))
    # Delete ahead of the walk: the oldest going forward, the newest going backward.
    doomed = iter(order if backward else order[::-1])
    deleted: set[str] = set()
    created: list[str] = []

    async def change() -> None:
        if len(deleted) < 4:  # no further than the walk has yet to go
            target_id = next(doomed)
            deleted.add(target_id)
            await gql.data(ops.DELETE, id=target_id)
        new = await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL, name="late"))
        created.insert(0, new["createOutdialtarget"]["id"])

    walk = walk_backward if backward else walk_forward
    seen = await walk(gql, 4, change)
    assert len(deleted) == 4
    survivors = [t for t in order if t not in deleted]
    # Created targets are the newest: a backward walk reaches them last, a forward one never.
    assert seen == (created + survivors if backward else survivors)


async def test_page_ends_totals_and_empty_pages(gql: GraphQLClient) -> None:
    order = newest_first(await create(gql, 5))
    first = await page(gql, first=2)
    assert ids(first) == order[:2] and first["totalCount"] == 5
    info = first["pageInfo"]
    assert (info["hasNextPage"], info["hasPreviousPage"]) == (True, False)
    middle = await page(gql, last=2, before=(await page(gql, first=4))["pageInfo"]["endCursor"])
    assert ids(middle) == order[1:3]
    assert (middle["pageInfo"]["hasNextPage"], middle["pageInfo"]["hasPreviousPage"]) == (
        True,
        True,
    )
    oldest = await page(gql, last=2)
    assert ids(oldest) == order[3:]
    after_last = await page(gql, after=oldest["pageInfo"]["endCursor"])
    assert after_last["edges"] == [] and after_last["totalCount"] == 5
    assert (after_last["pageInfo"]["hasNextPage"], after_last["pageInfo"]["hasPreviousPage"]) == (
        False,
        True,
    )
    before_first = await page(gql, before=first["pageInfo"]["startCursor"])
    assert before_first["edges"] == []
    assert (
        before_first["pageInfo"]["hasNextPage"],
        before_first["pageInfo"]["hasPreviousPage"],
    ) == (
        True,
        False,
    )
    up_to_cursor = await page(gql, before=oldest["pageInfo"]["endCursor"])
    assert ids(up_to_cursor) == order[:4]
    nothing = await gql.data(PAGE, outdialId=OTHER_OUTDIAL)
    assert nothing["outdialtargets"]["totalCount"] == 0
    assert nothing["outdialtargets"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": None,
        "endCursor": None,
    }


async def test_total_count_follows_status_and_deletes(gql: GraphQLClient) -> None:
    created = await create(gql, 4)
    await gql.data(ops.MARK, id=created[0]["id"], slot=0)
    await gql.data(ops.DELETE, id=created[1]["id"])
    assert (await page(gql))["totalCount"] == 3
    assert (await page(gql, status="PROGRESSING"))["totalCount"] == 1
    assert (await page(gql, status="IDLE", last=1))["totalCount"] == 2


async def test_without_first_or_last_a_page_holds_100(gql: GraphQLClient) -> None:
    order = newest_first(await create(gql, 101))
    assert ids(await page(gql)) == order[:100]
    assert (
        ids(await page(gql, before=(await page(gql, last=1))["pageInfo"]["startCursor"]))
        == (order[:100])
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"first": 2, "last": 2}, "first"),
        ({"first": 2, "before": "CURSOR"}, "first"),
        ({"last": 2, "after": "CURSOR"}, "after"),
        ({"after": "CURSOR", "before": "CURSOR"}, "after"),
        ({"last": 0}, "last"),
        ({"last": 101}, "last"),
        ({"first": 0}, "first"),
        ({"before": "not-a-cursor"}, "before"),
    ],
)
async def test_bad_paging_arguments_are_bad_user_input(
    gql: GraphQLClient, arguments: dict[str, Any], field: str
) -> None:
    await create(gql, 1)
    cursor = (await page(gql, first=1))["pageInfo"]["endCursor"]
    given = {name: cursor if value == "CURSOR" else value for name, value in arguments.items()}
    error = await gql.error(PAGE, outdialId=OUTDIAL, **given)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
