"""Phone numbers as people write them (DOMAIN.md v3): formatting removed, national numbers read
in a default region by libphonenumber, every number stored in E.164."""

from __future__ import annotations

import re

import phonenumbers

from domain.errors import BadUserInput

_FORMATTING = re.compile(r"[\s\-.()]")
_E164 = re.compile(r"\+[0-9]{7,15}")
_NATIONAL = re.compile(r"[0-9]+")
_E164_RULE = "must be + followed by 7 to 15 digits (E.164)"


def default_region(value: str | None) -> str | None:
    """A region code libphonenumber supports, in any letter case; None when not given."""
    if value is None:
        return None
    code = value.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise BadUserInput(
            "defaultRegion", "must be a region code libphonenumber supports, like KR or US"
        )
    return code


def number(raw: str, field_name: str, region: str | None) -> str:
    """`raw` as stored: + and its digits, from an international or a national number."""
    value = _FORMATTING.sub("", raw)
    if value.startswith("+") or region is None:
        if not _E164.fullmatch(value):
            raise BadUserInput(field_name, _E164_RULE)
        return value
    if not _NATIONAL.fullmatch(value):
        raise BadUserInput(
            field_name,
            "must be a phone number in digits (letters and extensions are not numbers here)",
        )
    parsed = _parsed(value, region)
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise BadUserInput(field_name, f"not a valid number for region {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parsed(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
