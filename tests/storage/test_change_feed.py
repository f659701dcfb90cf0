"""The embedded store's change log and feed: two stores on one file stand for two processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from domain.errors import DatabaseUnavailable
from domain.events import Broker, SubscriberTooSlow, Subscription
from domain.models import Status, StatusChange
from domain.paging import CursorCodec
from domain.service import TargetService
from storage.documents import target_from_document
from storage.sqlite import changelog, writes
from storage.sqlite.database import connect, connect_writer
from storage.sqlite.feed import ChangeFeed
from storage.sqlite.storage import SqliteStorage, open_sqlite
from storage.sqlite.writer import GroupWriter
from tests.support.documents import stored_document, tid

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
OTHER_OUTDIAL = "5e0e3b10-29b1-4d2c-9a3e-8c5a3f8e1f20"
WAIT_S = 5


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


@asynccontextmanager
async def two_stores(data_dir: Path) -> AsyncIterator[tuple[SqliteStorage, SqliteStorage]]:
    async with open_sqlite(data_dir) as first, open_sqlite(data_dir) as second:
        yield first, second


def service_on(storage: SqliteStorage) -> TargetService:
    return TargetService(storage.repository, cursors=CursorCodec(b"secret"))


@contextmanager
def manual_feed(storage: SqliteStorage, broker: Broker) -> Iterator[ChangeFeed]:
    """A feed that reads only after this store's own commits or when told to (no polling)."""
    connection = connect(storage.database.path)
    feed = ChangeFeed(connection, broker)
    stop = storage.database.listen_to_commits(feed.catch_up)
    try:
        yield feed
    finally:
        stop()
        connection.close()


async def create(storage: SqliteStorage, *numbers: int, outdial_id: str = OUTDIAL) -> None:
    targets = [
        target_from_document(stored_document(tid(n), outdial_id=outdial_id)) for n in numbers
    ]
    await storage.repository.create(targets=targets)


async def next_event(subscription: Subscription) -> StatusChange:
    return await asyncio.wait_for(anext(subscription), WAIT_S)


async def test_writes_of_one_process_reach_anothers_subscribers_in_order_exactly_once(
    tmp_path: Path,
) -> None:
    async with two_stores(tmp_path) as (writing, watching):
        broker = Broker()
        async with watching.feed_changes(broker) as streaming:
            assert streaming
            events = broker.subscribe(outdial_id=OUTDIAL)
            await create(writing, 1, 2)
            service = service_on(writing)
            written = []
            for _ in range(3):
                for target_id in (tid(1), tid(2)):
                    written.append(await service.mark_progressing(target_id, 0))
                    written.append(await service.report_status(target_id, Status.IDLE))
            received = [await next_event(events) for _ in written]
            last = await service.mark_progressing(tid(1), 0)
            after = await next_event(events)
    assert [(e.target.id, e.target.tm_update, e.status) for e in received] == [
        (t.id, t.tm_update, t.status) for t in written
    ]
    assert [e.previous_status for e in received[:2]] == [Status.IDLE, Status.PROGRESSING]
    assert after.target == last, "nothing published twice before the next change"


async def test_own_writes_are_published_before_answered_after_earlier_commits_of_others(
    tmp_path: Path, stack: ExitStack
) -> None:
    async with two_stores(tmp_path) as (mine, other):
        broker = Broker()
        stack.enter_context(manual_feed(mine, broker))
        events = broker.subscribe()
        await create(mine, 1, 2)
        await service_on(other).mark_progressing(tid(1), 0)
        assert events.pending == 0, "another process's commit waits for a poll or a commit"
        await service_on(mine).mark_progressing(tid(2), 0)
        assert events.pending == 2, "published before the write was answered"
        first, second = await next_event(events), await next_event(events)
    assert (first.target.id, second.target.id) == (tid(1), tid(2)), "in commit order"


async def test_a_process_that_fell_behind_the_pruned_log_ends_its_subscribers_then_goes_on(
    tmp_path: Path, stack: ExitStack
) -> None:
    async with two_stores(tmp_path) as (lagging, other):
        broker = Broker()
        feed = stack.enter_context(manual_feed(lagging, broker))
        before = broker.subscribe()
        await create(other, 1, 2, 3)
        service = service_on(other)
        for n in (1, 2, 3):
            await service.mark_progressing(tid(n), 0)
        await other.database.write(lambda c: changelog.prune(c, now=time.time(), keep_rows=1))
        feed.catch_up()
        with pytest.raises(SubscriberTooSlow, match="server fell behind the database's change"):
            await next_event(before)
        after = broker.subscribe()
        reported = await service.report_status(tid(3), Status.DONE)
        feed.catch_up()
        assert after.pending == 1
        assert (await next_event(after)).target == reported


class CountsRecorder(Broker):
    def __init__(self) -> None:
        super().__init__()
        self.changed: list[str] = []

    def outdial_changed(self, outdial_id: str) -> None:
        self.changed.append(outdial_id)
        super().outdial_changed(outdial_id)


async def test_counts_watchers_are_told_of_creates_and_deletes_of_other_processes(
    tmp_path: Path, stack: ExitStack
) -> None:
    async with two_stores(tmp_path) as (watching, writing):
        broker = CountsRecorder()
        feed = stack.enter_context(manual_feed(watching, broker))
        await create(writing, 1, 2, outdial_id=OUTDIAL)
        await create(writing, 3, outdial_id=OTHER_OUTDIAL)
        await service_on(writing).delete(tid(3))
        feed.catch_up()
    assert broker.changed == [OUTDIAL, OTHER_OUTDIAL, OTHER_OUTDIAL]


async def test_a_create_of_many_targets_appends_one_row_per_outdial(tmp_path: Path) -> None:
    docs = [
        stored_document(tid(n), outdial_id=(OUTDIAL, OTHER_OUTDIAL)[n % 2]) for n in range(1000)
    ]
    async with open_sqlite(tmp_path) as store:
        before = changelog.head(store.database.reader)
        await store.database.write(lambda c: writes.insert(c, docs))
        assert changelog.head(store.database.reader) - before == 2


async def test_the_log_keeps_its_newest_rows_and_none_older_than_its_age(tmp_path: Path) -> None:
    async with open_sqlite(tmp_path) as store:
        database = store.database

        async def prune(
            *, now: float | None = None, keep_rows: int = changelog.KEEP_ROWS, at_most: int = 10_000
        ) -> int:
            moment = time.time() if now is None else now
            return await database.write(
                lambda c: changelog.prune(c, now=moment, keep_rows=keep_rows, at_most=at_most)
            )

        def kept() -> list[int]:
            return [seq for (seq,) in database.reader.execute("SELECT seq FROM changes")]

        await database.write(lambda c: changelog.note_created(c, [f"o{n}" for n in range(50)]))
        head = changelog.head(database.reader)
        assert await prune(keep_rows=20) == head - 20
        assert kept() == list(range(head - 19, head + 1))
        later = time.time() + changelog.KEEP_SECONDS + 1
        assert await prune(now=later, at_most=5) == head - 15, "bounded work"
        assert await prune(now=later) == head
        assert kept() == []
        await database.write(lambda c: changelog.note_created(c, [OUTDIAL]))
        assert kept() == [head + 1], "a pruned seq is never used again"


async def test_a_write_waits_for_another_process_holding_the_file_without_blocking(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.sqlite3"
    writer = GroupWriter(lambda: connect_writer(path))
    other = connect(path)
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER)"))
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticking = asyncio.create_task(tick())
        writing = asyncio.ensure_future(
            writer.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        )
        while ticks < 20:
            await asyncio.sleep(0.001)
        assert not writing.done(), "the write waits while the other holds the file"
        other.execute("COMMIT")
        await asyncio.wait_for(writing, WAIT_S)
        ticking.cancel()
        assert other.execute("SELECT n FROM t").fetchall() == [(1,)]
    finally:
        other.close()
        await writer.stop()


async def test_a_file_locked_too_long_answers_database_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite3"
    writer = GroupWriter(lambda: connect_writer(path), busy_timeout_s=0.2)
    other = connect(path)
    try:
        await writer.write(lambda c: c.execute("CREATE TABLE t (n INTEGER)"))
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseUnavailable, match="locked by another process"):
            await writer.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        other.execute("ROLLBACK")
        await writer.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))
        assert other.execute("SELECT n FROM t").fetchall() == [(2,)]
    finally:
        other.close()
        await writer.stop()
