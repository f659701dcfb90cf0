"""CSV rows as `import` reads them: a header row naming the columns, then one target a row, its
fields taken from the columns `--columns` maps (cli.csv_columns).

Rows are numbered as a spreadsheet numbers them: the header is row 1, the first target row 2; a
row is a CSV record, so a quoted cell holding line breaks keeps its row one row. A row whose cells
are all empty is left out (still counted). Each row's id is a UUID derived from the outdial and
the row's key (`--key-column`), or from its content as a create would store it: the same file
imported again finds its targets stored and writes nothing.
"""

from __future__ import annotations

import csv
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from cli.csv_columns import ColumnMap
from cli.importer import UnusableFile
from cli.sources import BadLine, Chunk, Incoming, Record, Refused
from domain import validation
from domain.errors import BadUserInput
from domain.models import SLOTS, Address, AddressType

_BOM = b"\xef\xbb\xbf"
_FIELD = re.compile(r"row\.(name|detail|data|timeZone|destination(\d))\b")
_SHOWN_COLUMNS = 12


@dataclass(frozen=True, slots=True)
class Cell:
    """A column the map names: where it is in a row, and its name in the header."""

    index: int
    column: str


@dataclass(frozen=True, slots=True)
class DestinationCell:
    slot: int
    type: AddressType
    cell: Cell


@dataclass(frozen=True, slots=True)
class CsvRows:
    """A CSV file's rows, read with a column map bound to its header row (`bind`)."""

    outdial_id: str
    namespace: uuid.UUID  # the outdial's id: every row's id is derived within it
    width: int  # cells in the header row
    header_end: int  # the byte offset where the first row after the header starts
    texts: tuple[tuple[str, Cell], ...]  # (field, cell) of name, detail, data, timeZone
    destinations: tuple[DestinationCell, ...]
    key: Cell | None
    default_region: str | None = None
    noun: str = "row"
    # Rows are far shorter than JSON lines of stored documents: workers pay off sooner.
    parallel_from_bytes: int = 1024 * 1024

    @classmethod
    def bind(
        cls,
        path: Path,
        columns: ColumnMap,
        *,
        outdial_id: str,
        key_column: str | None = None,
        default_region: str | None = None,
    ) -> CsvRows:
        """Read the header row and find every column named; UnusableFile when one is missing,
        before any row is read."""
        header, header_end = _header(path)
        needed = [*columns.columns, *([key_column] if key_column else [])]
        missing = [column for column in dict.fromkeys(needed) if column not in header]
        if missing:
            raise UnusableFile(
                f"its header row has no column {_listed(missing)} "
                f"(its columns: {_listed(header[:_SHOWN_COLUMNS])}"
                f"{', ...' if len(header) > _SHOWN_COLUMNS else ''})"
            )
        twice = [column for column in needed if header.count(column) > 1]
        if twice:
            raise UnusableFile(f"its header row names column {twice[0]} more than once")

        def cell(column: str) -> Cell:
            return Cell(header.index(column), column)

        return cls(
            outdial_id=outdial_id,
            namespace=uuid.UUID(outdial_id),
            width=len(header),
            header_end=header_end,
            texts=tuple((field, cell(column)) for field, column in columns.texts),
            destinations=tuple(
                DestinationCell(d.slot, d.type, cell(d.column)) for d in columns.destinations
            ),
            key=cell(key_column) if key_column else None,
            default_region=default_region,
        )

    def chunks(self, path: Path, size: int) -> Iterator[Chunk]:
        index, start, first, count = 0, self.header_end, 2, 0
        with path.open("rb") as file:
            file.seek(start)
            lines = _Lines(file)
            rows = _reader(lines)
            while True:
                try:
                    next(rows)
                except StopIteration:
                    break
                except csv.Error:
                    pass
                count += 1
                if count == size:
                    yield Chunk(index, start, lines.offset, first)
                    index, start, first, count = index + 1, lines.offset, first + size, 0
        if count:
            yield Chunk(index, start, lines.offset, first)

    def records(self, path: Path, chunk: Chunk | None, now: str) -> Iterator[Record]:
        start, end = (self.header_end, None) if chunk is None else (chunk.start, chunk.end)
        number = 1 if chunk is None else chunk.first_number - 1
        with path.open("rb") as file:
            file.seek(start)
            rows = _reader(_Lines(file, end))
            while True:
                number += 1
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except csv.Error as error:
                    yield number, Refused(f"not CSV: {error}")
                    continue
                if any(cell.strip() for cell in row):
                    yield number, self._record(row, now)

    def repeated(self, target_id: str, first: int) -> str:
        if self.key is not None:
            return f"{self.key.column}: the same key as row {first}"
        return f"the same target as row {first}"

    def taken(self, target_id: str) -> str:
        where = f"{self.key.column}: " if self.key is not None else ""
        return (
            f"{where}the target of this row (id {target_id}) is stored already with other "
            "content (changed since it was imported?): left as it is"
        )

    def _record(self, row: list[str], now: str) -> Incoming | Refused:
        key = None
        try:
            if len(row) != self.width:
                raise BadLine(f"has {len(row)} cells where the header row has {self.width}")
            key = self._key(row)
            return self.incoming(row, now, key)
        except BadLine as error:
            return Refused(str(error), None if key is None else self._key_id(key))

    def incoming(self, row: list[str], now: str, key: str | None) -> Incoming:
        """The target of a row of the header's width, checked as createOutdialtargets checks
        an input; its id derived from `key`, or without one from its content."""
        texts = {field: _text(row, cell) for field, cell in self.texts}
        destinations: list[Address | None] = [None] * len(SLOTS)
        for destination in self.destinations:
            value = _text(row, destination.cell)
            if value.strip():
                destinations[destination.slot] = Address(destination.type, value)
        zone = texts.get("timeZone", "").strip()
        draft = validation.TargetDraft(
            self.outdial_id,
            texts.get("name", ""),
            texts.get("detail", ""),
            texts.get("data", ""),
            tuple(destinations),  # type: ignore[arg-type]
            time_zone=zone or None,
            zone_given=bool(zone),
        )
        try:
            checked = validation.draft(draft, "row", default_region=self.default_region)
        except BadUserInput as error:
            raise BadLine(self._named(error)) from None
        target_id = self._key_id(key) if key is not None else self._content_id(checked)
        return Incoming(checked.new_target(target_id, now), zone_given=checked.zone_given)

    def _key(self, row: list[str]) -> str | None:
        if self.key is None:
            return None
        key = _text(row, self.key).strip()
        if not key:
            raise BadLine(f"{self.key.column}: empty, and every row needs its key")
        return key

    def _key_id(self, key: str) -> str:
        return str(uuid.uuid5(self.namespace, f"key:{key}"))

    def _content_id(self, draft: validation.TargetDraft) -> str:
        """From the row's content as it is stored, its zone only when the row gives one (a
        derived zone may change with libphonenumber's data)."""
        destinations = [None if d is None else [d.type.value, d.target] for d in draft.destinations]
        zone = draft.time_zone if draft.zone_given else None
        content = orjson.dumps([draft.name, draft.detail, draft.data, zone, destinations])
        return str(uuid.uuid5(self.namespace, f"row:{content.decode()}"))

    def _named(self, error: BadUserInput) -> str:
        """The create rule a row broke, naming the column it broke it in."""
        found = _FIELD.match(error.field)
        if found is None:
            return f"{error.field.removeprefix('row.')}: {error.rule}"
        field, slot = found.groups()
        if slot is not None:
            if error.field == f"row.{field}":  # the row has no destination at all
                return f"no destination ({self._destination_columns()} empty)"
            (column,) = (d.cell.column for d in self.destinations if d.slot == int(slot))
        else:
            column = dict(self.texts)[field].column
        return f"{column}: {error.rule}"

    def _destination_columns(self) -> str:
        columns = [destination.cell.column for destination in self.destinations]
        return f"{columns[0]} is" if len(columns) == 1 else f"{_listed(columns)} are all"


def _text(row: list[str], cell: Cell) -> str:
    value = row[cell.index]
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8, read as surrogates
            raise BadLine(f"{cell.column}: not UTF-8 text") from None
    return value


def _header(path: Path) -> tuple[list[str], int]:
    """The header row's column names (spaces around them left out), and where it ends."""
    with path.open("rb") as file:
        if file.read(len(_BOM)) != _BOM:
            file.seek(0)
        lines = _Lines(file)
        try:
            header = next(_reader(lines))
        except StopIteration:
            raise UnusableFile("is empty: no header row") from None
        except csv.Error as error:
            raise UnusableFile(f"its header row is not CSV ({_csv_reason(error)})") from None
    return [name.strip() for name in header], lines.offset


def _csv_reason(error: csv.Error) -> str:
    if "new-line character" in str(error):
        return "its lines end in a lone carriage return: save it with \\n or \\r\\n line ends"
    return str(error)


def _listed(columns: Iterable[str]) -> str:
    return ", ".join(columns)


def _reader(lines: Iterator[str]) -> Iterator[list[str]]:
    # Cells are held to the create's limits, with their column's name, not to the csv module's.
    csv.field_size_limit(sys.maxsize)
    return csv.reader(lines, strict=True)


class _Lines:
    """A binary file's lines from where it stands to `end`, as text; `offset`: the end of the
    last line read. Lines end at b"\\n" only, so that every chunk of the file reads as the
    whole file does."""

    def __init__(self, file: BinaryIO, end: int | None = None) -> None:
        self._file = file
        self._end = end
        self.offset = file.tell()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._end is not None and self.offset >= self._end:
            raise StopIteration
        line = self._file.readline()
        if not line:
            raise StopIteration
        self.offset += len(line)
        return line.decode("utf-8", "surrogateescape")
