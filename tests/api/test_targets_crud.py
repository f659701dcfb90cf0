"""Create, get, update, delete and counts: the success paths and what they store."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments

NOT_DELETED = "9999-01-01 00:00:00.000000"
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")
MISSING = "00000000-0000-4000-8000-000000000000"
AGENT_ID = "0f8e4c1a-7b2d-4e5f-9a3c-1d2e3f4a5b6c"
STATUSES = ["IDLE", "PROGRESSING", "DONE"]

FULL_INPUT: dict[str, Any] = {
    "outdialId": OUTDIAL,
    "name": "Kim Minji",
    "detail": "prefers mornings",
    "data": '{"crm": 42}',
    "destination0": {
        "type": "TEL",
        "target": "+821100000001",
        "targetName": "mobile",
        "name": "Minji",
        "detail": "personal",
    },
    "destination1": {"type": "SIP", "target": "sip:minji@pbx.example.com", "name": "desk"},
    "destination2": {"type": "EMAIL", "target": "minji@example.com"},
    "destination3": {"type": "AGENT", "target": AGENT_ID, "detail": "her agent"},
    "destination4": {"type": "WHATSAPP", "target": "+821100000005", "targetName": "wa"},
}


def address_out(value: dict[str, Any]) -> dict[str, Any]:
    return {"targetName": "", "name": "", "detail": "", **value}


def address_doc(value: dict[str, Any]) -> dict[str, Any]:
    full = address_out(value)
    return {
        "type": full["type"].lower(),
        "target": full["target"],
        "target_name": full["targetName"],
        "name": full["name"],
        "detail": full["detail"],
    }


def utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


async def create(gql: GraphQLClient, **fields: Any) -> dict[str, Any]:
    result = await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL, **fields))
    created: dict[str, Any] = result["createOutdialtarget"]
    return created


async def get(gql: GraphQLClient, target_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await gql.data(ops.GET, id=target_id))["outdialtarget"]
    return found


async def target_in(gql: GraphQLClient, status: str, outdial: str = OUTDIAL) -> dict[str, Any]:
    result = await gql.data(ops.CREATE, input=ops.new_input(outdial))
    target: dict[str, Any] = result["createOutdialtarget"]
    if status in ("PROGRESSING", "DONE"):
        target = (await gql.data(ops.MARK, id=target["id"], slot=0))["markOutdialtargetProgressing"]
    if status == "DONE":
        target = (await gql.data(ops.REPORT, id=target["id"], status="DONE"))[
            "updateOutdialtargetStatus"
        ]
    return target


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {key for key in before if before[key] != after[key]}


# --- create --------------------------------------------------------------------------------


async def test_create_echoes_every_field_and_stores_the_resource_shape(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    earliest = utc_text(datetime.now(UTC) - timedelta(seconds=1))
    created = (await gql.data(ops.CREATE, input=FULL_INPUT))["createOutdialtarget"]
    latest = utc_text(datetime.now(UTC) + timedelta(seconds=1))

    assert created["outdialId"] == OUTDIAL
    for field in ("name", "detail", "data"):
        assert created[field] == FULL_INPUT[field]
    for slot in range(5):
        assert created[f"destination{slot}"] == address_out(FULL_INPUT[f"destination{slot}"])
        assert created[f"tryCount{slot}"] == 0
    assert created["status"] == "IDLE"
    assert TIME.fullmatch(created["tmCreate"]), created["tmCreate"]
    assert earliest <= created["tmCreate"] <= latest, "tmCreate is the current UTC time"
    assert created["tmUpdate"] == created["tmCreate"]
    assert created["tmDelete"] == NOT_DELETED
    parsed = uuid.UUID(created["id"])
    assert parsed.version == 4 and created["id"] == str(parsed)
    assert await get(gql, created["id"]) == created

    stored = await docs.get(created["id"])
    expected = {
        "_id": created["id"],
        "id": created["id"],
        "outdial_id": OUTDIAL,
        "name": "Kim Minji",
        "detail": "prefers mornings",
        "data": '{"crm": 42}',
        "status": "idle",
        **{f"destination_{i}": address_doc(FULL_INPUT[f"destination{i}"]) for i in range(5)},
        **{f"try_count_{i}": 0 for i in range(5)},
        "tm_create": created["tmCreate"],
        "tm_update": created["tmCreate"],
        "tm_delete": NOT_DELETED,
        "time_zone": "Asia/Seoul",  # derived from destination0's number
    }
    assert stored == expected


async def test_create_defaults(gql: GraphQLClient) -> None:
    created = await create(gql)
    assert (created["name"], created["detail"], created["data"]) == ("", "", "")
    assert created["destination0"] == address_out(ops.tel())
    assert [created[f"destination{i}"] for i in range(1, 5)] == [None] * 4


async def test_each_create_gets_its_own_random_id(gql: GraphQLClient) -> None:
    ids = {(await create(gql))["id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(uuid.UUID(target_id).version == 4 for target_id in ids)


# --- get -----------------------------------------------------------------------------------


async def test_get_unknown_id_is_null(gql: GraphQLClient) -> None:
    await create(gql)
    body = await gql.execute(ops.GET, id=MISSING)
    assert body == {"data": {"outdialtarget": None}}


async def test_get_deleted_target_shows_tm_delete(gql: GraphQLClient) -> None:
    created = await create(gql, name="gone")
    deleted = (await gql.data(ops.DELETE, id=created["id"]))["deleteOutdialtarget"]
    found = await get(gql, created["id"])
    assert found == deleted
    assert found is not None and found["tmDelete"] != NOT_DELETED and found["name"] == "gone"


# --- update --------------------------------------------------------------------------------

UPDATES = [
    pytest.param({"name": "new name"}, id="name"),
    pytest.param({"name": ""}, id="name-empty"),
    pytest.param({"detail": "new detail"}, id="detail"),
    pytest.param({"data": "new data"}, id="data"),
    pytest.param({"destination0": ops.tel("+821199999999", name="home")}, id="destination0"),
    pytest.param({"destination1": None}, id="destination1-null"),
    pytest.param({"destination2": {"type": "EMAIL", "target": "a@b.example"}}, id="destination2"),
    pytest.param({"destination3": {"type": "LINE", "target": AGENT_ID}}, id="destination3"),
    pytest.param({"destination4": {"type": "SIP", "target": "x@y"}}, id="destination4"),
]


@pytest.mark.parametrize("change", UPDATES)
async def test_update_changes_only_the_named_field(
    gql: GraphQLClient, change: dict[str, Any]
) -> None:
    before = await create(
        gql, name="old", detail="d", data="x", destination1=ops.tel("+821100000002")
    )
    updated = (await gql.data(ops.UPDATE, id=before["id"], input=change))["updateOutdialtarget"]
    assert updated == await get(gql, before["id"])
    (field, value) = next(iter(change.items()))
    expected = value if not field.startswith("destination") or value is None else address_out(value)
    assert updated[field] == expected
    assert changed_fields(before, updated) <= {field, "tmUpdate"}
    assert updated["tmUpdate"] > before["tmUpdate"]
    assert updated["tmCreate"] == before["tmCreate"]


@pytest.mark.parametrize("field", ["name", "detail", "data"])
async def test_explicit_null_text_leaves_it_unchanged(gql: GraphQLClient, field: str) -> None:
    before = await create(gql, name="n", detail="d", data="x")
    updated = (await gql.data(ops.UPDATE, id=before["id"], input={field: None}))[
        "updateOutdialtarget"
    ]
    assert updated[field] == before[field]
    assert changed_fields(before, updated) == {"tmUpdate"}
    assert updated["tmUpdate"] > before["tmUpdate"]


async def test_empty_update_is_accepted_and_moves_tm_update(gql: GraphQLClient) -> None:
    before = await create(gql)
    updated = (await gql.data(ops.UPDATE, id=before["id"], input={}))["updateOutdialtarget"]
    assert changed_fields(before, updated) == {"tmUpdate"}
    assert updated["tmUpdate"] > before["tmUpdate"]


async def test_every_accepted_update_moves_tm_update_forward(gql: GraphQLClient) -> None:
    current = await create(gql)
    changes: list[dict[str, Any]] = [
        {"name": "a"},
        {"name": "a"},
        {"detail": None},
        {"destination2": ops.tel("+821100000003")},
        {"destination2": None},
        {},
    ]
    for change in changes:
        updated = (await gql.data(ops.UPDATE, id=current["id"], input=change))[
            "updateOutdialtarget"
        ]
        assert updated["tmUpdate"] > current["tmUpdate"], change
        assert TIME.fullmatch(updated["tmUpdate"])
        current = updated


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"destination0": None}, id="null"),
        pytest.param({"destination0": {"type": "NONE", "target": ""}}, id="none-address"),
        pytest.param({"name": "x", "destination0": None, "destination3": None}, id="with-name"),
    ],
)
async def test_update_that_leaves_no_destination_is_refused(
    gql: GraphQLClient, change: dict[str, Any]
) -> None:
    before = await create(gql)
    error = await gql.error(ops.UPDATE, id=before["id"], input=change)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "destination" in error["message"]
    assert await get(gql, before["id"]) == before


async def test_update_may_move_the_only_destination(gql: GraphQLClient) -> None:
    before = await create(gql)
    change = {"destination0": None, "destination4": ops.tel("+821100000009")}
    updated = (await gql.data(ops.UPDATE, id=before["id"], input=change))["updateOutdialtarget"]
    assert updated["destination0"] is None
    assert updated["destination4"] == address_out(ops.tel("+821100000009"))


@pytest.mark.parametrize("status", ["PROGRESSING", "DONE"])
@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"destination1": ops.tel("+821100000002")}, id="fill-slot"),
        pytest.param({"destination0": ops.tel("+821100000002")}, id="replace"),
        pytest.param({"destination3": None}, id="null-empty-slot"),
        pytest.param({"name": "also renamed", "destination0": None}, id="with-name"),
    ],
)
async def test_destinations_change_only_while_idle(
    gql: GraphQLClient, docs: RawDocuments, status: str, change: dict[str, Any]
) -> None:
    before = await target_in(gql, status)
    raw_before = await docs.get(before["id"])
    error = await gql.error(ops.UPDATE, id=before["id"], input=change)
    assert error["extensions"] == {"code": "INVALID_STATE", "status": status}
    assert await get(gql, before["id"]) == before
    assert await docs.get(before["id"]) == raw_before


@pytest.mark.parametrize("status", STATUSES)
async def test_texts_change_in_any_status(gql: GraphQLClient, status: str) -> None:
    before = await target_in(gql, status)
    change = {"name": "n2", "detail": "d2", "data": "x2"}
    updated = (await gql.data(ops.UPDATE, id=before["id"], input=change))["updateOutdialtarget"]
    assert {key: updated[key] for key in change} == change
    assert changed_fields(before, updated) == {*change, "tmUpdate"}
    assert updated["status"] == status
    assert updated["tmUpdate"] > before["tmUpdate"]


# --- delete --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
async def test_delete_marks_the_target_and_keeps_its_status(
    gql: GraphQLClient, status: str
) -> None:
    before = await target_in(gql, status)
    deleted = (await gql.data(ops.DELETE, id=before["id"]))["deleteOutdialtarget"]
    assert deleted["status"] == status
    assert deleted["tmDelete"] != NOT_DELETED
    assert TIME.fullmatch(deleted["tmDelete"])
    assert deleted["tmDelete"] == deleted["tmUpdate"]
    assert deleted["tmUpdate"] > before["tmUpdate"]
    assert changed_fields(before, deleted) == {"tmUpdate", "tmDelete"}
    assert await get(gql, before["id"]) == deleted

    again = (await gql.data(ops.DELETE, id=before["id"].upper()))["deleteOutdialtarget"]
    assert again == deleted
    assert await get(gql, before["id"]) == deleted


async def test_delete_unknown_id_is_not_found(gql: GraphQLClient) -> None:
    error = await gql.error(ops.DELETE, id=MISSING)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await get(gql, MISSING) is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"name": "back"}, id="name"),
        pytest.param({"destination1": ops.tel("+821100000002")}, id="destination"),
        pytest.param({}, id="empty"),
    ],
)
async def test_update_of_deleted_target_is_not_found(
    gql: GraphQLClient, change: dict[str, Any]
) -> None:
    target = await create(gql)
    deleted = (await gql.data(ops.DELETE, id=target["id"]))["deleteOutdialtarget"]
    error = await gql.error(ops.UPDATE, id=target["id"], input=change)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await get(gql, target["id"]) == deleted


async def test_update_of_unknown_id_is_not_found(gql: GraphQLClient) -> None:
    error = await gql.error(ops.UPDATE, id=MISSING, input={"name": "x"})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await get(gql, MISSING) is None


async def test_deleted_targets_leave_listing_and_counts(gql: GraphQLClient) -> None:
    kept = await create(gql, name="kept")
    gone = await create(gql, name="gone")
    await gql.data(ops.DELETE, id=gone["id"])
    listing = (await gql.data(ops.LIST, outdialId=OUTDIAL))["outdialtargets"]
    assert [edge["node"]["id"] for edge in listing["edges"]] == [kept["id"]]
    counts = (await gql.data(ops.COUNTS, outdialId=OUTDIAL))["outdialtargetCounts"]
    assert counts == {"idle": 1, "progressing": 0, "done": 0, "total": 1}


# --- counts --------------------------------------------------------------------------------


async def test_counts_by_status_of_one_outdial(gql: GraphQLClient) -> None:
    empty = (await gql.data(ops.COUNTS, outdialId=OUTDIAL))["outdialtargetCounts"]
    assert empty == {"idle": 0, "progressing": 0, "done": 0, "total": 0}
    wanted = {"IDLE": 3, "PROGRESSING": 2, "DONE": 1}
    for status, number in wanted.items():
        for _ in range(number):
            await target_in(gql, status)
        deleted = await target_in(gql, status)
        await gql.data(ops.DELETE, id=deleted["id"])
    await target_in(gql, "IDLE", OTHER_OUTDIAL)
    await target_in(gql, "DONE", OTHER_OUTDIAL)

    counts = (await gql.data(ops.COUNTS, outdialId=OUTDIAL))["outdialtargetCounts"]
    assert counts == {"idle": 3, "progressing": 2, "done": 1, "total": 6}
    other = (await gql.data(ops.COUNTS, outdialId=OTHER_OUTDIAL))["outdialtargetCounts"]
    assert other == {"idle": 1, "progressing": 0, "done": 1, "total": 2}
    unknown = (await gql.data(ops.COUNTS, outdialId=MISSING))["outdialtargetCounts"]
    assert unknown == {"idle": 0, "progressing": 0, "done": 0, "total": 0}


# --- several mutations in one request ------------------------------------------------------

IN_ORDER = """mutation($id: ID!, $input: CreateOutdialtargetInput!) {
  first: updateOutdialtarget(id: $id, input: {name: "one"}) { name status tmUpdate }
  mark: markOutdialtargetProgressing(id: $id, destinationIndex: 0) { status tryCount0 tmUpdate }
  second: updateOutdialtarget(id: $id, input: {name: "two"}) { name status tmUpdate }
  done: updateOutdialtargetStatus(id: $id, status: DONE) { name status tmUpdate }
  created: createOutdialtarget(input: $input) { id tmCreate }
}"""

FAILS_IN_THE_MIDDLE = """mutation($id: ID!, $input: CreateOutdialtargetInput!) {
  created: createOutdialtarget(input: $input) { id }
  renamed: updateOutdialtarget(id: $id, input: {name: "kept"}) { name }
  refused: updateOutdialtarget(id: $id, input: {destination0: null}) { name }
}"""


async def test_mutations_in_one_request_run_in_order(gql: GraphQLClient) -> None:
    target = await create(gql)
    data = await gql.data(IN_ORDER, id=target["id"], input=ops.new_input(OUTDIAL, name="later"))
    assert (data["first"]["name"], data["first"]["status"]) == ("one", "IDLE")
    assert (data["mark"]["status"], data["mark"]["tryCount0"]) == ("PROGRESSING", 1)
    assert (data["second"]["name"], data["second"]["status"]) == ("two", "PROGRESSING")
    assert (data["done"]["name"], data["done"]["status"]) == ("two", "DONE")
    times = [data[step]["tmUpdate"] for step in ("first", "mark", "second", "done")]
    assert times == sorted(set(times)), "each step wrote after the one before"
    assert data["created"]["tmCreate"] > times[-1]
    final = await get(gql, target["id"])
    assert final is not None
    assert (final["name"], final["status"], final["tmUpdate"]) == ("two", "DONE", times[-1])


async def test_a_failing_mutation_does_not_undo_earlier_ones(gql: GraphQLClient) -> None:
    target = await target_in(gql, "PROGRESSING")
    body = await gql.execute(
        FAILS_IN_THE_MIDDLE, id=target["id"], input=ops.new_input(OUTDIAL, name="made first")
    )
    errors = body["errors"]
    assert len(errors) == 1
    assert errors[0]["path"] == ["refused"]
    assert errors[0]["extensions"] == {"code": "INVALID_STATE", "status": "PROGRESSING"}

    after = await get(gql, target["id"])
    assert after is not None and after["name"] == "kept"
    assert after["destination0"] == target["destination0"]
    listing = (await gql.data(ops.LIST, outdialId=OUTDIAL))["outdialtargets"]
    assert "made first" in [edge["node"]["name"] for edge in listing["edges"]]
