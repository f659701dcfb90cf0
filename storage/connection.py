"""Opening the database: the configured MongoDB, or the embedded one on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from domain.events import Broker
from storage.changes import ChangeStreamConsumer, motor_change_source, supports_change_streams
from storage.driver import Collection, Database, PyMongoError, connect, targets_collection
from storage.indexes import ensure_indexes
from storage.repository import TargetRepository

logger = logging.getLogger("outdial.storage")


@dataclass(frozen=True, slots=True)
class Storage:
    database: Database
    collection: Collection
    repository: TargetRepository

    @classmethod
    async def prepare(cls, database: Database) -> Storage:
        collection = targets_collection(database)
        await ensure_indexes(collection)
        return cls(database, collection, TargetRepository(collection))

    @asynccontextmanager
    async def feed_changes(self, broker: Broker) -> AsyncIterator[bool]:
        """Feed `broker` from a change stream while inside; yields False where none exists."""
        if not await supports_change_streams(self.database):
            yield False
            return
        await self._record_pre_images()
        consumer = ChangeStreamConsumer(motor_change_source(self.collection), broker)
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
async def open_storage(
    *, url: str | None, database: str, data_dir: Path, timeout_ms: int
) -> AsyncIterator[Storage]:
    async with AsyncExitStack() as stack:
        if url is None:
            from storage.embedded import EmbeddedMongo

            url = await stack.enter_async_context(EmbeddedMongo(data_dir))
            logger.info("embedded MongoDB-compatible server on %s, data in %s", url, data_dir)
        client = connect(url, timeout_ms=timeout_ms)
        stack.callback(client.close)
        yield await Storage.prepare(client[database])
