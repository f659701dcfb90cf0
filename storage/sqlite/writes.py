"""Writing documents inside a transaction: the target's row and its destination keys together."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from domain.models import Target
from storage.sqlite import changelog, queries, rows
from storage.sqlite.rows import Read, destination_keys_of, row_of


def insert(
    connection: sqlite3.Connection,
    docs: Sequence[Mapping[str, Any]],
    statement: str = queries.INSERT,
) -> None:
    read = [(doc, rows.read(doc)) for doc in docs]
    connection.executemany(statement, [row_of(doc, target) for doc, target in read])
    connection.executemany(
        queries.INSERT_KEY, [key for _, target in read for key in destination_keys_of(target)]
    )
    changelog.note_created(
        connection,
        (t.outdial_id for _, t in read if isinstance(t, Target) and not t.deleted),
    )


def rewrite(connection: sqlite3.Connection, doc: Mapping[str, Any], target_id: str) -> Read:
    """Rewrites `target_id` as `doc`; what `doc` reads as, from the one read its rows came from."""
    target = rows.read(doc)
    connection.execute(queries.REWRITE, (*row_of(doc, target), target_id))
    connection.execute(queries.DELETE_KEYS, (target_id,))
    connection.executemany(queries.INSERT_KEY, destination_keys_of(target))
    return target


def index_all(connection: sqlite3.Connection) -> None:
    """The destination keys of every stored target (a store written before they existed)."""
    for (text,) in connection.execute(queries.ALL_DOCS).fetchall():
        doc = rows.document_of(text)
        connection.executemany(queries.INSERT_KEY, destination_keys_of(rows.read(doc)))


def derive_all(connection: sqlite3.Connection) -> None:
    """Every target's row and destination keys derived again from its document (a store written
    while the reader judged documents otherwise: what it let in may be unreadable now)."""
    for target_id, text in connection.execute(queries.ALL_IDS_AND_DOCS).fetchall():
        rewrite(connection, rows.document_of(text), target_id)
