"""Documents written by another program: read back as they are, and never rewritten."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

import bson
import pytest
from bson.int64 import Int64

from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import Backend, RawDocuments

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")
EXAMPLE_ID = "1b3d7a92-7146-466d-90f5-4bc701ada4c0"
LENIENT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
NONE_ID = "9f1c2d3e-4b5a-4c6d-8e7f-a0b1c2d3e4f5"

# The example document of DOMAIN.md, byte for byte.
EXAMPLE: dict[str, Any] = {
    "_id": EXAMPLE_ID,
    "id": EXAMPLE_ID,
    "outdial_id": OUTDIAL,
    "name": "test destination 0",
    "detail": "test detatination 0 detail",
    "data": "test data",
    "status": "done",
    "destination_0": {
        "type": "tel",
        "target": "+821100000001",
        "target_name": "",
        "name": "",
        "detail": "",
    },
    "destination_1": None,
    "destination_2": None,
    "destination_3": None,
    "destination_4": None,
    "try_count_0": 1,
    "try_count_1": 0,
    "try_count_2": 0,
    "try_count_3": 0,
    "try_count_4": 0,
    "tm_create": "2022-04-30 17:52:16.484341",
    "tm_update": "2022-04-30 17:53:51.183345",
    "tm_delete": "9999-01-01 00:00:00.000000",
}

EXAMPLE_AS_API = {
    "id": EXAMPLE_ID,
    "outdialId": OUTDIAL,
    "name": "test destination 0",
    "detail": "test detatination 0 detail",
    "data": "test data",
    "status": "DONE",
    "destination0": {
        "type": "TEL",
        "target": "+821100000001",
        "targetName": "",
        "name": "",
        "detail": "",
    },
    "destination1": None,
    "destination2": None,
    "destination3": None,
    "destination4": None,
    "tryCount0": 1,
    "tryCount1": 0,
    "tryCount2": 0,
    "tryCount3": 0,
    "tryCount4": 0,
    "tmCreate": "2022-04-30 17:52:16.484341",
    "tmUpdate": "2022-04-30 17:53:51.183345",
    "tmDelete": "9999-01-01 00:00:00.000000",
}


def with_unknown_fields(status: str, *, json_only: bool = False) -> dict[str, Any]:
    """The example with fields and value types the service does not know about (the embedded
    store keeps JSON documents, so `json_only` leaves out BSON's own types)."""
    doc = copy.deepcopy(EXAMPLE)
    doc["status"] = status
    doc["destination_0"]["extension"] = "1234"
    doc["destination_2"] = {"type": "", "target": "", "target_name": "", "name": "", "detail": ""}
    doc["try_count_1"] = Int64(0)
    doc["priority"] = Int64(3)
    doc["tags"] = ["vip", "kr"]
    doc["meta"] = {"source": "crm", "imported": True, "score": 1.5, "note": None}
    doc["imported_at"] = datetime(2022, 4, 30, 17, 52, 16, 484000)
    if json_only:
        doc |= {"try_count_1": 0, "priority": 3, "imported_at": "2022-04-30T17:52:16.484"}
    return doc


async def insert(docs: RawDocuments, doc: dict[str, Any]) -> None:
    await docs.insert(copy.deepcopy(doc))


async def raw(docs: RawDocuments, target_id: str) -> dict[str, Any]:
    doc = await docs.get(target_id)
    assert doc is not None
    return doc


async def get(gql: GraphQLClient, target_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await gql.data(ops.GET, id=target_id))["outdialtarget"]
    return found


def assert_only_changed(before: dict[str, Any], after: dict[str, Any], fields: set[str]) -> None:
    """Every other field keeps its value, its BSON type and its place in the document."""
    assert {key for key in after if key not in before or before[key] != after[key]} == fields
    expected = dict(before)
    for field in (key for key in after if key in fields):
        expected[field] = after[field]
    assert list(after) == list(expected)
    assert bson.encode(after) == bson.encode(expected)
    assert TIME.fullmatch(after["tm_update"])
    assert after["tm_update"] > before["tm_update"]


# --- reading -------------------------------------------------------------------------------


async def test_example_document_reads_back_unchanged(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await insert(docs, EXAMPLE)
    assert await get(gql, EXAMPLE_ID) == EXAMPLE_AS_API
    assert await get(gql, EXAMPLE_ID.upper()) == EXAMPLE_AS_API
    listing = (await gql.data(ops.LIST, outdialId=OUTDIAL))["outdialtargets"]
    assert [edge["node"] for edge in listing["edges"]] == [EXAMPLE_AS_API]
    counts = (await gql.data(ops.COUNTS, outdialId=OUTDIAL))["outdialtargetCounts"]
    assert counts == {"idle": 0, "progressing": 0, "done": 1, "total": 1}
    assert await raw(docs, EXAMPLE_ID) == EXAMPLE, "reading wrote nothing"


async def test_example_document_lists_among_api_created_ones(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    created = (await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL)))["createOutdialtarget"]
    await insert(docs, EXAMPLE)
    listing = (await gql.data(ops.LIST, outdialId=OUTDIAL))["outdialtargets"]
    assert [edge["node"]["id"] for edge in listing["edges"]] == [created["id"], EXAMPLE_ID]


LENIENT: dict[str, Any] = {
    "_id": LENIENT_ID,
    "id": LENIENT_ID,
    "outdial_id": OUTDIAL,
    "name": "sparse",
    "detail": "",
    "data": "",
    "status": "idle",
    "destination_0": {"type": "sip", "target": "alice@pbx.example.com"},
    "destination_1": {"type": "tel"},
    "destination_3": None,
    "destination_4": {"target": "+821100000005"},
    "tm_create": "2023-01-02 03:04:05.000006",
    "tm_update": "2023-01-02 03:04:05.000006",
    "tm_delete": "9999-01-01 00:00:00.000000",
}


async def test_missing_address_fields_and_try_counts_read_leniently(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await insert(docs, LENIENT)
    found = await get(gql, LENIENT_ID)
    assert found["destination0"] == {
        "type": "SIP",
        "target": "alice@pbx.example.com",
        "targetName": "",
        "name": "",
        "detail": "",
    }
    assert found["destination1"] == {
        "type": "TEL",
        "target": "",
        "targetName": "",
        "name": "",
        "detail": "",
    }
    assert [found[f"destination{i}"] for i in (2, 3, 4)] == [None, None, None]
    assert [found[f"tryCount{i}"] for i in range(5)] == [0, 0, 0, 0, 0]
    assert (found["status"], found["tmUpdate"]) == ("IDLE", LENIENT["tm_update"])
    assert await raw(docs, LENIENT_ID) == LENIENT, "reading wrote nothing"


async def test_missing_try_counts_count_as_zero_for_the_claim(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await insert(docs, LENIENT)
    available = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[1], retry=3_600_000)
    assert [t["id"] for t in available["availableOutdialtargets"]] == [LENIENT_ID]
    untyped = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[0, 0, 0, 0, 5])
    assert untyped["availableOutdialtargets"] == [], "an address without a type is no destination"
    error = await gql.error(ops.MARK, id=LENIENT_ID, slot=4)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"

    claimed = (await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[1]))["claimOutdialtarget"]
    assert claimed["destinationIndex"] == 0
    assert claimed["target"]["id"] == LENIENT_ID
    assert claimed["target"]["tryCount0"] == 1
    after = await raw(docs, LENIENT_ID)
    assert after["try_count_0"] == 1
    assert (after["claim_token"], after["tm_lease_expire"]) == (claimed["claimToken"], None)
    claim_fields = {"claim_token", "tm_lease_expire"}
    assert_only_changed(LENIENT, after, {"status", "try_count_0", "tm_update", *claim_fields})


NONE_STORED: dict[str, Any] = {
    **copy.deepcopy(EXAMPLE),
    "_id": NONE_ID,
    "id": NONE_ID,
    "status": "idle",
    "try_count_0": 0,
    "destination_0": {"type": "", "target": "", "target_name": "", "name": "", "detail": ""},
    "destination_2": {"type": "tel", "target": "+821100000003", "target_name": "", "name": ""},
    "destination_3": {"type": "", "target": "left over", "target_name": "x"},
}


async def test_stored_none_address_is_no_destination(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await insert(docs, NONE_STORED)
    found = await get(gql, NONE_ID)
    assert [found[f"destination{i}"] is None for i in range(5)] == [True, True, False, True, True]

    error = await gql.error(ops.MARK, id=NONE_ID, slot=0)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "destinationIndex" in error["message"]
    error = await gql.error(ops.MARK, id=NONE_ID, slot=3)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await gql.error(ops.UPDATE, id=NONE_ID, input={"destination2": None})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await raw(docs, NONE_ID) == NONE_STORED, "refused requests wrote nothing"

    nothing = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[5, 5, 0, 5, 5])
    assert nothing["availableOutdialtargets"] == []
    claimed = (await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[5, 5, 5, 5, 5]))[
        "claimOutdialtarget"
    ]
    assert claimed["destinationIndex"] == 2
    assert claimed["destination"] == {"type": "TEL", "target": "+821100000003"}
    after = await raw(docs, NONE_ID)
    claim_fields = {"claim_token", "tm_lease_expire"}
    assert_only_changed(NONE_STORED, after, {"status", "try_count_2", "tm_update", *claim_fields})


# --- writing changes only what it changes --------------------------------------------------

WRITES = [
    pytest.param("idle", ops.UPDATE, {"input": {"name": "renamed"}}, {"name"}, id="name"),
    pytest.param("done", ops.UPDATE, {"input": {"name": "renamed"}}, {"name"}, id="name-done"),
    pytest.param("idle", ops.UPDATE, {"input": {"detail": "d2"}}, {"detail"}, id="detail"),
    pytest.param("progressing", ops.UPDATE, {"input": {"data": "x2"}}, {"data"}, id="data"),
    pytest.param(
        "idle", ops.UPDATE, {"input": {"name": None, "detail": None}}, set(), id="null-texts"
    ),
    pytest.param(
        "idle",
        ops.UPDATE,
        {"input": {"destination1": ops.tel("+821100000002")}},
        {"destination_1"},
        id="destination",
    ),
    pytest.param("idle", ops.MARK, {"slot": 0}, {"status", "try_count_0"}, id="mark"),
    pytest.param("progressing", ops.REPORT, {"status": "IDLE"}, {"status"}, id="report"),
    pytest.param("done", ops.DELETE, {}, {"tm_delete"}, id="delete"),
]


@pytest.mark.parametrize(("status", "query", "variables", "fields"), WRITES)
async def test_a_write_changes_only_its_fields(
    gql: GraphQLClient,
    backend: Backend,
    status: str,
    query: str,
    variables: dict[str, Any],
    fields: set[str],
) -> None:
    docs = backend.docs
    before = with_unknown_fields(status, json_only=backend.tier == "sqlite")
    await insert(docs, before)
    stored_before = await raw(docs, EXAMPLE_ID)
    assert stored_before == before, "the backend stores it as given"
    if backend.tier != "sqlite":
        assert bson.encode(stored_before) == bson.encode(before), "with BSON's types"

    await gql.data(query, id=EXAMPLE_ID, **variables)
    after = await raw(docs, EXAMPLE_ID)
    assert_only_changed(stored_before, after, {*fields, "tm_update"})
    if "name" in fields:
        assert after["name"] == "renamed"
    if "destination_1" in fields:
        assert after["destination_1"] == {
            "type": "tel",
            "target": "+821100000002",
            "target_name": "",
            "name": "",
            "detail": "",
        }
    if "tm_delete" in fields:
        assert after["tm_delete"] == after["tm_update"]


async def test_reads_of_unknown_fields_document_match_the_example(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await insert(docs, with_unknown_fields("done"))
    assert await get(gql, EXAMPLE_ID) == EXAMPLE_AS_API
