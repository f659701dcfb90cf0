from __future__ import annotations

import strawberry

from domain import validation
from domain.models import Status
from resolvers.context import Info, given
from schema.types import (
    Outdialtarget,
    OutdialtargetConnection,
    OutdialtargetCounts,
    OutdialtargetEdge,
    PageInfo,
)


async def outdialtarget(info: Info, id: strawberry.ID) -> Outdialtarget | None:
    target = await info.context.targets.load(validation.uuid_arg(id, "id"))
    return None if target is None else Outdialtarget.of(target)


async def outdialtargets(
    info: Info,
    outdial_id: strawberry.ID,
    status: Status | None = strawberry.UNSET,
    first: int = 100,
    after: str | None = strawberry.UNSET,
) -> OutdialtargetConnection:
    service = info.context.service
    page = await service.list_page(outdial_id, given(status), first, given(after))
    edges = [
        OutdialtargetEdge(cursor=service.cursor(t), node=Outdialtarget.of(t)) for t in page.targets
    ]
    end_cursor = edges[-1].cursor if edges else None
    return OutdialtargetConnection(
        edges=edges, page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=end_cursor)
    )


async def outdialtarget_counts(info: Info, outdial_id: strawberry.ID) -> OutdialtargetCounts:
    counts = await info.context.service.counts(outdial_id)
    return OutdialtargetCounts(
        idle=counts[Status.IDLE],
        progressing=counts[Status.PROGRESSING],
        done=counts[Status.DONE],
        total=sum(counts.values()),
    )


async def available_outdialtargets(
    info: Info,
    outdial_id: strawberry.ID,
    max_try_counts: list[int],
    retry_interval_ms: int = 0,
    limit: int = 1,
) -> list[Outdialtarget]:
    targets = await info.context.service.available(
        outdial_id, max_try_counts, retry_interval_ms, limit
    )
    return [Outdialtarget.of(t) for t in targets]
