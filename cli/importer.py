"""`outdial-graphql import`: targets from a JSON-lines file of stored documents.

Every line is checked first (document shape, then the same rules as createOutdialtargets,
then duplicate ids in the file and in the database); only then are targets written, in
batches. By default one bad line means nothing is written.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from domain import clock, validation
from domain.errors import BadUserInput
from domain.models import NOT_DELETED, SLOTS, Address, AddressType, Status, Target
from domain.ports import TargetStore
from domain.validation import TargetDraft
from storage.documents import (
    destination_field,
    target_from_document,
    try_count_field,
)

# Small batches keep each write well inside the database timeout, also on the embedded server,
# whose inserts slow down as the collection grows.
BATCH_SIZE = 200
# The embedded server refuses an $in of more than about 450 ids.
_ID_CHECK_CHUNK = 200
CHECK_PROGRESS_EVERY = 100_000

_TEXT_FIELDS = ("name", "detail", "data")
_TIME_FIELDS = ("tm_create", "tm_update", "tm_delete", "tm_lease_expire")
_ADDRESS_TEXTS = ("target", "target_name", "name", "detail")
_ADDRESS_FIELDS = frozenset({"type", *_ADDRESS_TEXTS})
_KNOWN_FIELDS = frozenset(
    {"_id", "id", "outdial_id", "status", "claim_token", *_TEXT_FIELDS, *_TIME_FIELDS}
    | {destination_field(slot) for slot in SLOTS}
    | {try_count_field(slot) for slot in SLOTS}
)
_STATUSES = {status.value: status for status in Status}
_ADDRESS_TYPES = frozenset(kind.value for kind in AddressType)
_API_FIELD_NAMES = (
    (re.compile(r"destination(\d)"), r"destination_\1"),
    (re.compile(r"outdialId"), "outdial_id"),
    (re.compile(r"targetName"), "target_name"),
)


class BadLine(ValueError):
    pass


@dataclass
class ImportResult:
    lines: int = 0
    written: int = 0
    bad: dict[int, str] = field(default_factory=dict)
    # Lines whose target is stored already, as the line has it (an import run again).
    already: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.bad


def target_from_line(text: str | bytes, now: str) -> Target:
    """The target one line describes, checked like createOutdialtargets checks its inputs."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BadLine(f"not JSON: {error}") from None
    if not isinstance(doc, dict):
        raise BadLine("not a JSON object")
    _check_shape(doc)
    target = target_from_document(
        {"tm_create": now, "tm_update": now, "tm_delete": NOT_DELETED}
        | {key: value for key, value in doc.items() if value is not None}
    )
    try:
        return _validated(target)
    except BadUserInput as error:
        raise BadLine(f"{_document_field(error.field)}: {error.rule}") from None


async def import_file(
    path: Path,
    repository: TargetStore,
    *,
    skip_bad: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: TextIO,
) -> ImportResult:
    """Check every line, then write the good ones unless a bad one forbids it."""
    result = await _check_file(path, repository, progress)
    if result.bad and not skip_bad:
        progress.write(f"{len(result.bad):,} bad line(s): nothing imported\n")
        return result
    good = result.lines - len(result.bad) - len(result.already)
    if result.already:
        progress.write(f"{len(result.already):,} target(s) stored already, as given: left alone\n")
    batches = _batches(_numbered_lines(path), result.bad.keys() | result.already, batch_size)
    shown = -1
    for first_line, batch in batches:
        try:
            await repository.create(targets=batch)
        except Exception as error:  # reported with where to resume, then raised as it was
            progress.write(
                f"writing the batch from line {first_line} failed ({error}); "
                f"{result.written:,} target(s) were imported before it; run again with "
                "--skip-bad to import the rest\n"
            )
            raise
        result.written += len(batch)
        percent = result.written * 100 // good
        if percent != shown:
            progress.write(f"imported {result.written:,} of {good:,} targets ({percent}%)\n")
            shown = percent
    return result


async def _check_file(path: Path, repository: TargetStore, progress: TextIO) -> ImportResult:
    result = ImportResult()
    first_seen: dict[int, int] = {}
    pending: dict[str, tuple[int, Target]] = {}
    now = clock.format_time(clock.utc_now())

    async def check_database() -> None:
        found = await repository.get_many(target_ids=list(pending))
        for target_id, stored in sorted(found.items(), key=lambda item: pending[item[0]][0]):
            number, line_target = pending[target_id]
            if isinstance(stored, Target) and _draft_of(line_target).describes(stored):
                result.already.add(number)
            else:
                reason = f"id {target_id} is taken by another target in the database"
                _reject(result, number, reason, progress)
        pending.clear()

    for number, text in _numbered_lines(path):
        result.lines += 1
        if result.lines % CHECK_PROGRESS_EVERY == 0:
            progress.write(f"checked {result.lines:,} lines\n")
        try:
            target = target_from_line(text, now)
        except BadLine as error:
            _reject(result, number, str(error), progress)
            continue
        key = uuid.UUID(target.id).int
        if key in first_seen:
            _reject(result, number, f"id {target.id} already on line {first_seen[key]}", progress)
            continue
        first_seen[key] = number
        pending[target.id] = (number, target)
        if len(pending) >= _ID_CHECK_CHUNK:
            await check_database()
    await check_database()
    return result


def _reject(result: ImportResult, number: int, reason: str, progress: TextIO) -> None:
    result.bad[number] = reason
    progress.write(f"line {number}: {reason}\n")


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers."""
    with path.open("rb") as lines:
        for number, text in enumerate(lines, start=1):
            if text.strip():
                yield number, text


def _draft_of(target: Target) -> TargetDraft:
    return TargetDraft(
        target.outdial_id, target.name, target.detail, target.data, target.destinations
    )


def _batches(
    lines: Iterator[tuple[int, bytes]], left_out: Container[int], size: int
) -> Iterator[tuple[int, list[Target]]]:
    now = clock.format_time(clock.utc_now())
    batch: list[Target] = []
    first_line = 0
    for number, text in lines:
        if number in left_out:
            continue
        if not batch:
            first_line = number
        batch.append(target_from_line(text, now))
        if len(batch) == size:
            yield first_line, batch
            batch = []
    if batch:
        yield first_line, batch


def _check_shape(doc: dict[str, Any]) -> None:
    unknown = sorted(set(doc) - _KNOWN_FIELDS)
    if unknown:
        raise BadLine(f"unknown field {unknown[0]!r}")
    for name in ("id", "outdial_id", "status"):
        if not isinstance(doc.get(name), str):
            raise BadLine(f"{name}: required, a string")
    if "_id" in doc and doc["_id"] != doc["id"]:
        raise BadLine("_id: must equal id")
    if doc["status"] not in _STATUSES:
        raise BadLine(f"status: must be one of {', '.join(_STATUSES)}")
    for name in _TEXT_FIELDS:
        _optional(doc, name, str, "a string")
    if _optional(doc, "claim_token", str, "a UUID") is not None:
        try:
            validation.uuid_arg(doc["claim_token"], "claim_token")
        except BadUserInput as error:
            raise BadLine(str(error)) from None
    for name in _TIME_FIELDS:
        if _optional(doc, name, str, "a string") is not None:
            _check_time(name, doc[name])
    for slot in SLOTS:
        count = _optional(doc, try_count_field(slot), int, "a whole number")
        if isinstance(count, bool) or (count is not None and count < 0):
            raise BadLine(f"{try_count_field(slot)}: must be a whole number >= 0")
        _check_address(destination_field(slot), doc.get(destination_field(slot)))


def _optional[T](doc: Mapping[str, Any], name: str, kind: type[T], what: str) -> T | None:
    value = doc.get(name)
    if value is not None and not isinstance(value, kind):
        raise BadLine(f"{name}: must be {what}")
    return value


def _check_time(name: str, value: str) -> None:
    try:
        datetime.strptime(value, clock.TIME_FORMAT)
    except ValueError:
        raise BadLine(f"{name}: must be a UTC time like 2022-04-30 17:52:16.484341") from None


def _check_address(name: str, raw: object) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise BadLine(f"{name}: must be an address object or null")
    unknown = sorted(set(raw) - _ADDRESS_FIELDS)
    if unknown:
        raise BadLine(f"{name}: unknown field {unknown[0]!r}")
    for key, value in raw.items():
        if value is not None and not isinstance(value, str):
            raise BadLine(f"{name}.{key}: must be a string")
    kind = raw.get("type") or ""
    if kind not in _ADDRESS_TYPES:
        raise BadLine(f"{name}.type: must be one of {', '.join(sorted(_ADDRESS_TYPES - {''}))}")
    if kind == AddressType.NONE.value:
        # Read back as "no destination", but an import is held to the rules a create is.
        none = Address(AddressType.NONE, *(raw.get(key) or "" for key in _ADDRESS_TEXTS))
        try:
            validation.address(none, name)
        except BadUserInput as error:
            raise BadLine(str(error)) from None


def _validated(target: Target) -> Target:
    target_id = validation.uuid_arg(target.id, "id")
    draft = validation.draft(_draft_of(target), "doc")
    return dataclasses.replace(
        target,
        id=target_id,
        outdial_id=draft.outdial_id,
        destinations=draft.destinations,
    )


def _document_field(api_field: str) -> str:
    name = api_field.removeprefix("doc.")
    for pattern, replacement in _API_FIELD_NAMES:
        name = pattern.sub(replacement, name)
    return name
