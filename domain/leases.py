"""Claims and their leases: when a claim holds, when it lapses, and what renewal and lapse write."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from domain import clock, states, validation
from domain.models import Status, Target

LEASE_MIN_MS = 1_000
LEASE_MAX_MS = 86_400_000


def lease_ms(value: int | None, field_name: str = "leaseMs") -> int | None:
    if value is None:
        return None
    return validation.int_range(value, field_name, LEASE_MIN_MS, LEASE_MAX_MS)


def new_token() -> str:
    return str(uuid.uuid4())


def expiry(tm_update: str, milliseconds: int | None) -> str | None:
    """When a lease of `milliseconds` taken at `tm_update` lapses; None: it never does."""
    if milliseconds is None:
        return None
    return clock.later(tm_update, timedelta(milliseconds=milliseconds))


def holds(target: Target, token: str, now: str) -> bool:
    """The claim with `token` still holds: PROGRESSING under it, and its lease not passed."""
    return (
        target.status is Status.PROGRESSING
        and not target.deleted
        and target.claim_token == token
        and (target.lease_expires is None or target.lease_expires > now)
    )


def has_lapsed(target: Target, now: str) -> bool:
    return (
        target.status is Status.PROGRESSING
        and not target.deleted
        and target.lease_expires is not None
        and target.lease_expires <= now
    )


def after_renewal(target: Target, now: str, milliseconds: int) -> Target:
    return replace(target, tm_update=now, lease_expires=expiry(now, milliseconds))


def after_release(target: Target, now: str) -> Target:
    """A lapse or a release: back to IDLE, the claim gone, the attempt still counted."""
    return states.after_report(target, Status.IDLE, now)
