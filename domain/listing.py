"""Relay paging over a newest-first list (tm_create, then id, descending), both directions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain import validation
from domain.errors import BadUserInput
from domain.models import AddressType, Status, Target
from domain.paging import Cursor, CursorCodec

DEFAULT_PAGE = 100
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class OutdialTargets:
    """The live targets of one outdial, optionally of one status."""

    outdial_id: str
    status: Status | None


@dataclass(frozen=True, slots=True)
class DestinationTargets:
    """The live targets of any outdial holding a destination with this lookup key."""

    type: AddressType
    key: str


ListScope = OutdialTargets | DestinationTargets


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    cursor: Cursor | None
    backward: bool


@dataclass(frozen=True, slots=True)
class TargetPage:
    targets: list[Target]
    has_next_page: bool
    has_previous_page: bool


# Up to `limit` targets past `cursor` (all when None): older ones newest first, or newer ones
# oldest first, that is, always nearest the cursor first.
Fetch = Callable[[Cursor | None, bool, int], Awaitable[list[Target]]]


def forward(first: int | None, after: str | None, cursors: CursorCodec) -> PageRequest:
    size = DEFAULT_PAGE if first is None else validation.int_range(first, "first", 1, MAX_PAGE)
    return PageRequest(size, None if after is None else cursors.decode(after), backward=False)


def request(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    cursors: CursorCodec,
) -> PageRequest:
    if last is None and before is None:
        return forward(first, after, cursors)
    for name, value in (("first", first), ("after", after)):
        if value is not None:
            raise BadUserInput(
                name, "cannot be combined with last or before: page one direction at a time"
            )
    size = DEFAULT_PAGE if last is None else validation.int_range(last, "last", 1, MAX_PAGE)
    cursor = None if before is None else cursors.decode(before, "before")
    return PageRequest(size, cursor, backward=True)


async def read(wanted: PageRequest, fetch: Fetch) -> TargetPage:
    """One page in list order, with whether targets lie beyond each end of it."""
    newest_first = not wanted.backward
    rows = await fetch(wanted.cursor, newest_first, wanted.limit + 1)
    found = rows[: wanted.limit]
    more_past_page = len(rows) > wanted.limit
    more_before_cursor = wanted.cursor is not None and bool(
        await fetch(Cursor.after(found[0]) if found else wanted.cursor, not newest_first, 1)
    )
    if newest_first:
        return TargetPage(found, more_past_page, more_before_cursor)
    return TargetPage(found[::-1], more_before_cursor, more_past_page)
