"""Claims with leases, renewals, fenced reports, lapses, releases and batch claims; time is an
injected clock here, so nothing waits for a lease to pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from domain.clock import TIME_FORMAT, format_time
from domain.events import Subscription
from server.app import create_app
from server.settings import Settings
from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import Backend, RawDocuments
from tests.support.documents import stored_document, tid

CLAIM = """mutation($lease: Int, $max: [Int!]! = [3]) {
  claimOutdialtarget(outdialId: "OUTDIAL", maxTryCounts: $max, leaseMs: $lease) {
    claimToken destinationIndex target { id status tryCount0 tmUpdate leaseExpiresAt }
  } }""".replace("OUTDIAL", OUTDIAL)
CLAIM_MANY = """mutation($lease: Int, $limit: Int!) {
  claimOutdialtargets(outdialId: "OUTDIAL", maxTryCounts: [3], leaseMs: $lease, limit: $limit) {
    claimToken target { id tmUpdate leaseExpiresAt } } }""".replace("OUTDIAL", OUTDIAL)
REPORT = """mutation($id: ID!, $status: OutdialtargetStatus!, $token: ID) {
  updateOutdialtargetStatus(id: $id, status: $status, claimToken: $token) {
    status tmUpdate leaseExpiresAt } }"""
RENEW = """mutation($id: ID!, $token: ID!, $lease: Int!) {
  renewOutdialtargetClaim(id: $id, claimToken: $token, leaseMs: $lease) {
    status tmUpdate leaseExpiresAt } }"""
RELEASE = """mutation($ms: Int!) {
  releaseOutdialtargets(outdialId: "OUTDIAL", progressingForMs: $ms) }""".replace(
    "OUTDIAL", OUTDIAL
)
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def at(**delta: float) -> str:
    return format_time(START + timedelta(**delta))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(clock: FakeClock, backend: Backend) -> AsyncIterator[Starlette]:
    # The sweep runs as rarely as allowed: the tests move time and sweep themselves.
    settings = Settings(lease_sweep_interval_ms=1500)
    application = create_app(settings, storage=backend.opener(), now=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def seeded(docs: RawDocuments) -> list[str]:
    ids = [tid(n) for n in range(3)]
    await docs.insert(
        *(stored_document(i, tm_update=at(minutes=-10 + n)) for n, i in enumerate(ids))
    )
    return ids


async def sweep(app: Starlette) -> int:
    moved: int = await app.state.runtime.service.lapse_expired()
    return moved


def watch(app: Starlette, target_id: str) -> Subscription:
    subscription: Subscription = app.state.runtime.broker.subscribe(target_id=target_id)
    return subscription


async def claim(gql: GraphQLClient, lease: int | None = 30_000) -> dict[str, Any]:
    claimed: dict[str, Any] = (await gql.data(CLAIM, lease=lease))["claimOutdialtarget"]
    return claimed


async def test_a_leased_claim_carries_a_token_and_its_end(
    gql: GraphQLClient, seeded: list[str]
) -> None:
    claimed = await claim(gql, lease=30_000)
    target = claimed["target"]
    assert target["id"] == seeded[0] and target["status"] == "PROGRESSING"
    assert target["tmUpdate"] == at()
    assert target["leaseExpiresAt"] == at(seconds=30)
    assert len(claimed["claimToken"]) == 36
    unleased = await claim(gql, lease=None)
    assert unleased["target"]["leaseExpiresAt"] is None
    assert unleased["claimToken"] != claimed["claimToken"]


async def test_a_report_with_its_token_writes_while_the_claim_holds(
    gql: GraphQLClient, docs: RawDocuments, seeded: list[str], clock: FakeClock
) -> None:
    claimed = await claim(gql)
    clock.advance(seconds=29)
    done = await gql.data(REPORT, id=seeded[0], status="DONE", token=claimed["claimToken"])
    assert done["updateOutdialtargetStatus"] == {
        "status": "DONE",
        "tmUpdate": at(seconds=29),
        "leaseExpiresAt": None,
    }
    stored = await docs.get(seeded[0])
    assert stored is not None
    assert (stored["claim_token"], stored["tm_lease_expire"]) == (None, None)


@pytest.mark.parametrize("late_by_ms", [0, 1, 60_000])
async def test_a_report_after_the_lease_is_claim_lost_and_writes_nothing(
    gql: GraphQLClient, docs: RawDocuments, seeded: list[str], clock: FakeClock, late_by_ms: int
) -> None:
    claimed = await claim(gql)
    clock.advance(seconds=30, milliseconds=late_by_ms)
    before = await docs.get(seeded[0])
    error = await gql.error(REPORT, id=seeded[0], status="DONE", token=claimed["claimToken"])
    assert error["extensions"] == {"code": "CLAIM_LOST"}
    assert await docs.get(seeded[0]) == before


async def test_a_late_report_never_finishes_the_next_dialers_attempt(
    gql: GraphQLClient, docs: RawDocuments, clock: FakeClock
) -> None:
    seeded = [tid(1)]
    await docs.insert(stored_document(tid(1), tm_update=at(minutes=-1)))
    first = await claim(gql, lease=None)
    clock.advance(minutes=1)
    assert (await gql.data(RELEASE, ms=1))["releaseOutdialtargets"] == 1
    clock.advance(seconds=1)
    second = await gql.data(CLAIM, lease=None, max=[3])
    assert second["claimOutdialtarget"]["target"]["id"] == first["target"]["id"]
    late = await gql.error(REPORT, id=seeded[0], status="DONE", token=first["claimToken"])
    assert late["extensions"]["code"] == "CLAIM_LOST"
    token = second["claimOutdialtarget"]["claimToken"]
    assert (await gql.data(REPORT, id=seeded[0], status="DONE", token=token))[
        "updateOutdialtargetStatus"
    ]["status"] == "DONE"


async def test_a_report_without_a_token_works_as_in_version_1(
    gql: GraphQLClient, seeded: list[str]
) -> None:
    await claim(gql)
    reported = await gql.data(REPORT, id=seeded[0], status="IDLE")
    assert reported["updateOutdialtargetStatus"]["status"] == "IDLE"


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"id": tid(99), "status": "DONE", "token": tid(5)}, "NOT_FOUND"),
        ({"status": "DONE", "token": "not-a-uuid"}, "BAD_USER_INPUT"),
        ({"status": "PROGRESSING", "token": None}, "INVALID_STATE"),
        ({"status": "PROGRESSING", "token": "own"}, "INVALID_STATE"),
        ({"status": "DONE", "token": tid(5)}, "CLAIM_LOST"),
    ],
)
async def test_a_fenced_report_checks_existence_then_the_claim_then_the_status(
    gql: GraphQLClient, seeded: list[str], variables: dict[str, Any], code: str
) -> None:
    claimed = await claim(gql)
    if variables.get("token") == "own":
        variables = variables | {"token": claimed["claimToken"]}
    error = await gql.error(REPORT, **({"id": seeded[0]} | variables))
    assert error["extensions"]["code"] == code
    if code == "CLAIM_LOST":
        assert "status" not in error["extensions"]


async def test_renewal_moves_the_lease_and_a_claim_without_one_gets_one(
    gql: GraphQLClient, seeded: list[str], clock: FakeClock
) -> None:
    leased = await claim(gql, lease=10_000)
    clock.advance(seconds=9)
    renewed = await gql.data(RENEW, id=seeded[0], token=leased["claimToken"], lease=20_000)
    assert renewed["renewOutdialtargetClaim"] == {
        "status": "PROGRESSING",
        "tmUpdate": at(seconds=9),
        "leaseExpiresAt": at(seconds=29),
    }
    unleased = await claim(gql, lease=None)
    clock.advance(seconds=1)
    again = await gql.data(RENEW, id=seeded[1], token=unleased["claimToken"], lease=5_000)
    assert again["renewOutdialtargetClaim"]["leaseExpiresAt"] == at(seconds=15)


@pytest.mark.parametrize(
    ("advance_s", "token", "lease", "code"),
    [
        (11, "own", 10_000, "CLAIM_LOST"),
        (1, tid(7), 10_000, "CLAIM_LOST"),
        (1, "own", 999, "BAD_USER_INPUT"),
        (1, "own", 86_400_001, "BAD_USER_INPUT"),
    ],
)
async def test_renewal_needs_a_claim_that_holds_and_a_lease_in_range(
    gql: GraphQLClient,
    docs: RawDocuments,
    seeded: list[str],
    clock: FakeClock,
    advance_s: int,
    token: str,
    lease: int,
    code: str,
) -> None:
    leased = await claim(gql, lease=10_000)
    clock.advance(seconds=advance_s)
    before = await docs.get(seeded[0])
    chosen = leased["claimToken"] if token == "own" else token
    error = await gql.error(RENEW, id=seeded[0], token=chosen, lease=lease)
    assert error["extensions"]["code"] == code
    assert await docs.get(seeded[0]) == before


async def test_a_lapse_moves_the_target_back_once_with_its_event(
    app: Starlette, gql: GraphQLClient, docs: RawDocuments, seeded: list[str], clock: FakeClock
) -> None:
    await claim(gql, lease=5_000)
    events = watch(app, seeded[0])
    clock.advance(seconds=4)
    assert await sweep(app) == 0
    clock.advance(seconds=1)
    assert await sweep(app) == 1
    assert await sweep(app) == 0
    stored = await docs.get(seeded[0])
    assert stored is not None
    assert stored["status"] == "idle" and stored["try_count_0"] == 1
    assert (stored["claim_token"], stored["tm_lease_expire"]) == (None, None)
    assert stored["tm_update"] == at(seconds=5)
    change = await anext(events)
    assert (change.previous_status.name, change.status.name) == ("PROGRESSING", "IDLE")
    assert events.pending == 0


async def test_deleted_and_unleased_targets_never_lapse(
    app: Starlette, gql: GraphQLClient, seeded: list[str], clock: FakeClock
) -> None:
    await claim(gql, lease=None)
    leased = await claim(gql, lease=1_000)
    await gql.data(ops.DELETE, id=leased["target"]["id"])
    clock.advance(days=2)
    assert await sweep(app) == 0


async def test_release_moves_back_what_has_been_progressing_that_long(
    gql: GraphQLClient, docs: RawDocuments, seeded: list[str], clock: FakeClock
) -> None:
    await claim(gql, lease=None)
    clock.advance(minutes=5)
    await gql.data(ops.MARK, id=seeded[1], slot=0)
    clock.advance(minutes=1)
    assert (await gql.data(RELEASE, ms=180_000))["releaseOutdialtargets"] == 1
    assert (await gql.data(RELEASE, ms=0))["releaseOutdialtargets"] == 1
    assert (await gql.data(RELEASE, ms=0))["releaseOutdialtargets"] == 0
    for target_id in seeded[:2]:
        stored = await docs.get(target_id)
        assert stored is not None and stored["status"] == "idle" and stored["try_count_0"] == 1
    error = await gql.error(RELEASE, ms=-1)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_batch_claim_takes_each_in_claim_order_with_its_own_token(
    gql: GraphQLClient, seeded: list[str]
) -> None:
    batch = (await gql.data(CLAIM_MANY, lease=60_000, limit=5))["claimOutdialtargets"]
    assert [c["target"]["id"] for c in batch] == seeded
    assert len({c["claimToken"] for c in batch}) == 3
    assert all(c["target"]["leaseExpiresAt"] == at(seconds=60) for c in batch)
    assert (await gql.data(CLAIM_MANY, lease=None, limit=5))["claimOutdialtargets"] == []
    for limit in (0, 101):
        error = await gql.error(CLAIM_MANY, lease=None, limit=limit)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_tm_update_never_goes_backwards(gql: GraphQLClient, docs: RawDocuments) -> None:
    await docs.insert(stored_document(tid(1), status="progressing", tm_update=at(hours=1)))
    reported = await gql.data(REPORT, id=tid(1), status="IDLE")
    assert reported["updateOutdialtargetStatus"]["tmUpdate"] == at(hours=1, microseconds=1)


@pytest.mark.parametrize("stored_at", [at(hours=1), at()], ids=["later", "same"])
async def test_a_claim_never_sets_tm_update_back(
    gql: GraphQLClient, docs: RawDocuments, stored_at: str
) -> None:
    # Written by an instance whose clock runs ahead, or in this same microsecond.
    await docs.insert(stored_document(tid(1), tm_update=stored_at))
    target = (await claim(gql, lease=30_000))["target"]
    after = format_time(datetime.strptime(stored_at, TIME_FORMAT) + timedelta(microseconds=1))
    assert target["tmUpdate"] == after
    expires = datetime.strptime(after, TIME_FORMAT) + timedelta(seconds=30)
    assert target["leaseExpiresAt"] == format_time(expires.replace(tzinfo=UTC))
    stored = await docs.get(tid(1))
    assert stored is not None and stored["tm_update"] == after


async def test_a_claim_never_writes_a_document_it_cannot_read(
    gql: GraphQLClient, docs: RawDocuments
) -> None:
    fax = {"type": "fax", "target": "+4930123456"}
    unreadable = stored_document(tid(1), destination_0=fax, tm_update=at(minutes=-9))
    await docs.insert(unreadable, stored_document(tid(2), tm_update=at(minutes=-1)))
    claimed = await claim(gql)
    assert claimed["target"]["id"] == tid(2)
    assert await docs.get(tid(1)) == unreadable
    assert (await gql.data(CLAIM, lease=None, max=[3]))["claimOutdialtarget"] is None
    assert await docs.get(tid(1)) == unreadable
