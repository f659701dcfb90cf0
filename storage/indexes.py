"""Indexes for the listing and the claim, created idempotently at start-up."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from storage.driver import Collection

INDEXES = [
    IndexModel(
        [
            ("outdial_id", ASCENDING),
            ("tm_delete", ASCENDING),
            ("tm_create", DESCENDING),
            ("_id", DESCENDING),
        ],
        name="list_newest_first",
    ),
    IndexModel(
        [
            ("outdial_id", ASCENDING),
            ("tm_delete", ASCENDING),
            ("status", ASCENDING),
            ("tm_create", DESCENDING),
            ("_id", DESCENDING),
        ],
        name="list_by_status",
    ),
    IndexModel(
        [
            ("outdial_id", ASCENDING),
            ("status", ASCENDING),
            ("tm_delete", ASCENDING),
            ("tm_update", ASCENDING),
            ("_id", ASCENDING),
        ],
        name="claim_order",
    ),
]


async def ensure_indexes(collection: Collection) -> None:
    await collection.create_indexes(INDEXES)
