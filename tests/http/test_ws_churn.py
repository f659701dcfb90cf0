"""Clients that go away, normally or abruptly, while events stream to them: ordinary churn.

The real service runs in a child process with its log at INFO; real websocket clients of both
protocols subscribe while a writer keeps changing statuses, then leave in the middle of the
stream: with a close handshake (1000), with a close frame that has no code (1005), or by
dropping the TCP connection (which uvicorn reports as 1005 too: no status received, RFC 6455
7.1.5). Each departure is the request log's one INFO line for the
websocket, naming the client's close code, and nothing is logged as an error.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import LiveService, live_service
from tests.support.operations import CREATE, new_input
from tests.support.ws_client import PROTOCOLS, GraphQLWebSocket

CONNECTIONS = 6  # per protocol and way of leaving, each round
SUBSCRIPTIONS = 5  # per connection
ROUNDS = 3
EVENTS = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { status target { id tryCount0 } } }"""
# The request log's one line per websocket (server.observability.requestlog).
WEBSOCKET_LINE = re.compile(r"INFO \S+: WS /graphql (.*)")
CLOSE_CODE = re.compile(r"101 \S+ms(?: op=\S+)? close=(\d+) id=")
ACTIVE_METRIC = "outdial_subscriptions_active"


@pytest.fixture(scope="module")
def service() -> Iterator[LiveService]:
    with (
        tempfile.TemporaryDirectory() as data,
        live_service({"DATA_DIR": str(Path(data)), "LOG_LEVEL": "INFO"}) as running,
    ):
        yield running


@pytest.fixture
async def http(service: LiveService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        yield client


async def write_forever(http: httpx.AsyncClient, outdial: str) -> None:
    """Status changes of the outdial's targets, in batches, until cancelled."""
    created = await http.post(
        "/graphql", json={"query": CREATE, "variables": {"input": new_input(outdial)}}
    )
    target = created.json()["data"]["createOutdialtarget"]["id"]
    mark = f'markOutdialtargetProgressing(id: "{target}", destinationIndex: 0) {{ id }}'
    idle = f'updateOutdialtargetStatus(id: "{target}", status: IDLE) {{ id }}'
    batch = "mutation {" + " ".join(f"m{n}: {mark} r{n}: {idle}" for n in range(20)) + "}"
    while True:
        response = await http.post("/graphql", json={"query": batch})
        assert "errors" not in response.json()


def close_without_code(client: GraphQLWebSocket) -> None:
    """A close frame with an empty body (the server reads 1005), then the TCP connection."""
    client.connection.transport.write(b"\x88\x80\0\0\0\0")  # FIN, close, masked, no payload
    client.connection.transport.close()


async def leave(client: GraphQLWebSocket, way: str) -> None:
    if way == "1000":
        with suppress(Exception):
            await asyncio.wait_for(client.connection.close(), 5)
    elif way == "1005":
        close_without_code(client)
    else:
        client.abort()


async def active_subscriptions_become_zero(http: httpx.AsyncClient) -> None:
    async with asyncio.timeout(10):
        while True:
            metrics = (await http.get("/metrics")).text.splitlines()
            [line] = [x for x in metrics if x.startswith(ACTIVE_METRIC + " ")]
            if float(line.split()[1]) == 0:
                return
            await asyncio.sleep(0.05)


async def log_when_every_websocket_ended(service: LiveService, count: int) -> str:
    """The service's log once it holds a line for each of `count` websockets (a handler may
    still be finishing when its subscriptions are gone)."""
    async with asyncio.timeout(10):
        while len(WEBSOCKET_LINE.findall(log := service.log())) < count:
            await asyncio.sleep(0.05)
    return log


async def test_clients_leaving_mid_stream_are_logged_once_at_info_with_their_close_code(
    service: LiveService, http: httpx.AsyncClient
) -> None:
    outdial = str(uuid.uuid4())
    writer = asyncio.create_task(write_forever(http, outdial))
    ways = ("1000", "1005", "abort")
    try:
        for _ in range(ROUNDS):
            async with AsyncExitStack() as stack:
                leaving = []
                for protocol in PROTOCOLS:
                    for way in ways:
                        for _ in range(CONNECTIONS):
                            client = await stack.enter_async_context(
                                GraphQLWebSocket.connect(service.ws_url, protocol)
                            )
                            operations = [
                                await client.subscribe(EVENTS, outdialId=outdial)
                                for _ in range(SUBSCRIPTIONS)
                            ]
                            leaving.append((client, way, operations))
                for _, _, operations in leaving:  # every subscription is streaming
                    for operation in operations:
                        await operation.next(timeout=10)
                await asyncio.gather(*(leave(client, way) for client, way, _ in leaving))
            await active_subscriptions_become_zero(http)
    finally:
        writer.cancel()
        with suppress(asyncio.CancelledError):
            await writer

    connections = ROUNDS * len(PROTOCOLS) * len(ways) * CONNECTIONS
    log = await log_when_every_websocket_ended(service, connections)
    assert "ERROR" not in log, log[log.index("ERROR") - 200 :][:3000]
    assert "Traceback" not in log
    lines = [match.group(1) for match in WEBSOCKET_LINE.finditer(log)]
    closes = [CLOSE_CODE.match(line) for line in lines]
    assert all(closes), [line for line, close in zip(lines, closes, strict=True) if not close]
    departures = Counter(close.group(1) for close in closes if close)
    per_way = ROUNDS * len(PROTOCOLS) * CONNECTIONS
    assert departures == {"1000": per_way, "1005": 2 * per_way}, departures
