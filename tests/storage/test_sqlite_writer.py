"""Group commit: writes that wait together share a transaction, yet each is all or nothing."""

from __future__ import annotations

import asyncio
import sqlite3
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
