"""Opening the embedded store: the data directory (shared by any number of processes), the
file, a one-time migration; and feeding the broker from the change log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from domain.errors import DatabaseUnavailable
from domain.events import Broker
from storage.datadir import DataDirLock, refuse_network_filesystem, running, starting_alone
from storage.documents import UnreadableLog
from storage.sqlite import migration
from storage.sqlite.database import FILE_NAME, SqliteDatabase, connect
from storage.sqlite.feed import ChangeFeed
from storage.sqlite.repository import SqliteTargetRepository
from storage.sqlite.writer import BUSY_TIMEOUT_S

logger = logging.getLogger("outdial.storage")


class SqliteStorage:
    def __init__(self, database: SqliteDatabase) -> None:
        self.database = database
        self.unreadable = UnreadableLog()
        self.repository = SqliteTargetRepository(database, self.unreadable)

    @asynccontextmanager
    async def feed_changes(self, broker: Broker) -> AsyncIterator[bool]:
        """Feed `broker` from the change log while inside: every change, whichever process
        wrote it, in commit order."""
        connection = connect(self.database.path)
        try:
            feed = ChangeFeed(connection, broker)
            stop_listening = self.database.listen_to_commits(feed.catch_up)
            following = asyncio.create_task(feed.follow(), name="change-feed")
            try:
                yield True
            finally:
                stop_listening()
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
        finally:
            connection.close()

    async def report_unreadable(self) -> None:
        self.repository.report_unreadable()

    @property
    def write_refusal(self) -> DatabaseUnavailable | None:
        return self.database.refusals.current

    async def ping(self) -> bool:
        try:
            self.database.reader.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True


@asynccontextmanager
async def open_sqlite(
    data_dir: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> AsyncIterator[SqliteStorage]:
    """`busy_timeout_s`: how long a write waits while other processes hold the file."""
    refuse_network_filesystem(data_dir)
    lock = DataDirLock(data_dir, shared=True)
    lock.acquire()
    started = running(data_dir)
    try:
        database = SqliteDatabase(data_dir / FILE_NAME, busy_timeout_s=busy_timeout_s)
        try:
            async with starting_alone(data_dir) as first:
                # A process that started earlier and still runs checked the file at its start.
                await database.open(check=first)
                await migration.bring_over_previous_store(database, data_dir)
                started.acquire()
            checked = "checked" if first else "checked by the processes already using it"
            logger.info("embedded SQLite store in %s (%s)", database.path, checked)
            yield SqliteStorage(database)
        finally:
            with contextlib.suppress(sqlite3.Error):
                await database.close()
    finally:
        started.release()
        lock.release()
