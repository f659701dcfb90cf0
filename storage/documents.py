"""The stored document shape of DOMAIN.md, read in one place: by both backends, leniently as the
contract reads documents of other programs, and by `import`, strictly as input. Also the way back
from domain objects to documents."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from domain import validation, zones
from domain.errors import BadUserInput, UnreadableTarget
from domain.models import MAX_TRY_COUNT, NOT_DELETED, SLOTS, Address, AddressType, Status, Target

logger = logging.getLogger("outdial.storage")

Document = dict[str, Any]

# ASCII digits only: a time in other digits would neither sort nor parse as the stored ones do.
TIME_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")
_TIME_RULE = "must be a UTC time YYYY-MM-DD HH:MM:SS.ffffff"
# What an error shows of a value it refuses: enough to find it, never a whole 10 MB string.
ECHO_LIMIT = 60

_ADDRESS_TEXTS = ("target", "target_name", "name", "detail")
_ADDRESS_FIELDS = frozenset({"type", *_ADDRESS_TEXTS})
_CLAIM_FIELDS = ("claim_token", "tm_lease_expire")
_STATUSES = {status.value: status for status in Status}
_ADDRESS_TYPES = {kind.value: kind for kind in AddressType}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")


class UnreadableDocument(ValueError):
    """The document breaks the shape: the service leaves it alone, `import` refuses the line."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


_DESTINATION_FIELDS = tuple(f"destination_{slot}" for slot in SLOTS)
_TRY_COUNT_FIELDS = tuple(f"try_count_{slot}" for slot in SLOTS)


def destination_field(slot: int) -> str:
    return _DESTINATION_FIELDS[slot]


def try_count_field(slot: int) -> str:
    return _TRY_COUNT_FIELDS[slot]


FIELDS = frozenset(
    {"_id", "id", "outdial_id", "name", "detail", "data", "status", "time_zone", *_CLAIM_FIELDS}
    | {"tm_create", "tm_update", "tm_delete"}
    | {destination_field(slot) for slot in SLOTS}
    | {try_count_field(slot) for slot in SLOTS}
)


def shown(value: str) -> str:
    """`value` quoted as Python would, cut to a readable length."""
    text = repr(value[: ECHO_LIMIT + 1])
    return text if len(text) <= ECHO_LIMIT else f"{text[: ECHO_LIMIT - 4]}...{text[0]}"


def field_name(key: str) -> str:
    """A key as an error names it: plain when it reads as a field name, else quoted and cut."""
    return key if _PLAIN_NAME.fullmatch(key) else shown(key)


def target_from_document(doc: Mapping[str, Any]) -> Target:
    """A stored document read as DOMAIN.md reads documents of other programs: missing texts
    are "", missing try counts 0, an integral float its integer; any other break is refused."""
    target_id = doc.get("id")
    if not isinstance(target_id, str):
        raise UnreadableDocument("id", "must be a string")
    if "_id" in doc and doc["_id"] != target_id:
        raise UnreadableDocument("_id", "must equal id")
    return Target(
        id=target_id,
        outdial_id=_string(doc, "outdial_id", required=True),
        name=_string(doc, "name"),
        detail=_string(doc, "detail"),
        data=_string(doc, "data"),
        status=_status(doc.get("status")),
        destinations=(
            _destination(doc, 0),
            _destination(doc, 1),
            _destination(doc, 2),
            _destination(doc, 3),
            _destination(doc, 4),
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
        time_zone=_optional_string(doc, "time_zone"),
    )


def target_from_input(
    doc: Mapping[str, Any], *, now: str, default_region: str | None = None
) -> Target:
    """A document given as input (`import`): the stored shape held strictly, and its target held
    to the rules a create holds it to. Beyond the lenient read: no field the shape does not name,
    claim fields on PROGRESSING targets only, UUIDs lowercased; a null is an absent field, and an
    absent tm_create or tm_update is `now`. National numbers are read in `default_region`
    (already checked: domain.phones.default_region)."""
    _check_fields(doc)
    given = {key: value for key, value in doc.items() if value is not None}
    target = target_from_document({"tm_create": now, "tm_update": now} | given)
    _check_claim(target)
    try:
        for slot in SLOTS:
            _check_none_address(given.get(_DESTINATION_FIELDS[slot]), slot)
        return _as_created(target, zone_given="time_zone" in doc, default_region=default_region)
    except BadUserInput as error:
        raise UnreadableDocument(_document_field(error.field), error.rule) from None


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
    doc["time_zone"] = target.time_zone
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


def _string(doc: Mapping[str, Any], name: str, *, required: bool = False, prefix: str = "") -> str:
    value = doc.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise UnreadableDocument(f"{prefix}.{name}" if prefix else name, "must be a string")
    return value


def _optional_string(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is not None and not isinstance(value, str):
        raise UnreadableDocument(name, "must be a string or null")
    return value


def _status(value: object) -> Status:
    if not isinstance(value, str) or value not in _STATUSES:
        got = f" (got {shown(value)})" if isinstance(value, str) else ""
        raise UnreadableDocument("status", f"must be one of {', '.join(_STATUSES)}{got}")
    return _STATUSES[value]


def _destination(doc: Mapping[str, Any], slot: int) -> Address | None:
    raw = doc.get(_DESTINATION_FIELDS[slot])
    if raw is None:
        return None
    address = _address(raw, _DESTINATION_FIELDS[slot])
    return None if address.type is AddressType.NONE else address


def _address(raw: object, name: str) -> Address:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise UnreadableDocument(name, "must be an address object or null")
    kind = raw.get("type")
    if kind is None:
        kind = ""
    if not isinstance(kind, str) or kind not in _ADDRESS_TYPES:
        got = f" (got {shown(kind)})" if isinstance(kind, str) else ""
        known = ", ".join(sorted(_ADDRESS_TYPES.keys() - {""}))
        raise UnreadableDocument(f"{name}.type", f"must be one of {known}, or empty{got}")
    texts = [_string(raw, text, prefix=name) for text in _ADDRESS_TEXTS]
    return Address(_ADDRESS_TYPES[kind], *texts)


def _try_count(doc: Mapping[str, Any], slot: int) -> int:
    value = doc.get(_TRY_COUNT_FIELDS[slot])
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TRY_COUNT:
        rule = f"must be a whole number from 0 to {MAX_TRY_COUNT}"
        raise UnreadableDocument(try_count_field(slot), rule)
    return value


def _time(doc: Mapping[str, Any], name: str, *, default: str | None = None) -> str:
    value = doc.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise UnreadableDocument(name, _TIME_RULE)
    if not TIME_PATTERN.fullmatch(value) or not _is_calendar_time(value):
        raise UnreadableDocument(name, f"{_TIME_RULE} (got {shown(value)})")
    return value


def _is_calendar_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:  # 2022-02-30, 24:00 and the like: the stored format, but no time
        return False
    return True


def _optional_time(doc: Mapping[str, Any], name: str) -> str | None:
    return None if doc.get(name) is None else _time(doc, name)


def _check_fields(doc: Mapping[str, Any]) -> None:
    _refuse_unknown(doc, FIELDS, prefix="")
    for name in _DESTINATION_FIELDS:
        raw = doc.get(name)
        if type(raw) is dict or isinstance(raw, Mapping):
            _refuse_unknown(raw, _ADDRESS_FIELDS, prefix=f"{name}.")


def _refuse_unknown(doc: Mapping[str, Any], known: frozenset[str], *, prefix: str) -> None:
    if known.issuperset(doc):
        return
    unknown = [key for key in doc if key not in known]
    if unknown:
        raise UnreadableDocument(prefix + field_name(min(unknown)), "unknown field")


def _check_claim(target: Target) -> None:
    if target.status is Status.PROGRESSING:
        return
    for name, value in zip(_CLAIM_FIELDS, (target.claim_token, target.lease_expires), strict=True):
        if value is not None:
            raise UnreadableDocument(name, "must be null unless status is progressing")


def _check_none_address(raw: object, slot: int) -> None:
    """A NONE address reads as no destination, but input is held to the rule a create is."""
    # Read already (target_from_document): an address object of a known type.
    if raw is None or raw.get("type") not in (None, AddressType.NONE.value):  # type: ignore[attr-defined]
        return
    address = _address(raw, destination_field(slot))
    if address.type is AddressType.NONE:
        validation.address(address, f"doc.{validation.destination_name(slot)}")


def _as_created(target: Target, *, zone_given: bool, default_region: str | None) -> Target:
    """A line's key `time_zone` is kept (a known zone name or null); without the key the line
    gets the zone a create would derive."""
    target_id = validation.uuid_arg(target.id, "doc.id")
    if target.time_zone is not None:  # "" too: a line holds a zone name or null
        zones.zone_name(target.time_zone, "doc.timeZone")
    draft = validation.draft(
        validation.TargetDraft.of(target, zone_given=zone_given),
        "doc",
        default_region=default_region,
    )
    # Target(...) rather than dataclasses.replace, which costs as much again per line.
    return Target(
        id=target_id,
        outdial_id=draft.outdial_id,
        name=target.name,
        detail=target.detail,
        data=target.data,
        status=target.status,
        destinations=draft.destinations,
        try_counts=target.try_counts,
        tm_create=target.tm_create,
        tm_update=target.tm_update,
        tm_delete=target.tm_delete,
        claim_token=validation.optional_uuid_arg(target.claim_token, "doc.claim_token"),
        lease_expires=target.lease_expires,
        time_zone=draft.time_zone,
    )


_API_FIELD_NAMES = (
    (re.compile(r"destination(\d)"), r"destination_\1"),
    (re.compile(r"outdialId"), "outdial_id"),
    (re.compile(r"targetName"), "target_name"),
    (re.compile(r"timeZone"), "time_zone"),
)


def _document_field(api_field: str) -> str:
    """The document's name for a field the create rules name as the API does."""
    name = api_field.removeprefix("doc.")
    for pattern, replacement in _API_FIELD_NAMES:
        name = pattern.sub(replacement, name)
    return name


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
