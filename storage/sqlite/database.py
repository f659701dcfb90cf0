"""One SQLite file: writes in transactions on one writer thread, reads on the event loop.

WAL lets reads run beside a write; `synchronous=FULL` makes every acknowledged write survive
power loss. One writer thread serialises transactions, so each one is atomic and isolated.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from domain.errors import DatabaseUnavailable
from storage.sqlite import schema, writes

FILE_NAME = "targets.sqlite3"

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = OFF",
)


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in _PRAGMAS:
        connection.execute(pragma)
    return connection


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._write_connection: sqlite3.Connection | None = None
        self._read_connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._write_connection = await self._on_writer(lambda: _open_for_writes(self.path))
        self._read_connection = connect(self.path)

    async def close(self) -> None:
        write, self._write_connection = self._write_connection, None
        read, self._read_connection = self._read_connection, None
        if read is not None:
            read.close()
        if write is not None:
            await self._on_writer(write.close)
        self._writer.shutdown(wait=True)

    @property
    def reader(self) -> sqlite3.Connection:
        """For reads on the event loop: each statement sees the last committed writes."""
        if self._read_connection is None:
            raise DatabaseUnavailable("the embedded database is closed")
        return self._read_connection

    async def write[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one transaction on the writer thread: all of it is stored, or none."""
        connection = self._write_connection
        if connection is None:
            raise DatabaseUnavailable("the embedded database is closed")
        return await self._on_writer(lambda: _in_transaction(connection, work))

    async def _on_writer[T](self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, work)


def _open_for_writes(path: Path) -> sqlite3.Connection:
    connection = connect(path)
    _in_transaction(connection, _create_schema)
    return connection


def _create_schema(connection: sqlite3.Connection) -> None:
    for statement in schema.ALL:
        connection.execute(statement)
    connection.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(schema.VERSION),),
    )
    _upgrade(connection)


def _upgrade(connection: sqlite3.Connection) -> None:
    """Version 1 files have no destination keys yet: add those of every target, once."""
    (version,) = connection.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
    ).fetchone()
    if int(version) < 2:
        writes.index_all(connection)
    connection.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(schema.VERSION),)
    )


def _in_transaction[T](
    connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]
) -> T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result
