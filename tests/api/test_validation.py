"""Every input rule through the HTTP API: BAD_USER_INPUT naming field and rule, nothing written."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.settings import Settings
from storage.backend import MONGO_DRIVERS, MongoDriver
from storage.mongo.connection import using_database
from storage.mongo.driver import COLLECTION, close, connect
from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.mongoeco_server import EmbeddedMongo

MISSING = "00000000-0000-4000-8000-000000000000"
AGENT_ID = "1b3d7a92-7146-466d-90f5-4bc701ada4c0"
UUID_TYPES = [
    "AGENT", "AI", "AI_TEAM", "CONFERENCE", "EXTENSION", "LINE", "WEBCHAT", "WEB_SESSION",
]  # fmt: skip
BAD_UUIDS = [
    "not-a-uuid",
    "1b3d7a92-7146-466d-90f5-4bc701ada4c",
    "1b3d7a92-7146-466d-90f5-4bc701ada4c0a",
    "1b3d7a927146466d90f54bc701ada4c0",
    "1b3d7a92-7146-466d-90f5-4bc701ada4cz",
    "{1b3d7a92-7146-466d-90f5-4bc701ada4c0}",
    "",
]
UUID_RULE = r"UUID"
E164_RULE = r"E\.164|digits"

Vars = dict[str, Any]
Build = Callable[[str], Vars]  # variables for a request, given the seeded target's id


def assert_bad_input(error: dict[str, Any], field: str, rule: str, case: object = None) -> None:
    """BAD_USER_INPUT whose message names exactly `field` (not a longer path) and the rule."""
    assert error["extensions"]["code"] == "BAD_USER_INPUT", (case, error)
    named = rf"(?<![\w.\[\]]){re.escape(field)}(?![\w\[]|\.\w)"
    assert re.search(named, error["message"]), (case, field, error["message"])
    assert re.search(rule, error["message"], re.IGNORECASE), (case, rule, error["message"])


async def stored_documents(docs: RawDocuments) -> list[dict[str, Any]]:
    return await docs.all()


STATE = f"""query($id: ID!, $outdialId: ID!, $otherOutdialId: ID!) {{
  target: outdialtarget(id: $id) {{ {ops.TARGET_FIELDS} }}
  counts: outdialtargetCounts(outdialId: $outdialId) {{ idle progressing done total }}
  otherCounts: outdialtargetCounts(outdialId: $otherOutdialId) {{ idle progressing done total }}
  listing: outdialtargets(outdialId: $outdialId) {{
    edges {{ cursor node {{ {ops.TARGET_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""


async def api_state(gql: GraphQLClient, target_id: str) -> dict[str, Any]:
    """The seeded target, both outdials' counts and the listing, in one request."""
    return await gql.data(STATE, id=target_id, outdialId=OUTDIAL, otherOutdialId=OTHER_OUTDIAL)


@pytest.fixture
async def seeded(gql: GraphQLClient) -> dict[str, Any]:
    """One IDLE target a valid claim could take, so a refused claim visibly writes nothing."""
    created = await gql.data(
        ops.CREATE, input=ops.new_input(OUTDIAL, name="seed", destination1=ops.tel("+4930123456"))
    )
    target: dict[str, Any] = created["createOutdialtarget"]
    return target


@asynccontextmanager
async def nothing_written(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict[str, Any]
) -> AsyncIterator[None]:
    """The stored documents and what the API shows are the same after the block as before."""
    before_api = await api_state(gql, seeded["id"])
    before_raw = await stored_documents(docs)
    yield
    assert await stored_documents(docs) == before_raw
    assert await api_state(gql, seeded["id"]) == before_api


async def refused_and_nothing_written(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict[str, Any], query: str, variables: Vars
) -> dict[str, Any]:
    async with nothing_written(gql, docs, seeded):
        return await gql.error(query, **variables)


def create_with(**fields: Any) -> Build:
    return lambda _: {"input": ops.new_input(OUTDIAL, **fields)}


def update_with(**fields: Any) -> Build:
    return lambda target_id: {"id": target_id, "input": fields}


def many_with_bad_fourth(**fields: Any) -> Build:
    def build(_: str) -> Vars:
        inputs = [ops.new_input(OUTDIAL, name=f"batch {i}") for i in range(7)]
        inputs[3] = ops.new_input(OUTDIAL, **fields)
        return {"inputs": inputs}

    return build


def address(kind: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "target": target, **extra}


# --- ids and outdialIds --------------------------------------------------------------------

ID_OPERATIONS = [
    pytest.param(ops.GET, {}, id="get"),
    pytest.param(ops.UPDATE, {"input": {"name": "x"}}, id="update"),
    pytest.param(ops.DELETE, {}, id="delete"),
    pytest.param(ops.MARK, {"slot": 0}, id="mark"),
    pytest.param(ops.REPORT, {"status": "DONE"}, id="report"),
]


@pytest.mark.parametrize(("query", "extra"), ID_OPERATIONS)
async def test_id_must_be_a_uuid(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, query: str, extra: Vars
) -> None:
    async with nothing_written(gql, docs, seeded):
        for bad_id in BAD_UUIDS:
            error = await gql.error(query, id=bad_id, **extra)
            assert_bad_input(error, "id", UUID_RULE, bad_id)


OUTDIAL_OPERATIONS = [
    pytest.param(ops.LIST, lambda o: {"outdialId": o}, "outdialId", id="list"),
    pytest.param(ops.COUNTS, lambda o: {"outdialId": o}, "outdialId", id="counts"),
    pytest.param(ops.AVAILABLE, lambda o: {"outdialId": o, "max": [1]}, "outdialId", id="avail"),
    pytest.param(ops.CLAIM, lambda o: {"outdialId": o, "max": [1]}, "outdialId", id="claim"),
    pytest.param(ops.CREATE, lambda o: {"input": ops.new_input(o)}, "input.outdialId", id="create"),
    pytest.param(
        ops.CREATE_MANY,
        lambda o: {"inputs": [ops.new_input(OUTDIAL), ops.new_input(o)]},
        "inputs[1].outdialId",
        id="create-many",
    ),
]


@pytest.mark.parametrize(("query", "build", "field"), OUTDIAL_OPERATIONS)
async def test_outdial_id_must_be_a_uuid(
    gql: GraphQLClient,
    docs: RawDocuments,
    seeded: dict,
    query: str,
    build: Callable[[str], Vars],
    field: str,
) -> None:
    async with nothing_written(gql, docs, seeded):
        for bad_id in BAD_UUIDS:
            error = await gql.error(query, **build(bad_id))
            assert_bad_input(error, field, UUID_RULE, bad_id)


async def test_uppercase_ids_are_accepted_and_used_lowercased(
    gql: GraphQLClient, seeded: dict
) -> None:
    upper = seeded["id"].upper()
    assert upper != seeded["id"]
    got = (await gql.data(ops.GET, id=upper))["outdialtarget"]
    assert got == seeded
    updated = await gql.data(ops.UPDATE, id=upper, input={"name": "renamed"})
    assert updated["updateOutdialtarget"]["id"] == seeded["id"]
    marked = (await gql.data(ops.MARK, id=upper, slot=1))["markOutdialtargetProgressing"]
    assert (marked["id"], marked["status"], marked["tryCount1"]) == (seeded["id"], "PROGRESSING", 1)
    reported = await gql.data(ops.REPORT, id=upper, status="IDLE")
    assert reported["updateOutdialtargetStatus"]["status"] == "IDLE"
    deleted = (await gql.data(ops.DELETE, id=upper))["deleteOutdialtarget"]
    assert deleted["id"] == seeded["id"]
    assert deleted["tmDelete"] != "9999-01-01 00:00:00.000000"


async def test_uppercase_outdial_id_is_stored_and_queried_lowercased(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    upper = OTHER_OUTDIAL.upper()
    created = await gql.data(ops.CREATE, input=ops.new_input(upper))
    target = created["createOutdialtarget"]
    assert target["outdialId"] == OTHER_OUTDIAL
    many = await gql.data(ops.CREATE_MANY, inputs=[ops.new_input(upper)])
    assert many["createOutdialtargets"][0]["outdialId"] == OTHER_OUTDIAL
    raw = await docs.get(target["id"])
    assert raw is not None and raw["outdial_id"] == OTHER_OUTDIAL

    for outdial in (upper, OTHER_OUTDIAL):
        counts = (await gql.data(ops.COUNTS, outdialId=outdial))["outdialtargetCounts"]
        assert counts["total"] == 2
        listing = (await gql.data(ops.LIST, outdialId=outdial))["outdialtargets"]
        assert len(listing["edges"]) == 2
        available = await gql.data(ops.AVAILABLE, outdialId=outdial, max=[1])
        assert len(available["availableOutdialtargets"]) == 2
    claimed = (await gql.data(ops.CLAIM, outdialId=upper, max=[1]))["claimOutdialtarget"]
    assert claimed["target"]["outdialId"] == OTHER_OUTDIAL


# --- lengths -------------------------------------------------------------------------------

TEXT_LIMITS = [
    pytest.param("name", 255, r"\b255\b", id="name"),
    pytest.param("detail", 65_535, r"65,?535", id="detail"),
    pytest.param("data", 65_535, r"65,?535", id="data"),
]


@pytest.mark.parametrize(("field", "limit", "rule"), TEXT_LIMITS)
@pytest.mark.parametrize("operation", ["create", "update"])
async def test_text_over_limit_is_refused(
    gql: GraphQLClient,
    docs: RawDocuments,
    seeded: dict,
    operation: str,
    field: str,
    limit: int,
    rule: str,
) -> None:
    value = "é" * (limit + 1)
    if operation == "create":
        query, variables = ops.CREATE, create_with(**{field: value})(seeded["id"])
    else:
        query, variables = ops.UPDATE, update_with(**{field: value})(seeded["id"])
    error = await refused_and_nothing_written(gql, docs, seeded, query, variables)
    assert_bad_input(error, f"input.{field}", rule)


@pytest.mark.parametrize(("field", "limit", "rule"), TEXT_LIMITS)
async def test_text_at_limit_is_stored_exactly(
    gql: GraphQLClient, seeded: dict, field: str, limit: int, rule: str
) -> None:
    value = "é" + "x" * (limit - 2) + "é"
    created = await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL, **{field: value}))
    target_id = created["createOutdialtarget"]["id"]
    assert created["createOutdialtarget"][field] == value
    updated = await gql.data(ops.UPDATE, id=seeded["id"], input={field: value[::-1]})
    assert updated["updateOutdialtarget"][field] == value[::-1]
    assert (await gql.data(ops.GET, id=target_id))["outdialtarget"][field] == value
    assert (await gql.data(ops.GET, id=seeded["id"]))["outdialtarget"][field] == value[::-1]


ADDRESS_TEXTS = ["targetName", "name", "detail"]


@pytest.mark.parametrize(
    ("operation", "field"),
    [
        *[("create", field) for field in ADDRESS_TEXTS],
        ("update", "name"),
        ("create-many", "detail"),
    ],
)
async def test_address_text_over_255_is_refused(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, operation: str, field: str
) -> None:
    bad = ops.tel("+821100000002", **{field: "a" * 256})
    build, prefix = {
        "create": (create_with(destination2=bad), "input"),
        "update": (update_with(destination2=bad), "input"),
        "create-many": (many_with_bad_fourth(destination2=bad), "inputs[3]"),
    }[operation]
    query = {"create": ops.CREATE, "update": ops.UPDATE, "create-many": ops.CREATE_MANY}[operation]
    error = await refused_and_nothing_written(gql, docs, seeded, query, build(seeded["id"]))
    assert_bad_input(error, f"{prefix}.destination2.{field}", r"\b255\b")


async def test_address_texts_at_255_are_stored(gql: GraphQLClient) -> None:
    texts = {"targetName": "t" * 255, "name": "n" * 255, "detail": "d" * 255}
    created = await gql.data(
        ops.CREATE, input=ops.new_input(OUTDIAL, destination4=ops.tel("+821100000002", **texts))
    )
    target = created["createOutdialtarget"]
    expected = {"type": "TEL", "target": "+821100000002", **texts}
    assert target["destination4"] == expected
    assert (await gql.data(ops.GET, id=target["id"]))["outdialtarget"]["destination4"] == expected


# --- addresses by type ---------------------------------------------------------------------

TEL_LIKE = {
    "valid": [
        ("+821100000001", "+821100000001"),
        ("  +821100000001 ", "+821100000001"),
        ("+1234567", "+1234567"),
        ("+123456789012345", "+123456789012345"),
        # Version 3: the formatting people write is removed.
        ("+82 1100000001", "+821100000001"),
        ("+82-1100000001", "+821100000001"),
        ("+1 (415) 555.0100", "+14155550100"),
        ("+82\t10\u00a01234\u20035678", "+821012345678"),
    ],
    "invalid": [
        "821100000001",
        "+123456",
        "+1234567890123456",
        "+82110000000a",
        "+８２１１００００００１",
        "++821100000001",
        "tel:+821100000001",
        "",
        "   ",
    ],
    "rule": E164_RULE,
}
UUID_LIKE = {
    "valid": [(AGENT_ID, AGENT_ID), (f" {AGENT_ID.upper()} ", AGENT_ID)],
    "invalid": ["agent-7", AGENT_ID[:-1], AGENT_ID.replace("-", ""), ""],
    "rule": UUID_RULE,
}
ADDRESS_RULES: dict[str, dict[str, Any]] = {
    "TEL": {**TEL_LIKE, "kinds": ["TEL"]},
    "WHATSAPP": {**TEL_LIKE, "kinds": ["WHATSAPP"]},
    "EMAIL": {
        "kinds": ["EMAIL"],
        "valid": [
            ("Alice@Example.COM", "alice@example.com"),
            ("  bob.smith+tag@mail.example.org ", "bob.smith+tag@mail.example.org"),
        ],
        "invalid": [
            "alice.example.com",
            "alice@",
            "@example.com",
            "alice@@example.com",
            "alice smith@example.com",
            "",
        ],
        "rule": r"email",
    },
    "SIP": {
        "kinds": ["SIP"],
        "valid": [
            ("alice@Example.COM", "alice@example.com"),
            ("sip:Alice@PBX.Example.com", "sip:Alice@pbx.example.com"),
            ("  sip:bob@10.0.0.1:5060 ", "sip:bob@10.0.0.1:5060"),
        ],
        "invalid": ["alice", "alice@", "@example.com", "sip:", "sip:@example.com", "sip:alice", ""],
        "rule": r"SIP",
    },
    "UUID-types": {**UUID_LIKE, "kinds": UUID_TYPES},
    "NONE": {
        "kinds": ["NONE"],
        "valid": [],
        "invalid": ["+8211000001", "x", " a "],
        "rule": "empty",
    },
}


@pytest.mark.parametrize("family", ADDRESS_RULES)
async def test_address_rule_by_type(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, family: str
) -> None:
    rules = ADDRESS_RULES[family]
    async with nothing_written(gql, docs, seeded):
        for kind in rules["kinds"]:
            for raw in rules["invalid"]:
                error = await gql.error(
                    ops.CREATE, input=ops.new_input(OUTDIAL, destination1=address(kind, raw))
                )
                assert_bad_input(error, "input.destination1.target", rules["rule"], (kind, raw))
                inputs = [
                    ops.new_input(OUTDIAL),
                    ops.new_input(OUTDIAL, destination4=address(kind, raw)),
                ]
                error = await gql.error(ops.CREATE_MANY, inputs=inputs)
                assert_bad_input(error, "inputs[1].destination4.target", rules["rule"], (kind, raw))

    for kind in rules["kinds"]:
        for raw, stored in rules["valid"]:
            created = await gql.data(
                ops.CREATE, input=ops.new_input(OUTDIAL, destination1=address(kind, raw))
            )
            target = created["createOutdialtarget"]
            expected = {"type": kind, "target": stored, "targetName": "", "name": "", "detail": ""}
            assert target["destination1"] == expected, (kind, raw)
            assert (await gql.data(ops.GET, id=target["id"]))["outdialtarget"] == target
            raw_doc = await docs.get(target["id"])
            assert raw_doc is not None
            assert raw_doc["destination_1"]["type"] == kind.lower()
            assert raw_doc["destination_1"]["target"] == stored


@pytest.mark.parametrize(
    ("slot", "kind", "raw", "rule"),
    [
        pytest.param(0, "TEL", "12345", E164_RULE, id="TEL"),
        pytest.param(1, "EMAIL", "nope", r"email", id="EMAIL"),
        pytest.param(2, "SIP", "nope", r"SIP", id="SIP"),
        pytest.param(3, "LINE", "nope", UUID_RULE, id="LINE"),
        pytest.param(4, "NONE", "x", r"empty", id="NONE"),
    ],
)
async def test_invalid_address_is_refused_on_update(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, slot: int, kind: str, raw: str, rule: str
) -> None:
    variables = {
        "id": seeded["id"],
        "input": {"name": "new", f"destination{slot}": address(kind, raw)},
    }
    error = await refused_and_nothing_written(gql, docs, seeded, ops.UPDATE, variables)
    assert_bad_input(error, f"input.destination{slot}.target", rule)


@pytest.mark.parametrize("blank", ["", "   "])
async def test_none_address_is_stored_as_null(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, blank: str
) -> None:
    created = await gql.data(
        ops.CREATE, input=ops.new_input(OUTDIAL, destination2=address("NONE", blank))
    )
    target = created["createOutdialtarget"]
    assert target["destination2"] is None
    raw = await docs.get(target["id"])
    assert raw is not None and raw["destination_2"] is None

    updated = await gql.data(
        ops.UPDATE, id=seeded["id"], input={"destination1": address("NONE", blank)}
    )
    assert updated["updateOutdialtarget"]["destination1"] is None
    assert updated["updateOutdialtarget"]["destination0"] == seeded["destination0"]
    raw = await docs.get(seeded["id"])
    assert raw is not None and raw["destination_1"] is None


# --- create needs a destination ------------------------------------------------------------

NO_DESTINATION = [
    pytest.param({}, id="omitted"),
    pytest.param({f"destination{i}": None for i in range(5)}, id="all-null"),
    pytest.param({"destination0": address("NONE", "")}, id="only-none"),
    pytest.param(
        {"destination0": None, **{f"destination{i}": address("NONE", "") for i in (1, 3)}},
        id="several-none",
    ),
]


@pytest.mark.parametrize("fields", NO_DESTINATION)
async def test_create_without_destination_is_refused(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, fields: dict
) -> None:
    variables = {"input": {"outdialId": OUTDIAL, "name": "lonely", **fields}}
    error = await refused_and_nothing_written(gql, docs, seeded, ops.CREATE, variables)
    assert_bad_input(error, "input.destination0", r"destination")


async def test_create_with_only_a_later_slot_is_accepted(gql: GraphQLClient) -> None:
    created = await gql.data(
        ops.CREATE, input={"outdialId": OUTDIAL, "destination3": ops.tel("+821100000004")}
    )
    target = created["createOutdialtarget"]
    assert [target[f"destination{i}"] is None for i in range(5)] == [True] * 3 + [False, True]


# --- createOutdialtargets ------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1001])
async def test_create_many_size_out_of_range(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, size: int
) -> None:
    inputs = [ops.new_input(OUTDIAL, name=f"n{i}") for i in range(size)]
    error = await refused_and_nothing_written(
        gql, docs, seeded, ops.CREATE_MANY, {"inputs": inputs}
    )
    assert_bad_input(error, "inputs", r"1,?000")


BAD_FOURTH_INPUTS = [
    pytest.param({"destination0": ops.tel("0101234")}, "destination0.target", E164_RULE, id="tel"),
    pytest.param({"name": "n" * 256}, "name", r"\b255\b", id="name"),
    pytest.param({"data": "d" * 65_536}, "data", r"65,?535", id="data"),
    pytest.param({"destination0": address("NONE", "")}, "destination0", r"destination", id="none"),
    pytest.param(
        {"destination3": address("EMAIL", "x@")}, "destination3.target", r"email", id="email"
    ),
]


@pytest.mark.parametrize(("fields", "field", "rule"), BAD_FOURTH_INPUTS)
async def test_create_many_with_one_bad_input_writes_none(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, fields: dict, field: str, rule: str
) -> None:
    variables = many_with_bad_fourth(**fields)(seeded["id"])
    error = await refused_and_nothing_written(gql, docs, seeded, ops.CREATE_MANY, variables)
    assert_bad_input(error, f"inputs[3].{field}", rule)


async def test_create_many_thousand_in_input_order(gql: GraphQLClient, docs: RawDocuments) -> None:
    inputs = [
        ops.new_input(OUTDIAL if i % 2 else OTHER_OUTDIAL, name=f"target {i:04d}")
        for i in range(1000)
    ]
    body = await gql.execute(ops.CREATE_MANY, inputs=inputs)
    written = len(await docs.all())
    if body.get("errors"):
        assert written == 0, f"the request failed ({body['errors']}) yet wrote {written} targets"
    assert "errors" not in body, body
    created = body["data"]["createOutdialtargets"]
    assert [t["name"] for t in created] == [f"target {i:04d}" for i in range(1000)]
    assert [t["outdialId"] for t in created] == [i["outdialId"] for i in inputs]
    assert len({t["id"] for t in created}) == 1000
    assert len({t["tmCreate"] for t in created}) == 1
    assert all(t["tmUpdate"] == t["tmCreate"] and t["status"] == "IDLE" for t in created)
    for outdial in (OUTDIAL, OTHER_OUTDIAL):
        counts = (await gql.data(ops.COUNTS, outdialId=outdial))["outdialtargetCounts"]
        assert counts == {"idle": 500, "progressing": 0, "done": 0, "total": 500}
    assert (await gql.data(ops.GET, id=created[777]["id"]))["outdialtarget"] == created[777]


@pytest.mark.wire
@pytest.mark.parametrize("driver", MONGO_DRIVERS)
async def test_create_many_that_times_out_has_written_nothing(driver: MongoDriver) -> None:
    """A database slower than the client's timeout: the error must not hide a completed write.

    DB_TIMEOUT_MS may be as low as 100; the embedded server needs seconds for 1,000 inserts,
    so the driver times out while the server goes on inserting.
    """
    inputs = [ops.new_input(OUTDIAL, name=f"slow {i}") for i in range(1000)]
    async with EmbeddedMongo(None) as uri:
        impatient = connect(uri, timeout_ms=100, driver=driver)
        observer = connect(uri, timeout_ms=10_000, driver=driver)
        try:
            app = create_app(
                Settings(db_timeout_ms=100),
                storage=lambda: using_database(impatient["outdial_test"]),
            )
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    body = await GraphQLClient(http).execute(ops.CREATE_MANY, inputs=inputs)
            written = await observer["outdial_test"][COLLECTION].count_documents({})
        finally:
            await close(impatient)
            await close(observer)
    if body.get("errors"):
        assert written == 0, (
            f"createOutdialtargets answered {body['errors'][0]['extensions']} "
            f"({body['errors'][0]['message']!r}) but {written} targets were written"
        )
    else:
        assert written == len(body["data"]["createOutdialtargets"]) == 1000


# --- claim arguments, limit, paging --------------------------------------------------------

CLAIM_ARGUMENTS = [
    ({"max": [1, 1, 1, 1, 1, 1]}, "maxTryCounts", r"\b5\b|five"),
    ({"max": [1, -1]}, "maxTryCounts[1]", r"\b0\b|negative"),
    ({"max": [-3]}, "maxTryCounts[0]", r"\b0\b|negative"),
    ({"max": [1], "retry": -1}, "retryIntervalMs", r"\b0\b|negative"),
]


@pytest.mark.parametrize("query", [ops.CLAIM, ops.AVAILABLE], ids=["claim", "available"])
async def test_claim_arguments_out_of_range(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, query: str
) -> None:
    async with nothing_written(gql, docs, seeded):
        for arguments, field, rule in CLAIM_ARGUMENTS:
            error = await gql.error(query, outdialId=OUTDIAL, **arguments)
            assert_bad_input(error, field, rule, arguments)
    claimed = (await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[1]))["claimOutdialtarget"]
    assert claimed["target"]["id"] == seeded["id"], "the refused claims had something to take"


async def test_claim_arguments_at_their_bounds_are_accepted(
    gql: GraphQLClient, seeded: dict
) -> None:
    empty = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[])
    assert empty["availableOutdialtargets"] == []
    assert (await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[]))["claimOutdialtarget"] is None
    assert (await gql.data(ops.GET, id=seeded["id"]))["outdialtarget"] == seeded
    five = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[0, 0, 0, 0, 1], retry=0)
    assert five["availableOutdialtargets"] == []
    found = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[0, 1, 0, 0, 0], limit=100)
    assert [t["id"] for t in found["availableOutdialtargets"]] == [seeded["id"]]
    one = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[1], limit=1)
    assert [t["id"] for t in one["availableOutdialtargets"]] == [seeded["id"]]


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        pytest.param(ops.AVAILABLE, {"outdialId": OUTDIAL, "max": [1]}, "limit", id="limit"),
        pytest.param(ops.LIST, {"outdialId": OUTDIAL}, "first", id="first"),
    ],
)
async def test_page_size_out_of_range(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, query: str, variables: Vars, field: str
) -> None:
    async with nothing_written(gql, docs, seeded):
        for size in (0, -1, 101):
            error = await gql.error(query, **variables, **{field: size})
            assert_bad_input(error, field, r"\b100\b", size)


@pytest.mark.parametrize("first", [1, 100])
async def test_list_first_at_bounds(gql: GraphQLClient, seeded: dict, first: int) -> None:
    page = (await gql.data(ops.LIST, outdialId=OUTDIAL, first=first))["outdialtargets"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [seeded["id"]]


def tampered(cursor: str) -> str:
    """One character changed in the middle, where every base64 character carries data bits."""
    middle = len(cursor) // 2
    return cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]


async def test_cursor_the_server_did_not_issue(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL, name="second"))
    page = (await gql.data(ops.LIST, outdialId=OUTDIAL, first=1))["outdialtargets"]
    real = page["pageInfo"]["endCursor"]
    after = (await gql.data(ops.LIST, outdialId=OUTDIAL, first=1, after=real))["outdialtargets"]
    assert [edge["node"]["id"] for edge in after["edges"]] == [seeded["id"]]
    forged = [
        "not a cursor",
        "",
        "MjAyNC0wMS0wMSAwMDowMDowMC4wMDAwMDB8eA",
        tampered(real),
        real[:-4],
        real + "AAAA",
    ]
    async with nothing_written(gql, docs, seeded):
        for cursor in forged:
            error = await gql.error(ops.LIST, outdialId=OUTDIAL, after=cursor)
            assert_bad_input(error, "after", r"cursor", cursor)


# --- destinationIndex ----------------------------------------------------------------------


@pytest.mark.parametrize("slot", [-1, 5, 2])
async def test_destination_index_rules(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, slot: int
) -> None:
    variables = {"id": seeded["id"], "slot": slot}
    error = await refused_and_nothing_written(gql, docs, seeded, ops.MARK, variables)
    assert_bad_input(error, "destinationIndex", r"\b4\b" if slot != 2 else r"destination")


# --- checks run in this order --------------------------------------------------------------


async def progressing(gql: GraphQLClient, target_id: str) -> dict:
    return (await gql.data(ops.MARK, id=target_id, slot=0))["markOutdialtargetProgressing"]


async def test_update_format_rules_come_before_existence(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    variables = {"id": MISSING, "input": {"name": "n" * 256}}
    error = await refused_and_nothing_written(gql, docs, seeded, ops.UPDATE, variables)
    assert_bad_input(error, "input.name", r"\b255\b")
    deleted = (await gql.data(ops.DELETE, id=seeded["id"]))["deleteOutdialtarget"]
    variables = {"id": seeded["id"], "input": {"destination0": ops.tel("nope")}}
    error = await refused_and_nothing_written(gql, docs, deleted, ops.UPDATE, variables)
    assert_bad_input(error, "input.destination0.target", E164_RULE)


async def test_update_format_rules_come_before_status(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    current = await progressing(gql, seeded["id"])
    variables = {"id": seeded["id"], "input": {"destination3": address("SIP", "bob")}}
    error = await refused_and_nothing_written(gql, docs, current, ops.UPDATE, variables)
    assert_bad_input(error, "input.destination3.target", r"SIP")


async def test_mark_slot_range_comes_before_status(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    current = await progressing(gql, seeded["id"])
    variables = {"id": seeded["id"], "slot": 5}
    error = await refused_and_nothing_written(gql, docs, current, ops.MARK, variables)
    assert_bad_input(error, "destinationIndex", r"\b4\b")


async def test_existence_comes_before_status_and_the_stored_document_rules(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    empty_all = {f"destination{i}": None for i in range(5)}
    error = await gql.error(ops.UPDATE, id=MISSING, input=empty_all)
    assert error["extensions"]["code"] == "NOT_FOUND"
    current = await progressing(gql, seeded["id"])
    deleted = (await gql.data(ops.DELETE, id=seeded["id"]))["deleteOutdialtarget"]
    assert deleted["status"] == current["status"] == "PROGRESSING"
    error = await refused_and_nothing_written(
        gql, docs, deleted, ops.UPDATE, {"id": seeded["id"], "input": empty_all}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("status", ["PROGRESSING", "DONE"])
async def test_status_comes_before_the_leaves_a_destination_rule(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict, status: str
) -> None:
    current = await progressing(gql, seeded["id"])
    if status == "DONE":
        current = (await gql.data(ops.REPORT, id=seeded["id"], status="DONE"))[
            "updateOutdialtargetStatus"
        ]
    variables = {"id": seeded["id"], "input": {"destination0": None, "destination1": None}}
    error = await refused_and_nothing_written(gql, docs, current, ops.UPDATE, variables)
    assert error["extensions"] == {"code": "INVALID_STATE", "status": status}


async def test_update_that_leaves_no_destination_is_refused(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    variables = {
        "id": seeded["id"],
        "input": {"name": "x", "destination0": None, "destination1": address("NONE", "")},
    }
    error = await refused_and_nothing_written(gql, docs, seeded, ops.UPDATE, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert re.search(r"destination", error["message"]), error


# --- request-level errors ------------------------------------------------------------------


async def test_parse_error_code(gql: GraphQLClient) -> None:
    error = await gql.error("mutation { createOutdialtarget(input: {")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_validation_error_code_and_nothing_written(
    gql: GraphQLClient, docs: RawDocuments, seeded: dict
) -> None:
    query = """mutation($input: CreateOutdialtargetInput!) {
      createOutdialtarget(input: $input) { id noSuchField } }"""
    variables = {"input": ops.new_input(OUTDIAL)}
    error = await refused_and_nothing_written(gql, docs, seeded, query, variables)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
