"""The repository: every read and write of outdial targets, each one conditional."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from domain import claim, clock, leases
from domain.candidates import CandidateWalk, NextTries, ZonesPresent
from domain.claim import ClaimPolicy
from domain.errors import IdsTaken, UnreadableTarget
from domain.listing import ListScope
from domain.locks import KeyedLocks
from domain.models import Status, Target
from domain.paging import Cursor
from storage.documents import (
    UnreadableLog,
    changed_fields,
    key_of,
    target_from_document,
    target_to_document,
    try_count_field,
)
from storage.mongo import filters
from storage.mongo.driver import (
    BulkWriteError,
    Collection,
    ReturnDocument,
    insert_in_transaction,
    reports_outages,
)

logger = logging.getLogger("outdial.storage")


class TargetRepository:
    def __init__(
        self, collection: Collection, unreadable: UnreadableLog, *, transactions: bool = False
    ) -> None:
        self._collection = collection
        self._unreadable = unreadable
        self._transactions = transactions
        self._claim_turns = KeyedLocks()

    @reports_outages
    async def get(self, *, target_id: str) -> Target | None:
        doc = await self._collection.find_one({"_id": target_id})
        if doc is None:
            return None
        target = self._unreadable.read(doc)
        if isinstance(target, UnreadableTarget):
            raise target
        return target

    @reports_outages
    async def get_many(self, *, target_ids: Sequence[str]) -> dict[str, Target | UnreadableTarget]:
        cursor = self._collection.find({"_id": {"$in": list(set(target_ids))}})
        return {key_of(doc): self._unreadable.read(doc) async for doc in cursor}

    def _readable_only(self, query: dict[str, Any]) -> dict[str, Any]:
        """Leave out the documents already found unreadable (the rest are skipped as read)."""
        known = self._unreadable.ids
        return query if not known else query | {"_id": {"$nin": sorted(known)}}

    async def _first_readable(
        self, query: dict[str, Any], sort: list[tuple[str, int]], limit: int
    ) -> list[Target]:
        cursor = self._collection.find(self._readable_only(query), sort=sort, batch_size=limit)
        found: list[Target] = []
        async for doc in cursor:
            target = self._unreadable.read(doc)
            if isinstance(target, Target):
                found.append(target)
                if len(found) == limit:
                    break
        await cursor.close()
        return found

    @reports_outages
    async def page(
        self, *, scope: ListScope, after: Cursor | None, newest_first: bool, limit: int
    ) -> list[Target]:
        query = filters.page_of(scope, after, newest_first)
        return await self._first_readable(query, filters.list_order(newest_first), limit)

    @reports_outages
    async def total(self, *, scope: ListScope) -> int:
        query = self._readable_only(filters.in_scope(scope))
        return int(await self._collection.count_documents(query))

    @reports_outages
    async def count_by_status(self, *, outdial_id: str) -> dict[Status, int]:
        # One count per status on the index list_by_status: index-only, no aggregation.
        counts = await asyncio.gather(
            *(
                self._collection.count_documents(
                    self._readable_only(filters.of_status(outdial_id, status))
                )
                for status in Status
            )
        )
        return dict(zip(Status, counts, strict=True))

    @reports_outages
    async def outdials(self, *, after: str | None, ascending: bool, limit: int) -> list[str]:
        # Skips along list_newest_first: one index seek per outdial, whatever its size.
        found: list[str] = []
        while len(found) < limit:
            doc = await self._collection.find_one(
                filters.outdial_past(found[-1] if found else after, ascending),
                {"outdial_id": 1, "_id": 0},
                sort=[("outdial_id", 1 if ascending else -1)],
            )
            if doc is None:
                break
            found.append(doc["outdial_id"])
        return found

    async def every(self, *, outdial_id: str | None) -> AsyncIterator[Target]:
        # With an outdial: its prefix of list_newest_first, in that index's order.
        query = {} if outdial_id is None else {"outdial_id": outdial_id}
        order = [("_id", 1)] if outdial_id is None else filters.EXPORT_ORDER
        async for doc in self._collection.find(query, sort=order, batch_size=1000):
            target = self._unreadable.read(doc)
            if isinstance(target, Target):
                yield target

    @reports_outages
    async def create(self, *, targets: Sequence[Target]) -> None:
        docs = [target_to_document(t) for t in targets]
        try:
            if self._transactions:
                # After a crash at any moment the batch is stored whole or not at all.
                await insert_in_transaction(self._collection, docs)
            else:
                await self._collection.insert_many(docs, ordered=True)
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            inserted = docs[: error.details.get("nInserted", 0)]
            if inserted and not self._transactions:  # all or nothing, as far as we can
                await self._collection.delete_many({"_id": {"$in": [d["_id"] for d in inserted]}})
            raise IdsTaken(e["op"]["_id"] for e in error.details["writeErrors"]) from None

    @reports_outages
    async def replace(self, *, current: Target, after: Target) -> Target | None:
        doc = await self._collection.find_one_and_update(
            filters.unchanged(current),
            {"$set": changed_fields(current, after)},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else target_from_document(doc)

    @reports_outages
    async def available(self, *, rules: ClaimPolicy, now: datetime, limit: int) -> list[Target]:
        return await self._candidates(rules, now, limit)

    @reports_outages
    async def lapsed(self, *, now: str, limit: int) -> list[Target]:
        return await self._first_readable(filters.lapsed(now), filters.LEASE_ORDER, limit)

    @reports_outages
    async def progressing_since(self, *, outdial_id: str, cutoff: str, limit: int) -> list[Target]:
        query = filters.progressing_since(outdial_id, cutoff)
        return await self._first_readable(query, [("tm_update", 1)], limit)

    @reports_outages
    async def claim(
        self, *, rules: ClaimPolicy, now: datetime, limit: int, lease_ms: int | None
    ) -> list[tuple[Target, int]]:
        # Claims of one outdial take turns within this process: they would all race for the same
        # first candidates. Across processes, each candidate is claimed by one compare-and-set on
        # it as it was read; one that another claimer took first is passed over for the next,
        # and the candidates are looked up again while claims are left to make.
        written_at = clock.format_time(now)
        async with self._claim_turns.held(rules.outdial_id):
            claimed: list[tuple[Target, int]] = []
            looked_up: list[Target] = []
            while len(claimed) < limit:
                candidates = await self._candidates(rules, now, limit - len(claimed))
                if not candidates or candidates == looked_up:
                    break  # none left, or none changed since each write on them found it changed
                looked_up = candidates
                for before in candidates:
                    won = await self._claim_one(before, rules, written_at, lease_ms)
                    if won is not None:
                        claimed.append(won)
            return claimed

    async def _claim_one(
        self, before: Target, rules: ClaimPolicy, now: str, lease_ms: int | None
    ) -> tuple[Target, int] | None:
        taken = claim.take(before, rules, now, token=leases.new_token(), lease_ms=lease_ms)
        if taken is None:
            return None
        after, slot = taken
        written = await self._collection.update_one(
            filters.claimable(before, slot), {"$set": changed_fields(before, after)}
        )
        return taken if written.matched_count == 1 else None

    async def _candidates(self, rules: ClaimPolicy, now: datetime, limit: int) -> list[Target]:
        """domain.candidates' walk, each lookup one find on a claim (or window) index."""
        cutoff = rules.retry_cutoff(now)
        walk = CandidateWalk(rules, now)
        found: dict[str, Target] = {}
        while (step := walk.step) is not None:
            if isinstance(step, ZonesPresent):
                walk.zones_found(await self._zones_present(rules, step.slots))
                continue
            if isinstance(step, NextTries):
                walk.tries_found(await self._least_tries(rules, step))
                continue
            query = filters.lookup(rules, step, cutoff)
            targets = await self._first_readable(query, filters.AVAILABLE_ORDER, limit)
            found |= {target.id: target for target in targets}
            walk.found(map(claim.claim_key, targets))
        return [found[target_id] for _, target_id in walk.first(limit)]

    async def _zones_present(self, rules: ClaimPolicy, slots: tuple[int, ...]) -> set[str | None]:
        """Skips along each slot's window index from one zone name to the next."""
        present: set[str | None] = set()
        for slot in slots:
            if await self._collection.find_one(filters.without_zone(rules, slot), {"_id": 1}):
                present.add(None)
            previous: str | None = None
            while found := await self._collection.find_one(
                filters.zone_after(rules, slot, previous),
                {"time_zone": 1, "_id": 0},
                sort=filters.ZONE_ORDER,
            ):
                previous = found["time_zone"]
                present.add(previous)
        return present

    async def _least_tries(self, rules: ClaimPolicy, step: NextTries) -> int | None:
        """Skips along the slot's claim index (or window index) to the next try count present."""
        query = filters.next_tries(rules, step.slot, step.at_least) | filters.in_zone(step.zone)
        by_tries = [(try_count_field(step.slot), 1)]
        while found := await self._collection.find_one(self._readable_only(query), sort=by_tries):
            target = self._unreadable.read(found)
            if isinstance(target, Target):
                return target.try_counts[step.slot]
        return None  # an unreadable one is left out by _readable_only once read


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(e.get("code") == _DUPLICATE_KEY for e in error.details.get("writeErrors", []))


_DUPLICATE_KEY = 11000
