"""The error tree: every expected failure the service reports to clients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from domain.models import Status


class OutdialError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class BadUserInput(OutdialError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "field": self.field}

    def within(self, prefix: str) -> BadUserInput:
        return BadUserInput(f"{prefix}.{self.field}", self.rule)


class NotFound(OutdialError):
    code = "NOT_FOUND"

    def __init__(self, target_id: str) -> None:
        super().__init__(f"no outdial target with id {target_id}")
        self.target_id = target_id


class InvalidState(OutdialError):
    code = "INVALID_STATE"

    def __init__(self, status: Status, operation: str) -> None:
        super().__init__(f"{operation} is not allowed while the target is {status.name}")
        self.status = status

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "status": self.status.name}


class ClaimLost(OutdialError):
    """The claim token no longer holds: lapsed, released, reported, or claimed again since."""

    code = "CLAIM_LOST"

    def __init__(self, target_id: str) -> None:
        super().__init__(
            f"the claim on target {target_id} no longer holds (lapsed, released, reported "
            "or claimed again); stop dialling it and claim the next target"
        )
        self.target_id = target_id


class UnreadableTarget(OutdialError):
    """The stored document with this id breaks the stored shape; the service leaves it alone."""

    code = "UNREADABLE_DOCUMENT"

    def __init__(self, target_id: str) -> None:
        super().__init__(
            f"the stored document of target {target_id} breaks the stored shape "
            "(see DOMAIN.md); fix it in the database"
        )
        self.target_id = target_id


class IdsTaken(Exception):
    """A store's create met ids already stored (a concurrent create won): nothing was written."""

    def __init__(self, target_ids: Iterable[str]) -> None:
        super().__init__(", ".join(sorted(target_ids)))


class Conflict(OutdialError):
    """Other writers kept changing the target; the request may simply be retried."""

    code = "CONFLICT"


class Unauthenticated(OutdialError):
    code = "UNAUTHENTICATED"


class Forbidden(OutdialError):
    code = "FORBIDDEN"


class DatabaseUnavailable(OutdialError):
    """The database did not answer in time, or its disk refused a write; safe to retry.

    `reason` says which: TIMEOUT (a write may or may not have been applied), CLOSED (the
    service is stopping), or the disk's refusal: DISK_FULL, READ_ONLY, DISK_ERROR, DAMAGED.
    """

    code = "SERVICE_UNAVAILABLE"
    REASONS: ClassVar[tuple[str, ...]] = (
        "TIMEOUT",
        "CLOSED",
        "DISK_FULL",
        "READ_ONLY",
        "DISK_ERROR",
        "DAMAGED",
    )

    def __init__(self, message: str, *, reason: str = "TIMEOUT") -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "reason": self.reason}
