"""Calling windows on claims (DOMAIN.md v3): a target is available under a window only while the
local time in its zone is within it, at the claim's `now` (an injected clock here), daylight
saving by the zone database, on every storage tier."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from domain.claim import is_available, policy
from domain.clock import format_time
from domain.windows import WindowDraft
from server.app import create_app
from server.settings import Settings
from storage.documents import target_from_document
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import Backend, RawDocuments
from tests.support.documents import stored_document, tid

AVAILABLE = """query($outdialId: ID!, $max: [Int!]! = [3], $retry: Int! = 0,
                     $window: CallingWindowInput, $limit: Int! = 100) {
  availableOutdialtargets(outdialId: $outdialId, maxTryCounts: $max, retryIntervalMs: $retry,
                          limit: $limit, callingWindow: $window) { id } }"""
CLAIM = """mutation($window: CallingWindowInput, $retry: Int! = 0) {
  claimOutdialtarget(outdialId: "OUTDIAL", maxTryCounts: [3], retryIntervalMs: $retry,
                     callingWindow: $window) {
    destinationIndex target { id status tryCount0 tmUpdate timeZone } } }""".replace(
    "OUTDIAL", OUTDIAL
)
CLAIM_MANY = """mutation($window: CallingWindowInput, $limit: Int!) {
  claimOutdialtargets(outdialId: "OUTDIAL", maxTryCounts: [3], limit: $limit,
                      callingWindow: $window) { target { id tmUpdate } } }""".replace(
    "OUTDIAL", OUTDIAL
)
REPORT_IDLE = """mutation($id: ID!) {
  updateOutdialtargetStatus(id: $id, status: IDLE) { status } }"""
DAYTIME = {"start": "08:00", "end": "21:00"}


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(clock: FakeClock, backend: Backend) -> AsyncIterator[Starlette]:
    application = create_app(Settings(), storage=backend.opener(), now=clock)
    async with application.router.lifespan_context(application):
        yield application


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def in_zone(n: int, zone: str | None, **fields: Any) -> dict[str, Any]:
    return stored_document(tid(n), time_zone=zone, **fields)


async def available(
    gql: GraphQLClient, window: dict[str, Any] | None = DAYTIME, **variables: Any
) -> list[str]:
    data = await gql.data(AVAILABLE, outdialId=OUTDIAL, window=window, **variables)
    return [target["id"] for target in data["availableOutdialtargets"]]


async def claim(gql: GraphQLClient, window: dict[str, Any] | None = DAYTIME) -> str | None:
    claimed = (await gql.data(CLAIM, window=window))["claimOutdialtarget"]
    return None if claimed is None else str(claimed["target"]["id"])


@pytest.mark.parametrize(
    ("moment", "within"),
    [
        (utc(2026, 6, 1, 23, 0) - timedelta(microseconds=1), False),  # 07:59:59.999999
        (utc(2026, 6, 1, 23, 0), True),  # 08:00 in Seoul: the start is within
        (utc(2026, 6, 2, 12, 0) - timedelta(microseconds=1), True),
        (utc(2026, 6, 2, 12, 0), False),  # 21:00 in Seoul: the end is not
    ],
)
async def test_a_window_holds_from_its_start_up_to_before_its_end(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock, moment: datetime, within: bool
) -> None:
    await docs.insert(in_zone(1, "Asia/Seoul"))
    clock.moment = moment
    assert await available(gql) == ([tid(1)] if within else [])
    assert await claim(gql) == (tid(1) if within else None)


# A target in each zone, in this claim order; the moments around daylight-saving changes.
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Seoul"]
ACROSS_DAYLIGHT_SAVING = [
    (utc(2026, 3, 7, 12, 30), {"Europe/Berlin"}),  # New York 07:30 EST
    (utc(2026, 3, 8, 12, 30), {"America/New_York", "Europe/Berlin"}),  # 08:30 EDT
    (utc(2026, 3, 28, 6, 30), {"Asia/Seoul"}),  # Berlin 07:30 CET
    (utc(2026, 3, 29, 6, 30), {"Europe/Berlin", "Asia/Seoul"}),  # Berlin 08:30 CEST
    (utc(2026, 10, 31, 12, 30), {"America/New_York", "Europe/Berlin"}),  # 08:30 EDT
    (utc(2026, 11, 1, 12, 30), {"Europe/Berlin"}),  # New York 07:30 EST
    (utc(2026, 11, 1, 13, 0), {"America/New_York", "Europe/Berlin"}),  # 08:00 EST
    (utc(2026, 11, 2, 1, 59), {"America/New_York", "Asia/Seoul"}),  # 20:59 EST
    (utc(2026, 11, 2, 2, 0), {"Asia/Seoul"}),  # 21:00 EST
]


async def test_zones_enter_and_leave_the_window_across_daylight_saving(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    await docs.insert(*(in_zone(n, zone) for n, zone in enumerate(ZONES)))
    for moment, open_zones in ACROSS_DAYLIGHT_SAVING:
        clock.moment = moment
        expected = [tid(n) for n, zone in enumerate(ZONES) if zone in open_zones]
        assert await available(gql) == expected, moment


@pytest.mark.parametrize(("moment", "open_zones"), ACROSS_DAYLIGHT_SAVING[:6])
async def test_a_claim_takes_the_first_target_in_an_open_zone(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock, moment: datetime, open_zones: set[str]
) -> None:
    await docs.insert(*(in_zone(n, zone) for n, zone in enumerate(ZONES)))
    clock.moment = moment
    first = next(n for n, zone in enumerate(ZONES) if zone in open_zones)
    assert await claim(gql) == tid(first)


async def test_targets_without_a_zone_take_the_default_zone_or_are_never_available(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    without_key = stored_document(tid(1))  # another program's document: no time_zone at all
    assert "time_zone" not in without_key
    await docs.insert(without_key, in_zone(2, None), in_zone(3, "America/New_York"))
    clock.moment = utc(2026, 6, 1, 3, 0)  # noon in Seoul, 23:00 in New York
    assert await available(gql) == []
    assert await available(gql, DAYTIME | {"defaultTimeZone": "Asia/Seoul"}) == [tid(1), tid(2)]
    assert await available(gql, DAYTIME | {"defaultTimeZone": "America/Chicago"}) == []
    assert await available(gql, DAYTIME | {"defaultTimeZone": None}) == []
    clock.moment = utc(2026, 6, 1, 14, 0)  # 10:00 in New York
    assert await available(gql, DAYTIME | {"defaultTimeZone": "Asia/Seoul"}) == [tid(3)]
    assert await available(gql, DAYTIME | {"defaultTimeZone": "US/Eastern"}) == [
        tid(1),
        tid(2),
        tid(3),
    ]


async def test_a_stored_zone_the_database_does_not_know_is_never_within(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    await docs.insert(in_zone(1, "Mars/Olympus"), in_zone(2, ""), in_zone(3, "Asia/Seoul"))
    always = {"start": "00:00", "end": "24:00", "defaultTimeZone": "Asia/Seoul"}
    assert await available(gql, always) == [tid(3)]
    assert await available(gql, None) == [tid(1), tid(2), tid(3)]
    data = await gql.data("query($id: ID!) { outdialtarget(id: $id) { timeZone } }", id=tid(1))
    assert data["outdialtarget"]["timeZone"] == "Mars/Olympus"


async def test_without_a_window_zones_play_no_part(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    await docs.insert(in_zone(1, "America/New_York"), in_zone(2, None))
    clock.moment = utc(2026, 6, 1, 7, 0)  # 03:00 in New York
    assert await available(gql) == []
    assert await available(gql, None) == [tid(1), tid(2)]
    assert await claim(gql, None) == tid(1)


async def test_the_window_and_the_retry_interval_are_judged_at_one_now(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    # Tried at 20:00 in Seoul; the retry interval of an hour ends at 21:00, with the window.
    tried = format_time(utc(2026, 6, 1, 11, 0))
    await docs.insert(in_zone(1, "Asia/Seoul", try_count_0=1, tm_update=tried))
    hour = 3_600_000
    clock.moment = utc(2026, 6, 1, 11, 59, 59)
    assert await available(gql, retry=hour) == []  # within the window, not yet retried
    assert await available(gql, None, retry=hour // 2) == [tid(1)]
    clock.moment = utc(2026, 6, 1, 12, 0)
    assert await available(gql, None, retry=hour) == [tid(1)]  # retried, window closed
    assert await available(gql, retry=hour) == []
    assert await available(gql, {"start": "08:00", "end": "21:01"}, retry=hour) == [tid(1)]


async def test_a_batch_claim_takes_only_targets_in_open_zones_at_one_now(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    zones = ["Asia/Seoul", "America/New_York", None, "Asia/Tokyo", "Europe/Berlin"]
    await docs.insert(
        *(
            in_zone(n, zones[n % 5], tm_update=f"2022-01-01 00:00:{(7 * n) % 20:02d}.000000")
            for n in range(20)
        )
    )
    clock.moment = utc(2026, 6, 1, 3, 0)  # noon in Seoul and Tokyo; night in New York, Berlin
    window = DAYTIME | {"defaultTimeZone": "Asia/Tokyo"}
    expected = await available(gql, window)
    assert len(expected) == 12
    data = await gql.data(CLAIM_MANY, window=window, limit=100)
    claimed = [one["target"] for one in data["claimOutdialtargets"]]
    assert [target["id"] for target in claimed] == expected
    assert {target["tmUpdate"] for target in claimed} == {format_time(clock.moment)}
    assert await available(gql, window) == []
    assert await available(gql, None) != []


async def test_a_claim_left_idle_is_available_again_only_within_the_window(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    await docs.insert(in_zone(1, "Europe/Berlin"))
    clock.moment = utc(2026, 3, 29, 6, 0)  # 08:00 CEST
    assert await claim(gql) == tid(1)
    await gql.data(REPORT_IDLE, id=tid(1))
    clock.moment = utc(2026, 3, 29, 19, 0)  # 21:00 CEST
    assert await claim(gql) is None
    clock.moment = utc(2026, 3, 30, 6, 0)
    assert await claim(gql) == tid(1)


async def test_the_window_reaches_the_service_when_the_operation_has_several_root_fields(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    await docs.insert(in_zone(1, "America/New_York"), in_zone(2, "Asia/Seoul"))
    clock.moment = utc(2026, 6, 1, 3, 0)
    query = """query($w: CallingWindowInput) {
      windowed: availableOutdialtargets(outdialId: "OUTDIAL", maxTryCounts: [1], limit: 10,
                                        callingWindow: $w) { id }
      literal: availableOutdialtargets(outdialId: "OUTDIAL", maxTryCounts: [1], limit: 10,
                                       callingWindow: {start: "08:00", end: "21:00"}) { id }
      all: availableOutdialtargets(outdialId: "OUTDIAL", maxTryCounts: [1], limit: 10) { id }
    }""".replace("OUTDIAL", OUTDIAL)
    data = await gql.data(query, w=DAYTIME)
    assert data == {
        "windowed": [{"id": tid(2)}],
        "literal": [{"id": tid(2)}],
        "all": [{"id": tid(1)}, {"id": tid(2)}],
    }
    literal = await gql.data(
        'mutation { claimOutdialtargets(outdialId: "OUTDIAL", maxTryCounts: [1], limit: 5,'
        ' callingWindow: {start: "08:00", end: "21:00"}) { target { id } } }'.replace(
            "OUTDIAL", OUTDIAL
        )
    )
    assert literal == {"claimOutdialtargets": [{"target": {"id": tid(2)}}]}


BAD_WINDOWS = [
    ({"start": "8:00", "end": "21:00"}, "callingWindow.start"),
    ({"start": "08:00", "end": "24:01"}, "callingWindow.end"),
    ({"start": "21:00", "end": "08:00"}, "callingWindow.end"),
    ({"start": "09:00", "end": "09:00"}, "callingWindow.end"),
    ({"start": "08:00", "end": "21:00", "defaultTimeZone": ""}, "callingWindow.defaultTimeZone"),
    (
        {"start": "08:00", "end": "21:00", "defaultTimeZone": "Asia/Atlantis"},
        "callingWindow.defaultTimeZone",
    ),
]


@pytest.mark.parametrize(("window", "field"), BAD_WINDOWS)
async def test_a_bad_window_is_refused_naming_its_field_and_nothing_is_written(
    gql: GraphQLClient, docs: RawDocuments, window: dict[str, Any], field: str
) -> None:
    await docs.insert(in_zone(1, "Asia/Seoul"))
    before = await docs.all()
    for query, variables in (
        (AVAILABLE, {"outdialId": OUTDIAL}),
        (CLAIM, {}),
        (CLAIM_MANY, {"limit": 3}),
    ):
        error = await gql.error(query, window=window, **variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert field in error["message"], error
    assert await docs.all() == before


# The stores' windowed lookups against the domain's reference rule, on generated targets.
STORED_ZONES = st.sampled_from(
    [None, "Asia/Seoul", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Mars/Olympus"]
)
TIMES = st.sampled_from(["00:00", "06:30", "08:00", "12:00", "17:45", "21:00", "23:59", "24:00"])
MOMENTS = st.datetimes(
    min_value=datetime(2026, 3, 7), max_value=datetime(2026, 11, 2), timezones=st.just(UTC)
)
TARGETS = st.lists(
    st.fixed_dictionaries(
        {
            "zone": STORED_ZONES,
            "zone_key": st.booleans(),
            "status": st.sampled_from(["idle", "idle", "idle", "progressing", "done"]),
            "tries": st.tuples(st.integers(0, 2), st.integers(0, 2)),
            "second_slot": st.booleans(),
            "age_minutes": st.integers(0, 120),
        }
    ),
    max_size=25,
)


def generated(outdial: str, spec: dict[str, Any], now: datetime) -> dict[str, Any]:
    phone = {"type": "tel", "target": "+821100000002"}
    fields: dict[str, Any] = {
        "status": spec["status"],
        "try_count_0": spec["tries"][0],
        "try_count_1": spec["tries"][1],
        "destination_1": phone if spec["second_slot"] else None,
        "tm_update": format_time(now - timedelta(minutes=spec["age_minutes"])),
    }
    if spec["zone_key"] or spec["zone"] is not None:
        fields["time_zone"] = spec["zone"]
    return stored_document(str(uuid.uuid4()), outdial_id=outdial, **fields)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    specs=TARGETS,
    times=st.lists(TIMES, min_size=2, max_size=2, unique=True).map(sorted),
    default=st.sampled_from([None, "Asia/Seoul", "America/Los_Angeles"]),
    max_tries=st.sampled_from([[1], [2, 1], [3, 3], [0, 2]]),
    moment=MOMENTS,
)
async def test_the_windowed_claim_agrees_with_the_domain_rule(
    gql: GraphQLClient,
    docs: RawDocuments,
    clock: FakeClock,
    specs: list[dict[str, Any]],
    times: list[str],
    default: str | None,
    max_tries: list[int],
    moment: datetime,
) -> None:
    outdial = str(uuid.uuid4())
    clock.moment = moment
    stored = [generated(outdial, spec, moment) for spec in specs]
    if stored:
        await docs.insert(*stored)
    window = {"start": times[0], "end": times[1], "defaultTimeZone": default}
    rules = policy(outdial, max_tries, 1_800_000, WindowDraft(times[0], times[1], default))
    targets = sorted(map(target_from_document, stored), key=lambda t: (t.tm_update, t.id))
    expected = [t.id for t in targets if is_available(t, rules, moment)]
    variables = {"max": max_tries, "retry": 1_800_000, "window": window}
    found = await gql.data(AVAILABLE, outdialId=outdial, **variables)
    assert [t["id"] for t in found["availableOutdialtargets"]] == expected
    claim_all = """mutation($o: ID!, $max: [Int!]!, $retry: Int!, $window: CallingWindowInput) {
      claimOutdialtargets(outdialId: $o, maxTryCounts: $max, retryIntervalMs: $retry,
                          limit: 100, callingWindow: $window) { target { id } } }"""
    claimed = await gql.data(claim_all, o=outdial, **variables)
    assert [c["target"]["id"] for c in claimed["claimOutdialtargets"]] == expected
