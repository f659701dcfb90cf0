"""Outdial target documents as another program would store them (the DOMAIN.md shape)."""

from __future__ import annotations

from typing import Any

from domain.models import NOT_DELETED, Destinations, Status, StatusChange, Target
from tests.support.api import OUTDIAL

STORED_AT = "2022-04-30 17:52:16.484341"


def tid(n: int) -> str:
    """The n-th of a run of valid (v4) target ids."""
    return f"00000000-0000-4000-8000-{n:012d}"


def stored_document(target_id: str, *, outdial_id: str = OUTDIAL, **fields: Any) -> dict[str, Any]:
    """Idle, never tried, one tel destination in slot 0, not deleted; `fields` override."""
    doc: dict[str, Any] = {
        "_id": target_id,
        "id": target_id,
        "outdial_id": outdial_id,
        "name": "",
        "detail": "",
        "data": "",
        "status": "idle",
        "destination_0": {
            "type": "tel",
            "target": "+821100000001",
            "target_name": "",
            "name": "",
            "detail": "",
        },
        **{f"destination_{slot}": None for slot in range(1, 5)},
        **{f"try_count_{slot}": 0 for slot in range(5)},
        "tm_create": STORED_AT,
        "tm_update": STORED_AT,
        "tm_delete": NOT_DELETED,
    }
    return doc | fields


def status_change(
    target_id: str,
    outdial_id: str = OUTDIAL,
    *,
    status: Status = Status.PROGRESSING,
    previous: Status = Status.IDLE,
    name: str = "",
    destinations: Destinations = (None, None, None, None, None),
    tm_create: str = "2024-01-01 00:00:00.000000",
    tm_update: str = "2024-01-01 00:00:00.000000",
) -> StatusChange:
    """A status event as the broker hands it out: by default a claim of slot 0 (one try)."""
    target = Target(
        id=target_id,
        outdial_id=outdial_id,
        name=name,
        detail="",
        data="",
        status=status,
        destinations=destinations,
        try_counts=(1, 0, 0, 0, 0),
        tm_create=tm_create,
        tm_update=tm_update,
        tm_delete=NOT_DELETED,
    )
    return StatusChange(target=target, previous_status=previous)
