"""What the domain needs from storage, as a protocol the repository fulfils."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from domain.claim import ClaimPolicy
from domain.errors import UnreadableTarget
from domain.listing import ListScope
from domain.models import Status, Target
from domain.paging import Cursor


class TargetStore(Protocol):
    async def get(self, *, target_id: str) -> Target | None:
        """None when no document has the id; UnreadableTarget when it breaks the shape."""
        ...

    async def get_many(
        self, *, target_ids: Sequence[str]
    ) -> dict[str, Target | UnreadableTarget]: ...

    async def page(
        self, *, scope: ListScope, after: Cursor | None, newest_first: bool, limit: int
    ) -> list[Target]:
        """Up to `limit` targets of `scope` past `after` in that direction, nearest first."""
        ...

    async def total(self, *, scope: ListScope) -> int: ...

    async def count_by_status(self, *, outdial_id: str) -> dict[Status, int]: ...

    async def outdials(self, *, after: str | None, ascending: bool, limit: int) -> list[str]:
        """Up to `limit` ids of outdials with live targets past `after`, nearest first."""
        ...

    def every(self, *, outdial_id: str | None) -> AsyncIterator[Target]:
        """Every readable target (of one outdial when given, deleted ones too), in index order."""
        ...

    async def create(self, *, targets: Sequence[Target]) -> None:
        """All of them in one write; IdsTaken, and nothing written, when an id is stored."""
        ...

    async def replace(self, *, current: Target, after: Target) -> Target | None:
        """Write `after` in one conditional write, only while the stored target still has
        `current`'s status, tm_update and tm_delete; None when it does not."""
        ...

    async def available(self, *, rules: ClaimPolicy, now: datetime, limit: int) -> list[Target]:
        """The first `limit` targets available at `now` (domain.claim.is_available), in claim
        order, found by domain.candidates' walk."""
        ...

    async def claim(
        self, *, rules: ClaimPolicy, now: datetime, limit: int, lease_ms: int | None
    ) -> list[tuple[Target, int]]:
        """Up to `limit` claims in claim order of targets available at `now`, each atomic with a
        new token (and a lease of `lease_ms` when given), all judged and written at that one
        `now`; with the slot each one dials."""
        ...

    async def lapsed(self, *, now: str, limit: int) -> list[Target]:
        """Live PROGRESSING targets whose lease ended by `now`, earliest first."""
        ...

    async def progressing_since(self, *, outdial_id: str, cutoff: str, limit: int) -> list[Target]:
        """Live PROGRESSING targets of the outdial unchanged since `cutoff` (tm_update <= it)."""
        ...
