"""`outdial-graphql import` into whichever store the settings open: the embedded store's bulk
loader (cli.bulk_import), or the repository's creates (cli.importer) on MongoDB."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from cli.bulk_import import import_into_sqlite
from cli.importer import BATCH_SIZE, ImportResult, import_file
from cli.sources import Source
from storage.backend import Storage
from storage.sqlite.storage import SqliteStorage


async def import_into(
    storage: Storage,
    path: Path,
    source: Source,
    *,
    skip_bad: bool = False,
    batch_size: int | None = None,
    progress: TextIO,
) -> ImportResult:
    if isinstance(storage, SqliteStorage):
        return await import_into_sqlite(
            path,
            storage.database.path,
            source=source,
            skip_bad=skip_bad,
            batch_size=batch_size,
            progress=progress,
        )
    return await import_file(
        path,
        storage.repository,
        source=source,
        skip_bad=skip_bad,
        batch_size=batch_size or BATCH_SIZE,
        progress=progress,
    )
