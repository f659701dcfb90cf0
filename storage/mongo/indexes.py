"""Indexes for the listing, the counts and the claim, created idempotently at start-up."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from domain.models import SLOTS
from storage.documents import destination_field, try_count_field
from storage.mongo.driver import Collection

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
    # The claim's lookups (domain.candidates): per slot, by try count, in claim order...
    *(
        IndexModel(
            [
                ("outdial_id", ASCENDING),
                ("status", ASCENDING),
                ("tm_delete", ASCENDING),
                (try_count_field(slot), ASCENDING),
                ("tm_update", ASCENDING),
                ("_id", ASCENDING),
            ],
            name=f"claim_slot{slot}",
            partialFilterExpression={f"{destination_field(slot)}.type": {"$gt": ""}},
        )
        for slot in SLOTS
    ),
    # ...and never-tried targets, whom no retry interval holds back.
    IndexModel(
        [
            ("outdial_id", ASCENDING),
            ("status", ASCENDING),
            ("tm_delete", ASCENDING),
            *((try_count_field(slot), ASCENDING) for slot in SLOTS),
            ("tm_update", ASCENDING),
            ("_id", ASCENDING),
        ],
        name="claim_never_tried",
    ),
    # The claim under a calling window: the same, within one zone (domain.candidates.InZone),
    # and the zones present, one seek each.
    *(
        IndexModel(
            [
                ("outdial_id", ASCENDING),
                ("status", ASCENDING),
                ("tm_delete", ASCENDING),
                ("time_zone", ASCENDING),
                (try_count_field(slot), ASCENDING),
                ("tm_update", ASCENDING),
                ("_id", ASCENDING),
            ],
            name=f"window_slot{slot}",
            partialFilterExpression={f"{destination_field(slot)}.type": {"$gt": ""}},
        )
        for slot in SLOTS
    ),
    IndexModel(
        [
            ("outdial_id", ASCENDING),
            ("status", ASCENDING),
            ("tm_delete", ASCENDING),
            ("time_zone", ASCENDING),
            *((try_count_field(slot), ASCENDING) for slot in SLOTS),
            ("tm_update", ASCENDING),
            ("_id", ASCENDING),
        ],
        name="window_never_tried",
    ),
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
