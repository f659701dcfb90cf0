"""A write sets only the columns and destination keys that change; every row must still say what
its document says, whichever writes came before."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from cli.demo import fill
from domain.models import Address, AddressType, Status
from domain.paging import CursorCodec
from domain.service import TargetService
from domain.validation import TargetPatch
from storage.sqlite import queries
from storage.sqlite.database import FILE_NAME
from storage.sqlite.rows import destination_keys_of, document_of, read, row_of
from storage.sqlite.storage import open_sqlite

OUTDIAL = str(uuid.uuid4())


async def test_every_row_and_key_follows_its_document_after_each_kind_of_write(
    tmp_path: Path,
) -> None:
    async with open_sqlite(tmp_path) as storage:
        service = TargetService(storage.repository, cursors=CursorCodec(b"k" * 32))
        await fill(service, OUTDIAL, 40)  # creates, marks progressing, reports
        for _ in range(10):
            claimed = await service.claim(OUTDIAL, [9] * 5, 0, lease_ms=60_000)
            assert claimed is not None
            await service.report_status(claimed.target.id, Status.IDLE, claimed.token)
        idle = await storage.repository.page(
            scope=service.outdial_scope(OUTDIAL, Status.IDLE),
            after=None,
            newest_first=True,
            limit=6,
        )
        moved, renamed, zoned, deleted, *_ = [target.id for target in idle]
        new_number = Address(AddressType.TEL, "+821099990000")
        await service.update(moved, TargetPatch(destinations={0: new_number, 1: None}))
        await service.update(renamed, TargetPatch(name="renamed"))
        await service.update(zoned, TargetPatch(time_zone="Europe/Berlin"))
        await service.delete(deleted)

    with sqlite3.connect(tmp_path / FILE_NAME) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for stored in connection.execute(queries.ALL_ROWS).fetchall():
            doc = document_of(stored[1])
            assert stored == row_of(doc, read(doc))
            keys = sorted(connection.execute(queries.KEYS_OF, (stored[0],)))
            assert keys == destination_keys_of(read(doc))
        found = connection.execute(
            "SELECT id FROM destination_keys WHERE target = ?", ("+821099990000",)
        ).fetchall()
        assert found == [(moved,)]
    connection.close()
