from __future__ import annotations

import enum
from dataclasses import dataclass

SLOTS = range(5)
NOT_DELETED = "9999-01-01 00:00:00.000000"
# GraphQL's Int (32-bit) shows every try count; the bound fits BSON's int64 and SQLite's INTEGER.
MAX_TRY_COUNT = 2**31 - 1


class Status(enum.Enum):
    IDLE = "idle"
    PROGRESSING = "progressing"
    DONE = "done"


class AddressType(enum.Enum):
    NONE = ""
    AGENT = "agent"
    AI = "ai"
    AI_TEAM = "ai_team"
    CONFERENCE = "conference"
    EMAIL = "email"
    EXTENSION = "extension"
    LINE = "line"
    SIP = "sip"
    TEL = "tel"
    WEBCHAT = "webchat"
    WEB_SESSION = "web_session"
    WHATSAPP = "whatsapp"


@dataclass(frozen=True, slots=True)
class Address:
    type: AddressType
    target: str
    target_name: str = ""
    name: str = ""
    detail: str = ""


Destinations = tuple[Address | None, Address | None, Address | None, Address | None, Address | None]
TryCounts = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Target:
    id: str
    outdial_id: str
    name: str
    detail: str
    data: str
    status: Status
    destinations: Destinations
    try_counts: TryCounts
    tm_create: str
    tm_update: str
    tm_delete: str
    # The current claim, while PROGRESSING through a claim: its token and, if leased, its end.
    claim_token: str | None = None
    lease_expires: str | None = None
    # IANA zone name where the person lives (DOMAIN.md v3), as stored; None when unknown.
    time_zone: str | None = None

    @property
    def deleted(self) -> bool:
        return self.tm_delete != NOT_DELETED

    @property
    def never_tried(self) -> bool:
        return not any(self.try_counts)

    def has_destination(self, slot: int) -> bool:
        return self.destinations[slot] is not None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status change of one target, as subscribers see it."""

    target: Target
    previous_status: Status

    @property
    def status(self) -> Status:
        return self.target.status
