"""Stored numbers (E.164, `+` and digits) read into libphonenumber's PhoneNumber without its
general parser, which costs most of a derived zone (DOMAIN.md v3) per imported line.

For `+` and digits `phonenumbers.parse(text, None)` takes the country calling code (codes are
prefix-free: the first of 1 to 3 digits that is one), strips a national prefix the country's
metadata matches, and keeps leading zeros; everything else is the digits. Only the plain case
is built here; a number where parse might do more (a national part starting with 0 or with
what the country's `national_prefix_for_parsing` matches, an unknown code, too few digits) is
left to parse itself. tests/domain/test_e164.py checks both agree on every calling code.
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers

# parse refuses a national significant number shorter than this.
_FEWEST_NATIONAL_DIGITS = 2


def parsed(number: str) -> phonenumbers.PhoneNumber | None:
    """`number` as `phonenumbers.parse(number, None)` reads it; None where parse refuses it."""
    built = _built(number)
    if built is not None:
        return built
    try:
        return phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None


def _built(number: str) -> phonenumbers.PhoneNumber | None:
    digits = number[1:]
    if not number.startswith("+") or not digits.isascii() or not digits.isdigit():
        return None
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[length:]
    if digits[0] == "0" or len(national) < _FEWEST_NATIONAL_DIGITS or national[0] == "0":
        return None
    prefix = _national_prefix(code)
    if prefix is None or prefix.match(national):
        return None
    return phonenumbers.PhoneNumber(country_code=code, national_number=int(national))


@cache
def _national_prefix(code: int) -> re.Pattern[str] | None:
    """What parse strips from the national part as a national prefix (a pattern matching
    nothing when the country has none); None without metadata (then parse decides)."""
    region = phonenumbers.region_code_for_country_code(code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return None
    return re.compile(metadata.national_prefix_for_parsing or r"(?!)")
