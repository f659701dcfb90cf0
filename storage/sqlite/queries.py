"""Every SQL statement the embedded store's repository runs, written once."""

from __future__ import annotations

from functools import cache

from domain.models import SLOTS
from storage.sqlite.schema import COLUMNS, IDLE_WITH, LIVE

PLACEHOLDERS = ", ".join("?" for _ in COLUMNS)
INSERT = f"INSERT INTO targets ({', '.join(COLUMNS)}) VALUES ({PLACEHOLDERS})"
INSERT_NEW = f"INSERT OR IGNORE INTO targets ({', '.join(COLUMNS)}) VALUES ({PLACEHOLDERS})"
INSERT_KEY = (
    "INSERT OR IGNORE INTO destination_keys (type, target, tm_create, id) VALUES (?, ?, ?, ?)"
)
LAPSED = (
    f"SELECT doc FROM targets WHERE {LIVE} AND status = 'progressing' AND lease IS NOT NULL"
    " AND lease <= ? ORDER BY lease LIMIT ?"
)
PROGRESSING_SINCE = (
    f"SELECT doc FROM targets WHERE {LIVE} AND status = 'progressing' AND outdial_id = ?"
    " AND tm_update <= ? ORDER BY tm_update LIMIT ?"
)
DOC_BY_ID = "SELECT doc FROM targets WHERE id = ?"
ROW_BY_ID = f"SELECT {', '.join(COLUMNS)} FROM targets WHERE id = ?"
KEYS_OF = "SELECT type, target, tm_create, id FROM destination_keys WHERE id = ?"
EVERY = "SELECT doc FROM targets WHERE readable = 1 ORDER BY id"
EVERY_OF_OUTDIAL = (
    "SELECT doc FROM targets INDEXED BY by_outdial WHERE readable = 1 AND outdial_id = ?"
    " ORDER BY id"
)
UNREADABLE = "SELECT doc FROM targets INDEXED BY unreadable WHERE readable = 0"
# The count_insert trigger's rule for many rows at once: n targets of one outdial and status.
COUNT_UP_BY = (
    "INSERT INTO outdial_counts (outdial_id, status, n) VALUES (?, ?, ?)"
    " ON CONFLICT (outdial_id, status) DO UPDATE SET n = n + excluded.n"
)
DELETE_KEYS = "DELETE FROM destination_keys WHERE id = ?"
ALL_DOCS = "SELECT doc FROM targets"
ALL_ROWS = f"SELECT {', '.join(COLUMNS)} FROM targets"
TOTAL_OF_DESTINATION = "SELECT count(*) FROM destination_keys WHERE type = ? AND target = ?"
COUNTS = "SELECT status, n FROM outdial_counts WHERE outdial_id = ?"
OUTDIALS_AFTER = (
    "SELECT DISTINCT outdial_id FROM outdial_counts WHERE outdial_id > ?"
    " ORDER BY outdial_id LIMIT ?"
)
OUTDIALS_BEFORE = (
    "SELECT DISTINCT outdial_id FROM outdial_counts WHERE outdial_id < ?"
    " ORDER BY outdial_id DESC LIMIT ?"
)
TOTAL = "SELECT coalesce(sum(n), 0) FROM outdial_counts WHERE outdial_id = ?"
TOTAL_OF_STATUS = (
    "SELECT coalesce(sum(n), 0) FROM outdial_counts WHERE outdial_id = ? AND status = ?"
)


# The claim's lookups (domain.candidates), each one query on the slots' claim indexes alone;
# under a calling window the same on the slots' window indexes, within one zone (`zone IS ?`: a
# name, or NULL for targets without one). Per slot: the next try count present below the
# maximum, and the candidates with one try count, in claim order.
def _claim_index(slot: int, *, zoned: bool) -> tuple[str, str]:
    """The index a slot's lookups read, and what they pin on it before the try counts."""
    if zoned:
        return f"window_slot{slot}", "outdial_id = ? AND zone IS ?"
    return f"claim_slot{slot}", "outdial_id = ?"


def _next_tries(slot: int, *, zoned: bool) -> str:
    index, scope = _claim_index(slot, zoned=zoned)
    return (
        f"SELECT try{slot} FROM targets INDEXED BY {index}"
        f" WHERE {IDLE_WITH.format(slot=slot)} AND {scope} AND tried = 1"
        f" AND try{slot} >= ? AND try{slot} < ? ORDER BY try{slot} LIMIT 1"
    )


def _tried(slot: int, *, zoned: bool) -> str:
    index, scope = _claim_index(slot, zoned=zoned)
    return (
        f"SELECT tm_update, id FROM targets INDEXED BY {index}"
        f" WHERE {IDLE_WITH.format(slot=slot)} AND {scope} AND tried = 1 AND try{slot} = ?"
        " AND tm_update <= ? ORDER BY tm_update, id LIMIT ?"
    )


def _never_tried(slots: tuple[int, ...], *, zoned: bool) -> str:
    """Never-tried candidates holding a destination in one of `slots`, in claim order: the
    slots' index ranges merged in order, with no sort."""
    scope, limit = ("outdial_id = ?1 AND zone IS ?2", "?3") if zoned else ("outdial_id = ?1", "?2")
    ranges = " UNION ".join(
        f"SELECT tm_update, id FROM targets INDEXED BY {_claim_index(slot, zoned=zoned)[0]}"
        f" WHERE {IDLE_WITH.format(slot=slot)} AND {scope} AND tried = 0 AND try{slot} = 0"
        for slot in slots
    )
    return f"{ranges} ORDER BY tm_update, id LIMIT {limit}"


@cache
def never_tried(slots: tuple[int, ...]) -> str:
    """Parameters: outdial id, limit."""
    return _never_tried(slots, zoned=False)


@cache
def never_tried_in_zone(slots: tuple[int, ...]) -> str:
    """never_tried within one zone (parameters: outdial id, zone or NULL, limit)."""
    return _never_tried(slots, zoned=True)


NEXT_TRIES = [_next_tries(slot, zoned=False) for slot in SLOTS]
TRIED = [_tried(slot, zoned=False) for slot in SLOTS]
NEVER_TRIED = [never_tried((slot,)) for slot in SLOTS]
NEXT_TRIES_IN_ZONE = [_next_tries(slot, zoned=True) for slot in SLOTS]
TRIED_IN_ZONE = [_tried(slot, zoned=True) for slot in SLOTS]
NEVER_TRIED_IN_ZONE = [never_tried_in_zone((slot,)) for slot in SLOTS]


def _first_zone_after(slot: int, bound: str) -> str:
    return (
        f"(SELECT zone FROM targets INDEXED BY window_slot{slot}"
        f" WHERE {IDLE_WITH.format(slot=slot)} AND outdial_id = ?1 AND zone {bound}"
        " ORDER BY zone LIMIT 1)"
    )


# The distinct zones of a slot's idle targets (parameter: outdial id), NULL among them when some
# have none: a skip along the slot's window index, one seek per zone, whatever the targets.
ZONES_PRESENT = [
    "WITH RECURSIVE present(zone) AS ("
    f" SELECT {_first_zone_after(slot, ">= ''")}"
    f" UNION ALL SELECT {_first_zone_after(slot, '> present.zone')}"
    " FROM present WHERE present.zone IS NOT NULL)"
    " SELECT zone FROM present WHERE zone IS NOT NULL"
    " UNION ALL SELECT NULL WHERE EXISTS (SELECT 1 FROM targets"
    f" INDEXED BY window_slot{slot} WHERE {IDLE_WITH.format(slot=slot)} AND outdial_id = ?1"
    " AND zone IS NULL)"
    for slot in SLOTS
]


@cache
def update_of(columns: tuple[str, ...]) -> str:
    """Sets these columns alone: SQLite then leaves alone every index that reads none of them."""
    return f"UPDATE targets SET {', '.join(f'{column} = ?' for column in columns)} WHERE id = ?"


def rows_by_id(count: int) -> str:
    marks = ", ".join("?" for _ in range(count))
    return f"SELECT {', '.join(COLUMNS)} FROM targets WHERE id IN ({marks})"


def docs_by_id(count: int) -> str:
    return f"SELECT id, doc FROM targets WHERE id IN ({', '.join('?' for _ in range(count))})"


def beyond(newest_first: bool) -> tuple[str, str]:
    """The comparison past a cursor and the sort order, in one direction of the listing."""
    return ("<", "DESC") if newest_first else (">", "ASC")


def listing(*, status: bool, cursor: bool, newest_first: bool) -> str:
    """A page of one outdial, on list_newest_first or list_by_status, read either way."""
    past, order = beyond(newest_first)
    return (
        f"SELECT doc FROM targets WHERE {LIVE} AND outdial_id = ?"
        + (" AND status = ?" if status else "")
        + (f" AND (tm_create, id) {past} (?, ?)" if cursor else "")
        + f" ORDER BY tm_create {order}, id {order} LIMIT ?"
    )


def by_destination(*, cursor: bool, newest_first: bool) -> str:
    """A page of targets holding one lookup key, on destination_keys' primary key."""
    past, order = beyond(newest_first)
    return (
        "SELECT t.doc FROM destination_keys AS k JOIN targets AS t ON t.id = k.id"
        " WHERE k.type = ? AND k.target = ?"
        + (f" AND (k.tm_create, k.id) {past} (?, ?)" if cursor else "")
        + f" ORDER BY k.tm_create {order}, k.id {order} LIMIT ?"
    )
