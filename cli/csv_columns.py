"""`--columns` of a CSV import: which column of the file fills which field of a target.

    name=Name,detail=Company,data=Notes,timeZone=TZ,destination0=tel:Mobile,destination2=email:Email

Entries are separated by commas and read as one CSV row, so an entry naming a column with a comma
in it is quoted as a whole: `"name=Last, first"`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from domain.models import SLOTS, AddressType
from domain.validation import destination_name

TEXT_FIELDS = ("name", "detail", "data", "timeZone")
DESTINATION_FIELDS = tuple(destination_name(slot) for slot in SLOTS)
# The contract's address types, as the stored document spells them (tel, web_session, ...).
ADDRESS_TYPES = {kind.value: kind for kind in AddressType if kind is not AddressType.NONE}


class BadColumns(ValueError):
    """Why a --columns value will not do."""


@dataclass(frozen=True, slots=True)
class Destination:
    slot: int
    type: AddressType
    column: str


@dataclass(frozen=True, slots=True)
class ColumnMap:
    # (field, column) for name, detail, data and timeZone, in the order given.
    texts: tuple[tuple[str, str], ...]
    destinations: tuple[Destination, ...]

    def column_of(self, field: str) -> str | None:
        return dict(self.texts).get(field)

    @property
    def columns(self) -> list[str]:
        """Every column the map names, each once, in the order given."""
        named = [column for _, column in self.texts]
        named += [destination.column for destination in self.destinations]
        return list(dict.fromkeys(named))


def parse_columns(text: str) -> ColumnMap:
    texts: dict[str, str] = {}
    destinations: dict[int, Destination] = {}
    for entry in _entries(text):
        field, equals, column = entry.partition("=")
        field = field.strip()
        if not equals:
            raise BadColumns(f"{entry!r} is not FIELD=COLUMN")
        if field in texts or (field in DESTINATION_FIELDS and _slot(field) in destinations):
            raise BadColumns(f"{field} is mapped twice")
        if field in TEXT_FIELDS:
            texts[field] = _column(column, field)
        elif field in DESTINATION_FIELDS:
            destinations[_slot(field)] = _destination(_slot(field), column, field)
        else:
            known = ", ".join((*TEXT_FIELDS, *DESTINATION_FIELDS))
            raise BadColumns(f"unknown field {field!r} (the fields: {known})")
    if not destinations:
        raise BadColumns("maps no destination (destination0=tel:COLUMN, for example)")
    return ColumnMap(
        tuple(texts.items()), tuple(destinations[slot] for slot in sorted(destinations))
    )


def _entries(text: str) -> list[str]:
    try:
        (row,) = csv.reader([text], strict=True) if text.strip() else [[]]
    except csv.Error as error:
        raise BadColumns(f"not a comma-separated list ({error})") from None
    entries = [entry for entry in row if entry.strip()]
    if not entries:
        raise BadColumns("is empty")
    return entries


def _slot(field: str) -> int:
    return DESTINATION_FIELDS.index(field)


def _column(raw: str, field: str) -> str:
    column = raw.strip()
    if not column:
        raise BadColumns(f"{field} names no column")
    return column


def _destination(slot: int, spec: str, field: str) -> Destination:
    kind, colon, column = spec.partition(":")
    if not colon:
        raise BadColumns(f"{field} must be TYPE:COLUMN, like tel:{spec.strip() or 'Mobile'}")
    address_type = ADDRESS_TYPES.get(kind.strip().lower())
    if address_type is None:
        known = ", ".join(ADDRESS_TYPES)
        raise BadColumns(f"{field}: unknown address type {kind.strip()!r} (the types: {known})")
    return Destination(slot, address_type, _column(column, field))
