"""The MongoDB backend's hot queries each match an index built for them: every query pins the
leading fields of its index (equality, or a range on the last one used), so a real MongoDB plans
an index scan; where the mongoeco test server's explain names usable indexes, it names that one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.candidates import InZone, NeverTried, Tried
from domain.claim import policy
from domain.listing import OutdialTargets
from domain.models import Status
from storage.documents import target_from_document
from storage.mongo import filters
from storage.mongo.connection import MongoStorage, open_mongo
from storage.mongo.indexes import INDEXES
from tests.support.documents import stored_document
from tests.support.mongoeco_server import EmbeddedMongo

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
TARGET = "00000000-0000-4000-8000-000000000001"
TIME = "2024-01-01 00:00:00.000000"
RULES = policy(OUTDIAL, [3, 2], 60_000)
NEW_YORK = InZone("America/New_York")
NO_ZONE = InZone(None)


@pytest.fixture
async def storage() -> AsyncIterator[MongoStorage]:
    async with (
        EmbeddedMongo(None) as uri,
        open_mongo(url=uri, database="plans", timeout_ms=5000) as mongo,
    ):
        yield mongo


QUERIES = [
    pytest.param(filters.tried_bucket(RULES, 0, 1, TIME), "claim_slot0", 5, id="claim-tried-0"),
    pytest.param(filters.tried_bucket(RULES, 1, 0, TIME), "claim_slot1", 5, id="claim-tried-1"),
    pytest.param(filters.next_tries(RULES, 0, 1), "claim_slot0", 4, id="claim-next-tries"),
    pytest.param(filters.never_tried_bucket(RULES), "claim_never_tried", 8, id="never-tried"),
    pytest.param(
        filters.in_scope(OutdialTargets(OUTDIAL, None)), "list_newest_first", 2, id="first-page"
    ),
    pytest.param(filters.of_status(OUTDIAL, Status.IDLE), "list_by_status", 3, id="counts"),
    pytest.param(filters.lapsed(TIME), "lease_end", 3, id="lapse-sweep"),
    pytest.param(filters.progressing_since(OUTDIAL, TIME), "progressing_since", 4, id="release"),
    pytest.param(filters.outdial_past(OUTDIAL, True), "list_newest_first", 1, id="outdials"),
]
# The claim under a calling window: each lookup within one zone (named, or none).
WINDOWED = (
    [
        pytest.param(
            filters.lookup(RULES, Tried(1, 1, zone), TIME),
            "window_slot1",
            6,
            id=f"tried-{zone.name}",
        )
        for zone in (NEW_YORK, NO_ZONE)
    ]
    + [
        pytest.param(
            filters.next_tries(RULES, 0, 1) | filters.in_zone(zone),
            "window_slot0",
            5,
            id=f"next-tries-{zone.name}",
        )
        for zone in (NEW_YORK, NO_ZONE)
    ]
    + [
        pytest.param(
            filters.lookup(RULES, NeverTried((0, 1), zone), TIME),
            "window_never_tried",
            9,
            id=f"never-tried-{zone.name}",
        )
        for zone in (NEW_YORK, NO_ZONE)
    ]
    + [
        pytest.param(filters.zone_after(RULES, 0, None), "window_slot0", 4, id="first-zone"),
        pytest.param(filters.zone_after(RULES, 1, "Asia/Seoul"), "window_slot1", 4, id="next-zone"),
        pytest.param(filters.without_zone(RULES, 0), "window_slot0", 4, id="no-zone"),
    ]
)
QUERIES += WINDOWED


def index_keys(name: str) -> list[str]:
    (model,) = [m for m in INDEXES if m.document["name"] == name]
    return list(model.document["key"])


@pytest.mark.parametrize(("query", "index", "pinned"), QUERIES)
def test_the_query_pins_the_leading_fields_of_its_index(
    query: dict[str, Any], index: str, pinned: int
) -> None:
    keys = index_keys(index)[:pinned]
    assert all(key in query for key in keys), (keys, sorted(query))
    *equal, last = keys
    assert all(not isinstance(query[key], dict) or set(query[key]) <= {"$in"} for key in equal)
    assert not isinstance(query[last], dict) or set(query[last]) <= {
        "$in",
        "$lte",
        "$gte",
        "$gt",
        "$lt",
    }


@pytest.mark.wire
@pytest.mark.parametrize(("query", "index", "pinned"), QUERIES[:3])
async def test_the_test_servers_planner_names_the_index(
    storage: MongoStorage, query: dict[str, Any], index: str, pinned: int
) -> None:
    explained = await storage.collection.find(query).explain()
    assert index in explained["details"]["usableVirtualIndexes"], explained["details"]


@pytest.mark.wire
@pytest.mark.parametrize(
    ("query", "index", "pinned"),
    [case for case in WINDOWED if "$or" not in case.values[0]],  # its explain omits an $or's
)
async def test_the_test_servers_planner_names_the_window_index(
    storage: MongoStorage, query: dict[str, Any], index: str, pinned: int
) -> None:
    explained = await storage.collection.find(query).explain()
    assert index in explained["details"]["usableVirtualIndexes"], explained["details"]


def test_the_window_indexes_are_the_claim_indexes_with_the_zone_after_the_outdials_idle_ones() -> (
    None
):
    for claim_index, window_index in [
        *((f"claim_slot{slot}", f"window_slot{slot}") for slot in range(5)),
        ("claim_never_tried", "window_never_tried"),
    ]:
        keys = index_keys(claim_index)
        assert keys[:3] == ["outdial_id", "status", "tm_delete"]
        assert index_keys(window_index) == [*keys[:3], "time_zone", *keys[3:]]
        (claim_model,) = [m for m in INDEXES if m.document["name"] == claim_index]
        (window_model,) = [m for m in INDEXES if m.document["name"] == window_index]
        assert claim_model.document.get("partialFilterExpression") == window_model.document.get(
            "partialFilterExpression"
        )


def test_the_windowed_lookups_are_the_buckets_within_one_zone() -> None:
    assert filters.lookup(RULES, Tried(1, 0, NEW_YORK), TIME) == filters.tried_bucket(
        RULES, 1, 0, TIME
    ) | {"time_zone": "America/New_York"}
    assert filters.lookup(RULES, NeverTried((0, 1), NO_ZONE), TIME) == filters.never_tried_bucket(
        RULES
    ) | {"time_zone": None}


def test_the_claims_lookups_are_the_buckets_above() -> None:
    assert filters.lookup(RULES, NeverTried((0, 1)), TIME) == filters.never_tried_bucket(RULES)
    assert filters.lookup(RULES, Tried(1, 0), TIME) == filters.tried_bucket(RULES, 1, 0, TIME)


def test_a_claim_writes_one_target_found_by_id() -> None:
    target = target_from_document(stored_document(TARGET, try_count_0=1))
    query = filters.claimable(target, 0)
    assert query["_id"] == TARGET
    assert (query["status"], query["tm_update"], query["try_count_0"]) == (
        "idle",
        target.tm_update,
        1,
    )


def test_every_conditional_write_names_the_shard_key() -> None:
    """Sharded on {outdial_id, _id} (README, "How it grows"), a write that names both reaches
    the one shard holding the target, not every shard."""
    target = target_from_document(stored_document(TARGET, outdial_id=OUTDIAL))
    for written in (filters.unchanged(target), filters.claimable(target, 0)):
        assert (written["outdial_id"], written["_id"]) == (OUTDIAL, TARGET)
