"""Time as the stored documents write it: UTC text that sorts in time order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def earlier(moment: datetime, milliseconds: int) -> str:
    return format_time(moment - timedelta(milliseconds=milliseconds))


def later(moment: str, delta: timedelta) -> str:
    """The stored time `delta` after the stored time `moment` (both UTC text)."""
    return (datetime.strptime(moment, TIME_FORMAT) + delta).strftime(TIME_FORMAT)


def next_update(previous: str, now: str) -> str:
    """A write's tm_update: its clock time, or just after `previous` when that is not later."""
    if now > previous:
        return now
    return later(previous, timedelta(microseconds=1))
