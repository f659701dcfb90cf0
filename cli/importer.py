"""`outdial-graphql import`: targets from a file of JSON lines of stored documents, or of CSV
rows (cli.sources reads either).

Every record is checked first (the same rules as createOutdialtargets; then duplicate ids in the
file and in the database); only then are targets written, in batches. By default one bad record
means nothing is written.
"""

from __future__ import annotations

import codecs
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from cli.sources import JSON_LINES, Incoming, Record, Refused, Source
from domain import clock
from domain.models import Target
from domain.ports import TargetStore

# Small batches keep each write well inside the database timeout, also on the embedded server,
# whose inserts slow down as the collection grows.
BATCH_SIZE = 200
# The embedded server refuses an $in of more than about 450 ids.
_ID_CHECK_CHUNK = 200
CHECK_PROGRESS_EVERY = 100_000
# How much of a first line is looked at to tell a file of JSON lines from a binary one.
_SNIFF_BYTES = 64 * 1024


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


async def import_file(
    path: Path,
    repository: TargetStore,
    *,
    source: Source = JSON_LINES,
    skip_bad: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: TextIO,
) -> ImportResult:
    """Check every record, then write the good ones unless a bad one forbids it."""
    result = await _check_file(path, source, repository, progress)
    if not result.lines:
        raise UnusableFile(f"is empty: no {source.noun}s to import")
    if result.bad and not skip_bad:
        progress.write(f"{len(result.bad):,} bad {source.noun}(s): nothing imported\n")
        return result
    good = result.lines - len(result.bad) - len(result.already)
    if result.already:
        progress.write(f"{len(result.already):,} target(s) stored already, as given: left alone\n")
    now = clock.format_time(clock.utc_now())
    records = source.records(path, None, now)
    batches = _batches(records, result.bad.keys() | result.already, batch_size, source.noun)
    writing = Progress(progress, result, good, source.noun)
    for first, batch in batches:
        with writing.batch(first):
            await repository.create(targets=batch)
        writing.written(len(batch))
    return result


class Progress:
    """What an import says while it writes: `imported N of M targets (P%)` once a percent, and,
    when a batch fails, where a run again resumes."""

    def __init__(self, out: TextIO, result: ImportResult, good: int, noun: str) -> None:
        self._out = out
        self._result = result
        self._good = good
        self._noun = noun
        self._shown = -1

    @contextmanager
    def batch(self, first: int) -> Iterator[None]:
        try:
            yield
        except Exception as error:  # reported with where to resume, then raised as it was
            self._out.write(
                f"writing the batch from {self._noun} {first} failed ({error}); "
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


class Checking:
    """What the check of a file found so far, and what it says about it on `progress`."""

    def __init__(self, source: Source, progress: TextIO) -> None:
        self.result = ImportResult()
        self._source = source
        self._progress = progress
        self._first_seen: dict[str, int] = {}
        self._shown = 0

    def counted(self, records: int) -> None:
        self.result.lines += records
        while self.result.lines - self._shown >= CHECK_PROGRESS_EVERY:
            self._shown += CHECK_PROGRESS_EVERY
            self._progress.write(f"checked {self._shown:,} {self._source.noun}s\n")

    def repeated(self, number: int, target_id: str) -> str | None:
        """Why record `number` is bad when an earlier record has its id; else None."""
        earlier = self._first_seen.setdefault(target_id, number)
        return None if earlier == number else self._source.repeated(target_id, earlier)

    def reject(self, number: int, reason: str) -> None:
        self.result.bad[number] = reason
        self._progress.write(f"{self._source.noun} {number}: {reason}\n")


async def _check_file(
    path: Path, source: Source, repository: TargetStore, progress: TextIO
) -> ImportResult:
    checking = Checking(source, progress)
    pending: dict[str, tuple[int, Incoming]] = {}
    now = clock.format_time(clock.utc_now())

    async def check_database() -> None:
        found = await repository.get_many(target_ids=list(pending))
        for target_id, stored in sorted(found.items(), key=lambda item: pending[item[0]][0]):
            number, incoming = pending[target_id]
            if isinstance(stored, Target) and incoming.describes(stored):
                checking.result.already.add(number)
            else:
                checking.reject(number, source.taken(target_id))
        pending.clear()

    for number, record in source.records(path, None, now):
        checking.counted(1)
        if isinstance(record, Refused):
            repeated = record.target_id and checking.repeated(number, record.target_id)
            checking.reject(number, repeated or record.reason)
            continue
        repeated = checking.repeated(number, record.target.id)
        if repeated is not None:
            checking.reject(number, repeated)
            continue
        pending[record.target.id] = (number, record)
        if len(pending) >= _ID_CHECK_CHUNK:
            await check_database()
    await check_database()
    return checking.result


def _batches(
    records: Iterator[Record], left_out: Container[int], size: int, noun: str
) -> Iterator[tuple[int, list[Target]]]:
    batch: list[Target] = []
    first = 0
    for number, record in records:
        if number in left_out:
            continue
        if isinstance(record, Refused):
            raise UnusableFile(f"changed while it was imported ({noun} {number}: {record.reason})")
        if not batch:
            first = number
        batch.append(record.target)
        if len(batch) == size:
            yield first, batch
            batch = []
    if batch:
        yield first, batch
