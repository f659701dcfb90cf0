"""The embedded store's one writer thread, with group commit.

Writes that wait together run in one transaction, each inside its own savepoint: each is still
all or nothing, none is answered before the commit that stores it has reached the disk, and the
commit's fsync is shared. Answers go back in the order the writes ran.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_GROUP = 64

Work = Callable[[sqlite3.Connection], Any]


@dataclass
class _Job:
    work: Work
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    outcome: tuple[bool, Any] = field(default=(False, None))


class WriterThread:
    def __init__(self, open_connection: Callable[[], sqlite3.Connection]) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()  # None: stop
        self._open = open_connection
        self._connection: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def write(self, work: Work) -> Any:
        """`work` in a transaction (shared with other waiting writes, in its own savepoint)."""
        loop = asyncio.get_running_loop()
        job = _Job(work, loop, loop.create_future())
        self._jobs.put(job)
        return await job.future

    async def stop(self) -> None:
        self._jobs.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    def _run(self) -> None:
        try:
            self._connection = self._open()
        except sqlite3.Error as error:
            self._refuse_all(error)
            return
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                break
            group = [job]
            while len(group) < MAX_GROUP and not self._jobs.empty():
                after = self._jobs.get_nowait()
                if after is None:
                    stopping = True  # after this group has committed
                    break
                group.append(after)
            self._commit_together(group)
        self._connection.close()

    def _refuse_all(self, error: sqlite3.Error) -> None:
        """The file could not be opened: every write, now and later, fails with that."""
        while (job := self._jobs.get()) is not None:
            job.outcome = (False, error)
            _answer([job])

    def _commit_together(self, group: list[_Job]) -> None:
        connection = self._connection
        assert connection is not None
        try:
            connection.execute("BEGIN IMMEDIATE")
            for job in group:
                connection.execute("SAVEPOINT one_write")
                try:
                    job.outcome = (True, job.work(connection))
                except BaseException as error:
                    connection.execute("ROLLBACK TO one_write")
                    job.outcome = (False, error)
                connection.execute("RELEASE one_write")
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for job in group:
                job.outcome = (False, error)
        _answer(group)


def _answer(jobs: list[_Job]) -> None:
    for job in jobs:
        job.loop.call_soon_threadsafe(_settle, job)


def _settle(job: _Job) -> None:
    if job.future.done():
        return
    succeeded, value = job.outcome
    if succeeded:
        job.future.set_result(value)
    else:
        job.future.set_exception(value)
