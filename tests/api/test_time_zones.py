"""A zone per target (DOMAIN.md v3): given, cleared, or derived on create from the first phone
number libphonenumber places in exactly one zone; kept by updates unless given; compared for
client-chosen ids only when a retry gives it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.documents import stored_document, tid

ZONE_FIELDS = "id timeZone destination0 { target }"
CREATE = f"""mutation($input: CreateOutdialtargetInput!) {{
  createOutdialtarget(input: $input) {{ {ZONE_FIELDS} }} }}"""
CREATE_MANY = f"""mutation($inputs: [CreateOutdialtargetInput!]!) {{
  createOutdialtargets(inputs: $inputs) {{ {ZONE_FIELDS} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateOutdialtargetInput!) {{
  updateOutdialtarget(id: $id, input: $input) {{ {ZONE_FIELDS} }} }}"""
GET = f"query($id: ID!) {{ outdialtarget(id: $id) {{ {ZONE_FIELDS} }} }}"
SEOUL_MOBILE = "+821012345678"
NEW_YORK = "+12125550100"
AUSTRALIAN_MOBILE = "+61412345678"  # libphonenumber places it in several zones


def phone(number: str, kind: str = "TEL") -> dict[str, str]:
    return {"type": kind, "target": number}


def target_input(**fields: Any) -> dict[str, Any]:
    fields.setdefault("destination0", phone(SEOUL_MOBILE))
    return {"outdialId": OUTDIAL, **fields}


async def created_zone(gql: GraphQLClient, **fields: Any) -> str | None:
    created = (await gql.data(CREATE, input=target_input(**fields)))["createOutdialtarget"]
    zone: str | None = created["timeZone"]
    return zone


@pytest.mark.parametrize(
    ("destinations", "zone"),
    [
        pytest.param({"destination0": phone(SEOUL_MOBILE)}, "Asia/Seoul", id="seoul"),
        pytest.param({"destination0": phone(NEW_YORK)}, "America/New_York", id="new-york"),
        pytest.param(
            {"destination0": phone(NEW_YORK, "WHATSAPP")}, "America/New_York", id="whatsapp"
        ),
        pytest.param(
            {
                "destination0": {"type": "EMAIL", "target": "ana@example.com"},
                "destination1": phone(AUSTRALIAN_MOBILE),
                "destination2": phone(NEW_YORK),
            },
            "America/New_York",
            id="first-phone-in-one-zone",
        ),
        pytest.param({"destination0": phone(AUSTRALIAN_MOBILE)}, None, id="several-zones"),
        pytest.param(
            {"destination0": {"type": "SIP", "target": "ana@pbx.example.com"}}, None, id="no-phone"
        ),
    ],
)
async def test_an_omitted_zone_is_derived_from_the_numbers(
    gql: GraphQLClient, docs: RawDocuments, destinations: dict[str, Any], zone: str | None
) -> None:
    created = (await gql.data(CREATE, input={"outdialId": OUTDIAL, **destinations}))[
        "createOutdialtarget"
    ]
    assert created["timeZone"] == zone
    stored = await docs.get(created["id"])
    assert stored is not None and stored["time_zone"] == zone


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("US/Eastern", "US/Eastern"),  # an alias the database knows, kept as given
        (None, None),
        ("", None),
    ],
)
async def test_a_given_zone_is_stored_over_the_derived_one(
    gql: GraphQLClient, docs: RawDocuments, given: str | None, stored: str | None
) -> None:
    created = (await gql.data(CREATE, input=target_input(timeZone=given)))["createOutdialtarget"]
    assert created["timeZone"] == stored
    doc = await docs.get(created["id"])
    assert doc is not None and doc["time_zone"] == stored


@pytest.mark.parametrize("zone", ["Mars/Olympus", "america/new_york", "EST5EDT ", "Etc/Unknown"])
async def test_an_unknown_zone_is_refused_and_nothing_is_written(
    gql: GraphQLClient, docs: RawDocuments, zone: str
) -> None:
    error = await gql.error(CREATE, input=target_input(timeZone=zone))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "timeZone" in error["message"]
    inputs = [target_input(), target_input(timeZone=zone)]
    error = await gql.error(CREATE_MANY, inputs=inputs)
    assert "inputs[1].timeZone" in error["message"]
    assert await docs.all() == []


async def test_an_update_sets_clears_or_keeps_the_zone_and_never_derives_one(
    gql: GraphQLClient,
) -> None:
    target_id = (await gql.data(CREATE, input=target_input()))["createOutdialtarget"]["id"]

    async def update(**fields: Any) -> str | None:
        updated = (await gql.data(UPDATE, id=target_id, input=fields))["updateOutdialtarget"]
        zone: str | None = updated["timeZone"]
        return zone

    assert await update(timeZone="Europe/Berlin") == "Europe/Berlin"
    assert await update(name="kept") == "Europe/Berlin"
    assert await update(timeZone=None) == "Europe/Berlin"
    assert await update(destination0=phone(NEW_YORK)) == "Europe/Berlin"
    assert await update(timeZone="") is None
    assert await update(destination0=phone(SEOUL_MOBILE)) is None
    error = await gql.error(UPDATE, id=target_id, input={"timeZone": "Nowhere/City"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "input.timeZone" in error["message"]
    assert (await gql.data(GET, id=target_id))["outdialtarget"]["timeZone"] is None


async def test_documents_of_other_programs_have_no_zone_and_keep_their_shape(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    foreign = stored_document(tid(1))
    unknown_zone = stored_document(tid(2), time_zone="Moon/Base")
    await docs.insert(foreign, unknown_zone)
    assert (await gql.data(GET, id=tid(1)))["outdialtarget"]["timeZone"] is None
    assert (await gql.data(GET, id=tid(2)))["outdialtarget"]["timeZone"] == "Moon/Base"
    await gql.data(UPDATE, id=tid(1), input={"name": "renamed"})
    doc = await docs.get(tid(1))
    assert doc is not None and "time_zone" not in doc


async def test_a_zone_that_is_not_a_string_makes_the_document_unreadable(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await docs.insert(stored_document(tid(1), time_zone=9))
    body = await gql.execute(GET, id=tid(1))
    assert body["data"] == {"outdialtarget": None}
    assert body["errors"][0]["extensions"]["code"] == "UNREADABLE_DOCUMENT"


async def test_a_retry_compares_the_zone_only_when_it_gives_one(gql: GraphQLClient) -> None:
    first = target_input(id=tid(1))
    assert (await gql.data(CREATE, input=first))["createOutdialtarget"]["timeZone"] == "Asia/Seoul"
    assert (await gql.data(CREATE, input=first))["createOutdialtarget"]["id"] == tid(1)
    same = target_input(id=tid(1), timeZone="Asia/Seoul")
    assert (await gql.data(CREATE, input=same))["createOutdialtarget"]["id"] == tid(1)
    error = await gql.error(CREATE, input=target_input(id=tid(1), timeZone="Europe/Berlin"))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "input.id" in error["message"]
