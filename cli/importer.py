"""`outdial-graphql import`: targets from a JSON-lines file of stored documents.

Every line is checked first (storage.documents reads it as input: the stored shape, then the same
rules as createOutdialtargets; then duplicate ids in the file and in the database); only then are
targets written, in batches. By default one bad line means nothing is written.
"""

from __future__ import annotations

import codecs
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import orjson

from domain import clock
from domain.models import Target
from domain.ports import TargetStore
from domain.validation import TargetDraft
from storage.documents import UnreadableDocument, target_from_input

# Small batches keep each write well inside the database timeout, also on the embedded server,
# whose inserts slow down as the collection grows.
BATCH_SIZE = 200
# The embedded server refuses an $in of more than about 450 ids.
_ID_CHECK_CHUNK = 200
CHECK_PROGRESS_EVERY = 100_000
# How much of a first line is looked at to tell a file of JSON lines from a binary one.
_SNIFF_BYTES = 64 * 1024
_BOM = codecs.BOM_UTF8
_JSON_KINDS: dict[type, str] = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


class BadLine(ValueError):
    pass


class UnusableFile(ValueError):
    """The file as a whole cannot be imported: why, in words."""


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


def check_file(path: Path) -> None:
    """Refuse, in one sentence, a path that is not a readable file of text lines. A file whose
    first line is binary or not UTF-8 is not JSON lines at all; a later such line is a bad line."""
    if path.is_dir():
        raise UnusableFile("is a directory")
    if not path.exists():
        raise UnusableFile("no such file")
    if not path.is_file():
        raise UnusableFile("not a regular file (use - to read standard input)")
    try:
        with path.open("rb") as file:
            head = file.readline(_SNIFF_BYTES)
    except OSError as error:
        raise UnusableFile(f"cannot be read ({error.strerror or error})") from None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=head.endswith(b"\n"))
    except UnicodeDecodeError as error:
        byte = head[error.start]
        where = f"byte 0x{byte:02x} at offset {error.start}"
        raise UnusableFile(f"not UTF-8 text ({where} on its first line)") from None
    if b"\0" in head:
        raise UnusableFile("holds NUL bytes on its first line: a binary file, not JSON lines")


def target_from_line(text: bytes, now: str) -> Target:
    """The target one line describes, checked like createOutdialtargets checks its inputs."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BadLine(f"not JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(doc, dict):
        raise BadLine(f"not a JSON object: {_JSON_KINDS.get(type(doc), 'a value')}")
    try:
        return target_from_input(doc, now=now)
    except UnreadableDocument as error:
        raise BadLine(str(error)) from None


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
    if not result.lines:
        raise UnusableFile("is empty: no lines to import")
    if result.bad and not skip_bad:
        progress.write(f"{len(result.bad):,} bad line(s): nothing imported\n")
        return result
    good = result.lines - len(result.bad) - len(result.already)
    if result.already:
        progress.write(f"{len(result.already):,} target(s) stored already, as given: left alone\n")
    batches = _batches(_numbered_lines(path), result.bad.keys() | result.already, batch_size)
    writing = Progress(progress, result, good)
    for first_line, batch in batches:
        with writing.batch(first_line):
            await repository.create(targets=batch)
        writing.written(len(batch))
    return result


class Progress:
    """What an import says while it writes: `imported N of M targets (P%)` once a percent, and,
    when a batch fails, where a run again resumes."""

    def __init__(self, out: TextIO, result: ImportResult, good: int) -> None:
        self._out = out
        self._result = result
        self._good = good
        self._shown = -1

    @contextmanager
    def batch(self, first_line: int) -> Iterator[None]:
        try:
            yield
        except Exception as error:  # reported with where to resume, then raised as it was
            self._out.write(
                f"writing the batch from line {first_line} failed ({error}); "
                f"{self._result.written:,} target(s) were imported before it; run again with "
                "--skip-bad to import the rest\n"
            )
            raise

    def written(self, count: int) -> None:
        self._result.written += count
        percent = self._result.written * 100 // self._good
        if percent != self._shown:
            self._out.write(
                f"imported {self._result.written:,} of {self._good:,} targets ({percent}%)\n"
            )
            self._shown = percent


async def _check_file(path: Path, repository: TargetStore, progress: TextIO) -> ImportResult:
    result = ImportResult()
    first_seen: dict[str, int] = {}
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
        if target.id in first_seen:
            already = f"id {target.id} already on line {first_seen[target.id]}"
            _reject(result, number, already, progress)
            continue
        first_seen[target.id] = number
        pending[target.id] = (number, target)
        if len(pending) >= _ID_CHECK_CHUNK:
            await check_database()
    await check_database()
    return result


def _reject(result: ImportResult, number: int, reason: str, progress: TextIO) -> None:
    result.bad[number] = reason
    progress.write(f"line {number}: {reason}\n")


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers (a UTF-8 byte order mark left out)."""
    with path.open("rb") as lines:
        for number, text in enumerate(lines, start=1):
            line = text.removeprefix(_BOM) if number == 1 else text
            if line.strip():
                yield number, line


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
        try:
            batch.append(target_from_line(text, now))
        except BadLine as error:
            raise UnusableFile(f"changed while it was imported (line {number}: {error})") from None
        if len(batch) == size:
            yield first_line, batch
            batch = []
    if batch:
        yield first_line, batch
