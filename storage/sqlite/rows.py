"""The one place mapping stored documents to the embedded store's rows and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from domain.destinations import keys_of
from domain.models import SLOTS, Status, Target
from storage.documents import Document, UnreadableDocument, key_of, target_from_document

Row = tuple[Any, ...]

# A document as read for its rows: the target, or why it breaks the shape. Read once per write
# and handed to both row_of and destination_keys_of.
Read = Target | UnreadableDocument


def read(doc: Mapping[str, Any]) -> Read:
    try:
        return target_from_document(doc)
    except UnreadableDocument as reason:
        return reason


def row_of(doc: Mapping[str, Any], target: Read) -> Row:
    """The values of storage.sqlite.schema.COLUMNS for `doc` (read as `target`), readable or not."""
    text = orjson.dumps(doc).decode()
    if isinstance(target, UnreadableDocument):
        return (key_of(doc), text, 0, 0, None, None, None, None, 0, None, None, *(0,) * 10)
    has = tuple(int(target.has_destination(slot)) for slot in SLOTS)
    leased = target.lease_expires if target.status is Status.PROGRESSING else None
    return (
        target.id,
        text,
        1,
        int(not target.deleted),
        target.outdial_id,
        target.status.value,
        target.tm_create,
        target.tm_update,
        int(not target.never_tried),
        leased,
        target.time_zone,
        *has,
        *target.try_counts,
    )


def destination_keys_of(target: Read) -> list[Row]:
    """The rows of storage.sqlite.schema.DESTINATION_KEYS for a document read as `target`
    (none unless live)."""
    if isinstance(target, UnreadableDocument):
        return []
    return [
        (kind.value, key, target.tm_create, target.id)
        for kind, key in sorted(keys_of(target), key=lambda found: (found[0].value, found[1]))
    ]


def document_of(text: str | bytes) -> Document:
    doc: Document = orjson.loads(text)
    return doc


def target_of(text: str | bytes) -> Target:
    return target_from_document(document_of(text))
