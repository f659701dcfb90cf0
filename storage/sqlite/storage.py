"""Opening the embedded store: the data directory's lock, the file, a one-time migration."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from domain.events import Broker
from storage.datadir import DataDirLock
from storage.documents import UnreadableLog
from storage.sqlite import migration
from storage.sqlite.database import FILE_NAME, SqliteDatabase
from storage.sqlite.repository import SqliteTargetRepository

logger = logging.getLogger("outdial.storage")


class SqliteStorage:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        self.unreadable = UnreadableLog()
        self.repository = SqliteTargetRepository(database, self.unreadable)

    @asynccontextmanager
    async def feed_changes(self, broker: Broker) -> AsyncIterator[bool]:
        """No other process writes this file: the service publishes its own changes."""
        yield False

    async def report_unreadable(self) -> None:
        self.repository.report_unreadable()

    async def ping(self) -> bool:
        try:
            self.database.reader.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True


@asynccontextmanager
async def open_sqlite(data_dir: Path) -> AsyncIterator[SqliteStorage]:
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        database = SqliteDatabase(data_dir / FILE_NAME)
        await database.open()
        try:
            await migration.bring_over_previous_store(database, data_dir)
            logger.info("embedded SQLite store in %s", database.path)
            yield SqliteStorage(database)
        finally:
            with contextlib.suppress(sqlite3.Error):
                await database.close()
    finally:
        lock.release()
