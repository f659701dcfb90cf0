"""Many callers at once: no target handed out twice, exactly one winner per transition."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient


async def create_targets(gql: GraphQLClient, count: int) -> list[str]:
    inputs = [ops.new_input(OUTDIAL, name=f"t{n}") for n in range(count)]
    created = await gql.data(ops.CREATE_MANY, inputs=inputs)
    return [t["id"] for t in created["createOutdialtargets"]]


async def test_50_concurrent_claims_over_20_targets(gql: GraphQLClient) -> None:
    ids = await create_targets(gql, 20)
    results = await asyncio.gather(
        *(gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[1]) for _ in range(50))
    )
    claimed = [r["claimOutdialtarget"] for r in results]
    won = [c["target"]["id"] for c in claimed if c is not None]
    assert sorted(won) == sorted(ids)
    assert claimed.count(None) == 30
    counts = await gql.data(ops.COUNTS, outdialId=OUTDIAL)
    assert counts["outdialtargetCounts"] == {"idle": 0, "progressing": 20, "done": 0, "total": 20}
    for target_id in ids:
        stored = (await gql.data(ops.GET, id=target_id))["outdialtarget"]
        assert stored["tryCount0"] == 1


async def test_20_concurrent_marks_on_one_target(gql: GraphQLClient) -> None:
    (target_id,) = await create_targets(gql, 1)
    bodies = await asyncio.gather(*(gql.execute(ops.MARK, id=target_id, slot=0) for _ in range(20)))
    outcomes = Counter(
        "ok" if body.get("data") else body["errors"][0]["extensions"]["code"] for body in bodies
    )
    assert outcomes == {"ok": 1, "INVALID_STATE": 19}
    stored = (await gql.data(ops.GET, id=target_id))["outdialtarget"]
    assert stored["status"] == "PROGRESSING"
    assert stored["tryCount0"] == 1


async def test_concurrent_done_and_idle_reports_have_one_winner(gql: GraphQLClient) -> None:
    (target_id,) = await create_targets(gql, 1)
    await gql.data(ops.MARK, id=target_id, slot=0)
    reports = ["DONE", "IDLE"] * 10
    bodies = await asyncio.gather(
        *(gql.execute(ops.REPORT, id=target_id, status=status) for status in reports)
    )
    winners = [
        body["data"]["updateOutdialtargetStatus"]["status"] for body in bodies if body.get("data")
    ]
    assert len(winners) == 1
    stored = (await gql.data(ops.GET, id=target_id))["outdialtarget"]
    assert stored["status"] == winners[0]
