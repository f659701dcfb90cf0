"""Outdial target documents as another program would store them (the DOMAIN.md shape)."""

from __future__ import annotations

from typing import Any

from tests.support.api import OUTDIAL

NOT_DELETED = "9999-01-01 00:00:00.000000"
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
