from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from domain import validation
from resolvers.context import Info, given
from schema.types import OutdialtargetStatusChange


async def outdialtarget_status_changed(
    info: Info,
    outdial_id: strawberry.ID | None = strawberry.UNSET,
    id: strawberry.ID | None = strawberry.UNSET,
) -> AsyncGenerator[OutdialtargetStatusChange]:
    subscription = info.context.broker.subscribe(
        outdial_id=validation.optional_uuid_arg(given(outdial_id), "outdialId"),
        target_id=validation.optional_uuid_arg(given(id), "id"),
    )
    try:
        async for change in subscription:
            yield OutdialtargetStatusChange.of(change)
    finally:
        subscription.close()
