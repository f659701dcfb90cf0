"""One SQLite file: writes through one group-committing writer (storage.sqlite.writer), reads
on the event loop.

WAL lets reads run beside a write; `synchronous=FULL` makes every acknowledged write survive
power loss. One writer serialises the writes, so each one is atomic and isolated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from domain.errors import DatabaseUnavailable
from storage.sqlite import schema, writes
from storage.sqlite.writer import GroupWriter

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
        self._writer: GroupWriter | None = None
        self._read_connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        writer = GroupWriter(lambda: connect(self.path))
        try:
            await writer.write(_create_schema)
        except BaseException:
            await writer.stop()
            raise
        self._writer = writer
        self._read_connection = connect(self.path)

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        read, self._read_connection = self._read_connection, None
        if read is not None:
            read.close()
        if writer is not None:
            await writer.stop()

    @property
    def reader(self) -> sqlite3.Connection:
        """For reads on the event loop: each statement sees the last committed writes."""
        if self._read_connection is None:
            raise DatabaseUnavailable("the embedded database is closed")
        return self._read_connection

    async def write[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on the writer, atomically: all of it is stored, or none; answered
        once its commit has reached the disk."""
        if self._writer is None:
            raise DatabaseUnavailable("the embedded database is closed")
        result: T = await self._writer.write(work)
        return result


def _create_schema(connection: sqlite3.Connection) -> None:
    for statement in schema.ALL:
        connection.execute(statement)
    connection.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(schema.VERSION),),
    )
    _upgrade(connection)


def _upgrade(connection: sqlite3.Connection) -> None:
    """Version 1 files have no destination keys yet: add those of every target, once. Rows
    before version 3 were derived by a more lenient reader: derive them again, once."""
    (version,) = connection.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
    ).fetchone()
    if int(version) < 2:
        writes.index_all(connection)
    if int(version) < 3:
        writes.derive_all(connection)
    connection.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(schema.VERSION),)
    )
