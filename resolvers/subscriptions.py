from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import strawberry

from domain import validation
from domain.counts_feed import Counts
from domain.events import Subscription
from domain.models import StatusChange
from resolvers.context import Info, given
from resolvers.queries import counts_of
from schema.types import OutdialtargetCounts, OutdialtargetStatusChange


def outdialtarget_status_changed(
    info: Info,
    outdial_id: strawberry.ID | None = strawberry.UNSET,
    id: strawberry.ID | None = strawberry.UNSET,
) -> AsyncIterator[OutdialtargetStatusChange]:
    # Not a generator itself: bad arguments fail before the stream starts, which both
    # websocket protocols report as an `error` message rather than as an event.
    outdial = validation.optional_uuid_arg(given(outdial_id), "outdialId")
    target = validation.optional_uuid_arg(given(id), "id")
    return _events(info.context.broker.subscribe(outdial_id=outdial, target_id=target))


def outdialtarget_counts_changed(
    info: Info, outdial_id: strawberry.ID
) -> AsyncIterator[OutdialtargetCounts]:
    checked = validation.uuid_arg(outdial_id, "outdialId")
    context = info.context
    return _counts(context.broker.counts.stream(checked, context.service.counts))


async def _counts(stream: AsyncIterator[Counts]) -> AsyncGenerator[OutdialtargetCounts]:
    async for counts in stream:
        yield counts_of(counts)


async def _events(subscription: Subscription) -> AsyncGenerator[OutdialtargetStatusChange]:
    try:
        async for change in subscription:
            yield _payloads.of(change)
    finally:
        subscription.close()


class _Payloads:
    """One payload object per change, whoever receives it: their executions can be shared
    (engine.shared_events). Keyed by identity: the broker hands out one object per change."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._recent: dict[int, tuple[StatusChange, OutdialtargetStatusChange]] = {}

    def of(self, change: StatusChange) -> OutdialtargetStatusChange:
        recent = self._recent.get(id(change))
        if recent is None or recent[0] is not change:
            recent = (change, OutdialtargetStatusChange.of(change))
            self._recent[id(change)] = recent
            while len(self._recent) > self._size:
                del self._recent[next(iter(self._recent))]
        return recent[1]


_payloads = _Payloads(256)
