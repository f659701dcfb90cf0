"""The embedded store's repository: every read and conditional write of outdial targets.

Reads run on the event loop against the reader connection; every write is one transaction of
the writer (storage.sqlite.writer), which checks the stored document and writes it in the same
transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from domain import claim, clock, leases
from domain.candidates import CandidateWalk, Lookup, NeverTried, NextTries, ZonesPresent
from domain.claim import ClaimKey, ClaimPolicy
from domain.errors import IdsTaken, UnreadableTarget
from domain.listing import ListScope, OutdialTargets
from domain.models import Status, Target
from domain.paging import Cursor
from storage.documents import (
    UnreadableDocument,
    UnreadableLog,
    changed_fields,
    key_of,
    target_from_document,
    target_to_document,
)
from storage.sqlite import queries, writes
from storage.sqlite.database import SqliteDatabase
from storage.sqlite.rows import document_of, target_of
from storage.sqlite.schema import COLUMNS

_MAX_VARIABLES = 500
_DOC = COLUMNS.index("doc")
_EXPORT_BATCH = 1000


class SqliteTargetRepository:
    def __init__(self, database: SqliteDatabase, unreadable: UnreadableLog) -> None:
        self._database = database
        self._unreadable = unreadable

    async def get(self, *, target_id: str) -> Target | None:
        row = self._database.reader.execute(queries.DOC_BY_ID, (target_id,)).fetchone()
        if row is None:
            return None
        target = self._unreadable.read(document_of(row[0]))
        if isinstance(target, UnreadableTarget):
            raise target
        return target

    async def get_many(self, *, target_ids: Sequence[str]) -> dict[str, Target | UnreadableTarget]:
        found: dict[str, Target | UnreadableTarget] = {}
        unique = list(dict.fromkeys(target_ids))
        for start in range(0, len(unique), _MAX_VARIABLES):
            batch = unique[start : start + _MAX_VARIABLES]
            for _, text in _docs_by_id(self._database.reader, batch):
                doc = document_of(text)
                found[key_of(doc)] = self._unreadable.read(doc)
        return found

    async def every(self, *, outdial_id: str | None) -> AsyncIterator[Target]:
        query = queries.EVERY if outdial_id is None else queries.EVERY_OF_OUTDIAL
        rows = self._database.reader.execute(query, () if outdial_id is None else (outdial_id,))
        while batch := rows.fetchmany(_EXPORT_BATCH):
            for (text,) in batch:
                yield target_of(text)

    def report_unreadable(self) -> None:
        """Log, once each, the stored documents the service cannot read (index unreadable)."""
        for (text,) in self._database.reader.execute(queries.UNREADABLE):
            self._unreadable.read(document_of(text))

    async def page(
        self, *, scope: ListScope, after: Cursor | None, newest_first: bool, limit: int
    ) -> list[Target]:
        query, parameters = _page_query(scope, after, newest_first)
        rows = self._database.reader.execute(query, [*parameters, limit]).fetchall()
        return [target_of(text) for (text,) in rows]

    async def total(self, *, scope: ListScope) -> int:
        query, parameters = _total_query(scope)
        (total,) = self._database.reader.execute(query, parameters).fetchone()
        return int(total)

    async def count_by_status(self, *, outdial_id: str) -> dict[Status, int]:
        counts = {status: 0 for status in Status}
        for status, n in self._database.reader.execute(queries.COUNTS, (outdial_id,)):
            counts[Status(status)] = n
        return counts

    async def outdials(self, *, after: str | None, ascending: bool, limit: int) -> list[str]:
        query = queries.OUTDIALS_AFTER if ascending else queries.OUTDIALS_BEFORE
        rows = self._database.reader.execute(query, (after or "", limit))
        return [outdial_id for (outdial_id,) in rows]

    async def available(self, *, rules: ClaimPolicy, now: datetime, limit: int) -> list[Target]:
        reader = self._database.reader
        found = _available(reader, rules, now, limit, queries.docs_by_id)
        return [target_of(text) for _, text in found]

    async def create(self, *, targets: Sequence[Target]) -> None:
        docs = [target_to_document(target) for target in targets]
        try:
            await self._database.write(lambda connection: writes.insert(connection, docs))
        except sqlite3.IntegrityError:
            stored = _docs_by_id(self._database.reader, [t.id for t in targets])
            raise IdsTaken(key_of(document_of(text)) for _, text in stored) from None

    async def replace(self, *, current: Target, after: Target) -> Target | None:
        def write(connection: sqlite3.Connection) -> Target | None:
            row = connection.execute(queries.ROW_BY_ID, (current.id,)).fetchone()
            if row is None:
                return None
            doc = document_of(row[_DOC])
            stored = self._unreadable.read(doc)
            if isinstance(stored, UnreadableTarget) or not _unchanged(stored, current):
                return None
            doc |= changed_fields(stored, after)
            written = writes.change(connection, row, doc)
            if isinstance(written, UnreadableDocument):
                raise written  # as reading it again would: the write's savepoint is rolled back
            return written

        return await self._database.write(write)

    async def lapsed(self, *, now: str, limit: int) -> list[Target]:
        rows = self._database.reader.execute(queries.LAPSED, (now, limit))
        return [target_of(text) for (text,) in rows]

    async def progressing_since(self, *, outdial_id: str, cutoff: str, limit: int) -> list[Target]:
        rows = self._database.reader.execute(queries.PROGRESSING_SINCE, (outdial_id, cutoff, limit))
        return [target_of(text) for (text,) in rows]

    async def claim(
        self, *, rules: ClaimPolicy, now: datetime, limit: int, lease_ms: int | None
    ) -> list[tuple[Target, int]]:
        written_at = clock.format_time(now)

        # In the writer's transaction: no other write comes between the lookups and the claims.
        def write(connection: sqlite3.Connection) -> list[tuple[Target, int]]:
            claimed = []
            for row in _available(connection, rules, now, limit, queries.rows_by_id):
                doc = document_of(row[_DOC])
                before = target_from_document(doc)
                token = leases.new_token()
                taken = claim.take(before, rules, written_at, token=token, lease_ms=lease_ms)
                if taken is None:
                    continue
                after, _ = taken
                doc |= changed_fields(before, after)
                writes.change(connection, row, doc)
                claimed.append(taken)
            return claimed

        return await self._database.write(write)


def _page_query(
    scope: ListScope, after: Cursor | None, newest_first: bool
) -> tuple[str, list[object]]:
    cursor = [] if after is None else [after.tm_create, after.id]
    if isinstance(scope, OutdialTargets):
        status = [] if scope.status is None else [scope.status.value]
        query = queries.listing(status=bool(status), cursor=bool(cursor), newest_first=newest_first)
        return query, [scope.outdial_id, *status, *cursor]
    query = queries.by_destination(cursor=bool(cursor), newest_first=newest_first)
    return query, [scope.type.value, scope.key, *cursor]


def _total_query(scope: ListScope) -> tuple[str, list[object]]:
    if isinstance(scope, OutdialTargets):
        if scope.status is None:
            return queries.TOTAL, [scope.outdial_id]
        return queries.TOTAL_OF_STATUS, [scope.outdial_id, scope.status.value]
    return queries.TOTAL_OF_DESTINATION, [scope.type.value, scope.key]


def _unchanged(stored: Target, current: Target) -> bool:
    return (stored.status, stored.tm_update, stored.tm_delete) == (
        current.status,
        current.tm_update,
        current.tm_delete,
    )


def _docs_by_id(connection: sqlite3.Connection, target_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(id, doc) of each stored target among `target_ids`."""
    query = queries.docs_by_id(len(target_ids))
    return [(target_id, text) for target_id, text in connection.execute(query, list(target_ids))]


def _available(
    connection: sqlite3.Connection,
    rules: ClaimPolicy,
    now: datetime,
    limit: int,
    rows_by_id: Callable[[int], str],
) -> list[tuple[Any, ...]]:
    """The first `limit` available targets in claim order, found from the claim indexes alone,
    as the rows `rows_by_id` reads (each starting with the id)."""
    ids = [target_id for _, target_id in _candidate_keys(connection, rules, now, limit)]
    if not ids:
        return []
    by_id = {row[0]: row for row in connection.execute(rows_by_id(len(ids)), ids)}
    return [by_id[target_id] for target_id in ids if target_id in by_id]


def _candidate_keys(
    connection: sqlite3.Connection, rules: ClaimPolicy, now: datetime, limit: int
) -> list[ClaimKey]:
    """domain.candidates' walk, each step one query (on the window indexes within a zone)."""
    outdial = rules.outdial_id
    cutoff = rules.retry_cutoff(now)
    walk = CandidateWalk(rules, now)
    while (step := walk.step) is not None:
        if isinstance(step, ZonesPresent):
            walk.zones_found(_zones_present(connection, outdial, step.slots))
        elif isinstance(step, NextTries):
            walk.tries_found(_first_value(connection.execute(*_next_tries(outdial, step))))
        else:
            walk.found(connection.execute(*_lookup(outdial, step, cutoff, limit)))
    return walk.first(limit)


Query = tuple[str, tuple[object, ...]]


def _lookup(outdial_id: str, step: Lookup, cutoff: str, limit: int) -> Query:
    zone = step.zone
    if isinstance(step, NeverTried):
        if zone is None:
            return queries.never_tried(step.slots), (outdial_id, limit)
        return queries.never_tried_in_zone(step.slots), (outdial_id, zone.name, limit)
    if zone is None:
        return queries.TRIED[step.slot], (outdial_id, step.tries, cutoff, limit)
    return queries.TRIED_IN_ZONE[step.slot], (outdial_id, zone.name, step.tries, cutoff, limit)


def _next_tries(outdial_id: str, step: NextTries) -> Query:
    tries = (step.at_least, step.below)
    if step.zone is None:
        return queries.NEXT_TRIES[step.slot], (outdial_id, *tries)
    return queries.NEXT_TRIES_IN_ZONE[step.slot], (outdial_id, step.zone.name, *tries)


def _first_value(rows: sqlite3.Cursor) -> int | None:
    first = rows.fetchone()
    return None if first is None else int(first[0])


def _zones_present(
    connection: sqlite3.Connection, outdial_id: str, slots: tuple[int, ...]
) -> set[str | None]:
    return {
        zone
        for slot in slots
        for (zone,) in connection.execute(queries.ZONES_PRESENT[slot], (outdial_id,))
    }
