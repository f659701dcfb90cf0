"""Brings the targets of the version 1 embedded store (mongoeco on SQLite) over, once."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from storage.sqlite import queries, writes
from storage.sqlite.database import SqliteDatabase, unusable
from storage.sqlite.rows import document_of

logger = logging.getLogger("outdial.storage")

PREVIOUS_FILE_NAME = "outdial.sqlite3"
MIGRATED_SUFFIX = ".migrated"
_PREVIOUS_DOCUMENTS = "SELECT document FROM documents WHERE coll_name = 'outdialtargets'"


async def bring_over_previous_store(database: SqliteDatabase, data_dir: Path) -> None:
    previous = data_dir / PREVIOUS_FILE_NAME
    if not previous.exists():
        return
    docs = [document_of(text) for text in _previous_documents(previous)]
    await database.write(lambda connection: writes.insert(connection, docs, queries.INSERT_NEW))
    kept = previous.with_name(previous.name + MIGRATED_SUFFIX)
    previous.rename(kept)
    for suffix in ("-wal", "-shm"):
        previous.with_name(previous.name + suffix).unlink(missing_ok=True)
    logger.warning(
        "brought %d target(s) over from the previous embedded store; its file is kept as %s",
        len(docs),
        kept,
    )


def _previous_documents(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [text for (text,) in connection.execute(_PREVIOUS_DOCUMENTS)]
    except sqlite3.Error as error:
        raise unusable(path, error) from None
    finally:
        connection.close()
