"""A stored number's zone is libphonenumber's own answer: the quick reading of E.164 numbers
(domain.e164) gives exactly what `phonenumbers.parse` gives, for numbers of every calling code."""

from __future__ import annotations

from functools import cache

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as number_zones

from domain import e164, zones
from domain.models import Address, AddressType

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
TYPES = [
    value
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
]
# Digits a national part starts with that parse may read as a national prefix or leading zero.
PREFIX_LIKE = ["0", "00", "1", "7", "8", "9", "15", "011"]


def parsed_by_libphonenumber(number: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None


def zone_by_libphonenumber(number: str) -> str | None:
    parsed = parsed_by_libphonenumber(number)
    if parsed is None:
        return None
    found = number_zones.time_zones_for_number(parsed)
    one = len(found) == 1 and found[0] != "Etc/Unknown" and found[0] in zones.names()
    return found[0] if one else None


@cache
def example_numbers(code: int) -> list[str]:
    """libphonenumber's example number of every type of every region of `code`."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    examples = [
        phonenumbers.example_number_for_type(region, kind)
        for region in regions
        if region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
        for kind in TYPES
    ]
    examples.append(phonenumbers.example_number_for_non_geo_entity(code))
    return [
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for example in examples
        if example is not None
    ]


@st.composite
def e164_numbers(draw: st.DrawFn) -> str:
    """+ and 7 to 15 digits after a real calling code: random, prefix-like, or an example
    number of the code with its last digits changed (valid ones, so zones are found)."""
    code = str(draw(st.sampled_from(CODES)))
    examples = example_numbers(int(code))
    near_an_example: bool = draw(st.booleans())
    if examples and near_an_example:
        example = draw(st.sampled_from(examples))
        keep = draw(st.integers(len(code) + 1, len(example) - 1))
        longest = max(len(example), 16)  # + and 15 digits
        tail = draw(st.text("0123456789", min_size=len(example) - keep, max_size=longest - keep))
        return example[:keep] + tail
    start = draw(st.sampled_from(["", "", *PREFIX_LIKE]))
    fewest = max(0, 7 - len(code) - len(start))
    rest = draw(st.text("0123456789", min_size=fewest, max_size=15 - len(code) - len(start)))
    return f"+{code}{start}{rest}"


@settings(max_examples=2_000)
@given(e164_numbers())
def test_a_stored_number_reads_as_libphonenumber_parses_it(number: str) -> None:
    assert e164.parsed(number) == parsed_by_libphonenumber(number)


@settings(max_examples=2_000)
@given(e164_numbers())
def test_a_stored_number_places_a_target_where_libphonenumber_does(number: str) -> None:
    for kind in (AddressType.TEL, AddressType.WHATSAPP):
        assert zones.derived_zone([Address(kind, number)]) == zone_by_libphonenumber(number)


def test_every_calling_codes_example_numbers_read_and_place_as_libphonenumber_has_them() -> None:
    checked = 0
    for code in CODES:
        for number in example_numbers(code):
            assert e164.parsed(number) == parsed_by_libphonenumber(number), number
            assert zones.derived_zone([Address(AddressType.TEL, number)]) == (
                zone_by_libphonenumber(number)
            ), number
            checked += 1
    assert checked > 1_000


def test_numbers_libphonenumber_refuses_place_nowhere() -> None:
    for number in ("+0123456789", "+99912345678", "+1", "+8"):
        assert e164.parsed(number) is None
        assert zones.derived_zone([Address(AddressType.TEL, number)]) is None
