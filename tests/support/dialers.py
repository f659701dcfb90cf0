"""Dialers as they behave in the field, against real services: some die without a word, some
report in time, some report after their lease has passed; and the check that no target was ever
held by two live claims."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence

import httpx

from tests.support.api import GraphQLClient
from tests.support.live_server import LiveService

CLAIM = """mutation($outdialId: ID!, $lease: Int!) {
  claimOutdialtarget(outdialId: $outdialId, maxTryCounts: [50], leaseMs: $lease) {
    claimToken target { id tmUpdate leaseExpiresAt } } }"""
REPORT = """mutation($id: ID!, $token: ID!) {
  updateOutdialtargetStatus(id: $id, status: IDLE, claimToken: $token) { tmUpdate } }"""
LEASE_MS = 1000

Outcome = tuple[str, str, str, str | None]  # id, claimed at, lease end, reported at


def clients_of(services: Sequence[LiveService], each: int = 5) -> list[httpx.AsyncClient]:
    """`each` clients a service. Connections idle past a second are not reused: uvicorn closes
    idle ones after 5 s, and a request sent on one as it closes reads nothing (a loaded machine
    stretches the waits)."""
    limits = httpx.Limits(keepalive_expiry=1.0)
    return [
        httpx.AsyncClient(base_url=service.url, timeout=30, limits=limits)
        for service in services
        for _ in range(each)
    ]


async def dial(gql: GraphQLClient, outdial_id: str, n: int, outcomes: list[Outcome]) -> None:
    """The n-th dialer: claims with a lease of a second; then by n: 0 dies without a word,
    1 reports in time, 2 reports after its lease has passed (CLAIM_LOST, unless no one took the
    target meanwhile and the lapse has not come)."""
    found = (await gql.data(CLAIM, outdialId=outdial_id, lease=LEASE_MS))["claimOutdialtarget"]
    if found is None:
        return
    target, reported = found["target"], None
    fate = n % 3
    if fate:
        await asyncio.sleep(random.uniform(0, 0.3) if fate == 1 else 1.6)
        body = await gql.execute(REPORT, id=target["id"], token=found["claimToken"])
        if "errors" in body:
            assert body["errors"][0]["extensions"]["code"] == "CLAIM_LOST"
        else:
            reported = body["data"]["updateOutdialtargetStatus"]["tmUpdate"]
    outcomes.append((target["id"], target["tmUpdate"], target["leaseExpiresAt"], reported))


def assert_never_held_twice(outcomes: list[Outcome]) -> None:
    """Each claim of a target began after the one before it ended (its report or its lease)."""
    by_target: dict[str, list[tuple[str, str, str | None]]] = {}
    for target_id, claimed_at, lease_end, reported in outcomes:
        by_target.setdefault(target_id, []).append((claimed_at, lease_end, reported))
    for claims in by_target.values():
        claims.sort()
        for (_, lease_end, reported), (next_claimed_at, _, _) in itertools.pairwise(claims):
            released_by = min(lease_end, reported) if reported else lease_end
            assert next_claimed_at >= released_by, "a target was held by two live claims"
