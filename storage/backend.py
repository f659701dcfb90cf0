"""What the server holds of a storage backend, and opening the one the settings name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

from domain.events import Broker
from domain.ports import TargetStore
from storage.documents import UnreadableLog


class Storage(Protocol):
    @property
    def repository(self) -> TargetStore: ...

    def feed_changes(self, broker: Broker) -> AbstractAsyncContextManager[bool]:
        """Feed `broker` with every change while inside; yields False where the backend
        cannot, and the service then publishes its own changes."""
        ...

    @property
    def unreadable(self) -> UnreadableLog:
        """The stored documents found breaking the shape; listen to hear of each new one."""
        ...

    async def report_unreadable(self) -> None:
        """Tell `unreadable` of those known at start-up (others are found when read)."""
        ...

    async def ping(self) -> bool: ...


@asynccontextmanager
async def open_storage(
    *, url: str | None, database: str, data_dir: Path, timeout_ms: int
) -> AsyncIterator[Storage]:
    """MongoDB at `url`, or the embedded SQLite store in `data_dir` when there is none."""
    if url is None:
        from storage.sqlite.storage import open_sqlite

        async with open_sqlite(data_dir) as embedded:
            yield embedded
        return
    from storage.mongo.connection import open_mongo

    async with open_mongo(url=url, database=database, timeout_ms=timeout_ms) as mongo:
        yield mongo
