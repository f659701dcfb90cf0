"""Every (from, to) status pair, allowed and refused, and what is stored afterwards."""

from __future__ import annotations

import pytest

from domain.models import MAX_TRY_COUNT
from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.documents import stored_document, tid

STATUSES = ["IDLE", "PROGRESSING", "DONE"]


async def target_in(gql: GraphQLClient, status: str) -> dict:
    created = (await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL)))["createOutdialtarget"]
    if status in ("PROGRESSING", "DONE"):
        await gql.data(ops.MARK, id=created["id"], slot=0)
    if status == "DONE":
        await gql.data(ops.REPORT, id=created["id"], status="DONE")
    return (await gql.data(ops.GET, id=created["id"]))["outdialtarget"]


async def stored(gql: GraphQLClient, target_id: str) -> dict:
    return (await gql.data(ops.GET, id=target_id))["outdialtarget"]


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("to", STATUSES)
async def test_update_status_pairs(gql: GraphQLClient, start: str, to: str) -> None:
    before = await target_in(gql, start)
    body = await gql.execute(ops.REPORT, id=before["id"], status=to)
    after = await stored(gql, before["id"])
    if (start, to) in {("PROGRESSING", "IDLE"), ("PROGRESSING", "DONE")}:
        assert body["data"]["updateOutdialtargetStatus"]["status"] == to
        assert after["status"] == to
        assert after["tmUpdate"] > before["tmUpdate"]
        assert after["tryCount0"] == before["tryCount0"]
    else:
        error = body["errors"][0]
        assert error["extensions"] == {"code": "INVALID_STATE", "status": start}
        assert after == before


@pytest.mark.parametrize("start", STATUSES)
async def test_mark_progressing_only_from_idle(gql: GraphQLClient, start: str) -> None:
    before = await target_in(gql, start)
    body = await gql.execute(ops.MARK, id=before["id"], slot=0)
    after = await stored(gql, before["id"])
    if start == "IDLE":
        marked = body["data"]["markOutdialtargetProgressing"]
        assert marked == after
        assert after["status"] == "PROGRESSING"
        assert after["tryCount0"] == before["tryCount0"] + 1
        assert after["tmUpdate"] > before["tmUpdate"]
    else:
        assert body["errors"][0]["extensions"] == {"code": "INVALID_STATE", "status": start}
        assert after == before


async def test_failed_attempt_returns_to_idle_and_can_be_retried(gql: GraphQLClient) -> None:
    target = await target_in(gql, "IDLE")
    await gql.data(ops.MARK, id=target["id"], slot=0)
    await gql.data(ops.REPORT, id=target["id"], status="IDLE")
    again = (await gql.data(ops.MARK, id=target["id"], slot=0))["markOutdialtargetProgressing"]
    assert again["status"] == "PROGRESSING"
    assert again["tryCount0"] == 2


async def test_mark_raises_only_the_named_slot(gql: GraphQLClient) -> None:
    created = await gql.data(
        ops.CREATE, input=ops.new_input(OUTDIAL, destination3=ops.tel("+821100000004"))
    )
    target_id = created["createOutdialtarget"]["id"]
    marked = (await gql.data(ops.MARK, id=target_id, slot=3))["markOutdialtargetProgressing"]
    counts = [marked[f"tryCount{i}"] for i in range(5)]
    assert counts == [0, 0, 0, 1, 0]


async def test_mark_on_empty_slot_is_bad_input_and_writes_nothing(gql: GraphQLClient) -> None:
    before = await target_in(gql, "IDLE")
    error = await gql.error(ops.MARK, id=before["id"], slot=2)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "destinationIndex" in error["message"]
    assert await stored(gql, before["id"]) == before


@pytest.mark.parametrize("slot", [-1, 5])
async def test_mark_slot_out_of_range(gql: GraphQLClient, slot: int) -> None:
    before = await target_in(gql, "IDLE")
    error = await gql.error(ops.MARK, id=before["id"], slot=slot)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "destinationIndex" in error["message"]
    assert await stored(gql, before["id"]) == before


async def test_checks_run_in_order_format_before_existence(gql: GraphQLClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    error = await gql.error(ops.MARK, id=missing, slot=9)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await gql.error(ops.MARK, id=missing, slot=1)
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_status_before_slot_rule(gql: GraphQLClient) -> None:
    done = await target_in(gql, "DONE")
    error = await gql.error(ops.MARK, id=done["id"], slot=4)
    assert error["extensions"] == {"code": "INVALID_STATE", "status": "DONE"}


@pytest.mark.parametrize("operation", ["mark", "report"])
async def test_deleted_targets_take_no_transition(gql: GraphQLClient, operation: str) -> None:
    target = await target_in(gql, "PROGRESSING")
    deleted = (await gql.data(ops.DELETE, id=target["id"]))["deleteOutdialtarget"]
    if operation == "mark":
        error = await gql.error(ops.MARK, id=target["id"], slot=0)
    else:
        error = await gql.error(ops.REPORT, id=target["id"], status="DONE")
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await stored(gql, target["id"]) == deleted
    assert deleted["status"] == "PROGRESSING"


async def test_mark_refuses_a_slot_at_the_most_tries_a_target_counts(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await docs.insert(stored_document(tid(1), try_count_0=MAX_TRY_COUNT))
    error = await gql.error(ops.MARK, id=tid(1), slot=0)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "destinationIndex" in error["message"]
    after = await stored(gql, tid(1))
    assert (after["status"], after["tryCount0"]) == ("IDLE", MAX_TRY_COUNT)
