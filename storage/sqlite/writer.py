"""The embedded store's one writer, with group commit.

Writes that wait together run in one transaction, each inside its own savepoint: each is still
all or nothing, none is answered before the commit that stores it has reached the disk, and the
commit's fsync is shared. Answers go back in the order the writes ran.

The transaction's statements run on the event loop. A writer thread running every statement
would hand the GIL back and forth with the busy event loop at each one (sqlite3 releases it
around every step), and its writes then spent most of their time waiting for the GIL rather
than for SQLite.

Other processes may write the same file: `BEGIN IMMEDIATE` then finds it locked. The writer
waits for it on the event loop, trying again every few milliseconds, never blocking the loop,
and answers DatabaseUnavailable once the file has stayed locked for `busy_timeout_s`.

Where the commit, which waits for the disk, runs depends on whether other processes write too:
- alone, on a thread of its own, so that the event loop serves requests meanwhile;
- beside other writers (within the last second, another process committed between two of this
  process's transactions, or held the lock when one began), on the event loop. The write lock,
  which every process needs, is held until the commit ends, and a commit handed to a thread
  first waits for the busy loop to let go of the GIL: that wait, about as long as the commit
  itself, was lock time every other process waited through. Unless the disk is slow (commits
  of 10 ms or more on average): the loop would then stall for each, and the thread costs less.
  (A commit timed on its thread includes taking the GIL back, up to the 5 ms switch interval,
  hence the margin.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from domain.errors import DatabaseUnavailable

MAX_GROUP = 64
BUSY_TIMEOUT_S = 5.0
# How long after the last sign of another writer commits stay on the event loop, as long as
# they take less than QUICK_COMMIT_S on average (the weight of the newest in that average).
SHARED_FOR_S = 1.0
QUICK_COMMIT_S = 0.01
_COMMIT_WEIGHT = 0.2
_FIRST_RETRY_S = 0.0005
_LAST_RETRY_S = 0.004
_SQLITE_BUSY = 5

logger = logging.getLogger("outdial.storage")

Work = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Job:
    work: Work
    future: asyncio.Future[Any]


class GroupWriter:
    """`before_commit` runs in each transaction after its writes (upkeep: its failure is
    logged and undone alone); `after_commit` after each commit, before the writes are answered."""

    def __init__(
        self,
        open_connection: Callable[[], sqlite3.Connection],
        *,
        before_commit: Work = lambda connection: None,
        after_commit: Callable[[], None] = lambda: None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        quick_commit_s: float = QUICK_COMMIT_S,
    ) -> None:
        self._open = open_connection
        self._before_commit = before_commit
        self._after_commit = after_commit
        self._busy_timeout_s = busy_timeout_s
        self._quick_commit_s = quick_commit_s
        self._connection: sqlite3.Connection | sqlite3.Error | None = None
        self._waiting: deque[_Job] = deque()
        self._draining: asyncio.Task[None] | None = None
        self._disk = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        self._stopped = False
        # PRAGMA data_version as this writer's last transaction began: another value means
        # another connection has committed since (the writer's own commits leave it as it is).
        self._version_seen: int | None = None
        self._shared_until = 0.0
        self._commit_s = 0.0

    async def write(self, work: Work) -> Any:
        """`work` in a transaction (shared with other waiting writes, in its own savepoint)."""
        if self._stopped:
            raise DatabaseUnavailable("the embedded database is closed", reason="CLOSED")
        job = _Job(work, asyncio.get_running_loop().create_future())
        self._waiting.append(job)
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await job.future

    async def stop(self) -> None:
        """After the writes already waiting have been answered."""
        self._stopped = True
        if self._draining is not None:
            await asyncio.shield(self._draining)
        if isinstance(self._connection, sqlite3.Connection):
            self._connection.close()
        self._disk.shutdown()

    async def _drain(self) -> None:
        try:
            while self._waiting:
                count = min(MAX_GROUP, len(self._waiting))
                await self._commit_together([self._waiting.popleft() for _ in range(count)])
        finally:
            self._draining = None

    def _connected(self) -> sqlite3.Connection:
        """The writer's connection, opened by the first write; a file that cannot be opened
        fails that write and every later one with the same error."""
        if self._connection is None:
            try:
                self._connection = self._open()
            except sqlite3.Error as error:
                self._connection = error
        if isinstance(self._connection, sqlite3.Error):
            raise self._connection
        return self._connection

    async def _commit_together(self, group: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        connection: sqlite3.Connection | None = None
        try:
            connection = self._connected()
            waited = await self._begin(connection)
            now = asyncio.get_running_loop().time()
            if self._others_committed(connection) or waited:
                self._shared_until = now + SHARED_FOR_S
            outcomes = [_in_savepoint(connection, job.work) for job in group]
            self._upkeep(connection)
            await self._commit(connection, beside_others=now < self._shared_until)
        except (sqlite3.Error, DatabaseUnavailable) as error:
            if connection is not None and connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            outcomes = [(False, _unavailable_if_busy(error))] * len(group)
        else:
            self._committed()
        for job, (succeeded, value) in zip(group, outcomes, strict=True):
            if job.future.done():  # its caller stopped waiting; the write stands
                continue
            if succeeded:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    async def _commit(self, connection: sqlite3.Connection, *, beside_others: bool) -> None:
        if beside_others and self._commit_s < self._quick_commit_s:
            seconds = _commit(connection)
        else:
            loop = asyncio.get_running_loop()
            seconds = await loop.run_in_executor(self._disk, _commit, connection)
        self._commit_s += (seconds - self._commit_s) * _COMMIT_WEIGHT

    async def _begin(self, connection: sqlite3.Connection) -> bool:
        """Take the file's write lock, waiting while another process holds it; whether it had
        to wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_timeout_s
        pause = _FIRST_RETRY_S
        waited = False
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return waited
            except sqlite3.OperationalError as error:
                if not _busy(error) or loop.time() >= deadline:
                    raise
            waited = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LAST_RETRY_S)

    def _others_committed(self, connection: sqlite3.Connection) -> bool:
        """Whether another connection has committed since this writer's last transaction."""
        last, self._version_seen = self._version_seen, _data_version(connection)
        return last is not None and self._version_seen != last

    def _upkeep(self, connection: sqlite3.Connection) -> None:
        succeeded, error = _in_savepoint(connection, self._before_commit)
        if not succeeded:
            logger.warning("upkeep inside a write failed (%r); the writes go on", error)

    def _committed(self) -> None:
        try:
            self._after_commit()
        except Exception:  # the writes are stored: they are answered whatever happens here
            logger.exception("after a commit")


def _busy(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY


def _unavailable_if_busy(error: Exception) -> Exception:
    if isinstance(error, sqlite3.Error) and _busy(error):
        unavailable = DatabaseUnavailable(
            "the embedded database stayed locked by another process; try again"
        )
        unavailable.__cause__ = error
        return unavailable
    return error


def _in_savepoint(connection: sqlite3.Connection, work: Work) -> tuple[bool, Any]:
    connection.execute("SAVEPOINT one_write")
    try:
        outcome = (True, work(connection))
    except Exception as error:
        connection.execute("ROLLBACK TO one_write")
        outcome = (False, error)
    connection.execute("RELEASE one_write")
    return outcome


def _commit(connection: sqlite3.Connection) -> float:
    """Seconds the commit took."""
    start = time.perf_counter()
    connection.execute("COMMIT")
    return time.perf_counter() - start


def _data_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA data_version").fetchone()
    return int(version)
