"""One SQLite file: writes through one group-committing writer (storage.sqlite.writer), reads
on the event loop.

WAL lets reads run beside a write, also in other processes; `synchronous=FULL` makes every
acknowledged write survive power loss. One writer per process groups that process's writes;
SQLite runs the write transactions of every process one at a time, so each write is atomic and
isolated, and every check it makes inside its transaction holds across processes. Opening may
check the whole file (`PRAGMA quick_check`: per 100,000 targets, 210 MB, 0.4 s from the page
cache and 1.6 s from disk) in a read transaction, which holds up no other process's writes, so
a damaged file stops start-up rather than failing requests later.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from domain.errors import DatabaseUnavailable
from storage.errors import CannotOpenStorage, disk_full, not_writable
from storage.sqlite import changelog, refusals, schema, writes
from storage.sqlite.writer import BUSY_TIMEOUT_S, GroupWriter

FILE_NAME = "targets.sqlite3"
_DETAIL_LENGTH = 200
# A write that meets these reports them as the store being unavailable, with what to do.
_CANNOT_WRITE = {
    sqlite3.SQLITE_FULL: "DISK_FULL",
    sqlite3.SQLITE_IOERR: "DISK_ERROR",
    sqlite3.SQLITE_READONLY: "READ_ONLY",
    sqlite3.SQLITE_CORRUPT: "DAMAGED",
}

_PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = OFF",
)
# Each process prunes the change log at most this often, inside one of its writes.
PRUNE_EVERY_S = 1.0


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for pragma in _PRAGMAS:
            connection.execute(pragma)
    except BaseException:  # a file that is not a database fails here
        connection.close()
        raise
    return connection


def connect_writer(path: Path) -> sqlite3.Connection:
    """The writer waits for the file's write lock itself (storage.sqlite.writer), never inside
    SQLite, which would block the event loop."""
    connection = connect(path)
    connection.execute("PRAGMA busy_timeout = 0")
    return connection


class SqliteDatabase:
    def __init__(self, path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._writer: GroupWriter | None = None
        self._read_connection: sqlite3.Connection | None = None
        self._commit_listeners: list[Callable[[], None]] = []
        self._next_prune = 0.0
        self.refusals = refusals.WriteRefusals(path.parent, lambda: self.write(refusals.probe))

    def listen_to_commits(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after each commit of this process, before its writes are answered;
        returns how to stop."""
        self._commit_listeners.append(listener)
        return lambda: self._commit_listeners.remove(listener)

    async def open(self, *, check: bool = True) -> None:
        """Raises CannotOpenStorage, naming the file, when it cannot be used (or, if `check`, is
        damaged anywhere)."""
        writer = GroupWriter(
            lambda: connect_writer(self.path),
            before_commit=self._prune_when_due,
            after_commit=self._committed,
            busy_timeout_s=self._busy_timeout_s,
        )
        try:
            if check and (problems := await asyncio.to_thread(_quick_check, self.path)):
                raise damaged(self.path, problems[0])
            await writer.write(_create_schema)
            self._read_connection = connect(self.path)
        except sqlite3.Error as error:
            await writer.stop()
            raise unusable(self.path, error) from None
        except BaseException:
            await writer.stop()
            raise
        self._writer = writer

    async def close(self) -> None:
        await self.refusals.stop()
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
            raise DatabaseUnavailable("the embedded database is closed", reason="CLOSED")
        return self._read_connection

    async def write[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on the writer, atomically: all of it is stored, or none; answered
        once its commit has reached the disk."""
        if self._writer is None:
            raise DatabaseUnavailable("the embedded database is closed", reason="CLOSED")
        try:
            result: T = await self._writer.write(work)
        except sqlite3.Error as error:
            refusal = refused_write(self.path, error)
            if refusal is None:
                raise
            self.refusals.refused(refusal)
            raise refusal from error
        return result

    def _prune_when_due(self, connection: sqlite3.Connection) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        changelog.prune(connection, now=time.time())

    def _committed(self) -> None:
        for listener in list(self._commit_listeners):
            listener()


def refused_write(path: Path, error: sqlite3.Error) -> DatabaseUnavailable | None:
    """When `error`, met by a write, is the disk or the file refusing writes: what to answer,
    saying what to do."""
    reason = _CANNOT_WRITE.get(_primary_code(error))
    if reason is None:
        return None
    return DatabaseUnavailable(str(unusable(path, error)), reason=reason)


def unusable(path: Path, error: sqlite3.Error) -> CannotOpenStorage:
    """What to do about `error`, met opening the SQLite file at `path`."""
    code = _primary_code(error)
    if code == sqlite3.SQLITE_NOTADB:
        return CannotOpenStorage(
            f"{path} is not an SQLite database; move it out of {path.parent} (the service "
            "then starts with an empty store) or set DATA_DIR to the directory that holds yours"
        )
    if code == sqlite3.SQLITE_CORRUPT:
        return damaged(path, str(error))
    if code == sqlite3.SQLITE_FULL:
        return disk_full(path)
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN):
        return not_writable(path, str(error))
    if code == sqlite3.SQLITE_IOERR:
        return CannotOpenStorage(f"cannot read or write {path} ({error}); check its disk")
    return CannotOpenStorage(f"cannot open {path} ({error})")


def _primary_code(error: sqlite3.Error) -> int:
    return (error.sqlite_errorcode or 0) & 0xFF  # an extended code holds it in its low byte


def damaged(path: Path, detail: str) -> CannotOpenStorage:
    detail = re.sub(r"\s+", " ", detail).strip()[:_DETAIL_LENGTH]
    return CannotOpenStorage(
        f"{path} is damaged ({detail}); put a backup in its place, or move it away to start "
        f"with an empty store (`sqlite3 {path.name} .recover` saves what is still readable)"
    )


def _quick_check(path: Path) -> list[str]:
    """What is wrong with the file's pages and records; empty when nothing is. Read in a read
    transaction of its own, so that other processes' writes go on meanwhile."""
    connection = connect(path)
    try:
        problems = [text for (text,) in connection.execute("PRAGMA quick_check")]
    finally:
        connection.close()
    return [] if problems == ["ok"] else problems


def _create_schema(connection: sqlite3.Connection) -> None:
    for statement in schema.TABLES:
        connection.execute(statement)
    connection.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(schema.VERSION),),
    )
    _upgrade(connection)
    for statement in schema.INDEXES:
        connection.execute(statement)


def _upgrade(connection: sqlite3.Connection) -> None:
    """Version 1 files have no destination keys yet: add those of every target, once. Rows
    before version 3 were derived by a more lenient reader: derive them again, once. Version 4
    adds the zone column."""
    (version,) = connection.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
    ).fetchone()
    columns = {name for _, name, *_ in connection.execute("PRAGMA table_info(targets)")}
    if "zone" not in columns:
        connection.execute(schema.ADD_ZONE)
    if int(version) < 2:
        writes.index_all(connection)
    if int(version) < 3:
        writes.derive_all(connection)
    connection.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(schema.VERSION),)
    )
