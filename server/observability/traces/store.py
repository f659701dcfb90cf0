"""The store the service uses, each call a client span naming the backend; never arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from domain.claim import ClaimPolicy
from domain.errors import UnreadableTarget
from domain.listing import ListScope
from domain.models import Status as TargetStatus
from domain.models import Target
from domain.paging import Cursor
from domain.ports import TargetStore
from storage.backend import Storage
from storage.sqlite.storage import SqliteStorage

DB_SYSTEM = "db.system"  # the name older collectors read
DB_SYSTEM_NAME = "db.system.name"  # the current conventions' name
DB_OPERATION = "db.operation.name"
RETURNED_ROWS = "db.response.returned_rows"


def system_of(storage: Storage) -> str:
    return "sqlite" if isinstance(storage, SqliteStorage) else "mongodb"


class TracedStore:
    def __init__(self, store: TargetStore, tracer: Tracer, system: str) -> None:
        self._store = store
        self._tracer = tracer
        self._system = system

    @contextmanager
    def _span(self, operation: str) -> Iterator[Span]:
        with self._tracer.start_as_current_span(
            f"store.{operation}",
            kind=SpanKind.CLIENT,
            attributes={
                DB_SYSTEM: self._system,
                DB_SYSTEM_NAME: self._system,
                DB_OPERATION: operation,
            },
            record_exception=False,  # messages may quote ids the client sent
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as error:
                span.set_attribute("error.type", type(error).__qualname__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    async def get(self, *, target_id: str) -> Target | None:
        with self._span("get"):
            return await self._store.get(target_id=target_id)

    async def get_many(self, *, target_ids: Sequence[str]) -> dict[str, Target | UnreadableTarget]:
        with self._span("get_many") as span:
            found = await self._store.get_many(target_ids=target_ids)
            span.set_attribute(RETURNED_ROWS, len(found))
            return found

    async def page(
        self, *, scope: ListScope, after: Cursor | None, newest_first: bool, limit: int
    ) -> list[Target]:
        with self._span("page") as span:
            targets = await self._store.page(
                scope=scope, after=after, newest_first=newest_first, limit=limit
            )
            span.set_attribute(RETURNED_ROWS, len(targets))
            return targets

    async def total(self, *, scope: ListScope) -> int:
        with self._span("total"):
            return await self._store.total(scope=scope)

    async def count_by_status(self, *, outdial_id: str) -> dict[TargetStatus, int]:
        with self._span("count_by_status"):
            return await self._store.count_by_status(outdial_id=outdial_id)

    async def outdials(self, *, after: str | None, ascending: bool, limit: int) -> list[str]:
        with self._span("outdials") as span:
            found = await self._store.outdials(after=after, ascending=ascending, limit=limit)
            span.set_attribute(RETURNED_ROWS, len(found))
            return found

    def every(self, *, outdial_id: str | None) -> AsyncIterator[Target]:
        return self._store.every(outdial_id=outdial_id)  # export's long walk: not one span

    async def create(self, *, targets: Sequence[Target]) -> None:
        with self._span("create"):
            await self._store.create(targets=targets)

    async def replace(self, *, current: Target, after: Target) -> Target | None:
        with self._span("replace"):
            return await self._store.replace(current=current, after=after)

    async def available(self, *, rules: ClaimPolicy, now: datetime, limit: int) -> list[Target]:
        with self._span("available") as span:
            found = await self._store.available(rules=rules, now=now, limit=limit)
            span.set_attribute(RETURNED_ROWS, len(found))
            return found

    async def claim(
        self, *, rules: ClaimPolicy, now: datetime, limit: int, lease_ms: int | None
    ) -> list[tuple[Target, int]]:
        with self._span("claim") as span:
            claimed = await self._store.claim(rules=rules, now=now, limit=limit, lease_ms=lease_ms)
            span.set_attribute(RETURNED_ROWS, len(claimed))
            return claimed

    async def lapsed(self, *, now: str, limit: int) -> list[Target]:
        with self._span("lapsed") as span:
            found = await self._store.lapsed(now=now, limit=limit)
            span.set_attribute(RETURNED_ROWS, len(found))
            return found

    async def progressing_since(self, *, outdial_id: str, cutoff: str, limit: int) -> list[Target]:
        with self._span("progressing_since") as span:
            found = await self._store.progressing_since(
                outdial_id=outdial_id, cutoff=cutoff, limit=limit
            )
            span.set_attribute(RETURNED_ROWS, len(found))
            return found
