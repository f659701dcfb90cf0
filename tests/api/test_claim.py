"""Claim rules: slot choice, try counts, retry interval, order, and agreement with the query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.clock import format_time
from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.backends import RawDocuments
from tests.support.documents import stored_document, tid


def ago(**delta: float) -> str:
    return format_time(datetime.now(UTC) - timedelta(**delta))


async def available_ids(gql: GraphQLClient, max_tries: list[int], retry: int = 0) -> list[str]:
    data = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=max_tries, retry=retry)
    return [t["id"] for t in data["availableOutdialtargets"]]


async def claim(gql: GraphQLClient, max_tries: list[int], retry: int = 0) -> dict | None:
    data = await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=max_tries, retry=retry)
    return data["claimOutdialtarget"]


async def test_claim_takes_lowest_dialable_slot_and_raises_its_count(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    phone = {"type": "tel", "target": "+821100000002"}
    await docs.insert(stored_document(tid(1), try_count_0=2, destination_2=phone))
    claimed = await claim(gql, [2, 0, 1])
    assert claimed is not None
    assert claimed["destinationIndex"] == 2
    assert claimed["destination"] == {"type": "TEL", "target": "+821100000002"}
    target = claimed["target"]
    assert target["status"] == "PROGRESSING"
    assert [target[f"tryCount{i}"] for i in range(5)] == [2, 0, 1, 0, 0]
    stored = await docs.get(tid(1))
    assert stored["status"] == "progressing" and stored["try_count_2"] == 1


async def test_short_max_try_counts_treat_missing_slots_as_zero(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    only_slot_3 = stored_document(
        tid(1), destination_0=None, destination_3={"type": "tel", "target": "+821100000003"}
    )
    await docs.insert(only_slot_3)
    assert await available_ids(gql, [5, 5]) == []
    assert await claim(gql, [5, 5]) is None
    assert await available_ids(gql, [0, 0, 0, 1]) == [tid(1)]


async def test_empty_max_try_counts_match_nothing(gql: GraphQLClient, docs: RawDocuments) -> None:
    await docs.insert(stored_document(tid(1)))
    assert await available_ids(gql, []) == []
    assert await claim(gql, []) is None


async def test_exhausted_targets_are_not_available(gql: GraphQLClient, docs: RawDocuments) -> None:
    await docs.insert(stored_document(tid(1), try_count_0=3), stored_document(tid(2)))
    assert await available_ids(gql, [3]) == [tid(2)]


async def test_retry_interval_applies_only_to_tried_targets(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await docs.insert(
        stored_document(tid(1), try_count_0=1, tm_update=ago(seconds=30)),
        stored_document(tid(2), try_count_0=1, tm_update=ago(seconds=120)),
        stored_document(tid(3), tm_update=ago(seconds=1)),
    )
    minute = 60_000
    assert await available_ids(gql, [5], retry=minute) == [tid(2), tid(3)]
    assert await available_ids(gql, [5], retry=0) == [tid(2), tid(1), tid(3)]


async def test_deleted_done_progressing_and_other_outdials_are_excluded(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await docs.insert(
        stored_document(tid(1), tm_delete="2023-01-01 00:00:00.000000"),
        stored_document(tid(2), status="done"),
        stored_document(tid(3), status="progressing"),
        stored_document(tid(4), outdial_id=OTHER_OUTDIAL),
        stored_document(tid(5), destination_0={"type": "", "target": ""}),
        stored_document(tid(6)),
    )
    assert await available_ids(gql, [5]) == [tid(6)]


async def test_order_is_tm_update_then_id(gql: GraphQLClient, docs: RawDocuments) -> None:
    same = "2022-01-01 00:00:00.000000"
    await docs.insert(
        stored_document(tid(3), tm_update=same),
        stored_document(tid(1), tm_update="2022-01-02 00:00:00.000000"),
        stored_document(tid(2), tm_update=same),
    )
    assert await available_ids(gql, [1]) == [tid(2), tid(3), tid(1)]


async def test_claims_follow_available_order(gql: GraphQLClient, docs: RawDocuments) -> None:
    stored = [
        stored_document(tid(n), tm_update=f"2022-01-01 00:00:{(7 * n) % 10:02d}.000000")
        for n in range(10)
    ]
    await docs.insert(*stored)
    expected = await available_ids(gql, [1])
    claimed = [(await claim(gql, [1]))["target"]["id"] for _ in range(10)]  # type: ignore[index]
    assert claimed == expected
    assert await claim(gql, [1]) is None


async def test_available_limit_and_no_writes(gql: GraphQLClient, docs: RawDocuments) -> None:
    await docs.insert(*(stored_document(tid(n)) for n in range(5)))
    before = await docs.all()
    data = await gql.data(ops.AVAILABLE, outdialId=OUTDIAL, max=[1], limit=2)
    assert len(data["availableOutdialtargets"]) == 2
    assert await docs.all() == before


async def test_a_failed_attempt_is_retried_after_the_interval(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await docs.insert(stored_document(tid(1)))
    first = await claim(gql, [2], retry=3_600_000)
    assert first is not None and first["target"]["tryCount0"] == 1
    await gql.data(ops.REPORT, id=tid(1), status="IDLE")
    assert await claim(gql, [2], retry=3_600_000) is None
    again = await claim(gql, [2], retry=0)
    assert again is not None and again["target"]["tryCount0"] == 2
    await gql.data(ops.REPORT, id=tid(1), status="IDLE")
    assert await claim(gql, [2]) is None


@pytest.mark.parametrize("max_tries", [[1], [0, 1], [1, 1, 1, 1, 1], [2, 0, 0, 0, 3]])
async def test_available_agrees_with_domain_rule(
    gql: GraphQLClient, docs: RawDocuments, max_tries: list[int]
) -> None:
    """The storage query and the pure rule in domain/claim.py pick the same targets."""
    from domain.claim import is_available, policy
    from storage.documents import target_from_document

    phone = {"type": "tel", "target": "+821100000009"}
    stored = []
    for n in range(40):
        fields: dict[str, Any] = {
            "status": ["idle", "idle", "progressing", "done"][n % 4],
            f"try_count_{n % 5}": n % 3,
            f"destination_{(n * 3) % 5}": phone if n % 7 else None,
            "tm_update": ago(seconds=n * 10),
        }
        if n % 11 == 0:
            fields["tm_delete"] = "2024-01-01 00:00:00.000000"
        stored.append(stored_document(tid(n), **fields))
    await docs.insert(*stored)
    rules = policy(OUTDIAL, max_tries, 95_000)
    now = datetime.now(UTC)
    expected = sorted(
        (
            target_from_document(d)
            for d in stored
            if is_available(target_from_document(d), rules, now)
        ),
        key=lambda t: (t.tm_update, t.id),
    )
    found = await available_ids(gql, max_tries, retry=95_000)
    assert found == [t.id for t in expected]


@pytest.mark.parametrize("max_tries", [[1, 1, 1, 1, 1], [0, 2, 0, 1], [3, 0, 0, 0, 2]])
async def test_claim_raises_the_slot_the_domain_rule_picks(
    gql: GraphQLClient, docs: RawDocuments, max_tries: list[int]
) -> None:
    """What each store writes for a claim is the slot domain/claim.py's slot_to_dial picks."""
    from domain.claim import policy, slot_to_dial
    from storage.documents import target_from_document

    phone = {"type": "tel", "target": "+821100000009"}
    stored = []
    for n in range(30):
        fields: dict[str, Any] = {"destination_0": None}
        for slot in range(5):
            if (n >> slot) & 1 or slot == n % 5:
                fields[f"destination_{slot}"] = phone
            fields[f"try_count_{slot}"] = (n * (slot + 1)) % 3
        if n % 4 == 0:
            del fields["try_count_1"]
        stored.append(stored_document(tid(n), **fields))
    await docs.insert(*stored)
    rules = policy(OUTDIAL, max_tries, 0)
    while (claimed := await claim(gql, max_tries)) is not None:
        target_id = claimed["target"]["id"]
        before = target_from_document(next(d for d in stored if d["_id"] == target_id))
        slot = slot_to_dial(before, rules)
        assert claimed["destinationIndex"] == slot
        after = await docs.get(target_id)
        assert after is not None
        raised = [after.get(f"try_count_{i}", 0) - before.try_counts[i] for i in range(5)]
        assert raised == [1 if i == slot else 0 for i in range(5)]
        if "try_count_1" not in next(d for d in stored if d["_id"] == target_id) and slot != 1:
            assert "try_count_1" not in after
    assert sum(slot_to_dial(target_from_document(d), rules) is not None for d in stored) == sum(
        1 for d in await docs.all() if d["status"] == "progressing"
    )
