"""Client-chosen ids: a retry after a lost answer creates nothing twice; a taken id writes
nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.documents import stored_document, tid


def with_id(n: int, **fields: Any) -> dict[str, Any]:
    return ops.new_input(OUTDIAL, id=tid(n), **fields)


async def test_a_create_uses_the_chosen_id_lowercased(gql: GraphQLClient) -> None:
    upper = "0000000A-0000-4000-8000-00000000000B"
    created = await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL, id=upper))
    assert created["createOutdialtarget"]["id"] == upper.lower()
    found = await gql.data(ops.GET, id=upper.lower())
    assert found["outdialtarget"] == created["createOutdialtarget"]


async def test_a_retry_returns_the_stored_target_and_writes_nothing(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    first = await gql.data(
        ops.CREATE, input=with_id(1, name="x", destination1=ops.tel("+4930123456"))
    )
    await gql.data(ops.MARK, id=tid(1), slot=0)
    before = await docs.all()
    again = await gql.data(
        ops.CREATE, input=with_id(1, name="x", destination1=ops.tel(" +4930123456 "))
    )
    assert again["createOutdialtarget"]["status"] == "PROGRESSING", "returned as it is stored"
    assert again["createOutdialtarget"]["tmCreate"] == first["createOutdialtarget"]["tmCreate"]
    assert await docs.all() == before


async def test_a_taken_id_is_refused_and_the_whole_batch_writes_nothing(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await gql.data(ops.CREATE, input=with_id(1, name="original"))
    before = await docs.all()
    inputs = [with_id(2), with_id(3), with_id(1, name="another"), with_id(4)]
    error = await gql.error(ops.CREATE_MANY, inputs=inputs)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "inputs[2].id"}
    assert await docs.all() == before
    single = await gql.error(ops.CREATE, input=with_id(1, outdialId=OTHER_OUTDIAL))
    assert single["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.id"}


async def test_two_inputs_with_one_id_name_the_later(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    error = await gql.error(ops.CREATE_MANY, inputs=[with_id(1), with_id(2), with_id(1)])
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "inputs[2].id"}
    assert await docs.all() == []
    bad = await gql.error(ops.CREATE, input=ops.new_input(OUTDIAL, id="not-a-uuid"))
    assert bad["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.id"}


async def test_a_bulk_retry_creates_only_what_is_missing_in_input_order(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await gql.data(ops.CREATE_MANY, inputs=[with_id(2), with_id(4)])
    inputs = [with_id(n) for n in (1, 2, 3, 4)] + [ops.new_input(OUTDIAL, name="no id")]
    created = (await gql.data(ops.CREATE_MANY, inputs=inputs))["createOutdialtargets"]
    assert [t["id"] for t in created[:4]] == [tid(n) for n in (1, 2, 3, 4)]
    assert created[4]["name"] == "no id"
    assert len(await docs.all()) == 5


async def test_concurrent_creates_of_one_new_id_store_it_once(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    answers = await asyncio.gather(
        *(gql.execute(ops.CREATE, input=with_id(1, name="same")) for _ in range(8))
    )
    assert all("errors" not in answer for answer in answers), answers
    assert {a["data"]["createOutdialtarget"]["tmCreate"] for a in answers} == {
        answers[0]["data"]["createOutdialtarget"]["tmCreate"]
    }
    assert [doc["_id"] for doc in await docs.all()] == [tid(1)]


async def test_a_create_reusing_an_unreadable_documents_id_says_so(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    broken = stored_document(tid(1), status="paused")
    await docs.insert(broken)
    error = await gql.error(ops.CREATE, input=with_id(1))
    assert error["extensions"]["code"] == "UNREADABLE_DOCUMENT"
    assert await docs.all() == [broken]


NAMES = st.sampled_from(["a", "b"])
CREATES = st.lists(
    st.lists(st.tuples(st.integers(1, 4), NAMES), min_size=1, max_size=4), min_size=1, max_size=5
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(requests=CREATES)
async def test_the_id_rule_against_a_model(
    gql: GraphQLClient, docs: RawDocuments, requests: list[list[tuple[int, str]]]
) -> None:
    """Each request: duplicates refused, a differing stored target refused, else all created
    or returned; a refused request writes nothing."""
    base = len(await docs.all()) * 10  # ids no earlier example has stored
    model: dict[int, str] = {}
    for request in requests:
        inputs = [ops.new_input(OUTDIAL, id=tid(base + n), name=name) for n, name in request]
        body = await gql.execute(ops.CREATE_MANY, inputs=inputs)
        ids = [n for n, _ in request]
        duplicate = next((i for i, n in enumerate(ids) if n in ids[:i]), None)
        taken = next((i for i, (n, name) in enumerate(request) if model.get(n, name) != name), None)
        if duplicate is not None or taken is not None:
            field = f"inputs[{duplicate if duplicate is not None else taken}].id"
            assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
            continue
        assert "errors" not in body, body
        assert [t["name"] for t in body["data"]["createOutdialtargets"]] == [m for _, m in request]
        model |= dict(request)
    mine = {tid(base + n) for n in range(1, 5)}
    stored = {doc["_id"]: doc["name"] for doc in await docs.all() if doc["_id"] in mine}
    assert stored == {tid(base + n): name for n, name in model.items()}
