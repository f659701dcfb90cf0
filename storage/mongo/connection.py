"""Opening the configured MongoDB: indexes, the repository, the change stream feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from domain.events import Broker
from storage.documents import UnreadableLog
from storage.mongo.changes import ChangeStreamConsumer, motor_change_source, supports_change_streams
from storage.mongo.driver import Collection, Database, PyMongoError, connect, targets_collection
from storage.mongo.indexes import ensure_indexes
from storage.mongo.repository import TargetRepository

logger = logging.getLogger("outdial.storage")


@dataclass(frozen=True, slots=True)
class MongoStorage:
    database: Database
    collection: Collection
    repository: TargetRepository
    unreadable: UnreadableLog
    change_streams: bool  # a replica set or a mongos, as `hello` said when prepared

    @classmethod
    async def prepare(cls, database: Database) -> MongoStorage:
        collection = targets_collection(database)
        await ensure_indexes(collection)
        transactions = await supports_change_streams(database)  # a replica set or a mongos
        if not transactions:
            logger.warning(
                "MongoDB is a standalone server, which has no transactions: a bulk create that "
                "dies midway may leave part of its targets; client-chosen ids make its retry safe"
            )
        unreadable = UnreadableLog()
        repository = TargetRepository(collection, unreadable, transactions=transactions)
        return cls(database, collection, repository, unreadable, change_streams=transactions)

    async def report_unreadable(self) -> None:
        """Nothing to look up: documents are found unreadable as they are read."""

    @asynccontextmanager
    async def feed_changes(self, broker: Broker) -> AsyncIterator[bool]:
        """Feed `broker` from a change stream while inside; yields False where none exists."""
        if not self.change_streams:
            logger.warning(
                "MongoDB offers no change streams (not a replica set): "
                "subscriptions see only the changes made through this instance"
            )
            yield False
            return
        await self._record_pre_images()
        consumer = ChangeStreamConsumer(
            motor_change_source(self.collection), broker, unreadable=self.unreadable
        )
        task = asyncio.create_task(consumer.run(), name="change-stream")
        try:
            yield True
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _record_pre_images(self) -> None:
        """Exact previous statuses need pre-images (MongoDB 6+); without them they are derived."""
        command = {
            "collMod": self.collection.name,
            "changeStreamPreAndPostImages": {"enabled": True},
        }
        try:
            await self.database.command(command)
        except PyMongoError as error:
            logger.info(
                "change stream pre-images unavailable (%s); deriving previous status", error
            )

    async def ping(self) -> bool:
        try:
            await self.database.command("ping")
        except PyMongoError:
            return False
        return True


@asynccontextmanager
async def using_database(database: Database) -> AsyncIterator[MongoStorage]:
    """A database the caller opened and closes (tests inject mongomock or a wire server)."""
    yield await MongoStorage.prepare(database)


@asynccontextmanager
async def open_mongo(*, url: str, database: str, timeout_ms: int) -> AsyncIterator[MongoStorage]:
    client = connect(url, timeout_ms=timeout_ms)
    try:
        yield await MongoStorage.prepare(client[database])
    finally:
        client.close()
