from __future__ import annotations

import strawberry

from domain.models import Status
from resolvers.context import Info
from schema.inputs import CreateOutdialtargetInput, UpdateOutdialtargetInput
from schema.types import Address, ClaimedOutdialtarget, Outdialtarget


async def create_outdialtarget(info: Info, input: CreateOutdialtargetInput) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.create(input.to_domain()))


async def create_outdialtargets(
    info: Info, inputs: list[CreateOutdialtargetInput]
) -> list[Outdialtarget]:
    created = await info.context.service.create_many([i.to_domain() for i in inputs])
    return [Outdialtarget.of(t) for t in created]


async def update_outdialtarget(
    info: Info, id: strawberry.ID, input: UpdateOutdialtargetInput
) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.update(id, input.to_domain()))


async def delete_outdialtarget(info: Info, id: strawberry.ID) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.delete(id))


async def mark_outdialtarget_progressing(
    info: Info, id: strawberry.ID, destination_index: int
) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.mark_progressing(id, destination_index))


async def update_outdialtarget_status(
    info: Info, id: strawberry.ID, status: Status
) -> Outdialtarget:
    return Outdialtarget.of(await info.context.service.report_status(id, status))


async def claim_outdialtarget(
    info: Info, outdial_id: strawberry.ID, max_try_counts: list[int], retry_interval_ms: int = 0
) -> ClaimedOutdialtarget | None:
    claimed = await info.context.service.claim(outdial_id, max_try_counts, retry_interval_ms)
    if claimed is None:
        return None
    destination = Address.of(claimed.target.destinations[claimed.slot])
    assert destination is not None, "a claimed slot always holds a destination"
    return ClaimedOutdialtarget(
        target=Outdialtarget.of(claimed.target),
        destination_index=claimed.slot,
        destination=destination,
    )
