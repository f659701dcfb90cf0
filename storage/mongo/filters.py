"""MongoDB filters for the domain's rules (domain/claim.py is the rule; this is its query)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain import destinations
from domain.candidates import InZone, Lookup, NeverTried
from domain.claim import ClaimPolicy
from domain.listing import ListScope, OutdialTargets
from domain.models import NOT_DELETED, SLOTS, AddressType, Status, Target
from domain.paging import Cursor
from storage.documents import destination_field, try_count_field

Filter = dict[str, Any]


def unchanged(current: Target) -> Filter:
    """The stored target still as `current` was read (a missing tm_delete reads as not deleted).
    `outdial_id` never changes; it is there so that a sharded cluster routes the write to the
    one shard holding the outdial (shard key `{outdial_id, _id}`)."""
    deleted = current.tm_delete
    return {
        "_id": current.id,
        "outdial_id": current.outdial_id,
        "status": current.status.value,
        "tm_update": current.tm_update,
        "tm_delete": {"$in": [NOT_DELETED, None]} if deleted == NOT_DELETED else deleted,
    }


_DIALABLE_TYPES = [kind.value for kind in AddressType if kind is not AddressType.NONE]


def holds_destination(slot: int) -> Filter:
    # $gt "" matches only non-empty strings (null, missing and NONE's "" fail it) and serves
    # the partial claim indexes; $in leaves out types the service cannot read.
    return {f"{destination_field(slot)}.type": {"$gt": "", "$in": _DIALABLE_TYPES}}


def _idle_in(outdial_id: str) -> Filter:
    return of_status(outdial_id, Status.IDLE)


def _tries_equal(slot: int, tries: int) -> Filter:
    # Documents of other programs may leave a try count out: it reads as 0.
    return {try_count_field(slot): {"$in": [0, None]} if tries == 0 else tries}


def slot_candidates(rules: ClaimPolicy, slot: int) -> Filter:
    """Idle targets of the outdial holding a destination in `slot` (index claim_slot_N)."""
    return _idle_in(rules.outdial_id) | holds_destination(slot)


def next_tries(rules: ClaimPolicy, slot: int, at_least: int) -> Filter:
    """The candidates of `slot` whose try count is at least `at_least` and under its maximum."""
    return slot_candidates(rules, slot) | {
        try_count_field(slot): {"$gte": at_least, "$lt": rules.max_tries(slot)}
    }


def tried_bucket(rules: ClaimPolicy, slot: int, tries: int, cutoff: str) -> Filter:
    """Available through `slot` with exactly `tries` tries, last touched by the cutoff."""
    return (
        slot_candidates(rules, slot) | _tries_equal(slot, tries) | {"tm_update": {"$lte": cutoff}}
    )


def never_tried_bucket(rules: ClaimPolicy, slots: Iterable[int] | None = None) -> Filter:
    """Never tried, so no retry interval holds them back (index claim_never_tried), holding a
    destination in one of `slots` (the policy's open slots unless given)."""
    dialable = [
        holds_destination(slot) for slot in (rules.open_slots() if slots is None else slots)
    ]
    query = _idle_in(rules.outdial_id) | {"$or": dialable}
    for slot in SLOTS:
        query |= _tries_equal(slot, 0)
    return query


def in_zone(zone: InZone | None) -> Filter:
    """A lookup's zone (indexes window_*); null matches documents without the key too."""
    return {} if zone is None else {"time_zone": zone.name}


def lookup(rules: ClaimPolicy, step: Lookup, cutoff: str) -> Filter:
    """One of the claim's lookups (domain.candidates), sorted by AVAILABLE_ORDER."""
    if isinstance(step, NeverTried):
        return never_tried_bucket(rules, step.slots) | in_zone(step.zone)
    return tried_bucket(rules, step.slot, step.tries, cutoff) | in_zone(step.zone)


def zone_after(rules: ClaimPolicy, slot: int, previous: str | None) -> Filter:
    """Candidates of `slot` with a zone name after `previous` (from the first when None), sorted
    by ZONE_ORDER: one seek on window_slot_N finds the next zone present."""
    bound = {"$gte": ""} if previous is None else {"$gt": previous}
    return slot_candidates(rules, slot) | {"time_zone": bound}


def without_zone(rules: ClaimPolicy, slot: int) -> Filter:
    """Candidates of `slot` with no zone (null or no key), on window_slot_N."""
    return slot_candidates(rules, slot) | {"time_zone": None}


ZONE_ORDER = [("time_zone", 1)]


def claimable(current: Target, slot: int) -> Filter:
    """A claim's compare-and-set: the target still as `current` was read, with the try count
    of the `slot` it dials too, so the claim raises that count by exactly one."""
    return unchanged(current) | _tries_equal(slot, current.try_counts[slot])


AVAILABLE_ORDER = [("tm_update", 1), ("_id", 1)]


def list_order(newest_first: bool) -> list[tuple[str, int]]:
    direction = -1 if newest_first else 1
    return [("tm_create", direction), ("_id", direction)]


def in_scope(scope: ListScope) -> Filter:
    if isinstance(scope, OutdialTargets):
        return of_status(scope.outdial_id, scope.status)
    forms = destinations.stored_forms(scope)
    return {
        "$or": [
            {
                f"{destination_field(slot)}.type": scope.type.value,
                f"{destination_field(slot)}.target": {"$in": forms},
                "tm_delete": NOT_DELETED,
            }
            for slot in SLOTS
        ]
    }


def page_of(scope: ListScope, after: Cursor | None, newest_first: bool) -> Filter:
    """`scope` past the cursor, in one direction (list_newest_first, list_by_status)."""
    if after is None:
        return in_scope(scope)
    past = "$lt" if newest_first else "$gt"
    beyond = [
        {"tm_create": {past: after.tm_create}},
        {"tm_create": after.tm_create, "_id": {past: after.id}},
    ]
    return {"$and": [in_scope(scope), {"$or": beyond}]}


def of_status(outdial_id: str, status: Status | None) -> Filter:
    """The outdial's live targets, only those of `status` unless it is None."""
    query: Filter = {"outdial_id": outdial_id, "tm_delete": NOT_DELETED}
    if status is not None:
        query["status"] = status.value
    return query


def lapsed(now: str) -> Filter:
    """Index lease_end: a string tm_lease_expire by `now` (null and missing never match)."""
    return {
        "status": Status.PROGRESSING.value,
        "tm_delete": NOT_DELETED,
        "tm_lease_expire": {"$lte": now},
    }


LEASE_ORDER = [("tm_lease_expire", 1)]


def progressing_since(outdial_id: str, cutoff: str) -> Filter:
    return of_status(outdial_id, Status.PROGRESSING) | {"tm_update": {"$lte": cutoff}}


def outdial_past(after: str | None, ascending: bool) -> Filter:
    """Live targets of outdials past `after` (the prefix of list_newest_first)."""
    bound = {} if after is None else {"$gt" if ascending else "$lt": after}
    return {"outdial_id": bound or {"$exists": True}, "tm_delete": NOT_DELETED}


EXPORT_ORDER = [("outdial_id", 1), ("tm_delete", 1), ("tm_create", -1), ("_id", -1)]
