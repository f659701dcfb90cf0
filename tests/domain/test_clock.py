"""Stored times are UTC text, whatever time zone the service's host is set to."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from domain import clock, leases


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Seoul"])
def host_time_zone(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("host_time_zone")
def test_a_write_after_a_later_stored_time_is_one_microsecond_after_it() -> None:
    stored = "2026-01-01 10:00:00.000000"
    assert clock.next_update(stored, "2026-01-01 09:00:00.000000") == "2026-01-01 10:00:00.000001"
    assert clock.next_update(stored, "2026-01-01 10:00:00.000002") == "2026-01-01 10:00:00.000002"


@pytest.mark.usefixtures("host_time_zone")
def test_a_lease_lapses_its_length_after_the_claim() -> None:
    assert leases.expiry("2026-01-01 23:59:59.500000", 1500) == "2026-01-02 00:00:01.000000"
    assert leases.expiry("2026-01-01 23:59:59.500000", None) is None
