"""Writing documents inside a transaction: the target's row and its destination keys together."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from storage.sqlite import changelog, queries, rows
from storage.sqlite.rows import Read, Row, destination_keys_of, row_of
from storage.sqlite.schema import COLUMNS

_DOC, _LIVE, _OUTDIAL = (COLUMNS.index(name) for name in ("doc", "live", "outdial_id"))


def insert(
    connection: sqlite3.Connection,
    docs: Sequence[Mapping[str, Any]],
    statement: str = queries.INSERT,
) -> None:
    read = [(doc, rows.read(doc)) for doc in docs]
    insert_rows(
        connection,
        [row_of(doc, target) for doc, target in read],
        [key for _, target in read for key in destination_keys_of(target)],
        statement,
    )


def insert_rows(
    connection: sqlite3.Connection,
    targets: Sequence[Row],
    keys: Sequence[Row],
    statement: str = queries.INSERT,
) -> None:
    """Rows made by storage.sqlite.rows: the targets' rows and their destination keys; the
    change log notes the outdials given live targets."""
    connection.executemany(statement, targets)
    connection.executemany(queries.INSERT_KEY, keys)
    changelog.note_created(connection, (row[_OUTDIAL] for row in targets if row[_LIVE]))


def change(connection: sqlite3.Connection, stored: Row, doc: Mapping[str, Any]) -> Read:
    """Rewrites the target whose row is `stored` (as read in this transaction) as `doc`; what
    `doc` reads as, from the one read its rows came from. Only what differs is written: the
    columns whose values change, so that SQLite leaves alone every index that reads none of
    them, and the destination keys only when they change."""
    target = rows.read(doc)
    row = row_of(doc, target)
    target_id = stored[0]
    changed = [n for n in range(1, len(COLUMNS)) if row[n] != stored[n]]
    if changed:
        statement = queries.update_of(tuple(COLUMNS[n] for n in changed))
        connection.execute(statement, [*(row[n] for n in changed), target_id])
    keys = destination_keys_of(target)
    if sorted(connection.execute(queries.KEYS_OF, (target_id,))) != keys:
        connection.execute(queries.DELETE_KEYS, (target_id,))
        connection.executemany(queries.INSERT_KEY, keys)
    return target


def index_all(connection: sqlite3.Connection) -> None:
    """The destination keys of every stored target (a store written before they existed)."""
    for (text,) in connection.execute(queries.ALL_DOCS).fetchall():
        doc = rows.document_of(text)
        connection.executemany(queries.INSERT_KEY, destination_keys_of(rows.read(doc)))


def derive_all(connection: sqlite3.Connection) -> None:
    """Every target's row and destination keys derived again from its document (a store written
    while the reader judged documents otherwise: what it let in may be unreadable now)."""
    for row in connection.execute(queries.ALL_ROWS).fetchall():
        change(connection, row, rows.document_of(row[_DOC]))
