"""Events of one target arrive in the order of its writes, also when requests for it race on
different connections to the real service, and tm_update only ever moves forward."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.live_server import LiveService, live_service, wire_server
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket

RACERS = 16
WATCH = """subscription($id: ID!) { outdialtargetStatusChanged(id: $id) {
  previousStatus status target { tmUpdate } } }"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("wire", marks=pytest.mark.wire)])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    data_dir = {"DATA_DIR": str(tmp_path_factory.mktemp("order"))}
    if request.param == "sqlite":
        with live_service(data_dir) as running:
            yield running
        return
    with wire_server() as uri, live_service(data_dir | {"MONGODB_URL": uri}) as running:
        yield running


async def test_racing_transitions_of_one_target_publish_in_write_order(
    service: LiveService,
) -> None:
    clients = [httpx.AsyncClient(base_url=service.url, timeout=30) for _ in range(RACERS)]
    try:
        first = GraphQLClient(clients[0])
        created = await first.execute(ops.CREATE, input=ops.new_input(OUTDIAL))
        target_id = created["data"]["createOutdialtarget"]["id"]
        async with GraphQLWebSocket.connect(service.ws_url, TRANSPORT_WS) as ws:
            events = await ws.subscribe(WATCH, id=target_id)

            async def race(n: int) -> int:
                gql = GraphQLClient(clients[n])
                won = 0
                for _ in range(6):
                    if n % 2:
                        body = await gql.execute(ops.MARK, id=target_id, slot=0)
                    else:
                        body = await gql.execute(ops.REPORT, id=target_id, status="IDLE")
                    won += "errors" not in body
                return won

            written = sum(await asyncio.gather(*(race(n) for n in range(RACERS))))
            changes = [
                event["outdialtargetStatusChanged"] for event in await events.events(written)
            ]
        final = (await first.execute(ops.GET, id=target_id))["data"]["outdialtarget"]
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    assert written >= 2, "some of the racing transitions went through"
    assert changes[-1]["target"]["tmUpdate"] == final["tmUpdate"]
    for before, after in itertools.pairwise(changes):
        assert after["previousStatus"] == before["status"], "an event arrived out of order"
        assert after["target"]["tmUpdate"] > before["target"]["tmUpdate"]
    marks = sum(change["status"] == "PROGRESSING" for change in changes)
    assert final["tryCount0"] == marks, "one raised try count per published mark"
