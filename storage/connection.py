"""Opening the database: the configured MongoDB, or the embedded one on a loopback port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from storage.driver import Database, PyMongoError, connect, targets_collection
from storage.indexes import ensure_indexes
from storage.repository import TargetRepository

logger = logging.getLogger("outdial.storage")


@dataclass(frozen=True, slots=True)
class Storage:
    database: Database
    repository: TargetRepository

    @classmethod
    async def prepare(cls, database: Database) -> Storage:
        collection = targets_collection(database)
        await ensure_indexes(collection)
        return cls(database, TargetRepository(collection))

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
