"""The repository: every read and write of outdial targets, each one conditional."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from domain import claim, leases
from domain.claim import ClaimPolicy
from domain.listing import ListScope
from domain.models import Status, Target
from domain.paging import Cursor
from storage.documents import (
    UnreadableDocument,
    changed_fields,
    target_from_document,
    target_to_document,
    try_count_field,
)
from storage.mongo import filters
from storage.mongo.driver import Collection, ReturnDocument, reports_outages

logger = logging.getLogger("outdial.storage")


class TargetRepository:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._unreadable: set[str] = set()

    @reports_outages
    async def get(self, *, target_id: str) -> Target | None:
        doc = await self._collection.find_one({"_id": target_id})
        return None if doc is None else target_from_document(doc)

    @reports_outages
    async def get_many(self, *, target_ids: Sequence[str]) -> dict[str, Target]:
        cursor = self._collection.find({"_id": {"$in": list(set(target_ids))}})
        return {doc["_id"]: target_from_document(doc) async for doc in cursor}

    @reports_outages
    async def page(
        self, *, scope: ListScope, after: Cursor | None, newest_first: bool, limit: int
    ) -> list[Target]:
        query = filters.page_of(scope, after, newest_first)
        cursor = self._collection.find(query, sort=filters.list_order(newest_first), limit=limit)
        return [target_from_document(doc) async for doc in cursor]

    @reports_outages
    async def total(self, *, scope: ListScope) -> int:
        return int(await self._collection.count_documents(filters.in_scope(scope)))

    @reports_outages
    async def count_by_status(self, *, outdial_id: str) -> dict[Status, int]:
        # One count per status on the index list_by_status: index-only, no aggregation.
        counts = await asyncio.gather(
            *(
                self._collection.count_documents(filters.of_status(outdial_id, status))
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

    @reports_outages
    async def create(self, *, targets: Sequence[Target]) -> None:
        await self._collection.insert_many([target_to_document(t) for t in targets], ordered=True)

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
            cursor = self._collection.find(bucket, sort=filters.AVAILABLE_ORDER, limit=limit)
            async for doc in cursor:
                target = target_from_document(doc)
                found[target.id] = target
        return claim.in_claim_order(found.values())[:limit]

    @reports_outages
    async def lapsed(self, *, now: str, limit: int) -> list[Target]:
        cursor = self._collection.find(filters.lapsed(now), sort=filters.LEASE_ORDER, limit=limit)
        return [target_from_document(doc) async for doc in cursor]

    @reports_outages
    async def progressing_since(self, *, outdial_id: str, cutoff: str, limit: int) -> list[Target]:
        cursor = self._collection.find(
            filters.progressing_since(outdial_id, cutoff), sort=[("tm_update", 1)], limit=limit
        )
        return [target_from_document(doc) async for doc in cursor]

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
            try:
                before = target_from_document(doc)
            except UnreadableDocument:
                await self._undo_claim(doc, token)
                continue
            slot = claim.slot_to_dial(before, rules)
            if slot is None:
                raise RuntimeError(f"claimed target {before.id} has no slot to dial")
            return claim.after_claim(before, slot, now, token=token, lease_ms=lease_ms), slot
        return None

    async def _undo_claim(self, doc: dict[str, Any], token: str) -> None:
        """A claim matched a document the service cannot read: put it back as it was, and
        leave it out of later claims."""
        await self._collection.replace_one({"_id": doc["_id"], "claim_token": token}, doc)
        self._unreadable.add(doc["_id"])
        logger.warning("target %s breaks the stored shape; claims leave it alone", doc["_id"])

    async def _first_bucket(self, rules: ClaimPolicy, cutoff: str) -> dict[str, Any] | None:
        heads = []
        for bucket in await self._buckets(rules, cutoff):
            if self._unreadable:
                bucket = bucket | {"_id": {"$nin": sorted(self._unreadable)}}
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
                filters.next_tries(rules, slot, tries), {field: 1}, sort=[(field, 1)]
            ):
                tries = int(found[field])
                buckets.append(filters.tried_bucket(rules, slot, tries, cutoff))
                tries += 1
        return buckets
