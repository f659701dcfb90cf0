"""outdials: the outdials with live targets, by id, each with its counts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import GraphQLClient
from tests.support.backends import Backend
from tests.support.operations import create

OUTDIALS = """query($first: Int! = 100, $after: String) {
  outdials(first: $first, after: $after) {
    edges { cursor node { outdialId counts { idle progressing done total } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
LIST_ONE = """query($outdialId: ID!) {
  outdialtargets(outdialId: $outdialId, first: 1) { pageInfo { endCursor } } }"""

A, B, C, GONE = (f"{n}0000000-0000-4000-8000-000000000000" for n in range(1, 5))


def counts(idle: int, progressing: int = 0) -> dict[str, int]:
    total = idle + progressing
    return {"idle": idle, "progressing": progressing, "done": 0, "total": total}


async def outdials(gql: GraphQLClient, **arguments: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await gql.data(OUTDIALS, **arguments))["outdials"]
    return found


async def test_outdials_with_live_targets_by_id_with_counts(gql: GraphQLClient) -> None:
    assert (await outdials(gql))["edges"] == []
    for outdial, count in ((C, 1), (A, 3), (B, 2)):
        await create(gql, count, outdial)
    (gone,) = await create(gql, 1, GONE)
    await gql.data(ops.DELETE, id=gone["id"])
    marked = (await create(gql, 1, A))[0]
    await gql.data(ops.MARK, id=marked["id"], slot=0)
    found = await outdials(gql)
    assert [edge["node"] for edge in found["edges"]] == [
        {"outdialId": A, "counts": counts(3, 1)},
        {"outdialId": B, "counts": counts(2)},
        {"outdialId": C, "counts": counts(1)},
    ]
    assert found["pageInfo"]["hasNextPage"] is False


async def test_counts_are_read_only_when_asked_for(
    gql: GraphQLClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    for outdial in (A, B, C):
        await create(gql, 1, outdial)
    repository = backend.storage.repository
    count_by_status = repository.count_by_status
    reads = 0

    async def counted(**arguments: Any) -> Any:
        nonlocal reads
        reads += 1
        return await count_by_status(**arguments)

    monkeypatch.setattr(repository, "count_by_status", counted)
    for _ in range(2):
        ids_only = (await gql.data("{ outdials { edges { node { outdialId } } } }"))["outdials"]
        assert [edge["node"]["outdialId"] for edge in ids_only["edges"]] == [A, B, C]
        assert reads == 0
    assert [edge["node"]["counts"] for edge in (await outdials(gql))["edges"]] == [counts(1)] * 3
    assert reads == 3
    for counted_below in (
        "{ outdials { edges { node { progress: counts { idle total } } } } }",
        "{ outdials { ...Page } } fragment Page on OutdialSummaryConnection { edges { node { "
        "...Node } } } fragment Node on OutdialSummary { progress: counts { idle total } }",
        "{ outdials { edges { ... on OutdialSummaryEdge { node { ... { progress: counts { "
        "idle total } } } } } } }",
    ):
        for _ in range(2):  # the second time on the direct path (engine.direct_query)
            reads = 0
            found = (await gql.data(counted_below))["outdials"]["edges"]
            assert [edge["node"]["progress"] for edge in found] == [{"idle": 1, "total": 1}] * 3
            assert reads == 3


async def test_walk_outdials_one_at_a_time(gql: GraphQLClient) -> None:
    for outdial in (A, B, C):
        await create(gql, 1, outdial)
    seen = []
    after = None
    previous = False
    while True:
        found = await outdials(gql, first=1, after=after)
        seen += [edge["node"]["outdialId"] for edge in found["edges"]]
        assert found["pageInfo"]["hasPreviousPage"] is previous
        after, previous = found["pageInfo"]["endCursor"], True
        if not found["pageInfo"]["hasNextPage"]:
            break
    assert seen == [A, B, C]
    last = await outdials(gql, after=after)
    assert last["edges"] == [] and last["pageInfo"]["hasPreviousPage"] is True


@pytest.mark.parametrize("arguments", [{"first": 0}, {"first": 101}, {"after": "nope"}])
async def test_bad_arguments_are_bad_user_input(
    gql: GraphQLClient, arguments: dict[str, Any]
) -> None:
    error = await gql.error(OUTDIALS, **arguments)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_target_listing_cursor_is_not_an_outdial_cursor(gql: GraphQLClient) -> None:
    await create(gql, 1, A)
    cursor = (await gql.data(LIST_ONE, outdialId=A))["outdialtargets"]["pageInfo"]["endCursor"]
    error = await gql.error(OUTDIALS, after=cursor)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}
