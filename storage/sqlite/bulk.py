"""Loading many targets into the embedded store at speed, beside a service using the same file.

Rows are prepared apart from the writer (`prepare` is pure and runs in any process); the loader
writes them through a connection of its own, in short transactions, so that a service's write
waits at most one of them. Its durability is what an import that can be run again needs:
`synchronous=NORMAL` in WAL mode syncs at checkpoints, not at every commit, so power loss may
lose the last transactions but never corrupts the file, and running the import again writes
what was lost (it leaves the targets already stored alone).

Its connection runs no triggers: count_insert, run once per row, cost more than every index
together (60 against 24 microseconds a row, measured); the loader adds each batch's counts per
outdial and status instead, in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from domain.errors import IdsTaken
from domain.models import Target
from storage.documents import UnreadableDocument, key_of, target_from_document, target_to_document
from storage.sqlite import queries, writes
from storage.sqlite.database import connect, refused_write
from storage.sqlite.rows import Row, destination_keys_of, document_of, row_of
from storage.sqlite.schema import COLUMNS

# A target's id, its row of the targets table and its rows of destination_keys.
Prepared = tuple[str, Row, list[Row]]

_LOADER_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    # The hot pages of every index of a file of millions of targets stay in memory.
    "PRAGMA cache_size = -262144",
)
_MAX_VARIABLES = 500
# The insert triggers whose work the loader does itself (a test checks that there are no others).
DONE_HERE = ("count_insert",)
_LIVE, _OUTDIAL, _STATUS = (COLUMNS.index(name) for name in ("live", "outdial_id", "status"))


class BatchSizer:
    """Targets a transaction: `fixed`, or as many as the last transactions wrote in SECONDS."""

    SECONDS = 0.1
    FIRST, FEWEST, MOST = 500, 50, 20_000

    def __init__(self, *, fixed: int | None = None) -> None:
        self._fixed = fixed
        self.size = fixed or self.FIRST

    def ran(self, count: int, seconds: float) -> None:
        if self._fixed is not None or count < self.size:
            return
        fitting = count * self.SECONDS / max(seconds, 1e-6)
        # Halfway there each time: one slow transaction (a checkpoint, a busy disk) only halves it.
        self.size = round(min(self.MOST, max(self.FEWEST, (self.size + fitting) / 2)))


def prepare(target: Target) -> Prepared:
    """The rows a create of `target` writes."""
    return target.id, row_of(target_to_document(target), target), destination_keys_of(target)


def stored(connection: sqlite3.Connection, target_ids: Sequence[str]) -> dict[str, Target | None]:
    """The stored targets among `target_ids` (None for a document breaking the stored shape)."""
    found: dict[str, Target | None] = {}
    for start in range(0, len(target_ids), _MAX_VARIABLES):
        batch = target_ids[start : start + _MAX_VARIABLES]
        for _, text in connection.execute(queries.docs_by_id(len(batch)), batch):
            doc = document_of(text)
            try:
                found[key_of(doc)] = target_from_document(doc)
            except UnreadableDocument:
                found[key_of(doc)] = None
    return found


def open_reader(path: Path) -> sqlite3.Connection:
    """A connection for reads only, in a process of its own."""
    return connect(path)


class BulkLoader:
    """Writes prepared targets into the file at `path`, each batch in one short transaction."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection = connect(path)
        for pragma in _LOADER_PRAGMAS:
            self._connection.execute(pragma)
        self._connection.setconfig(sqlite3.SQLITE_DBCONFIG_ENABLE_TRIGGER, False)

    def write(self, batch: Sequence[Prepared]) -> None:
        """All of `batch` in one transaction, or IdsTaken and none of it. In id order: the
        primary key's B-tree then takes them page by page."""
        ordered = sorted(batch)
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            rows = [row for _, row, _ in ordered]
            writes.insert_rows(connection, rows, [key for _, _, keys in ordered for key in keys])
            connection.executemany(queries.COUNT_UP_BY, _counts(rows))
            connection.execute("COMMIT")
        except sqlite3.IntegrityError:
            connection.execute("ROLLBACK")
            ids = [target_id for target_id, _, _ in ordered]
            raise IdsTaken(stored(connection, ids)) from None
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            refusal = refused_write(self._path, error)
            if refusal is None:
                raise
            raise refusal from error

    def close(self) -> None:
        self._connection.close()


def _counts(rows: Sequence[Row]) -> list[tuple[str, str, int]]:
    """How many live targets of each outdial and status `rows` add."""
    live = Counter((row[_OUTDIAL], row[_STATUS]) for row in rows if row[_LIVE])
    return [(outdial_id, status, n) for (outdial_id, status), n in live.items()]
