"""Output types of the contract, built from domain objects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from domain import models, service
from domain.models import Status
from schema.enums import AddressType, OutdialtargetStatus


@strawberry.type(description="Where a call goes: a phone number, a SIP URI, an agent, ...")
class Address:
    type: AddressType
    target: str
    target_name: str
    name: str
    detail: str

    @classmethod
    def of(cls, address: models.Address | None) -> Address | None:
        if address is None:
            return None
        return cls(
            type=address.type,
            target=address.target,
            target_name=address.target_name,
            name=address.name,
            detail=address.detail,
        )


@strawberry.type(
    description="One target of an outdial: up to five destinations, each with its own try count."
)
class Outdialtarget:
    id: strawberry.ID
    outdial_id: strawberry.ID
    name: str
    detail: str
    data: str
    status: OutdialtargetStatus
    destination_0: Address | None
    destination_1: Address | None
    destination_2: Address | None
    destination_3: Address | None
    destination_4: Address | None
    try_count_0: int
    try_count_1: int
    try_count_2: int
    try_count_3: int
    try_count_4: int
    tm_create: str = strawberry.field(description="UTC, format 'YYYY-MM-DD HH:MM:SS.ffffff'")
    tm_update: str = strawberry.field(description="UTC, same format; changes on every write")
    tm_delete: str = strawberry.field(
        description="UTC, same format; '9999-01-01 00:00:00.000000' while not deleted"
    )
    lease_expires_at: str | None = strawberry.field(
        description=(
            "UTC, same format; when the current claim lapses unless renewed or reported. Null "
            "unless PROGRESSING under a lease; in the past for at most 2 s, until the lapse "
            "moves the target."
        )
    )
    time_zone: str | None = strawberry.field(
        description=(
            "IANA time zone of the person (America/New_York), used by calling windows; null when "
            "unknown."
        )
    )

    @classmethod
    def of(cls, target: models.Target) -> Outdialtarget:
        d0, d1, d2, d3, d4 = target.destinations
        t0, t1, t2, t3, t4 = target.try_counts
        return cls(
            id=strawberry.ID(target.id),
            outdial_id=strawberry.ID(target.outdial_id),
            name=target.name,
            detail=target.detail,
            data=target.data,
            status=target.status,
            destination_0=Address.of(d0),
            destination_1=Address.of(d1),
            destination_2=Address.of(d2),
            destination_3=Address.of(d3),
            destination_4=Address.of(d4),
            try_count_0=t0,
            try_count_1=t1,
            try_count_2=t2,
            try_count_3=t3,
            try_count_4=t4,
            tm_create=target.tm_create,
            tm_update=target.tm_update,
            tm_delete=target.tm_delete,
            lease_expires_at=target.lease_expires if target.status is Status.PROGRESSING else None,
            time_zone=target.time_zone,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class OutdialtargetEdge:
    cursor: str
    node: Outdialtarget


@strawberry.type
class OutdialtargetConnection:
    edges: list[OutdialtargetEdge]
    page_info: PageInfo
    count_all: strawberry.Private[Callable[[], Awaitable[int]]]
    total_count: int = strawberry.field(
        resolver=lambda root: root.count_all(),
        description="How many targets match the same arguments, on all pages together.",
    )


@strawberry.type(
    description="A target handed to one dialer: already PROGRESSING, its try count already raised."
)
class ClaimedOutdialtarget:
    target: Outdialtarget
    destination_index: int
    destination: Address
    claim_token: strawberry.ID = strawberry.field(
        description=(
            "Proof of this claim, given only to the claimer. A report or renewal that carries it "
            "is refused (CLAIM_LOST) once the claim is no longer this one."
        )
    )

    @classmethod
    def of(cls, claimed: service.Claimed) -> ClaimedOutdialtarget:
        destination = Address.of(claimed.target.destinations[claimed.slot])
        assert destination is not None, "a claimed slot always holds a destination"
        return cls(
            target=Outdialtarget.of(claimed.target),
            destination_index=claimed.slot,
            destination=destination,
            claim_token=strawberry.ID(claimed.token),
        )


@strawberry.type(
    description="How far an outdial has got: its targets that are not deleted, by status."
)
class OutdialtargetCounts:
    idle: int
    progressing: int
    done: int
    total: int


@strawberry.type(description="An outdial that has targets that are not deleted, with its progress.")
class OutdialSummary:
    outdial_id: strawberry.ID
    counts: OutdialtargetCounts


@strawberry.type
class OutdialSummaryEdge:
    cursor: str
    node: OutdialSummary


@strawberry.type
class OutdialSummaryConnection:
    edges: list[OutdialSummaryEdge]
    page_info: PageInfo


@strawberry.type
class OutdialtargetStatusChange:
    target: Outdialtarget
    previous_status: OutdialtargetStatus
    status: OutdialtargetStatus

    @classmethod
    def of(cls, change: models.StatusChange) -> OutdialtargetStatusChange:
        return cls(
            target=Outdialtarget.of(change.target),
            previous_status=change.previous_status,
            status=change.status,
        )
