"""The MongoDB backend's hot queries each match an index built for them: every query pins the
leading fields of its index (equality, or a range on the last one used), so a real MongoDB plans
an index scan; where the mongoeco test server's explain names usable indexes, it names that one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.candidates import NeverTried, Tried
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
