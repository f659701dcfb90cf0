"""What the server holds of a storage backend, and opening the one the settings name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Literal, Protocol

from domain.errors import DatabaseUnavailable
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

    @property
    def write_refusal(self) -> DatabaseUnavailable | None:
        """Why the disk refused the last write, until a write succeeds again (the embedded
        store's; MongoDB's own servers say when they cannot write)."""
        ...


type MongoDriver = Literal["motor", "pymongo"]
MONGO_DRIVERS: tuple[MongoDriver, ...] = ("motor", "pymongo")  # the first is the default


class StorageSettings(Protocol):
    """What opening storage reads of the service's settings (server.settings.Settings)."""

    @property
    def mongodb_url(self) -> str | None: ...

    @property
    def mongodb_db(self) -> str: ...

    @property
    def mongodb_driver(self) -> MongoDriver: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def db_timeout_ms(self) -> int: ...


@asynccontextmanager
async def open_storage(settings: StorageSettings) -> AsyncIterator[Storage]:
    """MongoDB at `mongodb_url`, or the embedded SQLite store in `data_dir` when there is none.

    Raises storage.errors.CannotOpenStorage, saying why and what to do, when it will not open.
    """
    if settings.mongodb_url is None:
        from storage.sqlite.storage import open_sqlite

        async with open_sqlite(
            settings.data_dir, busy_timeout_s=settings.db_timeout_ms / 1000
        ) as embedded:
            yield embedded
        return
    from storage.mongo.connection import open_mongo

    async with open_mongo(
        url=settings.mongodb_url,
        database=settings.mongodb_db,
        timeout_ms=settings.db_timeout_ms,
        driver=settings.mongodb_driver,
    ) as mongo:
        yield mongo
