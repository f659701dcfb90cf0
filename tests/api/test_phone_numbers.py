"""Phone numbers as people write them (DOMAIN.md v3): formatting removed, national numbers read
in `defaultRegion` by libphonenumber and stored in E.164, found by the lookup either way; and
the bounds version 3 puts on every address field of an input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.documents import tid

FIELDS = "id timeZone destination0 { target } destination1 { target }"
CREATE = f"""mutation($input: CreateOutdialtargetInput!, $region: String) {{
  createOutdialtarget(input: $input, defaultRegion: $region) {{ {FIELDS} }} }}"""
CREATE_MANY = f"""mutation($inputs: [CreateOutdialtargetInput!]!, $region: String) {{
  createOutdialtargets(inputs: $inputs, defaultRegion: $region) {{ {FIELDS} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateOutdialtargetInput!, $region: String) {{
  updateOutdialtarget(id: $id, input: $input, defaultRegion: $region) {{ {FIELDS} }} }}"""
LOOKUP = """query($type: AddressType!, $target: String!, $region: String) {
  outdialtargetsByDestination(type: $type, target: $target, defaultRegion: $region) {
    edges { node { id } } } }"""


def number_input(number: str, kind: str = "TEL", **fields: Any) -> dict[str, Any]:
    return {"outdialId": OUTDIAL, "destination0": {"type": kind, "target": number}, **fields}


async def stored_number(gql: GraphQLClient, number: str, region: str | None) -> str:
    created = await gql.data(CREATE, input=number_input(number), region=region)
    target: str = created["createOutdialtarget"]["destination0"]["target"]
    return target


@pytest.mark.parametrize(
    ("written", "region", "stored"),
    [
        ("010-1234-5678", "KR", "+821012345678"),
        ("02-312-3456", "kr", "+8223123456"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("613 555 0199", "US", "+16135550199"),  # Canadian, written nationally with US
        ("020 7946 0018", "GB", "+442079460018"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("+82 10-1234-5678", "US", "+821012345678"),  # with +, the region plays no part
        ("+82 10-1234-5678", None, "+821012345678"),
    ],
)
async def test_numbers_are_stored_in_e164(
    gql: GraphQLClient, written: str, region: str | None, stored: str
) -> None:
    assert await stored_number(gql, written, region) == stored


async def test_a_national_number_gives_the_zone_of_its_region(gql: GraphQLClient) -> None:
    created = await gql.data(CREATE, input=number_input("(212) 555-0100"), region="US")
    assert created["createOutdialtarget"]["timeZone"] == "America/New_York"


@pytest.mark.parametrize(
    ("written", "region", "rule"),
    [
        ("(123) 456-7890", "US", "not a valid number for region US"),  # possible, not valid
        ("099-1234-5678", "KR", "not a valid number for region KR"),
        ("0100 123456", "GB", "not a valid number for region GB"),
        ("011 12345678", "DE", "not a valid number for region DE"),
        ("1-800-FLOWERS", "US", "digits"),
        ("415 555 0100 ext 12", "US", "digits"),
        ("010-1234-5678", None, "E.164"),
        ("+82 10 1234 567890123", "KR", "E.164"),
    ],
)
async def test_a_number_that_is_not_valid_names_its_field_and_writes_nothing(
    gql: GraphQLClient, docs: RawDocuments, written: str, region: str | None, rule: str
) -> None:
    error = await gql.error(CREATE, input=number_input(written), region=region)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "input.destination0.target" in error["message"]
    assert rule in error["message"]
    good = number_input("+821012345678")
    error = await gql.error(CREATE_MANY, inputs=[good, number_input(written)], region=region)
    assert "inputs[1].destination0.target" in error["message"]
    assert await docs.all() == []


@pytest.mark.parametrize("region", ["", "ZZ", "XX", "KOR", "001"])
async def test_an_unsupported_region_is_refused_before_the_inputs(
    gql: GraphQLClient, docs: RawDocuments, region: str
) -> None:
    for query, variables in [
        (CREATE, {"input": number_input("+821012345678")}),
        (CREATE_MANY, {"inputs": [number_input("not a number")]}),
        (LOOKUP, {"type": "TEL", "target": "010-1234-5678"}),
    ]:
        error = await gql.error(query, region=region, **variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "defaultRegion" in error["message"], error
    assert await docs.all() == []


async def test_an_update_reads_national_numbers_in_its_region(gql: GraphQLClient) -> None:
    created = await gql.data(CREATE, input=number_input("+821012345678"))
    target_id = created["createOutdialtarget"]["id"]
    change = {"destination1": {"type": "WHATSAPP", "target": "(415) 555-0100"}}
    updated = await gql.data(UPDATE, id=target_id, input=change, region="US")
    assert updated["updateOutdialtarget"]["destination1"] == {"target": "+14155550100"}
    error = await gql.error(UPDATE, id=target_id, input=change)
    assert "input.destination1.target" in error["message"]


async def test_the_lookup_finds_a_number_stored_from_a_national_input(gql: GraphQLClient) -> None:
    created = await gql.data(CREATE, input=number_input("010-1234-5678"), region="KR")
    target_id = created["createOutdialtarget"]["id"]
    for written, region in [
        ("010 1234 5678", "KR"),
        ("+82 10-1234-5678", None),
        ("+821012345678", "US"),
    ]:
        found = await gql.data(LOOKUP, type="TEL", target=written, region=region)
        edges = found["outdialtargetsByDestination"]["edges"]
        assert [edge["node"]["id"] for edge in edges] == [target_id]
    error = await gql.error(LOOKUP, type="TEL", target="099-1234-5678", region="KR")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "target" in error["message"]


async def test_retries_compare_the_normalised_number(gql: GraphQLClient) -> None:
    first = number_input("010-1234-5678", id=tid(1))
    await gql.data(CREATE, input=first, region="KR")
    again = number_input("+82 10 1234 5678", id=tid(1))
    assert (await gql.data(CREATE, input=again))["createOutdialtarget"]["id"] == tid(1)


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({"type": "SIP", "target": "a" * 300 + "@pbx.example.com"}, "destination0.target"),
        ({"type": "SIP", "target": "ana\x00@pbx.example.com"}, "destination0.target"),
        ({"type": "TEL", "target": "+821012345678", "name": "Ana\x07"}, "destination0.name"),
        ({"type": "TEL", "target": "+821012345678", "detail": "x\x7f"}, "destination0.detail"),
        ({"type": "TEL", "target": "+821012345678", "targetName": "a" * 256}, "targetName"),
        ({"type": "EMAIL", "target": "ana\x1b@example.com"}, "destination0.target"),
    ],
)
async def test_address_fields_are_bounded_and_free_of_control_characters(
    gql: GraphQLClient, docs: RawDocuments, address: dict[str, str], field: str
) -> None:
    error = await gql.error(CREATE, input={"outdialId": OUTDIAL, "destination0": address})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert field in error["message"]
    assert await docs.all() == []


async def test_formatting_whitespace_is_not_a_control_character_in_a_number(
    gql: GraphQLClient,
) -> None:
    assert await stored_number(gql, "+82\t10\n1234\u00a05678", None) == "+821012345678"
