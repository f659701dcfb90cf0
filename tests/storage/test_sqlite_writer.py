"""Group commit: writes that wait together share a transaction, yet each is all or nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from domain.errors import DatabaseUnavailable
from storage.sqlite.database import connect
from storage.sqlite.writer import GroupWriter


class Refused(Exception):
    pass


async def test_a_failing_write_undoes_itself_alone(tmp_path: Path) -> None:
    writer = GroupWriter(lambda: connect(tmp_path / "w.sqlite3"))
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))

        def insert(n: int) -> Callable[[sqlite3.Connection], int]:
            def work(connection: sqlite3.Connection) -> int:
                connection.execute("INSERT INTO t (n) VALUES (?)", (n,))
                connection.execute("INSERT INTO t (n) VALUES (?)", (n + 1000,))
                if n % 3 == 0:
                    raise Refused(n)
                return n

            return work

        outcomes = await asyncio.gather(
            *(writer.write(insert(n)) for n in range(30)), return_exceptions=True
        )
        assert [isinstance(o, Refused) for o in outcomes] == [n % 3 == 0 for n in range(30)]
        stored = await writer.write(lambda c: {n for (n,) in c.execute("SELECT n FROM t")})
        expected = {n for n in range(30) if n % 3} | {n + 1000 for n in range(30) if n % 3}
        assert stored == expected
    finally:
        await writer.stop()


async def test_a_file_that_cannot_be_opened_fails_every_write(tmp_path: Path) -> None:
    writer = GroupWriter(lambda: connect(tmp_path / "missing" / "w.sqlite3"))
    with pytest.raises(sqlite3.OperationalError):
        await writer.write(lambda c: c.execute("SELECT 1"))
    await writer.stop()


async def test_a_write_whose_caller_stops_waiting_still_stands(tmp_path: Path) -> None:
    writer = GroupWriter(lambda: connect(tmp_path / "w.sqlite3"))
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        abandoned = asyncio.ensure_future(
            writer.write(lambda c: c.execute("INSERT INTO t (n) VALUES (1)"))
        )
        await asyncio.sleep(0)  # queued
        abandoned.cancel()
        later = await writer.write(lambda c: c.execute("SELECT n FROM t").fetchall())
        assert later == [(1,)]
    finally:
        await writer.stop()


async def test_a_write_after_stop_is_refused_not_left_waiting(tmp_path: Path) -> None:
    writer = GroupWriter(lambda: connect(tmp_path / "w.sqlite3"))
    waiting = asyncio.ensure_future(writer.write(lambda c: c.execute("SELECT 1").fetchone()))
    await asyncio.sleep(0)
    await writer.stop()
    assert await waiting == (1,)  # answered before the writer stopped
    with pytest.raises(DatabaseUnavailable):
        await asyncio.wait_for(writer.write(lambda c: c.execute("SELECT 1")), 5)


def _noting_commit_threads(
    path: Path, threads: list[str], *, disk_s: float = 0.0
) -> Callable[[], sqlite3.Connection]:
    """Connections noting the thread of each COMMIT; each commit takes `disk_s` longer."""

    def open_connection() -> sqlite3.Connection:
        connection = connect(path)

        def traced(statement: str) -> None:
            if statement == "COMMIT":
                threads.append(threading.current_thread().name)
                time.sleep(disk_s)

        connection.set_trace_callback(traced)
        return connection

    return open_connection


async def test_commits_wait_for_the_disk_beside_the_event_loop_while_alone(
    tmp_path: Path,
) -> None:
    threads: list[str] = []
    writer = GroupWriter(_noting_commit_threads(tmp_path / "w.sqlite3", threads))
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        for n in range(3):
            await writer.write(lambda c, n=n: c.execute("INSERT INTO t (n) VALUES (?)", (n,)))
    finally:
        await writer.stop()
    assert all(name.startswith("sqlite-commit") for name in threads[1:]), threads


async def test_commits_beside_another_writer_hold_the_write_lock_no_longer_than_they_must(
    tmp_path: Path,
) -> None:
    """Handed to a thread, a commit first waits for the busy event loop to let go of the GIL,
    holding the file's write lock, which the other process waits for, meanwhile."""
    path = tmp_path / "w.sqlite3"
    threads: list[str] = []
    # However slow this machine's disk is today, its commits count as quick.
    writer = GroupWriter(_noting_commit_threads(path, threads), quick_commit_s=3600)
    other = GroupWriter(lambda: connect(path))
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        await writer.write(lambda c: c.execute("INSERT INTO t (n) VALUES (1)"))
        await other.write(lambda c: c.execute("INSERT INTO t (n) VALUES (2)"))
        await writer.write(lambda c: c.execute("INSERT INTO t (n) VALUES (3)"))
        await writer.write(lambda c: c.execute("INSERT INTO t (n) VALUES (4)"))
    finally:
        await other.stop()
        await writer.stop()
    loop_thread = threading.current_thread().name
    assert threads[1:] == ["sqlite-commit_0", loop_thread, loop_thread], threads


async def test_beside_another_writer_commits_on_a_slow_disk_stay_off_the_event_loop(
    tmp_path: Path,
) -> None:
    """Slow commits on the event loop would stall every request of the process for each."""
    path = tmp_path / "w.sqlite3"
    threads: list[str] = []
    slow_disk = _noting_commit_threads(path, threads, disk_s=0.05)
    writer = GroupWriter(slow_disk, quick_commit_s=0.01)
    other = GroupWriter(lambda: connect(path))
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        for n in range(1, 4):
            await other.write(lambda c, n=n: c.execute("INSERT INTO t (n) VALUES (?)", (-n,)))
            await writer.write(lambda c, n=n: c.execute("INSERT INTO t (n) VALUES (?)", (n,)))
    finally:
        await other.stop()
        await writer.stop()
    assert all(name.startswith("sqlite-commit") for name in threads[1:]), threads
