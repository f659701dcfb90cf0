"""Calling windows: parsing, the local time in a zone (daylight saving by the zone database) and
which zones are open at an instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import BadUserInput
from domain.windows import CallingWindow, WindowDraft, open_zones, window, within

DAY = window(WindowDraft("08:00", "21:00"))
TICK = timedelta(microseconds=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_window_reads_its_times_as_minutes_after_midnight() -> None:
    assert window(WindowDraft("08:30", "24:00", "Asia/Seoul")) == CallingWindow(
        510, 1440, "Asia/Seoul"
    )
    assert window(WindowDraft("00:00", "00:01")) == CallingWindow(0, 1, None)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("8:00", "21:00", "callingWindow.start"),
        ("08:60", "21:00", "callingWindow.start"),
        ("24:01", "24:30", "callingWindow.start"),
        ("08:00:00", "21:00", "callingWindow.start"),
        ("", "21:00", "callingWindow.start"),
        ("08:00", "25:00", "callingWindow.end"),
        ("08:00", "21h00", "callingWindow.end"),
        ("08:00", "2100", "callingWindow.end"),
        ("08:00", "０９:00", "callingWindow.end"),
        ("21:00", "08:00", "callingWindow.end"),
        ("08:00", "08:00", "callingWindow.end"),
        ("24:00", "24:00", "callingWindow.end"),
    ],
)
def test_a_malformed_or_empty_window_names_the_field(start: str, end: str, field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        window(WindowDraft(start, end))
    assert raised.value.field == field


@pytest.mark.parametrize("default", ["", "us/eastern", "Mars/Olympus", "EST5EDT "])
def test_the_default_zone_must_be_a_known_name(default: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        window(WindowDraft("08:00", "21:00", default))
    assert raised.value.field == "callingWindow.defaultTimeZone"


def test_an_alias_the_database_knows_is_a_default_zone() -> None:
    assert window(WindowDraft("08:00", "21:00", "US/Eastern")).default_time_zone == "US/Eastern"


def test_the_window_holds_from_its_start_up_to_before_its_end() -> None:
    start = utc(2026, 6, 1, 23, 0)  # 08:00 in Seoul
    end = utc(2026, 6, 2, 12, 0)  # 21:00 in Seoul
    assert not within("Asia/Seoul", DAY, start - TICK)
    assert within("Asia/Seoul", DAY, start)
    assert within("Asia/Seoul", DAY, end - TICK)
    assert not within("Asia/Seoul", DAY, end)


def test_a_window_to_the_end_of_the_day_holds_until_midnight() -> None:
    late = window(WindowDraft("20:00", "24:00"))
    midnight = utc(2026, 6, 1, 15, 0)  # 00:00 in Seoul
    assert within("Asia/Seoul", late, midnight - TICK)
    assert not within("Asia/Seoul", late, midnight)


@pytest.mark.parametrize(
    ("zone", "opens_before", "opens_after"),
    [
        # Daylight saving starts: 08:00 local comes an hour earlier in UTC than the day before.
        ("America/New_York", utc(2026, 3, 7, 13, 0), utc(2026, 3, 8, 12, 0)),
        ("Europe/Berlin", utc(2026, 3, 28, 7, 0), utc(2026, 3, 29, 6, 0)),
        # Daylight saving ends: an hour later.
        ("America/New_York", utc(2026, 10, 31, 12, 0), utc(2026, 11, 1, 13, 0)),
        # No daylight saving: the same hour in UTC every day.
        ("Asia/Seoul", utc(2026, 3, 7, 23, 0), utc(2026, 3, 8, 23, 0)),
    ],
)
def test_the_zone_database_moves_the_window_across_daylight_saving(
    zone: str, opens_before: datetime, opens_after: datetime
) -> None:
    for opening in (opens_before, opens_after):
        assert not within(zone, DAY, opening - TICK)
        assert within(zone, DAY, opening)


def test_an_hour_skipped_by_daylight_saving_is_never_within() -> None:
    skipped = window(WindowDraft("02:00", "03:00"))
    moment = utc(2026, 3, 8, 0, 0)
    while moment < utc(2026, 3, 9, 0, 0):
        assert not within("America/New_York", skipped, moment)
        moment += timedelta(minutes=1)


def test_an_hour_repeated_by_daylight_saving_is_within_twice() -> None:
    repeated = window(WindowDraft("01:00", "02:00"))
    assert within("America/New_York", repeated, utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert within("America/New_York", repeated, utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert not within("America/New_York", repeated, utc(2026, 11, 1, 7, 0))  # 02:00 EST


def test_no_zone_takes_the_default_or_is_never_within() -> None:
    noon_in_seoul = utc(2026, 6, 1, 3, 0)
    assert not within(None, DAY, noon_in_seoul)
    assert within(None, window(WindowDraft("08:00", "21:00", "Asia/Seoul")), noon_in_seoul)
    assert not within(None, window(WindowDraft("08:00", "21:00", "UTC")), noon_in_seoul)


@pytest.mark.parametrize("stored", ["Mars/Olympus", "", "asia/seoul", "+09:00"])
def test_a_stored_zone_the_database_does_not_know_is_never_within(stored: str) -> None:
    always = window(WindowDraft("00:00", "24:00", "Asia/Seoul"))
    assert not within(stored, always, utc(2026, 6, 1, 3, 0))


def test_the_open_zones_are_those_within_each_once() -> None:
    noon_in_seoul = utc(2026, 6, 1, 3, 0)  # 23:00 the day before in New York
    rules = window(WindowDraft("08:00", "21:00", "Asia/Tokyo"))
    present = ["America/New_York", "Asia/Seoul", None, "Mars/Olympus", "Asia/Seoul", "Asia/Tokyo"]
    assert open_zones(present, rules, noon_in_seoul) == [None, "Asia/Seoul", "Asia/Tokyo"]
    assert open_zones(present, DAY, noon_in_seoul) == ["Asia/Seoul", "Asia/Tokyo"]
    assert open_zones([], DAY, noon_in_seoul) == []
