"""The one reader of the stored document shape: stored documents read leniently as DOMAIN.md
says, documents given as input (`import`) held strictly, and the same field rules for both."""

from __future__ import annotations

from typing import Any

import pytest

from domain.models import MAX_TRY_COUNT, NOT_DELETED, AddressType, Status
from storage.documents import (
    UnreadableDocument,
    target_from_document,
    target_from_input,
    target_to_document,
)
from tests.support.documents import STORED_AT, stored_document, tid

NOW = "2026-01-02 03:04:05.000006"
TOKEN = "1b3d7a92-7146-466d-90f5-4bc701ada4c0"


def stored(**fields: Any) -> dict[str, Any]:
    return stored_document(tid(1), **fields)


def refusal(read: Any, doc: dict[str, Any]) -> str:
    with pytest.raises(UnreadableDocument) as refused:
        read(doc)
    return str(refused.value)


def as_input(doc: dict[str, Any]) -> Any:
    return target_from_input(doc, now=NOW)


# Breaks of the shape that both readers refuse, with the field each names.
BROKEN_SHAPE = [
    ({"try_count_0": MAX_TRY_COUNT + 1}, "try_count_0"),
    ({"try_count_0": 2**31}, "try_count_0"),
    ({"try_count_1": 2**40}, "try_count_1"),
    ({"try_count_2": 2**63 - 1}, "try_count_2"),
    ({"try_count_3": 2**64 - 1}, "try_count_3"),
    ({"try_count_4": 1.5e19}, "try_count_4"),
    ({"try_count_0": -1}, "try_count_0"),
    ({"try_count_0": 1.5}, "try_count_0"),
    ({"try_count_0": float("nan")}, "try_count_0"),
    ({"try_count_0": float("inf")}, "try_count_0"),
    ({"try_count_0": True}, "try_count_0"),
    ({"tm_update": "2022-4-30 17:52:16.484341"}, "tm_update"),
    ({"tm_update": "2022-04-30 17:52:16.4"}, "tm_update"),
    ({"tm_create": "２０２２-04-30 17:52:16.484341"}, "tm_create"),
    ({"tm_create": "2022-04-30 17:52:16.48434１"}, "tm_create"),
    ({"tm_update": "2022-02-30 17:52:16.484341"}, "tm_update"),
    ({"tm_update": "2022-04-30 24:00:00.000000"}, "tm_update"),
    ({"tm_delete": "2022-04-30T17:52:16.484341"}, "tm_delete"),
    ({"tm_lease_expire": "soon", "status": "progressing"}, "tm_lease_expire"),
    ({"destination_0": {"type": 0, "target": "+821100000001"}}, "destination_0.type"),
    ({"destination_1": {"type": "tel", "target": 821100000001}}, "destination_1.target"),
    ({"status": "paused"}, "status"),
    ({"_id": tid(2)}, "_id"),
]


@pytest.mark.parametrize(("fields", "field"), BROKEN_SHAPE, ids=lambda v: str(v)[:40])
def test_a_break_of_the_shape_is_refused_by_both_readers_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    for read in (target_from_document, as_input):
        assert refusal(read, stored(**fields)).startswith(f"{field}: "), read


def test_an_integral_float_try_count_reads_as_its_integer() -> None:
    for read in (target_from_document, as_input):
        target = read(stored(try_count_0=1.0, try_count_1=-0.0, try_count_4=float(MAX_TRY_COUNT)))
        assert target.try_counts == (1, 0, 0, 0, MAX_TRY_COUNT)
        assert all(type(count) is int for count in target.try_counts)


def test_a_stored_document_is_read_leniently() -> None:
    doc = stored(name=None, destination_0={"type": "tel", "target": "+821100000001"})
    for key in ("detail", "data", "try_count_3", "destination_2", "tm_delete"):
        del doc[key]
    target = target_from_document(doc)
    assert (target.name, target.detail, target.data) == ("", "", "")
    assert target.destinations[0] is not None and target.destinations[0].name == ""
    assert target.destinations[2] is None
    assert target.try_counts[3] == 0
    assert target.tm_delete == NOT_DELETED


def test_a_stored_document_keeps_what_input_would_refuse() -> None:
    """Lenient for documents of other programs: fields the shape does not name, claim fields on
    other statuses, letter case and values a create would refuse all read back as stored."""
    doc = stored(
        bookkeeping=1,
        claim_token=TOKEN.upper(),
        destination_0={"type": "tel", "target": "12345", "extra": "x"},
    )
    target = target_from_document(doc)
    assert target.claim_token == TOKEN.upper()
    assert target.destinations[0] is not None and target.destinations[0].target == "12345"


def test_an_echoed_value_is_cut_to_a_readable_length() -> None:
    huge = "x" * 10_000_000
    for fields in ({"status": huge}, {"tm_update": huge}, {"destination_0": {"type": huge}}):
        message = refusal(target_from_document, stored(**fields))
        assert len(message) < 250, message[:300]
        assert "xxx..." in message
    message = refusal(as_input, stored(**{huge: 1}))
    assert message == f"'{'x' * 55}...': unknown field"


def test_an_unknown_key_is_quoted_so_it_cannot_forge_a_report_line() -> None:
    message = refusal(as_input, stored(**{"a\nline 9: fine": 1}))
    assert "\n" not in message and message.startswith("'a\\nline 9: fine'")


TEL = {"type": "tel", "target": "+821100000001"}
NOT_PROGRESSING = "must be null unless status is progressing"
INPUT_REFUSALS = [
    ({"destination0": TEL}, "destination0: unknown field"),
    ({"destination_0": TEL | {"phone": "1"}}, "destination_0.phone: unknown field"),
    ({"claim_token": TOKEN}, f"claim_token: {NOT_PROGRESSING}"),
    ({"claim_token": TOKEN, "status": "done"}, f"claim_token: {NOT_PROGRESSING}"),
    ({"tm_lease_expire": STORED_AT}, f"tm_lease_expire: {NOT_PROGRESSING}"),
    ({"claim_token": "not-a-uuid", "status": "progressing"}, "claim_token: must be a UUID"),
    ({"id": "x", "_id": "x"}, "id: must be a UUID"),
    ({"outdial_id": "campaign-7"}, "outdial_id: must be a UUID"),
    ({"destination_0": TEL | {"target": "12345"}}, "destination_0.target: must be + followed"),
    ({"destination_1": TEL | {"type": ""}}, "destination_1.target: must be empty"),
    ({"destination_0": TEL | {"name": "n" * 256}}, "destination_0.name: must be at most 255"),
    ({"destination_2": TEL | {"target_name": "n" * 256}}, "destination_2.target_name: must be"),
    ({"destination_0": None}, "destination_0: a target needs at least one destination"),
    ({"name": "x" * 10_000_000}, "name: must be at most 255 characters"),
    ({"data": "\x00" * 65_536}, "data: must be at most 65,535 characters"),
    ({"status": None}, "status: must be one of idle, progressing, done"),
    ({"id": None}, "id: must be a string"),
]


@pytest.mark.parametrize(("fields", "reason"), INPUT_REFUSALS, ids=lambda v: str(v)[:40])
def test_input_is_held_to_the_shape_and_to_the_rules_of_a_create(
    fields: dict[str, Any], reason: str
) -> None:
    assert refusal(as_input, stored(**fields)).startswith(reason)


def test_input_is_read_as_a_create_would_store_it() -> None:
    upper = tid(7).upper()
    doc = stored(
        id=upper,
        _id=upper,
        outdial_id=stored()["outdial_id"].upper(),
        status="progressing",
        claim_token=TOKEN.upper(),
        tm_lease_expire="2030-01-01 00:00:00.000000",
        destination_0={"type": "email", "target": "Ana@Example.COM"},
        destination_1={"type": "", "target": ""},
        tm_create=None,
        tm_update=None,
        tm_delete=None,
    )
    target = as_input(doc)
    assert (target.id, target.claim_token) == (tid(7), TOKEN)
    assert target.outdial_id == stored()["outdial_id"]
    assert target.status is Status.PROGRESSING
    assert target.destinations[0] is not None
    assert (target.destinations[0].type, target.destinations[0].target) == (
        AddressType.EMAIL,
        "ana@example.com",
    )
    assert target.destinations[1] is None
    assert (target.tm_create, target.tm_update, target.tm_delete) == (NOW, NOW, NOT_DELETED)
    assert target_to_document(target)["_id"] == tid(7)


def test_an_exported_document_reads_back_as_input_unchanged() -> None:
    doc = stored(status="progressing", claim_token=TOKEN, tm_lease_expire=STORED_AT)
    doc |= {"try_count_2": MAX_TRY_COUNT, "time_zone": "Asia/Seoul"}
    assert target_to_document(as_input(doc)) == doc
