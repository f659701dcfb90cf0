"""Finding targets by destination: the lookup key of a stored destination and of a query."""

from __future__ import annotations

from domain import phones, validation
from domain.errors import BadUserInput
from domain.listing import DestinationTargets
from domain.models import SLOTS, AddressType, Target

_SIP_PREFIX = "sip:"


def lookup_key(kind: AddressType, stored_target: str) -> str:
    """What a stored target is found by: itself, a SIP target without its sip: prefix."""
    if kind is AddressType.SIP and stored_target[:4].lower() == _SIP_PREFIX:
        return stored_target[4:]
    return stored_target


def stored_forms(scope: DestinationTargets) -> list[str]:
    """The stored targets that have this lookup key, for stores that match them as stored."""
    if scope.type is AddressType.SIP:
        return [scope.key, f"{_SIP_PREFIX}{scope.key}", f"{_SIP_PREFIX.upper()}{scope.key}"]
    return [scope.key]


def lookup(kind: AddressType, target: str, default_region: str | None = None) -> DestinationTargets:
    """The query for `target`, normalised as a create would store it."""
    region = phones.default_region(default_region)
    if kind is AddressType.NONE:
        raise BadUserInput("type", "NONE is not a destination; give the type of the address")
    stored = validation.address_target(kind, target, "target", default_region=region)
    return DestinationTargets(kind, lookup_key(kind, stored))


def keys_of(target: Target) -> set[tuple[AddressType, str]]:
    """The lookup keys of a target's destinations (none while it is deleted)."""
    if target.deleted:
        return set()
    return {
        (destination.type, lookup_key(destination.type, destination.target))
        for slot in SLOTS
        if (destination := target.destinations[slot]) is not None
    }
