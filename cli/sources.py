"""What `import` reads: a file's records (JSON lines, or CSV rows), numbered as its reader sees
them, each a target to create or the reason it is not one. The importers (cli.importer, and
cli.bulk_import in worker processes) work on any source alike; a source is a plain picklable
object, so that a worker process can be given it."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

from domain.models import Target
from domain.validation import TargetDraft
from storage.documents import UnreadableDocument, target_from_input

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
    """A record that is not a target a create would make: why, in words."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records first_number... of the file, bytes start to end."""

    index: int
    start: int
    end: int
    first_number: int


@dataclass(frozen=True, slots=True)
class Incoming:
    """A record's target, as a create would make it; `zone_given`: the record gave its zone."""

    target: Target
    zone_given: bool = False

    def describes(self, stored: Target) -> bool:
        """The stored target is this record's: an import run again (client-chosen ids)."""
        return TargetDraft.of(self.target, zone_given=self.zone_given).describes(stored)


@dataclass(frozen=True, slots=True)
class Refused:
    """A bad record: why, and its target's id when it has one all the same (a CSV row's key
    gives it), so that a later record with the same id is found out too."""

    reason: str
    target_id: str | None = None


# A record's number and its target, or why it has none.
Record = tuple[int, Incoming | Refused]


class Source(Protocol):
    @property
    def noun(self) -> str:
        """What a record is called in messages: `line`, `row`."""
        ...

    @property
    def parallel_from_bytes(self) -> int:
        """The file size from which checking it in worker processes is worth their start."""
        ...

    def chunks(self, path: Path, size: int) -> Iterator[Chunk]:
        """The file's records cut into chunks of `size`, found by one quick pass."""
        ...

    def records(self, path: Path, chunk: Chunk | None, now: str) -> Iterator[Record]:
        """The records of `chunk` (None: of the whole file), blank ones left out."""
        ...

    def repeated(self, target_id: str, first: int) -> str:
        """Why a record whose target id an earlier record (number `first`) has is bad."""
        ...

    def taken(self, target_id: str) -> str:
        """Why a record whose id the database holds for another target is bad."""
        ...


@dataclass(frozen=True, slots=True)
class JsonLines:
    """One stored document (JSON) a line, as `export` writes them."""

    default_region: str | None = None
    noun: str = "line"
    parallel_from_bytes: int = 8 * 1024 * 1024

    def chunks(self, path: Path, size: int) -> Iterator[Chunk]:
        index = start = offset = 0
        first = number = 1
        with path.open("rb") as lines:
            for number, text in enumerate(lines, start=1):
                offset += len(text)
                if number - first + 1 == size:
                    yield Chunk(index, start, offset, first)
                    index, start, first = index + 1, offset, number + 1
        if offset > start:
            yield Chunk(index, start, offset, first)

    def records(self, path: Path, chunk: Chunk | None, now: str) -> Iterator[Record]:
        for number, text in _numbered_lines(path, chunk):
            try:
                yield number, self.incoming(text, now)
            except BadLine as error:
                yield number, Refused(str(error))

    def incoming(self, text: bytes, now: str) -> Incoming:
        """The target one line describes, checked like createOutdialtargets checks its inputs."""
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise BadLine(f"not JSON: {error.msg} at column {error.colno}") from None
        if not isinstance(doc, dict):
            raise BadLine(f"not a JSON object: {_JSON_KINDS.get(type(doc), 'a value')}")
        try:
            target = target_from_input(doc, now=now, default_region=self.default_region)
        except UnreadableDocument as error:
            raise BadLine(str(error)) from None
        return Incoming(target, zone_given="time_zone" in doc)

    def repeated(self, target_id: str, first: int) -> str:
        return f"id {target_id} already on line {first}"

    def taken(self, target_id: str) -> str:
        return f"id {target_id} is taken by another target in the database"


JSON_LINES = JsonLines()


def _numbered_lines(path: Path, chunk: Chunk | None) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers (a UTF-8 byte order mark left out).
    Lines end at b"\\n" alone, as when the file is read line by line (a lone b"\\r" is text)."""
    with path.open("rb") as file:
        if chunk is None:
            lines: Iterable[bytes] = file
            first = 1
        else:
            file.seek(chunk.start)
            lines = file.read(chunk.end - chunk.start).split(b"\n")
            first = chunk.first_number
        for number, line in enumerate(lines, start=first):
            if number == 1:
                line = line.removeprefix(_BOM)
            if line.strip():
                yield number, line
