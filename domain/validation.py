"""Input rules that need no stored document: formats, lengths, ranges."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain import phones, zones
from domain.errors import BadUserInput
from domain.models import NOT_DELETED, SLOTS, Address, AddressType, Destinations, Status, Target

NAME_MAX = 255
TEXT_MAX = 65_535
ADDRESS_TEXT_MAX = 255
MAX_SLOT = len(SLOTS) - 1
MAX_CREATES = 1_000  # inputs of one createOutdialtargets

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_SIP = re.compile(r"(?:sips?:)?([^@\s:]+)@([^@\s]+)", re.IGNORECASE)

_UUID_TYPES = frozenset(
    {
        AddressType.AGENT,
        AddressType.AI,
        AddressType.AI_TEAM,
        AddressType.CONFERENCE,
        AddressType.EXTENSION,
        AddressType.LINE,
        AddressType.WEBCHAT,
        AddressType.WEB_SESSION,
    }
)


def uuid_arg(value: str, field_name: str) -> str:
    lowered = value.lower()
    if not _UUID.fullmatch(lowered):
        raise BadUserInput(field_name, "must be a UUID like 1b3d7a92-7146-466d-90f5-4bc701ada4c0")
    return lowered


def optional_uuid_arg(value: str | None, field_name: str) -> str | None:
    return None if value is None else uuid_arg(value, field_name)


def text(value: str, field_name: str, limit: int) -> str:
    if len(value) > limit:
        raise BadUserInput(field_name, f"must be at most {limit:,} characters")
    return value


def int_range(value: int, field_name: str, low: int, high: int | None = None) -> int:
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadUserInput(field_name, f"must be {bound}, got {value}")
    return value


def slot_index(value: int, field_name: str = "destinationIndex") -> int:
    return int_range(value, field_name, 0, MAX_SLOT)


def address_target(
    kind: AddressType, raw: str, field_name: str, *, default_region: str | None = None
) -> str:
    """The target as stored; `default_region` is already checked (phones.default_region)."""
    value = raw.strip()
    if kind is AddressType.NONE:
        if value:
            raise BadUserInput(field_name, "must be empty for type NONE")
        return value
    if kind in (AddressType.TEL, AddressType.WHATSAPP):
        return phones.number(value, field_name, default_region)
    if kind is AddressType.EMAIL:
        if len(value) > 254 or not _EMAIL.fullmatch(value):
            raise BadUserInput(field_name, "must be a valid email address")
        return value.lower()
    if kind is AddressType.SIP:
        return _sip_target(value, field_name)
    return uuid_arg(value, field_name)


def _sip_target(value: str, field_name: str) -> str:
    match = _SIP.fullmatch(value)
    if match is None:
        raise BadUserInput(field_name, "must be a SIP URI user@domain (a sip: prefix is allowed)")
    domain_start = match.start(2)
    return value[:domain_start] + value[domain_start:].lower()


def address(
    value: Address, field_name: str, *, default_region: str | None = None
) -> Address | None:
    """A valid address, or None for a NONE address: NONE is not a destination. Every field of
    an input address is bounded and free of control characters (DOMAIN.md v3, fine print)."""
    target_field = f"{field_name}.target"
    target = address_target(value.type, value.target, target_field, default_region=default_region)
    address_text(target, target_field)
    address_text(value.target_name, f"{field_name}.targetName")
    address_text(value.name, f"{field_name}.name")
    address_text(value.detail, f"{field_name}.detail")
    if value.type is AddressType.NONE:
        return None
    if target == value.target:
        return value
    return Address(value.type, target, value.target_name, value.name, value.detail)


def address_text(value: str, field_name: str) -> str:
    text(value, field_name, ADDRESS_TEXT_MAX)
    if _CONTROL.search(value):
        raise BadUserInput(
            field_name, "must not hold control characters (U+0000 to U+001F, U+007F)"
        )
    return value


def destination_name(slot: int) -> str:
    return f"destination{slot}"


@dataclass(frozen=True, slots=True)
class TargetDraft:
    """What a client asks to create, before and after validation."""

    outdial_id: str
    name: str
    detail: str
    data: str
    destinations: Destinations
    id: str | None = None  # chosen by the client to make retries safe
    # The zone asked for when `zone_given` (None: no zone); otherwise derived from the numbers.
    time_zone: str | None = None
    zone_given: bool = False

    @classmethod
    def of(cls, target: Target, *, zone_given: bool) -> TargetDraft:
        """What `target` asks a create for (its zone as asked for only when `zone_given`)."""
        return cls(
            target.outdial_id,
            target.name,
            target.detail,
            target.data,
            target.destinations,
            time_zone=target.time_zone,
            zone_given=zone_given,
        )

    def new_target(self, target_id: str, now: str) -> Target:
        """The target a create of this (checked) draft stores: idle, never tried, made `now`."""
        return Target(
            id=target_id,
            outdial_id=self.outdial_id,
            name=self.name,
            detail=self.detail,
            data=self.data,
            status=Status.IDLE,
            destinations=self.destinations,
            try_counts=(0, 0, 0, 0, 0),
            tm_create=now,
            tm_update=now,
            tm_delete=NOT_DELETED,
            time_zone=self.time_zone,
        )

    def describes(self, target: Target) -> bool:
        """The stored target is what this draft asks for: a retry of the same create. A draft
        that leaves its zone to be derived (a version 2 request) does not compare zones."""
        return (self.outdial_id, self.name, self.detail, self.data, self.destinations) == (
            target.outdial_id,
            target.name,
            target.detail,
            target.data,
            target.destinations,
        ) and (not self.zone_given or self.time_zone == target.time_zone)


@dataclass(frozen=True, slots=True)
class TargetPatch:
    """An update: None leaves a text as it is; only slots in `destinations` change."""

    name: str | None = None
    detail: str | None = None
    data: str | None = None
    destinations: dict[int, Address | None] = field(default_factory=dict)
    # None leaves the zone as it is; "" clears it; a name sets it. An update never derives one.
    time_zone: str | None = None


def _optional_address(
    value: Address | None, field_name: str, default_region: str | None
) -> Address | None:
    return None if value is None else address(value, field_name, default_region=default_region)


def draft(value: TargetDraft, prefix: str, *, default_region: str | None = None) -> TargetDraft:
    """`default_region` is already checked (phones.default_region)."""
    destinations = tuple(
        _optional_address(
            value.destinations[slot], f"{prefix}.{destination_name(slot)}", default_region
        )
        for slot in SLOTS
    )
    target_id = optional_uuid_arg(value.id, f"{prefix}.id")
    outdial_id = uuid_arg(value.outdial_id, f"{prefix}.outdialId")
    name = text(value.name, f"{prefix}.name", NAME_MAX)
    detail = text(value.detail, f"{prefix}.detail", TEXT_MAX)
    data = text(value.data, f"{prefix}.data", TEXT_MAX)
    if not any(d is not None for d in destinations):
        raise BadUserInput(f"{prefix}.destination0", "a target needs at least one destination")
    if value.zone_given:
        zone = zones.given_zone(value.time_zone, f"{prefix}.timeZone")
    else:
        zone = zones.derived_zone(destinations)
    return TargetDraft(
        outdial_id,
        name,
        detail,
        data,
        destinations,  # type: ignore[arg-type]
        id=target_id,
        time_zone=zone,
        zone_given=value.zone_given,
    )


def drafts(
    values: Sequence[TargetDraft], *, default_region: str | None = None
) -> list[TargetDraft]:
    if not 1 <= len(values) <= MAX_CREATES:
        raise BadUserInput("inputs", f"must hold 1 to {MAX_CREATES:,} targets, got {len(values):,}")
    checked = [
        draft(value, f"inputs[{index}]", default_region=default_region)
        for index, value in enumerate(values)
    ]
    seen: set[str] = set()
    for index, value in enumerate(checked):
        if value.id is not None:
            if value.id in seen:
                raise BadUserInput(f"inputs[{index}].id", "is given to an earlier input too")
            seen.add(value.id)
    return checked


def patch(
    value: TargetPatch, prefix: str = "input", *, default_region: str | None = None
) -> TargetPatch:
    return TargetPatch(
        name=None if value.name is None else text(value.name, f"{prefix}.name", NAME_MAX),
        detail=None if value.detail is None else text(value.detail, f"{prefix}.detail", TEXT_MAX),
        data=None if value.data is None else text(value.data, f"{prefix}.data", TEXT_MAX),
        destinations={
            slot: _optional_address(
                address_value, f"{prefix}.{destination_name(slot)}", default_region
            )
            for slot, address_value in sorted(value.destinations.items())
        },
        time_zone=(
            value.time_zone
            if value.time_zone in (None, "")
            else zones.zone_name(value.time_zone, f"{prefix}.timeZone")
        ),
    )
