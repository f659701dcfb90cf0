"""domain.claim.take: the one place a claim's slot and written state are decided."""

from __future__ import annotations

from domain.claim import policy, take
from domain.models import NOT_DELETED, Address, AddressType, Status, Target

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
TOKEN = "5a1f0c2e-8b7d-4e3a-9c61-0d2e4f6a8b10"
PHONE = Address(AddressType.TEL, "+821100000001")
STORED_AT = "2024-01-01 00:00:05.000000"


def target(try_counts: tuple[int, int, int, int, int]) -> Target:
    return Target(
        id="00000000-0000-4000-8000-000000000001",
        outdial_id=OUTDIAL,
        name="",
        detail="",
        data="",
        status=Status.IDLE,
        destinations=(PHONE, None, PHONE, PHONE, None),
        try_counts=try_counts,
        tm_create=STORED_AT,
        tm_update=STORED_AT,
        tm_delete=NOT_DELETED,
    )


def test_the_lowest_slot_with_a_destination_and_tries_left_is_raised() -> None:
    taken = take(
        target((2, 0, 0, 4, 0)),
        policy(OUTDIAL, [2, 5, 1, 5], 0),
        "2024-01-01 00:00:09.000000",
        token=TOKEN,
        lease_ms=None,
    )
    assert taken is not None
    after, slot = taken
    assert slot == 2
    assert after.try_counts == (2, 0, 1, 4, 0)
    assert (after.status, after.claim_token) == (Status.PROGRESSING, TOKEN)
    assert after.lease_expires is None
    assert after.tm_update == "2024-01-01 00:00:09.000000"


def test_a_clock_behind_the_stored_time_still_writes_a_later_one() -> None:
    taken = take(
        target((0, 0, 0, 0, 0)),
        policy(OUTDIAL, [1], 0),
        "2024-01-01 00:00:01.000000",
        token=TOKEN,
        lease_ms=60_000,
    )
    assert taken is not None
    after, _ = taken
    assert after.tm_update == "2024-01-01 00:00:05.000001"
    assert after.lease_expires == "2024-01-01 00:01:05.000001"


def test_nothing_to_dial_takes_nothing() -> None:
    rules = policy(OUTDIAL, [2, 5, 1, 4], 0)
    assert take(target((2, 0, 1, 4, 0)), rules, STORED_AT, token=TOKEN, lease_ms=None) is None
