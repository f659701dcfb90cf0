"""outdialtargetsByDestination: one number everywhere, normalised like a create, newest first."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.documents import stored_document

FIND = """query($type: AddressType!, $target: String!, $first: Int! = 100, $after: String) {
  outdialtargetsByDestination(type: $type, target: $target, first: $first, after: $after) {
    totalCount edges { node { id outdialId } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
NUMBER = "+821100000001"
OTHER_NUMBER = "+821100000002"


async def find(gql: GraphQLClient, kind: str, target: str, **paging: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await gql.data(FIND, type=kind, target=target, **paging))[
        "outdialtargetsByDestination"
    ]
    return found


def found_ids(found: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in found["edges"]]


async def created(gql: GraphQLClient, outdial: str, **fields: Any) -> str:
    target = await gql.data(ops.CREATE, input=ops.new_input(outdial, **fields))
    target_id: str = target["createOutdialtarget"]["id"]
    return target_id


async def test_a_number_is_found_in_any_slot_of_any_outdial(gql: GraphQLClient) -> None:
    first = await created(gql, OUTDIAL)
    second = await created(
        gql, OTHER_OUTDIAL, destination0=ops.tel(OTHER_NUMBER), destination3=ops.tel(NUMBER)
    )
    both_slots = await created(gql, OUTDIAL, destination2=ops.tel(NUMBER))
    await created(gql, OUTDIAL, destination0=ops.tel(OTHER_NUMBER))
    deleted = await created(gql, OUTDIAL)
    await gql.data(ops.DELETE, id=deleted)
    found = await find(gql, "TEL", f"  {NUMBER} ")
    assert found_ids(found) == [both_slots, second, first]
    assert found["totalCount"] == 3
    assert found_ids(await find(gql, "WHATSAPP", NUMBER)) == []
    page = await find(gql, "TEL", NUMBER, first=2)
    assert found_ids(page) == [both_slots, second] and page["pageInfo"]["hasNextPage"]
    rest = await find(gql, "TEL", NUMBER, first=2, after=page["pageInfo"]["endCursor"])
    assert found_ids(rest) == [first]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)


async def test_the_lookup_follows_updates_and_deletes(gql: GraphQLClient) -> None:
    target_id = await created(gql, OUTDIAL)
    update = {"destination0": ops.tel(OTHER_NUMBER)}
    await gql.data(ops.UPDATE, id=target_id, input=update)
    assert found_ids(await find(gql, "TEL", NUMBER)) == []
    assert found_ids(await find(gql, "TEL", OTHER_NUMBER)) == [target_id]
    await gql.data(ops.DELETE, id=target_id)
    assert (await find(gql, "TEL", OTHER_NUMBER))["totalCount"] == 0


async def test_emails_and_sip_targets_are_normalised(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    email = await created(gql, OUTDIAL, destination0={"type": "EMAIL", "target": "Ann@Example.com"})
    bare = await created(gql, OUTDIAL, destination0={"type": "SIP", "target": "bob@Example.COM"})
    prefixed_id = "00000000-0000-4000-8000-0000000000aa"
    sip = {
        "type": "sip",
        "target": "sip:carol@example.com",
        "target_name": "",
        "name": "",
        "detail": "",
    }
    await docs.insert(stored_document(prefixed_id, destination_0=sip))
    assert found_ids(await find(gql, "EMAIL", "ANN@example.COM")) == [email]
    assert found_ids(await find(gql, "SIP", "sip:bob@example.com")) == [bare]
    assert found_ids(await find(gql, "SIP", "bob@EXAMPLE.com")) == [bare]
    assert found_ids(await find(gql, "SIP", "carol@Example.com")) == [prefixed_id]
    assert found_ids(await find(gql, "SIP", "sip:carol@example.com")) == [prefixed_id]


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("NONE", "", "type"),
        ("TEL", "0101234", "target"),
        ("SIP", "nobody", "target"),
        ("AGENT", "not-a-uuid", "target"),
    ],
)
async def test_none_and_invalid_targets_are_bad_user_input(
    gql: GraphQLClient, kind: str, target: str, field: str
) -> None:
    error = await gql.error(FIND, type=kind, target=target)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
