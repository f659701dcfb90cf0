from __future__ import annotations

from collections.abc import Sequence

import strawberry

from domain import validation
from domain.listing import ListScope, TargetPage
from domain.models import AddressType, Status
from domain.service import TargetService
from resolvers.context import Info, given
from resolvers.selection import selects
from schema.inputs import CallingWindowInput, DefaultRegion, window_of
from schema.types import (
    OutdialSummary,
    OutdialSummaryConnection,
    OutdialSummaryEdge,
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
    first: int | None = strawberry.UNSET,
    after: str | None = strawberry.UNSET,
    last: int | None = strawberry.UNSET,
    before: str | None = strawberry.UNSET,
) -> OutdialtargetConnection:
    service = info.context.service
    scope = service.outdial_scope(outdial_id, given(status))
    page = await service.page(scope, given(first), given(after), given(last), given(before))
    return connection(service, scope, page)


async def outdialtargets_by_destination(
    info: Info,
    type: AddressType,
    target: str,
    first: int = 100,
    after: str | None = strawberry.UNSET,
    default_region: DefaultRegion = strawberry.UNSET,
) -> OutdialtargetConnection:
    service = info.context.service
    scope = service.destination_scope(type, target, given(default_region))
    page = await service.page(scope, first, given(after))
    return connection(service, scope, page)


def connection(
    service: TargetService, scope: ListScope, page: TargetPage
) -> OutdialtargetConnection:
    edges = [
        OutdialtargetEdge(cursor=service.cursor(t), node=Outdialtarget.of(t)) for t in page.targets
    ]
    page_info = page_info_of(edges, page.has_next_page, page.has_previous_page)

    async def count_all() -> int:
        return await service.total(scope)

    return OutdialtargetConnection(edges=edges, page_info=page_info, count_all=count_all)


async def outdials(
    info: Info, first: int = 100, after: str | None = strawberry.UNSET
) -> OutdialSummaryConnection:
    service = info.context.service
    page = await service.outdials(first, given(after))
    if selects(info, "counts"):  # up to one count per outdial: read only when asked for
        counts = [counts_of(counted) for counted in await service.counts_of(page.outdials)]
    else:
        counts = [_NEVER_SENT] * len(page.outdials)
    edges = [
        OutdialSummaryEdge(
            cursor=service.outdial_cursor(outdial_id),
            node=OutdialSummary(outdial_id=strawberry.ID(outdial_id), counts=counted),
        )
        for outdial_id, counted in zip(page.outdials, counts, strict=True)
    ]
    page_info = page_info_of(edges, page.has_next_page, page.has_previous_page)
    return OutdialSummaryConnection(edges=edges, page_info=page_info)


# What an outdial's unselected `counts` hold: a plain value keeps the page on the planned path.
_NEVER_SENT = OutdialtargetCounts(idle=0, progressing=0, done=0, total=0)


def page_info_of(
    edges: Sequence[OutdialtargetEdge | OutdialSummaryEdge], has_next: bool, has_previous: bool
) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


async def outdialtarget_counts(info: Info, outdial_id: strawberry.ID) -> OutdialtargetCounts:
    return counts_of(await info.context.service.counts(outdial_id))


def counts_of(counts: dict[Status, int]) -> OutdialtargetCounts:
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
    calling_window: CallingWindowInput | None = strawberry.UNSET,
) -> list[Outdialtarget]:
    targets = await info.context.service.available(
        outdial_id, max_try_counts, retry_interval_ms, limit, window_of(calling_window)
    )
    return [Outdialtarget.of(t) for t in targets]
