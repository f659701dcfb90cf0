"""Indexes for the listing, the counts and the claim, created idempotently at start-up."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from domain.models import SLOTS
from storage.documents import destination_field, try_count_field
from storage.mongo.driver import Collection

_CLAIMABLE = [("outdial_id", ASCENDING), ("status", ASCENDING), ("tm_delete", ASCENDING)]
_CLAIM_ORDER = [("tm_update", ASCENDING), ("_id", ASCENDING)]


def _zone(zoned: bool) -> list[tuple[str, int]]:
    return [("time_zone", ASCENDING)] if zoned else []


def _slot_index(slot: int, *, zoned: bool) -> IndexModel:
    return IndexModel(
        [*_CLAIMABLE, *_zone(zoned), (try_count_field(slot), ASCENDING), *_CLAIM_ORDER],
        name=f"{'window' if zoned else 'claim'}_slot{slot}",
        partialFilterExpression={f"{destination_field(slot)}.type": {"$gt": ""}},
    )


def _never_tried_index(*, zoned: bool) -> IndexModel:
    tries = [(try_count_field(slot), ASCENDING) for slot in SLOTS]
    return IndexModel(
        [*_CLAIMABLE, *_zone(zoned), *tries, *_CLAIM_ORDER],
        name=f"{'window' if zoned else 'claim'}_never_tried",
    )


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
    # The claim's lookups (domain.candidates): per slot, by try count, in claim order, and
    # never-tried targets, whom no retry interval holds back...
    *(_slot_index(slot, zoned=False) for slot in SLOTS),
    _never_tried_index(zoned=False),
    # ...and the same under a calling window, within one zone (domain.candidates.InZone); the
    # zones present are found along them, one seek each.
    *(_slot_index(slot, zoned=True) for slot in SLOTS),
    _never_tried_index(zoned=True),
    # The lapse sweep and the operator's release.
    IndexModel(
        [("status", ASCENDING), ("tm_delete", ASCENDING), ("tm_lease_expire", ASCENDING)],
        name="lease_end",
        partialFilterExpression={"tm_lease_expire": {"$type": "string"}},
    ),
    IndexModel(
        [
            ("outdial_id", ASCENDING),
            ("status", ASCENDING),
            ("tm_delete", ASCENDING),
            ("tm_update", ASCENDING),
        ],
        name="progressing_since",
    ),
    # Per slot, outdialtargetsByDestination's branch of its $or, newest first.
    *(
        IndexModel(
            [
                (f"{destination_field(slot)}.type", ASCENDING),
                (f"{destination_field(slot)}.target", ASCENDING),
                ("tm_delete", ASCENDING),
                ("tm_create", DESCENDING),
                ("_id", DESCENDING),
            ],
            name=f"by_destination{slot}",
        )
        for slot in SLOTS
    ),
]


async def ensure_indexes(collection: Collection) -> None:
    await collection.create_indexes(INDEXES)
