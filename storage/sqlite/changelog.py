"""The change log (table `changes`): appended in the transaction of every write, read by every
process's feed (storage.sqlite.feed), pruned by whichever process writes.

Status rows are appended by triggers (storage.sqlite.schema.CHANGE_TRIGGERS), so no write can
change a status without logging it; creates add one row per outdial and write here, so an import
of a million targets adds one row per batch, not a million.

Seqs are handed out inside write transactions, which SQLite runs one at a time across every
process: seq order is commit order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from storage.sqlite.schema import NOW

KEEP_ROWS = 100_000
KEEP_SECONDS = 600.0
# Rows one prune deletes at most, so that pruning never holds the write lock for long.
PRUNE_AT_MOST = 10_000

_PRUNED = "changes_pruned_through"
_NOTE_CREATED = f"INSERT INTO changes (at, outdial_id) VALUES ({NOW}, ?)"
_HEAD = "SELECT seq FROM sqlite_sequence WHERE name = 'changes'"
_PRUNED_THROUGH = f"SELECT value FROM meta WHERE key = '{_PRUNED}'"
_SINCE = (
    "SELECT seq, outdial_id, previous_status, doc FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"
)
# The oldest row young enough to keep, among the next `at_most` past the pruned ones: read in
# seq order, it stops at the first young row, so it costs the old rows and one more.
_FIRST_YOUNG = (
    "SELECT seq FROM changes WHERE seq > ?1 AND seq <= ?1 + ?2 AND at >= ?3 ORDER BY seq LIMIT 1"
)
_DELETE_THROUGH = "DELETE FROM changes WHERE seq <= ?"
_SET_PRUNED = (
    f"INSERT INTO meta (key, value) VALUES ('{_PRUNED}', ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    outdial_id: str
    # Both None for an outdial row (targets created or deleted).
    previous_status: str | None
    doc: str | None


@dataclass(frozen=True, slots=True)
class Read:
    """Rows past a seq, and how far the log was pruned, as one snapshot saw them."""

    pruned_through: int
    changes: list[Change]


def note_created(connection: sqlite3.Connection, outdial_ids: Iterable[str]) -> None:
    """Inside a write: targets of these outdials were created (one row per outdial)."""
    connection.executemany(_NOTE_CREATED, [(o,) for o in dict.fromkeys(outdial_ids)])


def head(connection: sqlite3.Connection) -> int:
    """The last seq ever appended; 0 before the first."""
    row = connection.execute(_HEAD).fetchone()
    return 0 if row is None else int(row[0])


def pruned_through(connection: sqlite3.Connection) -> int:
    row = connection.execute(_PRUNED_THROUGH).fetchone()
    return 0 if row is None else int(row[0])


def read_since(connection: sqlite3.Connection, seq: int, limit: int) -> Read:
    """Up to `limit` rows past `seq`, in seq order, from one snapshot (`connection` must be in
    autocommit mode and used by nothing else meanwhile)."""
    connection.execute("BEGIN")
    try:
        pruned = pruned_through(connection)
        rows = connection.execute(_SINCE, (seq, limit)).fetchall()
    finally:
        connection.execute("COMMIT")
    return Read(pruned, [Change(*row) for row in rows])


def prune(
    connection: sqlite3.Connection,
    *,
    now: float,
    keep_rows: int = KEEP_ROWS,
    keep_seconds: float = KEEP_SECONDS,
    at_most: int = PRUNE_AT_MOST,
) -> int:
    """Inside a write: drop rows beyond the newest `keep_rows` or older than `keep_seconds`
    (`now` in seconds since the epoch), at most `at_most` of them; the new pruned seq."""
    done = pruned_through(connection)
    last = head(connection)
    young = connection.execute(_FIRST_YOUNG, (done, at_most, now - keep_seconds)).fetchone()
    by_age = last if young is None else young[0] - 1
    through = min(max(by_age, last - keep_rows), done + at_most, last)
    if through > done:
        connection.execute(_DELETE_THROUGH, (through,))
        connection.execute(_SET_PRUNED, (str(through),))
    return max(through, done)
