"""The one place that maps stored documents to domain objects and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.models import SLOTS, Address, AddressType, Status, Target

Document = dict[str, Any]


def destination_field(slot: int) -> str:
    return f"destination_{slot}"


def try_count_field(slot: int) -> str:
    return f"try_count_{slot}"


def address_from_document(raw: object) -> Address | None:
    if not isinstance(raw, Mapping):
        return None
    kind = AddressType(raw.get("type") or "")
    if kind is AddressType.NONE:
        return None
    return Address(
        type=kind,
        target=str(raw.get("target") or ""),
        target_name=str(raw.get("target_name") or ""),
        name=str(raw.get("name") or ""),
        detail=str(raw.get("detail") or ""),
    )


def address_to_document(address: Address | None) -> Document | None:
    if address is None:
        return None
    return {
        "type": address.type.value,
        "target": address.target,
        "target_name": address.target_name,
        "name": address.name,
        "detail": address.detail,
    }


def target_from_document(doc: Mapping[str, Any]) -> Target:
    return Target(
        id=doc["id"],
        outdial_id=doc["outdial_id"],
        name=doc.get("name") or "",
        detail=doc.get("detail") or "",
        data=doc.get("data") or "",
        status=Status(doc["status"]),
        destinations=(
            address_from_document(doc.get("destination_0")),
            address_from_document(doc.get("destination_1")),
            address_from_document(doc.get("destination_2")),
            address_from_document(doc.get("destination_3")),
            address_from_document(doc.get("destination_4")),
        ),
        try_counts=(
            int(doc.get("try_count_0") or 0),
            int(doc.get("try_count_1") or 0),
            int(doc.get("try_count_2") or 0),
            int(doc.get("try_count_3") or 0),
            int(doc.get("try_count_4") or 0),
        ),
        tm_create=doc["tm_create"],
        tm_update=doc["tm_update"],
        tm_delete=doc["tm_delete"],
    )


def target_to_document(target: Target) -> Document:
    doc: Document = {
        "_id": target.id,
        "id": target.id,
        "outdial_id": target.outdial_id,
        "name": target.name,
        "detail": target.detail,
        "data": target.data,
        "status": target.status.value,
    }
    for slot in SLOTS:
        doc[destination_field(slot)] = address_to_document(target.destinations[slot])
    for slot in SLOTS:
        doc[try_count_field(slot)] = target.try_counts[slot]
    doc["tm_create"] = target.tm_create
    doc["tm_update"] = target.tm_update
    doc["tm_delete"] = target.tm_delete
    return doc
