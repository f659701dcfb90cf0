"""An embedded store written while the document reader was more lenient: what that reader let in
(times in full-width digits, impossible dates, an address type 0) is judged again once, on open,
and left out everywhere instead of failing the answers that meet it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from domain.errors import UnreadableTarget
from storage.documents import target_from_document
from storage.sqlite.database import FILE_NAME
from storage.sqlite.storage import open_sqlite
from tests.support.api import OUTDIAL
from tests.support.documents import stored_document, tid

LET_IN_BEFORE = [
    {"tm_update": "２０２２-04-30 17:52:16.484341"},
    {"tm_create": "2022-02-30 17:52:16.484341"},
    {"destination_1": {"type": 0, "target": ""}},
]


def old_store(data_dir: Path, docs: list[dict[str, Any]]) -> None:
    """`docs` stored as a version 2 store holds them: each row derived from the document's
    good twin, as the reader of that version judged it readable."""
    with sqlite3.connect(data_dir / FILE_NAME) as connection:
        for doc in docs:
            connection.execute(
                "UPDATE targets SET doc = ? WHERE id = ?", (json.dumps(doc), doc["id"])
            )
        connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    connection.close()


async def test_rows_an_earlier_reader_judged_readable_are_judged_again_on_open(
    tmp_path: Path,
) -> None:
    good = [stored_document(tid(n)) for n in range(1, 5)]
    async with open_sqlite(tmp_path) as storage:
        await storage.repository.create(targets=[target_from_document(doc) for doc in good])
    broken = [doc | change for doc, change in zip(good[1:], LET_IN_BEFORE, strict=True)]
    old_store(tmp_path, broken)

    async with open_sqlite(tmp_path) as storage:
        repository = storage.repository
        assert [target.id async for target in repository.every(outdial_id=None)] == [tid(1)]
        assert [target.id async for target in repository.every(outdial_id=OUTDIAL)] == [tid(1)]
        found = await repository.get_many(target_ids=[doc["id"] for doc in good])
        assert [isinstance(found[doc["id"]], UnreadableTarget) for doc in good] == [
            False,
            True,
            True,
            True,
        ]
        counts = await repository.count_by_status(outdial_id=OUTDIAL)
        assert sum(counts.values()) == 1
