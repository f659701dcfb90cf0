"""The embedded store's bulk loader stores exactly what creates of the same targets store."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from domain.errors import IdsTaken
from domain.models import NOT_DELETED, Address, AddressType, Status, Target
from storage.sqlite import bulk
from storage.sqlite.bulk import BatchSizer, BulkLoader
from storage.sqlite.database import FILE_NAME
from storage.sqlite.storage import open_sqlite
from tests.support.documents import STORED_AT, tid

OUTDIALS = ("40bea034-1d17-474d-a5de-da00d0861c69", "7d3c8a41-5f0e-4b6a-9e21-3c4d5e6f7a8b")
TABLES = ("targets", "destination_keys", "outdial_counts")


def target(n: int) -> Target:
    """Of two outdials, every status, some deleted, some with two destinations."""
    phone = Address(AddressType.TEL, f"+8211{n:08d}")
    mail = Address(AddressType.EMAIL, f"t{n}@example.com") if n % 4 == 0 else None
    return Target(
        id=tid(n),
        outdial_id=OUTDIALS[n % 2],
        name=f"target {n}",
        detail="",
        data="",
        status=(Status.IDLE, Status.PROGRESSING, Status.DONE)[n % 3],
        destinations=(phone, mail, None, None, None),
        try_counts=(n % 5, 0, 0, 0, 0),
        tm_create=STORED_AT,
        tm_update=STORED_AT,
        tm_delete=STORED_AT if n % 7 == 0 else NOT_DELETED,
    )


def tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    connection = sqlite3.connect(path)
    try:
        return {
            name: connection.execute(f"SELECT * FROM {name} ORDER BY 1, 2, 3").fetchall()
            for name in TABLES
        }
    finally:
        connection.close()


async def created(data_dir: Path, targets: list[Target]) -> Path:
    async with open_sqlite(data_dir) as storage:
        await storage.repository.create(targets=targets)
    return data_dir / FILE_NAME


async def loaded(data_dir: Path, batches: list[list[Target]]) -> Path:
    async with open_sqlite(data_dir):
        pass
    loader = BulkLoader(data_dir / FILE_NAME)
    try:
        for batch in batches:
            loader.write([bulk.prepare(one) for one in batch])
    finally:
        loader.close()
    return data_dir / FILE_NAME


async def test_loaded_rows_keys_and_counts_are_those_creates_write(tmp_path: Path) -> None:
    targets = [target(n) for n in range(1, 61)]

    by_create = await created(tmp_path / "create", targets)
    by_loader = await loaded(tmp_path / "load", [targets[:25], targets[25:26], targets[26:]])

    assert tables(by_loader) == tables(by_create)
    assert len(tables(by_loader)["outdial_counts"]) == 6


async def test_a_batch_meeting_a_stored_id_writes_nothing_of_itself(tmp_path: Path) -> None:
    path = await loaded(tmp_path, [[target(1), target(2)]])
    before = tables(path)
    other = dataclasses.replace(target(9), id=tid(2))

    loader = BulkLoader(path)
    try:
        with pytest.raises(IdsTaken, match=tid(2)):
            loader.write([bulk.prepare(target(3)), bulk.prepare(other)])
    finally:
        loader.close()

    assert tables(path) == before


async def test_the_loader_does_the_work_of_every_insert_trigger(tmp_path: Path) -> None:
    """It runs no triggers: one added on insert must be done by the loader too."""
    async with open_sqlite(tmp_path) as storage:
        rows = storage.database.reader.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'trigger'"
            " AND tbl_name IN ('targets', 'destination_keys') AND sql LIKE '% INSERT ON %'"
        ).fetchall()
    assert sorted(name for (name,) in rows) == sorted(bulk.DONE_HERE)


def test_a_fixed_batch_size_stays() -> None:
    sizer = BatchSizer(fixed=7)
    sizer.ran(7, 10.0)
    assert sizer.size == 7


def test_batches_grow_and_shrink_toward_what_fits_in_the_time_a_transaction_may_take() -> None:
    sizer = BatchSizer()
    first = sizer.size
    sizer.ran(first, BatchSizer.SECONDS / 4)  # four times as many would have fitted
    grown = sizer.size
    sizer.ran(grown, BatchSizer.SECONDS * 8)
    assert first < grown < 4 * first
    assert sizer.size < grown
    for _ in range(50):
        sizer.ran(sizer.size, 100.0)
    assert sizer.size == BatchSizer.FEWEST
    for _ in range(50):
        sizer.ran(sizer.size, 1e-9)
    assert sizer.size == BatchSizer.MOST


def test_a_short_last_batch_says_nothing_of_the_rate() -> None:
    sizer = BatchSizer()
    sizer.ran(3, 10.0)
    assert sizer.size == BatchSizer.FIRST


async def test_each_batch_tells_the_change_log_which_outdials_got_targets(tmp_path: Path) -> None:
    """So every process's feed hears of an import as it goes: one row per batch and outdial."""
    deleted = [n for n in range(1, 200) if target(n).deleted]
    batches = [[target(1), target(3)], [target(2), target(4), target(6)], [target(deleted[0])]]

    path = await loaded(tmp_path, batches)

    connection = sqlite3.connect(path)
    try:
        noted = connection.execute(
            "SELECT outdial_id, previous_status, doc FROM changes ORDER BY seq"
        ).fetchall()
    finally:
        connection.close()
    assert noted == [(OUTDIALS[1], None, None), (OUTDIALS[0], None, None)]
