"""The status state machine: which status changes are allowed."""

from __future__ import annotations

from dataclasses import replace

from domain.errors import InvalidState
from domain.models import Status, Target

ALLOWED: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.IDLE, Status.PROGRESSING),
        (Status.PROGRESSING, Status.IDLE),
        (Status.PROGRESSING, Status.DONE),
    }
)

# Each status has exactly one way in, so a change's previous status follows from its new one
# (used where a change arrives without the document as it was before).
PREVIOUS: dict[Status, Status] = {to: before for before, to in ALLOWED}


def is_allowed(current: Status, to: Status) -> bool:
    return (current, to) in ALLOWED


def check_transition(current: Status, to: Status, operation: str) -> None:
    if not is_allowed(current, to):
        raise InvalidState(current, operation)


def check_reported_status(current: Status, to: Status) -> None:
    """updateOutdialtargetStatus never sets PROGRESSING: that needs a destination index."""
    operation = f"updateOutdialtargetStatus({to.name})"
    if to is Status.PROGRESSING:
        raise InvalidState(current, operation)
    check_transition(current, to, operation)


def check_destinations_editable(current: Status) -> None:
    if current is not Status.IDLE:
        raise InvalidState(current, "changing destinations")


def after_report(target: Target, to: Status, now: str) -> Target:
    """The target as a report of `to` leaves it: out of PROGRESSING, its claim gone."""
    return replace(target, status=to, tm_update=now, claim_token=None, lease_expires=None)
