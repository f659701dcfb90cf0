"""The repository: every read and write of outdial targets, each one conditional."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from domain import claim, clock, leases
from domain.claim import ClaimPolicy
from domain.errors import IdsTaken, UnreadableTarget
from domain.listing import ListScope
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
from storage.mongo.driver import BulkWriteError, Collection, ReturnDocument, reports_outages

logger = logging.getLogger("outdial.storage")


class TargetRepository:
    def __init__(
        self, collection: Collection, unreadable: UnreadableLog, *, transactions: bool = False
    ) -> None:
        self._collection = collection
        self._unreadable = unreadable
        self._transactions = transactions

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
                await self._insert_in_transaction(docs)
            else:
                await self._collection.insert_many(docs, ordered=True)
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            inserted = docs[: error.details.get("nInserted", 0)]
            if inserted and not self._transactions:  # all or nothing, as far as we can
                await self._collection.delete_many({"_id": {"$in": [d["_id"] for d in inserted]}})
            raise IdsTaken(e["op"]["_id"] for e in error.details["writeErrors"]) from None

    async def _insert_in_transaction(self, docs: list[dict[str, Any]]) -> None:
        """One transaction: after a crash at any moment the batch is stored whole or not at all."""
        client = self._collection.database.client
        async with await client.start_session() as session, session.start_transaction():
            await self._collection.insert_many(docs, ordered=True, session=session)

    @reports_outages
    async def replace(self, *, current: Target, after: Target) -> Target | None:
        doc = await self._collection.find_one_and_update(
            filters.unchanged(current),
            {"$set": changed_fields(current, after)},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else target_from_document(doc)

    @reports_outages
    async def available(self, *, rules: ClaimPolicy, cutoff: str, limit: int) -> list[Target]:
        found: dict[str, Target] = {}
        for bucket in await self._buckets(rules, cutoff):
            for target in await self._first_readable(bucket, filters.AVAILABLE_ORDER, limit):
                found[target.id] = target
        return claim.in_claim_order(found.values())[:limit]

    @reports_outages
    async def lapsed(self, *, now: str, limit: int) -> list[Target]:
        return await self._first_readable(filters.lapsed(now), filters.LEASE_ORDER, limit)

    @reports_outages
    async def progressing_since(self, *, outdial_id: str, cutoff: str, limit: int) -> list[Target]:
        query = filters.progressing_since(outdial_id, cutoff)
        return await self._first_readable(query, [("tm_update", 1)], limit)

    @reports_outages
    async def claim(
        self, *, rules: ClaimPolicy, cutoff: str, now: str, limit: int, lease_ms: int | None
    ) -> list[tuple[Target, int]]:
        claimed = []
        for _ in range(limit):
            won = await self._claim_one(rules, cutoff, now, lease_ms)
            if won is None:
                break
            claimed.append(won)
        return claimed

    async def _claim_one(
        self, rules: ClaimPolicy, cutoff: str, now: str, lease_ms: int | None
    ) -> tuple[Target, int] | None:
        # Each bucket is one index range in claim order; the claim takes from the bucket whose
        # first target comes first, in one findAndModify: the database moves concurrent
        # claimers of that bucket on to its next target, so none fails a race or shares one.
        token = leases.new_token()
        while (bucket := await self._first_bucket(rules, cutoff)) is not None:
            doc = await self._collection.find_one_and_update(
                bucket,
                filters.claim_update(rules, now, token, leases.expiry(now, lease_ms)),
                sort=filters.AVAILABLE_ORDER,
                return_document=ReturnDocument.BEFORE,
            )
            if doc is None:
                continue
            before = self._unreadable.read(doc)
            if isinstance(before, UnreadableTarget):
                await self._undo_claim(doc, token)
                continue
            slot = claim.slot_to_dial(before, rules)
            if slot is None:
                raise RuntimeError(f"claimed target {before.id} has no slot to dial")
            written = clock.next_update(before.tm_update, now)
            if written != now:
                held, later = filters.claim_later(token, written, leases.expiry(written, lease_ms))
                await self._collection.update_one({"_id": doc["_id"]} | held, later)
            return claim.after_claim(before, slot, written, token=token, lease_ms=lease_ms), slot
        return None

    async def _undo_claim(self, doc: dict[str, Any], token: str) -> None:
        """A claim matched a document the service cannot read: put it back as it was (reading
        it already recorded it unreadable, which leaves it out of later claims)."""
        await self._collection.replace_one({"_id": doc["_id"], "claim_token": token}, doc)

    async def _first_bucket(self, rules: ClaimPolicy, cutoff: str) -> dict[str, Any] | None:
        heads = []
        for found in await self._buckets(rules, cutoff):
            bucket = self._readable_only(found)
            head = await self._collection.find_one(
                bucket, filters.CLAIM_ORDER_KEYS, sort=filters.AVAILABLE_ORDER
            )
            if head is not None:
                heads.append(((head["tm_update"], head["_id"]), bucket))
        return min(heads, key=lambda found: found[0])[1] if heads else None

    async def _buckets(self, rules: ClaimPolicy, cutoff: str) -> list[dict[str, Any]]:
        """The claim's index ranges: never-tried targets, then per open slot one range per
        try count present under its maximum (found by skipping along the slot's index)."""
        if not rules.open_slots():
            return []
        buckets = [filters.never_tried_bucket(rules)]
        for slot in rules.open_slots():
            field = try_count_field(slot)
            buckets.append(filters.tried_bucket(rules, slot, 0, cutoff))
            tries = 1
            while found := await self._collection.find_one(
                self._readable_only(filters.next_tries(rules, slot, tries)), sort=[(field, 1)]
            ):
                target = self._unreadable.read(found)
                if isinstance(target, UnreadableTarget):
                    continue  # now left out by _readable_only
                tries = target.try_counts[slot]
                buckets.append(filters.tried_bucket(rules, slot, tries, cutoff))
                tries += 1
        return buckets


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(e.get("code") == _DUPLICATE_KEY for e in error.details.get("writeErrors", []))


_DUPLICATE_KEY = 11000
