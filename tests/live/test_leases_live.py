"""Leases for real: two service processes on one database, real sweeps, real time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.support import operations as ops
from tests.support.api import GraphQLClient
from tests.support.dialers import CLAIM, Outcome, assert_never_held_twice, clients_of, dial
from tests.support.live_server import LiveService, live_service, wire_server
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket

pytestmark = pytest.mark.wire

OUTDIAL = "3e0b5c7a-1f2d-4a6b-8c9d-0e1f2a3b4c5d"
DIALED = "4f1c6d8b-2a3e-4b7c-9dae-1f2a3b4c5d6e"
LAPSES = """subscription { outdialtargetStatusChanged(outdialId: "%s") {
  previousStatus status target { id } } }""".replace("%s", OUTDIAL)
LIST = """query($outdialId: ID!) { outdialtargets(outdialId: $outdialId, first: 100) {
  edges { node { id status tryCount0 } } } }"""


@pytest.fixture(scope="module")
def services() -> Iterator[list[LiveService]]:
    with wire_server() as uri, ExitStack() as stack:
        env = {"MONGODB_URL": uri, "LEASE_SWEEP_INTERVAL_MS": "200"}
        yield [stack.enter_context(live_service(env)) for _ in range(2)]


async def fill(gql: GraphQLClient, count: int, outdial_id: str = OUTDIAL) -> None:
    inputs = [ops.new_input(outdial_id) for _ in range(count)]
    body = await gql.execute(ops.CREATE_MANY, inputs=inputs)
    assert "errors" not in body, body


async def targets(gql: GraphQLClient, outdial_id: str = OUTDIAL) -> list[dict[str, Any]]:
    body = await gql.execute(LIST, outdialId=outdial_id)
    return [edge["node"] for edge in body["data"]["outdialtargets"]["edges"]]


async def test_leases_lapse_within_two_seconds_once_each(services: list[LiveService]) -> None:
    first, second = services
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as http,
        GraphQLWebSocket.connect(first.ws_url, TRANSPORT_WS) as ws_first,
        GraphQLWebSocket.connect(second.ws_url, TRANSPORT_WS) as ws_second,
    ):
        gql = GraphQLClient(http)
        events = [await ws.subscribe(LAPSES) for ws in (ws_first, ws_second)]
        await fill(gql, 10)
        claimed = [
            (await gql.execute(CLAIM, outdialId=OUTDIAL, lease=1000))["data"] for _ in range(10)
        ]
        assert all(c["claimOutdialtarget"] for c in claimed)
        deadline = time.monotonic() + 1 + 2
        while any(t["status"] != "IDLE" for t in await targets(gql)):
            assert time.monotonic() < deadline, "a lease did not lapse within 2 s"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # any second lapse of one target would have arrived by now
        changes = [
            frame.payload["data"]["outdialtargetStatusChanged"]
            for stream in events
            for frame in stream.received()
            if frame.kind == "next"
        ]
        seen = [change for change in changes if change["status"] == "IDLE"]
        assert sorted(e["target"]["id"] for e in seen) == sorted(
            c["claimOutdialtarget"]["target"]["id"] for c in claimed
        )
        assert all(e["previousStatus"] == "PROGRESSING" for e in seen)


async def test_dialers_that_die_or_report_late_never_share_a_target(
    services: list[LiveService],
) -> None:
    outcomes: list[Outcome] = []
    clients = clients_of(services)
    try:
        await fill(GraphQLClient(clients[0]), 30, DIALED)

        async def dialer(n: int) -> None:
            await dial(GraphQLClient(clients[n % len(clients)]), DIALED, n, outcomes)

        for wave in range(4):
            await asyncio.gather(*(dialer(wave * 25 + n) for n in range(25)))
        await asyncio.sleep(2.5)
        final = await targets(GraphQLClient(clients[0]), DIALED)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))

    assert sum(t["tryCount0"] for t in final) == len(outcomes), "one try count per claim"
    assert all(t["status"] == "IDLE" for t in final), "every abandoned claim lapsed"
    assert_never_held_twice(outcomes)
