"""Walking the newest-first listing page by page."""

from __future__ import annotations

import base64

import pytest

from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.operations import create, newest_first


async def walk(gql: GraphQLClient, first: int, between=None, **filters) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = (await gql.data(ops.LIST, outdialId=OUTDIAL, first=first, after=after, **filters))[
            "outdialtargets"
        ]
        assert len(page["edges"]) <= first
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if page["edges"]:
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        if between is not None:
            await between()


async def test_walk_250_targets_in_pages_of_7(gql: GraphQLClient) -> None:
    created = await create(gql, 250)
    await create(gql, 3, OTHER_OUTDIAL)
    assert await walk(gql, 7) == newest_first(created)


async def test_walk_stays_correct_while_targets_are_created(gql: GraphQLClient) -> None:
    created = await create(gql, 250)

    async def create_one() -> None:
        await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL, name="late"))

    assert await walk(gql, 7, between=create_one) == newest_first(created)


async def test_walk_stays_correct_while_targets_are_deleted(gql: GraphQLClient) -> None:
    created = await create(gql, 40)
    order = newest_first(created)
    doomed = iter(order[::-1])
    deleted: set[str] = set()

    async def delete_oldest() -> None:
        target_id = next(doomed)
        deleted.add(target_id)
        await gql.data(ops.DELETE, id=target_id)

    seen = await walk(gql, 5, between=delete_oldest)
    assert deleted
    assert seen == [t for t in order if t not in deleted]


async def test_filter_by_status(gql: GraphQLClient) -> None:
    created = await create(gql, 12)
    marked = [t["id"] for t in created[:5]]
    for target_id in marked:
        await gql.data(ops.MARK, id=target_id, slot=0)
    progressing = await walk(gql, 2, status="PROGRESSING")
    assert sorted(progressing) == sorted(marked)
    assert len(await walk(gql, 100, status="IDLE")) == 7
    assert await walk(gql, 100, status="DONE") == []


async def test_empty_listing(gql: GraphQLClient) -> None:
    page = (await gql.data(ops.LIST, outdialId=OUTDIAL))["outdialtargets"]
    assert page == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        base64.urlsafe_b64encode(b"2022-01-01 00:00:00.000000|" + b"0" * 36).decode(),
    ],
)
async def test_forged_cursor_is_bad_user_input(gql: GraphQLClient, cursor: str) -> None:
    error = await gql.error(ops.LIST, outdialId=OUTDIAL, after=cursor)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in error["message"]


async def test_tampered_cursor_is_bad_user_input(gql: GraphQLClient) -> None:
    await create(gql, 3)
    page = (await gql.data(ops.LIST, outdialId=OUTDIAL, first=1))["outdialtargets"]
    raw = bytearray(base64.urlsafe_b64decode(page["pageInfo"]["endCursor"] + "=="))
    raw[-1] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    error = await gql.error(ops.LIST, outdialId=OUTDIAL, after=tampered)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
