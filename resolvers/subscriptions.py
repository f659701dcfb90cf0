from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import strawberry

from domain import validation
from domain.events import Subscription
from resolvers.context import Info, given
from schema.types import OutdialtargetStatusChange


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


async def _events(subscription: Subscription) -> AsyncGenerator[OutdialtargetStatusChange]:
    try:
        async for change in subscription:
            yield OutdialtargetStatusChange.of(change)
    finally:
        subscription.close()
