"""Time zones of targets (DOMAIN.md v3): the names the zone database knows, and the zone a
target's phone numbers place it in. The database is the `tzdata` package's, never the host's, so
every machine judges a name and a local time alike."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from phonenumbers import timezone as number_zones

from domain import e164
from domain.errors import BadUserInput
from domain.models import Address, AddressType

_PHONE_TYPES = frozenset({AddressType.TEL, AddressType.WHATSAPP})
# libphonenumber's answer for a number it cannot place.
_UNKNOWN = "Etc/Unknown"


@cache
def names() -> frozenset[str]:
    """Every zone name the database knows, aliases (US/Eastern) included, letter case exact."""
    listing = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(listing.split())


@cache
def zone(name: str) -> ZoneInfo | None:
    """The database's rules for `name`, or None for a name it does not know."""
    if name not in names():
        return None
    package, _, file = f"tzdata.zoneinfo.{name.replace('/', '.')}".rpartition(".")
    with importlib.resources.files(package).joinpath(file).open("rb") as rules:
        return ZoneInfo.from_file(rules, key=name)


def zone_name(value: str, field_name: str) -> str:
    """A zone name as given, refused unless the database knows it."""
    if value not in names():
        raise BadUserInput(
            field_name, "must be a time zone name the zone database knows, like America/New_York"
        )
    return value


def given_zone(value: str | None, field_name: str) -> str | None:
    """A create's or an update's `timeZone`: null and "" mean no zone."""
    return None if value is None or value == "" else zone_name(value, field_name)


def derived_zone(destinations: Iterable[Address | None]) -> str | None:
    """The zone of the first phone destination, in slot order, that libphonenumber places in
    exactly one zone; None when none does. `destinations` hold normalised (E.164) numbers."""
    for destination in destinations:
        if destination is None or destination.type not in _PHONE_TYPES:
            continue
        found = _zones_of_number(destination.target)
        if len(found) == 1 and found[0] != _UNKNOWN and found[0] in names():
            return found[0]
    return None


@lru_cache(maxsize=65_536)
def _zones_of_number(number: str) -> tuple[str, ...]:
    parsed = e164.parsed(number)
    return () if parsed is None else tuple(number_zones.time_zones_for_number(parsed))
