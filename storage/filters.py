"""MongoDB filters for the domain's rules (domain/claim.py is the rule; this is its query)."""

from __future__ import annotations

from typing import Any

from domain.claim import ClaimPolicy
from domain.models import NOT_DELETED, SLOTS, Status
from domain.paging import Cursor
from storage.documents import destination_field, try_count_field

Filter = dict[str, Any]


def live(target_id: str) -> Filter:
    return {"_id": target_id, "tm_delete": NOT_DELETED}


def holds_destination(slot: int) -> Filter:
    # $gt "" matches only non-empty strings: null, missing and NONE's "" all fail it.
    return {f"{destination_field(slot)}.type": {"$gt": ""}}


def _tries_below(slot: int, maximum: int) -> Filter:
    field = try_count_field(slot)
    return {"$or": [{field: {"$lt": maximum}}, {field: {"$exists": False}}, {field: None}]}


def _never_tried() -> Filter:
    return {"$and": [{try_count_field(slot): {"$in": [0, None]}} for slot in SLOTS]}


def available(rules: ClaimPolicy, cutoff: str) -> Filter:
    dialable = [
        {"$and": [holds_destination(slot), _tries_below(slot, rules.max_tries(slot))]}
        for slot in rules.open_slots()
    ]
    return {
        "outdial_id": rules.outdial_id,
        "status": Status.IDLE.value,
        "tm_delete": NOT_DELETED,
        "$and": [
            {"$or": dialable} if dialable else {"_id": {"$in": []}},
            {"$or": [_never_tried(), {"tm_update": {"$lte": cutoff}}]},
        ],
    }


def claim_update(rules: ClaimPolicy, now: str) -> list[Filter]:
    """One atomic update that marks a target claimed and raises the try count of the slot
    domain.claim.slot_to_dial picks: the lowest slot with a destination and tries left."""
    dialable = {slot: _dialable_expression(slot, rules.max_tries(slot)) for slot in SLOTS}
    raised: Filter = {"status": Status.PROGRESSING.value, "tm_update": now}
    for slot in rules.open_slots():
        lower_open = [dialable[lower] for lower in rules.open_slots() if lower < slot]
        chosen = {"$and": [dialable[slot], *({"$eq": [e, False]} for e in lower_open)]}
        field = try_count_field(slot)
        count = {"$ifNull": [f"${field}", 0]}
        raised[field] = {"$cond": [chosen, {"$add": [count, 1]}, f"${field}"]}
    return [{"$set": raised}]


def _dialable_expression(slot: int, maximum: int) -> Filter:
    count = {"$ifNull": [f"${try_count_field(slot)}", 0]}
    kind = {"$ifNull": [f"${destination_field(slot)}.type", ""]}
    return {"$and": [{"$gt": [kind, ""]}, {"$lt": [count, maximum]}]}


AVAILABLE_ORDER = [("tm_update", 1), ("_id", 1)]
LIST_ORDER = [("tm_create", -1), ("_id", -1)]


def listing(outdial_id: str, status: Status | None, after: Cursor | None) -> Filter:
    query: Filter = {"outdial_id": outdial_id, "tm_delete": NOT_DELETED}
    if status is not None:
        query["status"] = status.value
    if after is not None:
        query["$or"] = [
            {"tm_create": {"$lt": after.tm_create}},
            {"tm_create": after.tm_create, "_id": {"$lt": after.id}},
        ]
    return query
