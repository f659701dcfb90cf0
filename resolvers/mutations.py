from __future__ import annotations

import strawberry

from domain.models import Status
from resolvers.context import Info, given
from schema.inputs import (
    CallingWindowInput,
    CreateOutdialtargetInput,
    DefaultRegion,
    UpdateOutdialtargetInput,
    window_of,
)
from schema.types import ClaimedOutdialtarget, Outdialtarget


async def create_outdialtarget(
    info: Info, input: CreateOutdialtargetInput, default_region: DefaultRegion = strawberry.UNSET
) -> Outdialtarget:
    created = await info.context.service.create(
        input.to_domain(), default_region=given(default_region)
    )
    return Outdialtarget.of(created)


async def create_outdialtargets(
    info: Info,
    inputs: list[CreateOutdialtargetInput],
    default_region: DefaultRegion = strawberry.UNSET,
) -> list[Outdialtarget]:
    drafts = [i.to_domain() for i in inputs]
    created = await info.context.service.create_many(drafts, default_region=given(default_region))
    return [Outdialtarget.of(t) for t in created]


async def update_outdialtarget(
    info: Info,
    id: strawberry.ID,
    input: UpdateOutdialtargetInput,
    default_region: DefaultRegion = strawberry.UNSET,
) -> Outdialtarget:
    updated = await info.context.service.update(
        id, input.to_domain(), default_region=given(default_region)
    )
    return Outdialtarget.of(updated)


async def delete_outdialtarget(info: Info, id: strawberry.ID) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.delete(id))


async def mark_outdialtarget_progressing(
    info: Info, id: strawberry.ID, destination_index: int
) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.mark_progressing(id, destination_index))


async def update_outdialtarget_status(
    info: Info,
    id: strawberry.ID,
    status: Status,
    claim_token: strawberry.ID | None = strawberry.UNSET,
) -> Outdialtarget:
    reported = await info.context.service.report_status(id, status, given(claim_token))
    return Outdialtarget.of(reported)


async def claim_outdialtarget(
    info: Info,
    outdial_id: strawberry.ID,
    max_try_counts: list[int],
    retry_interval_ms: int = 0,
    lease_ms: int | None = strawberry.UNSET,
    calling_window: CallingWindowInput | None = strawberry.UNSET,
) -> ClaimedOutdialtarget | None:
    claimed = await info.context.service.claim(
        outdial_id, max_try_counts, retry_interval_ms, given(lease_ms), window_of(calling_window)
    )
    return None if claimed is None else ClaimedOutdialtarget.of(claimed)


async def claim_outdialtargets(
    info: Info,
    outdial_id: strawberry.ID,
    max_try_counts: list[int],
    retry_interval_ms: int = 0,
    lease_ms: int | None = strawberry.UNSET,
    limit: int = 1,
    calling_window: CallingWindowInput | None = strawberry.UNSET,
) -> list[ClaimedOutdialtarget]:
    claimed = await info.context.service.claim_many(
        outdial_id,
        max_try_counts,
        retry_interval_ms,
        given(lease_ms),
        limit,
        calling_window=window_of(calling_window),
    )
    return [ClaimedOutdialtarget.of(one) for one in claimed]


async def renew_outdialtarget_claim(
    info: Info, id: strawberry.ID, claim_token: strawberry.ID, lease_ms: int
) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.renew(id, claim_token, lease_ms))


async def release_outdialtargets(
    info: Info, outdial_id: strawberry.ID, progressing_for_ms: int
) -> int:
    return await info.context.service.release(outdial_id, progressing_for_ms)
