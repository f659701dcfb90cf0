"""The stored document shape of DOMAIN.md, shared by both backends: documents to domain objects
and back, read leniently where the contract allows it and refused where it breaks the shape."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from domain.errors import UnreadableTarget
from domain.models import NOT_DELETED, SLOTS, Address, AddressType, Status, Target

logger = logging.getLogger("outdial.storage")

Document = dict[str, Any]

TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")
_ADDRESS_TEXTS = ("target", "target_name", "name", "detail")
_STATUSES = {status.value: status for status in Status}
_ADDRESS_TYPES = {kind.value: kind for kind in AddressType}
_MAX_TRY_COUNT = 2**31 - 1


class UnreadableDocument(ValueError):
    """The stored document breaks the shape: the service leaves it alone."""


def destination_field(slot: int) -> str:
    return f"destination_{slot}"


def try_count_field(slot: int) -> str:
    return f"try_count_{slot}"


def target_from_document(doc: Mapping[str, Any]) -> Target:
    target_id = doc.get("id")
    if not isinstance(target_id, str) or doc.get("_id", target_id) != target_id:
        raise UnreadableDocument("id: must be a string equal to _id")
    return Target(
        id=target_id,
        outdial_id=_string(doc, "outdial_id", required=True),
        name=_string(doc, "name"),
        detail=_string(doc, "detail"),
        data=_string(doc, "data"),
        status=_status(doc.get("status")),
        destinations=(
            _address(doc, 0),
            _address(doc, 1),
            _address(doc, 2),
            _address(doc, 3),
            _address(doc, 4),
        ),
        try_counts=(
            _try_count(doc, 0),
            _try_count(doc, 1),
            _try_count(doc, 2),
            _try_count(doc, 3),
            _try_count(doc, 4),
        ),
        tm_create=_time(doc, "tm_create"),
        tm_update=_time(doc, "tm_update"),
        tm_delete=_time(doc, "tm_delete", default=NOT_DELETED),
        claim_token=_optional_string(doc, "claim_token"),
        lease_expires=_optional_time(doc, "tm_lease_expire"),
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
    if target.claim_token is not None or target.lease_expires is not None:
        doc |= claim_fields(target.claim_token, target.lease_expires)
    return doc


def changed_fields(before: Target, after: Target) -> Document:
    """The document fields a write from `before` to `after` sets; nothing else is rewritten."""
    old, new = target_to_document(before), target_to_document(after)
    keys = [*new, *(key for key in old if key not in new)]
    return {key: new.get(key) for key in keys if key not in old or old[key] != new.get(key)}


def claim_fields(token: str | None, lease_expires: str | None) -> Document:
    return {"claim_token": token, "tm_lease_expire": lease_expires}


def _string(doc: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = doc.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise UnreadableDocument(f"{name}: must be a string")
    return value


def _optional_string(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is not None and not isinstance(value, str):
        raise UnreadableDocument(f"{name}: must be a string or null")
    return value


def _status(value: object) -> Status:
    if not isinstance(value, str) or value not in _STATUSES:
        raise UnreadableDocument(f"status: unknown status {value!r}")
    return _STATUSES[value]


def _address(doc: Mapping[str, Any], slot: int) -> Address | None:
    raw = doc.get(destination_field(slot))
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise UnreadableDocument(f"{destination_field(slot)}: must be an object or null")
    kind = raw.get("type") or ""
    if not isinstance(kind, str) or kind not in _ADDRESS_TYPES:
        raise UnreadableDocument(f"{destination_field(slot)}.type: unknown type {kind!r}")
    texts = [_string(raw, name) for name in _ADDRESS_TEXTS]
    if _ADDRESS_TYPES[kind] is AddressType.NONE:
        return None
    return Address(_ADDRESS_TYPES[kind], *texts)


def _try_count(doc: Mapping[str, Any], slot: int) -> int:
    value = doc.get(try_count_field(slot))
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_TRY_COUNT:
        raise UnreadableDocument(f"{try_count_field(slot)}: must be a whole number >= 0")
    return value


def _time(doc: Mapping[str, Any], name: str, *, default: str | None = None) -> str:
    value = doc.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not TIME_PATTERN.fullmatch(value):
        raise UnreadableDocument(f"{name}: must be a time like 2022-04-30 17:52:16.484341")
    return value


def _optional_time(doc: Mapping[str, Any], name: str) -> str | None:
    return None if doc.get(name) is None else _time(doc, name)


class UnreadableLog:
    """The stored documents a backend found it cannot read: each logged once, with its id."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._listeners: list[Callable[[], None]] = []

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._seen)

    def listen(self, on_new: Callable[[], None]) -> None:
        self._listeners.append(on_new)

    def read(self, doc: Mapping[str, Any]) -> Target | UnreadableTarget:
        try:
            return target_from_document(doc)
        except UnreadableDocument as reason:
            return self.found(key_of(doc), str(reason))

    def found(self, target_id: str, reason: str) -> UnreadableTarget:
        if target_id not in self._seen:
            self._seen.add(target_id)
            logger.warning(
                "stored document %s breaks the stored shape (%s): left out of every answer "
                "and never written; fix it in the database",
                target_id,
                reason,
            )
            for on_new in self._listeners:
                on_new()
        return UnreadableTarget(target_id)


def key_of(doc: Mapping[str, Any]) -> str:
    key = doc.get("_id", doc.get("id"))
    return key if isinstance(key, str) else repr(key)
