"""Both drivers MONGODB_DRIVER may name, over a real socket: where Motor's and PyMongo's calls
differ (transactions, change streams, closing) and where the service relies on their errors
(write concern, timeouts), the storage behaves the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pymongo.errors import OperationFailure
from pymongo.write_concern import WriteConcern

from domain.errors import DatabaseUnavailable, IdsTaken
from domain.models import Target
from storage.backend import MONGO_DRIVERS, MongoDriver
from storage.documents import UnreadableLog, target_from_document
from storage.mongo.changes import change_source, supports_change_streams
from storage.mongo.connection import MongoStorage, open_mongo
from storage.mongo.driver import Collection, targets_collection
from storage.mongo.repository import TargetRepository
from tests.support.documents import stored_document, tid
from tests.support.mongoeco_server import EmbeddedMongo
from tests.support.wire import mongo_client

pytestmark = [pytest.mark.wire, pytest.mark.parametrize("driver", MONGO_DRIVERS)]

OTHER_DRIVER: dict[MongoDriver, MongoDriver] = {"motor": "pymongo", "pymongo": "motor"}


@asynccontextmanager
async def opened(driver: MongoDriver) -> AsyncIterator[MongoStorage]:
    async with (
        EmbeddedMongo(None) as uri,
        open_mongo(url=uri, database="drivers", timeout_ms=5000, driver=driver) as mongo,
    ):
        yield mongo


def transactional(collection: Collection) -> TargetRepository:
    """The repository as on a replica set: every bulk create one transaction."""
    return TargetRepository(collection, UnreadableLog(), transactions=True)


def targets(*numbers: int) -> list[Target]:
    return [target_from_document(stored_document(tid(n))) for n in numbers]


async def stored_ids(collection: Collection) -> list[str]:
    return [doc["_id"] async for doc in collection.find({}, {"_id": 1}, sort=[("_id", 1)])]


async def test_a_bulk_create_in_a_transaction_is_stored_whole_or_not_at_all(
    driver: MongoDriver,
) -> None:
    async with opened(driver) as mongo:
        repository = transactional(mongo.collection)
        await repository.create(targets=targets(1, 2))
        with pytest.raises(IdsTaken, match=tid(2)):
            await repository.create(targets=targets(3, 2, 4))
        assert await stored_ids(mongo.collection) == [tid(1), tid(2)], "3 rolled back"
        await repository.create(targets=targets(3, 4))
        assert await stored_ids(mongo.collection) == [tid(n) for n in (1, 2, 3, 4)]


async def test_writes_ask_for_majority_and_are_read_by_the_other_driver(
    driver: MongoDriver,
) -> None:
    async with (
        EmbeddedMongo(None) as uri,
        open_mongo(url=uri, database="drivers", timeout_ms=5000, driver=driver) as mongo,
        mongo_client(uri, driver=OTHER_DRIVER[driver]) as other,
    ):
        assert mongo.collection.write_concern == WriteConcern("majority")
        await mongo.repository.create(targets=targets(1))
        assert await stored_ids(targets_collection(other["drivers"])) == [tid(1)]


async def test_a_server_without_change_streams_is_told_apart_and_refuses_to_stream(
    driver: MongoDriver,
) -> None:
    """mongoeco is a standalone server: each driver opens the stream its own way, and both
    meet the server's refusal (not a TypeError of a call made the other driver's way)."""
    async with opened(driver) as mongo:
        assert not await supports_change_streams(mongo.database)
        with pytest.raises(OperationFailure, match=r"\$changeStream"):
            async with change_source(mongo.collection)(None) as stream:
                async for _ in stream:
                    pass


async def test_a_database_gone_away_is_database_unavailable(driver: MongoDriver) -> None:
    async with EmbeddedMongo(None) as uri:
        opening = open_mongo(url=uri, database="drivers", timeout_ms=300, driver=driver)
        mongo = await opening.__aenter__()
        await mongo.repository.create(targets=targets(1))
    try:
        with pytest.raises(DatabaseUnavailable, match="did not answer in time"):
            await mongo.repository.get(target_id=tid(1))
        with pytest.raises(DatabaseUnavailable, match="may or may not have been applied"):
            await mongo.repository.create(targets=targets(2))
        assert not await mongo.ping()
    finally:
        await opening.__aexit__(None, None, None)
