"""MongoDB claims across instances: each claim one compare-and-set on the target as read, a lost
race passed over for the next candidate, no target handed out twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from mongomock_motor import AsyncMongoMockClient

from domain.claim import policy
from storage.mongo.connection import MongoStorage, open_mongo
from storage.mongo.driver import Database
from tests.support.backends import WIRE_DRIVERS
from tests.support.documents import stored_document, tid
from tests.support.mongoeco_server import EmbeddedMongo

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
TARGETS = 15


@pytest.fixture(
    params=["mock", *(pytest.param(tier, marks=pytest.mark.wire) for tier in WIRE_DRIVERS)]
)
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    if request.param == "mock":
        yield AsyncMongoMockClient()[f"test_{uuid.uuid4().hex}"]
        return
    driver = WIRE_DRIVERS[request.param]
    async with (
        EmbeddedMongo(None) as uri,
        open_mongo(url=uri, database="claims", timeout_ms=5000, driver=driver) as mongo,
    ):
        yield mongo.database


async def test_two_instances_claiming_at_once_never_share_a_target(database: Database) -> None:
    first, second = MongoStorage.prepare(database), MongoStorage.prepare(database)
    instances = await asyncio.gather(first, second)
    await instances[0].collection.insert_many(
        [
            stored_document(tid(n), tm_update=f"2024-01-01 00:00:{n:02d}.000000", try_count_0=n % 2)
            for n in range(TARGETS)
        ]
    )
    rules = policy(OUTDIAL, [2], 0)

    async def claims(storage: MongoStorage, limit: int) -> list[str]:
        won = await storage.repository.claim(rules=rules, now=NOW, limit=limit, lease_ms=None)
        return [target.id for target, slot in won]

    results = await asyncio.gather(
        *(claims(storage, limit) for storage in instances for limit in (1, 3, 1, 2, 1, 3, 1))
    )
    won = [target_id for result in results for target_id in result]
    assert sorted(won) == [tid(n) for n in range(TARGETS)]
    stored = await instances[0].collection.find({}, sort=[("_id", 1)]).to_list(None)
    assert [(doc["status"], doc["try_count_0"]) for doc in stored] == [
        ("progressing", n % 2 + 1) for n in range(TARGETS)
    ]
