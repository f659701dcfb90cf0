"""Which targets a dialer may take, and which destination it dials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from domain import clock, leases, validation, windows
from domain.errors import BadUserInput
from domain.models import SLOTS, Status, Target

MAX_LIMIT = 100

ClaimKey = tuple[str, str]  # (tm_update, id): claim order


@dataclass(frozen=True, slots=True)
class ClaimPolicy:
    outdial_id: str
    max_try_counts: tuple[int, ...]
    retry_interval_ms: int
    window: windows.CallingWindow | None = None

    def max_tries(self, slot: int) -> int:
        return self.max_try_counts[slot] if slot < len(self.max_try_counts) else 0

    def open_slots(self) -> list[int]:
        """Slots that may be dialled at all under this policy."""
        return [slot for slot in SLOTS if self.max_tries(slot) > 0]

    def retry_cutoff(self, now: datetime) -> str:
        """Tried targets must not have been touched after this time."""
        return clock.earlier(now, self.retry_interval_ms)


def policy(
    outdial_id: str,
    max_try_counts: Sequence[int],
    retry_interval_ms: int,
    calling_window: windows.WindowDraft | None = None,
) -> ClaimPolicy:
    checked_outdial = validation.uuid_arg(outdial_id, "outdialId")
    if len(max_try_counts) > len(SLOTS):
        raise BadUserInput("maxTryCounts", f"must hold at most {len(SLOTS)} entries")
    for index, count in enumerate(max_try_counts):
        validation.int_range(count, f"maxTryCounts[{index}]", 0)
    validation.int_range(retry_interval_ms, "retryIntervalMs", 0)
    checked_window = None if calling_window is None else windows.window(calling_window)
    return ClaimPolicy(checked_outdial, tuple(max_try_counts), retry_interval_ms, checked_window)


def limit(value: int, field_name: str = "limit") -> int:
    return validation.int_range(value, field_name, 1, MAX_LIMIT)


def slot_to_dial(target: Target, rules: ClaimPolicy) -> int | None:
    """The lowest slot holding a destination whose try count is under its maximum."""
    for slot in SLOTS:
        if target.has_destination(slot) and target.try_counts[slot] < rules.max_tries(slot):
            return slot
    return None


def is_available(target: Target, rules: ClaimPolicy, now: datetime) -> bool:
    return (
        target.outdial_id == rules.outdial_id
        and target.status is Status.IDLE
        and not target.deleted
        and slot_to_dial(target, rules) is not None
        and (target.never_tried or target.tm_update <= rules.retry_cutoff(now))
        and (rules.window is None or windows.within(target.time_zone, rules.window, now))
    )


def claim_key(target: Target) -> ClaimKey:
    """Claim order: tm_update ascending, then id."""
    return target.tm_update, target.id


def take(
    target: Target, rules: ClaimPolicy, now: str, *, token: str, lease_ms: int | None
) -> tuple[Target, int] | None:
    """The claim of an available target at `now`: the target as it leaves it (tm_update after
    the stored one) and the slot it dials; None when it has no slot to dial."""
    slot = slot_to_dial(target, rules)
    if slot is None:
        return None
    written = clock.next_update(target.tm_update, now)
    return after_claim(target, slot, written, token=token, lease_ms=lease_ms), slot


def after_claim(
    target: Target, slot: int, now: str, *, token: str | None = None, lease_ms: int | None = None
) -> Target:
    """The target as a claim of `slot` at `now` leaves it; markProgressing has no token."""
    counts = list(target.try_counts)
    counts[slot] += 1
    return replace(
        target,
        status=Status.PROGRESSING,
        try_counts=(counts[0], counts[1], counts[2], counts[3], counts[4]),
        tm_update=now,
        claim_token=token,
        lease_expires=leases.expiry(now, lease_ms),
    )
