"""Stored documents the service cannot read: left out of every answer about other targets, never
written, logged once, counted, and UNREADABLE_DOCUMENT where asked for by id."""

from __future__ import annotations

import copy
import logging
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.documents import UnreadableDocument, target_from_document
from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import Backend, RawDocuments
from tests.support.documents import stored_document
from tests.support.metrics import scrape

BROKEN = "00000000-0000-4000-8000-00000000b0b0"
GOOD = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 6)]
TELLING = """query($outdialId: ID!) {
  list: outdialtargets(outdialId: $outdialId) { totalCount edges { node { id } } }
  counts: outdialtargetCounts(outdialId: $outdialId) { idle progressing done total }
  available: availableOutdialtargets(outdialId: $outdialId, maxTryCounts: [9], limit: 100) { id }
}"""

CORRUPTIONS: list[dict[str, Any]] = [
    {"status": "paused"},
    {"name": ["a"]},
    {"try_count_0": 2**40},
    {"try_count_1": -1},
    {"try_count_2": "3"},
    {"destination_0": {"type": "fax", "target": "+4930123456"}},
    {"destination_1": "+4930123456"},
    {"tm_update": "yesterday"},
    {"tm_create": None},
    {"outdial_id": 42},
    {"detail": {"nested": True}},
    {"tm_delete": 0},
]


async def seed(docs: RawDocuments, corruption: dict[str, Any]) -> dict[str, Any]:
    broken = stored_document(BROKEN) | corruption
    await docs.insert(broken, *(stored_document(target_id) for target_id in GOOD))
    return broken


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=lambda c: ",".join(c))
async def test_other_targets_are_answered_as_if_it_were_not_there(
    gql: GraphQLClient, backend: Backend, corruption: dict[str, Any]
) -> None:
    docs = backend.docs
    broken = await seed(docs, corruption)
    first = await gql.data(TELLING, outdialId=OUTDIAL)
    # MongoDB counts from its index alone: a document broken where the index cannot see it
    # counts there until the service has read it once; the embedded store knows at once.
    answer = first if backend.tier == "sqlite" else await gql.data(TELLING, outdialId=OUTDIAL)
    for found in (first, answer):
        assert sorted(edge["node"]["id"] for edge in found["list"]["edges"]) == GOOD
        assert sorted(target["id"] for target in found["available"]) == GOOD
    assert answer["list"]["totalCount"] == len(GOOD)
    assert answer["counts"] == {"idle": 5, "progressing": 0, "done": 0, "total": 5}
    for _ in GOOD:
        claimed = await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[9])
        assert claimed["claimOutdialtarget"]["target"]["id"] in GOOD
    assert (await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[9]))["claimOutdialtarget"] is None
    assert await docs.get(BROKEN) == broken, "never written"


async def test_asked_for_by_id_it_is_null_with_an_error_for_that_field_alone(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await seed(docs, {"name": ["a"]})
    query = """query($bad: ID!, $good: ID!) { bad: outdialtarget(id: $bad) { id name }
      good: outdialtarget(id: $good) { id } }"""
    body = await gql.execute(query, bad=BROKEN, good=GOOD[0])
    assert body["data"] == {"bad": None, "good": {"id": GOOD[0]}}
    (error,) = body["errors"]
    assert error["path"] == ["bad"]
    assert error["extensions"] == {"code": "UNREADABLE_DOCUMENT"}
    assert BROKEN in error["message"]


async def test_asked_for_alone_it_is_null_with_its_error(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await seed(docs, {"status": "paused"})
    for target_id in (GOOD[0], BROKEN, GOOD[1], BROKEN):  # the same document, run warm
        body = await gql.execute(ops.GET, id=target_id)
        if target_id == BROKEN:
            assert body["data"] == {"outdialtarget": None}
            (error,) = body["errors"]
            assert (error["path"], error["extensions"]) == (["outdialtarget"], ERROR_CODE)
        else:
            assert body == {"data": {"outdialtarget": body["data"]["outdialtarget"]}}
            assert body["data"]["outdialtarget"]["id"] == target_id


ERROR_CODE = {"code": "UNREADABLE_DOCUMENT"}
WRITES = [
    (ops.UPDATE, {"input": {"name": "fixed?"}}),
    (ops.DELETE, {}),
    (ops.MARK, {"slot": 0}),
    (ops.REPORT, {"status": "DONE"}),
]


@pytest.mark.parametrize(("query", "variables"), WRITES, ids=["update", "delete", "mark", "report"])
async def test_a_mutation_naming_it_is_refused_and_writes_nothing(
    gql: GraphQLClient, docs: RawDocuments, query: str, variables: dict[str, Any]
) -> None:
    broken = await seed(docs, {"try_count_0": 2**40})
    error = await gql.error(query, id=BROKEN, **variables)
    assert error["extensions"] == {"code": "UNREADABLE_DOCUMENT"}
    assert await docs.get(BROKEN) == broken


async def test_it_is_logged_once_with_its_id_and_counted(
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    docs: RawDocuments,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed(docs, {"status": "paused"})
    with caplog.at_level(logging.WARNING, logger="outdial.storage"):
        for _ in range(3):
            await gql.execute(ops.GET, id=BROKEN)
    logged = [r for r in caplog.records if BROKEN in r.getMessage()]
    assert len(logged) == 1
    assert "status" in logged[0].getMessage()
    samples = await scrape(client)
    totals = [v for (name, _), v in samples.items() if name == "outdial_unreadable_documents_total"]
    assert totals == [1.0]


FIELDS = st.sampled_from(
    ["status", "name", "outdial_id", "id", "try_count_0", "destination_0", "tm_update", "data"]
)
BAD_VALUES = st.one_of(
    st.integers(-5, 2**45),
    st.text(max_size=5),
    st.none(),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=2),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(field=FIELDS, value=BAD_VALUES, n=st.integers(0, 10**9))
async def test_random_corruptions_never_break_answers_about_others_or_lead_to_a_write(
    gql: GraphQLClient, docs: RawDocuments, field: str, value: Any, n: int
) -> None:
    suspect_id = f"00000000-0000-4000-9000-{n:012d}"
    if await docs.get(suspect_id) is not None:
        return
    if await docs.get(GOOD[0]) is None:
        await docs.insert(*(stored_document(target_id) for target_id in GOOD))
    suspect = copy.deepcopy(stored_document(suspect_id)) | {field: value}
    await docs.insert(suspect)
    answer = await gql.execute(TELLING, outdialId=OUTDIAL)
    assert "errors" not in answer, answer
    listed = {edge["node"]["id"] for edge in answer["data"]["list"]["edges"]}
    assert set(GOOD) <= listed
    if readable(suspect):
        return
    assert suspect_id not in listed
    for query, variables in WRITES:
        body = await gql.execute(query, id=suspect_id, **variables)
        assert body["errors"][0]["extensions"]["code"] in ("UNREADABLE_DOCUMENT", "NOT_FOUND")
    assert await docs.get(suspect_id) == suspect, "an unreadable document was written"


def readable(doc: dict[str, Any]) -> bool:
    try:
        target_from_document(doc)
    except UnreadableDocument:
        return False
    return True
