"""Calling windows (DOMAIN.md v3): the local hours in which a target may be called, judged in
its own zone at the claim's `now`, daylight saving by the zone database (domain.zones)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain import zones
from domain.errors import BadUserInput

_CLOCK_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")
_DAY_MINUTES = 24 * 60
_MICROSECONDS_PER_MINUTE = 60 * 1_000_000


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """From `start` up to before `end`, in minutes after local midnight (0..1440)."""

    start: int
    end: int
    default_time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class WindowDraft:
    """A `callingWindow` argument as given."""

    start: str
    end: str
    default_time_zone: str | None = None


def window(value: WindowDraft) -> CallingWindow:
    """A `callingWindow` argument, checked: HH:MM times, start before end, a known default."""
    first = _minutes(value.start, "callingWindow.start")
    last = _minutes(value.end, "callingWindow.end")
    if first >= last:
        raise BadUserInput("callingWindow.end", "must be after start (no window over midnight)")
    default = value.default_time_zone
    if default is not None:
        zones.zone_name(default, "callingWindow.defaultTimeZone")
    return CallingWindow(first, last, default)


def _minutes(value: str, field_name: str) -> int:
    matched = _CLOCK_TIME.fullmatch(value)
    if matched is None:
        raise BadUserInput(field_name, "must be a local time HH:MM, from 00:00 to 24:00")
    hours, minutes = int(matched[1]), int(matched[2])
    total = hours * 60 + minutes
    if minutes > 59 or total > _DAY_MINUTES:
        raise BadUserInput(field_name, "must be a local time HH:MM, from 00:00 to 24:00")
    return total


def within(zone_name: str | None, rules: CallingWindow, now: datetime) -> bool:
    """Whether a target whose zone is `zone_name` may be called at `now`: never when its zone is
    unknown to the database, nor when it has none and the window has no default."""
    name = rules.default_time_zone if zone_name is None else zone_name
    found = None if name is None else zones.zone(name)
    if found is None:
        return False
    local = now.astimezone(found)
    since_midnight = (
        (local.hour * 60 + local.minute) * _MICROSECONDS_PER_MINUTE
        + local.second * 1_000_000
        + local.microsecond
    )
    return (
        rules.start * _MICROSECONDS_PER_MINUTE
        <= since_midnight
        < rules.end * _MICROSECONDS_PER_MINUTE
    )


def open_zones(
    present: Iterable[str | None], rules: CallingWindow, now: datetime
) -> list[str | None]:
    """The zone values among `present` (None: no zone) whose targets are within the window at
    `now`, each once, no zone first, then by name."""
    unique = set(present)
    return sorted(
        (name for name in unique if within(name, rules, now)),
        key=lambda name: (name is not None, name or ""),
    )
