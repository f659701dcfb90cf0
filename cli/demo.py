"""`outdial-graphql demo`: an outdial full of example targets, made through the domain service."""

from __future__ import annotations

import uuid
from collections import Counter

from domain.models import Address, AddressType, Destinations, Status
from domain.service import TargetService
from domain.validation import MAX_CREATES, TargetDraft

MAX_COUNT = 100_000

_FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dmitri", "Emeka", "Fatima", "Goro", "Hana", "Ivan", "Jun")


async def fill(service: TargetService, outdial_id: str, count: int) -> Counter[Status]:
    """Create `count` targets with varied destinations, then move some along: a fifth of them
    progressing or done, one in ten idle after a failed attempt."""
    created = []
    for start in range(0, count, MAX_CREATES):
        drafts = [_draft(outdial_id, i) for i in range(start, min(start + MAX_CREATES, count))]
        created += await service.create_many(drafts)
    statuses: Counter[Status] = Counter()
    for index, target in enumerate(created):
        statuses[await _play(service, target.id, index)] += 1
    return statuses


async def _play(service: TargetService, target_id: str, index: int) -> Status:
    step = index % 10
    if step < 6:
        return Status.IDLE
    await service.mark_progressing(target_id, 0)
    if step == 6:
        return Status.PROGRESSING
    outcome = Status.IDLE if step == 9 else Status.DONE
    await service.report_status(target_id, outcome)
    return outcome


def _draft(outdial_id: str, index: int) -> TargetDraft:
    name = f"{_FIRST_NAMES[index % len(_FIRST_NAMES)]} {index + 1}"
    return TargetDraft(
        outdial_id=outdial_id,
        name=name,
        detail=f"example target {index + 1}",
        data=f'{{"campaign": "demo", "priority": {index % 3 + 1}}}',
        destinations=_destinations(index, name),
    )


def _destinations(index: int, name: str) -> Destinations:
    mobile = Address(AddressType.TEL, f"+8210{index:08d}", name=f"{name} mobile")
    handle = name.lower().replace(" ", ".")
    choices: dict[int, tuple[Address | None, ...]] = {
        0: (mobile,),
        1: (mobile, Address(AddressType.WHATSAPP, mobile.target, name=f"{name} WhatsApp")),
        2: (
            Address(AddressType.SIP, f"sip:{handle}@pbx.example.com", name=f"{name} desk phone"),
            Address(AddressType.EMAIL, f"{handle}@example.com"),
        ),
        3: (mobile, None, Address(AddressType.TEL, f"+8220{index:08d}", name=f"{name} office")),
        4: (Address(AddressType.AGENT, str(uuid.uuid5(uuid.NAMESPACE_URL, handle))), mobile),
    }
    slots = [*choices[index % len(choices)], None, None, None, None]
    return (slots[0], slots[1], slots[2], slots[3], slots[4])
