"""The repository: every read and write of outdial targets, each one conditional."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain import claim
from domain.claim import ClaimPolicy
from domain.models import NOT_DELETED, Status, Target
from domain.paging import Cursor
from domain.validation import TargetPatch
from storage import filters
from storage.documents import (
    Document,
    address_to_document,
    destination_field,
    target_from_document,
    target_to_document,
    try_count_field,
)
from storage.driver import Collection, ReturnDocument, reports_outages


class TargetRepository:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    @reports_outages
    async def get(self, *, target_id: str) -> Target | None:
        doc = await self._collection.find_one({"_id": target_id})
        return None if doc is None else target_from_document(doc)

    @reports_outages
    async def get_many(self, *, target_ids: Sequence[str]) -> dict[str, Target]:
        cursor = self._collection.find({"_id": {"$in": list(set(target_ids))}})
        return {doc["_id"]: target_from_document(doc) async for doc in cursor}

    @reports_outages
    async def list_page(
        self, *, outdial_id: str, status: Status | None, after: Cursor | None, limit: int
    ) -> list[Target]:
        query = filters.listing(outdial_id, status, after)
        cursor = self._collection.find(query, sort=filters.LIST_ORDER, limit=limit)
        return [target_from_document(doc) async for doc in cursor]

    @reports_outages
    async def count_by_status(self, *, outdial_id: str) -> dict[Status, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"outdial_id": outdial_id, "tm_delete": NOT_DELETED}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]
        counts = {status: 0 for status in Status}
        async for row in self._collection.aggregate(pipeline):
            counts[Status(row["_id"])] += row["n"]
        return counts

    @reports_outages
    async def create(self, *, targets: Sequence[Target]) -> None:
        await self._collection.insert_many([target_to_document(t) for t in targets], ordered=True)

    @reports_outages
    async def update(self, *, current: Target, patch: TargetPatch, now: str) -> Target | None:
        query = filters.live(current.id)
        if patch.destinations:
            query |= {"status": Status.IDLE.value, "tm_update": current.tm_update}
        return await self._write(query, {"$set": _patch_fields(patch, now)})

    @reports_outages
    async def delete(self, *, target_id: str, now: str) -> Target | None:
        return await self._write(
            filters.live(target_id), {"$set": {"tm_delete": now, "tm_update": now}}
        )

    @reports_outages
    async def transition(
        self, *, current: Target, to: Status, slot: int | None, now: str
    ) -> Target | None:
        query = filters.live(current.id) | {"status": current.status.value}
        change: Document = {"$set": {"status": to.value, "tm_update": now}}
        if slot is not None:
            query |= filters.holds_destination(slot)
            change["$inc"] = {try_count_field(slot): 1}
        return await self._write(query, change)

    @reports_outages
    async def available(self, *, rules: ClaimPolicy, cutoff: str, limit: int) -> list[Target]:
        cursor = self._collection.find(
            filters.available(rules, cutoff), sort=filters.AVAILABLE_ORDER, limit=limit
        )
        return [target_from_document(doc) async for doc in cursor]

    @reports_outages
    async def claim(
        self, *, rules: ClaimPolicy, cutoff: str, now: str
    ) -> tuple[Target, int] | None:
        # One findAndModify: the database picks the first available target and claims it
        # atomically, so concurrent claimers never take the same one and never fail a race.
        doc = await self._collection.find_one_and_update(
            filters.available(rules, cutoff),
            filters.claim_update(rules, now),
            sort=filters.AVAILABLE_ORDER,
            return_document=ReturnDocument.BEFORE,
        )
        if doc is None:
            return None
        before = target_from_document(doc)
        slot = claim.slot_to_dial(before, rules)
        if slot is None:
            raise RuntimeError(f"claimed target {before.id} has no slot to dial")
        return claim.after_claim(before, slot, now), slot

    async def _write(self, query: Document, change: Document) -> Target | None:
        doc = await self._collection.find_one_and_update(
            query, change, return_document=ReturnDocument.AFTER
        )
        return None if doc is None else target_from_document(doc)


def _patch_fields(patch: TargetPatch, now: str) -> Document:
    fields: Document = {"tm_update": now}
    for name in ("name", "detail", "data"):
        value = getattr(patch, name)
        if value is not None:
            fields[name] = value
    for slot, address in patch.destinations.items():
        fields[destination_field(slot)] = address_to_document(address)
    return fields
