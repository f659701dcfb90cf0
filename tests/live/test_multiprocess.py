"""Several service processes on one shared database: the guarantees hold across processes."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.support import operations as ops
from tests.support.live_server import LiveService, live_service, wire_server

pytestmark = pytest.mark.wire

SERVICES = 2
CLIENTS_PER_SERVICE = 5


@pytest.fixture(scope="module")
def services() -> Iterator[list[LiveService]]:
    with wire_server() as uri, ExitStack() as stack:
        env = {"MONGODB_URL": uri}
        yield [stack.enter_context(live_service(env)) for _ in range(SERVICES)]


class Clients:
    """Many HTTP connections spread over every service process, used round-robin."""

    def __init__(self, services: list[LiveService]) -> None:
        self._clients = [
            httpx.AsyncClient(base_url=service.url, timeout=60)
            for service in services
            for _ in range(CLIENTS_PER_SERVICE)
        ]
        self._next: Iterator[httpx.AsyncClient] = itertools.cycle(self._clients)

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        client = next(self._next)
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))


@pytest.fixture
async def clients(services: list[LiveService]) -> AsyncIterator[Clients]:
    pool = Clients(services)
    try:
        yield pool
    finally:
        await pool.close()


async def create_targets(clients: Clients, count: int, outdial: str) -> list[str]:
    inputs = [ops.new_input(outdial, name=f"t{n}") for n in range(count)]
    body = await clients.execute(ops.CREATE_MANY, inputs=inputs)
    return [t["id"] for t in body["data"]["createOutdialtargets"]]


async def stored(clients: Clients, target_id: str) -> dict[str, Any]:
    body = await clients.execute(ops.GET, id=target_id)
    target: dict[str, Any] = body["data"]["outdialtarget"]
    return target


async def test_200_claims_across_processes_over_50_targets(clients: Clients) -> None:
    outdial = str(uuid.uuid4())
    ids = await create_targets(clients, 50, outdial)
    bodies = await asyncio.gather(
        *(clients.execute(ops.CLAIM, outdialId=outdial, max=[1]) for _ in range(200))
    )
    assert all("errors" not in body for body in bodies), bodies
    claimed = [body["data"]["claimOutdialtarget"] for body in bodies]
    won = [c["target"]["id"] for c in claimed if c is not None]
    assert len(won) == 50
    assert sorted(won) == sorted(ids)
    assert claimed.count(None) == 150
    for target_id in ids:
        target = await stored(clients, target_id)
        assert target["status"] == "PROGRESSING"
        assert target["tryCount0"] == 1


async def test_concurrent_marks_across_processes(clients: Clients) -> None:
    (target_id,) = await create_targets(clients, 1, str(uuid.uuid4()))
    bodies = await asyncio.gather(
        *(clients.execute(ops.MARK, id=target_id, slot=0) for _ in range(40))
    )
    outcomes = Counter(
        "ok" if body.get("data") else body["errors"][0]["extensions"]["code"] for body in bodies
    )
    assert outcomes == {"ok": 1, "INVALID_STATE": 39}
    target = await stored(clients, target_id)
    assert (target["status"], target["tryCount0"]) == ("PROGRESSING", 1)


async def test_concurrent_reports_across_processes(clients: Clients) -> None:
    (target_id,) = await create_targets(clients, 1, str(uuid.uuid4()))
    await clients.execute(ops.MARK, id=target_id, slot=0)
    reports = ["DONE", "IDLE"] * 20
    bodies = await asyncio.gather(
        *(clients.execute(ops.REPORT, id=target_id, status=status) for status in reports)
    )
    winners = [b["data"]["updateOutdialtargetStatus"]["status"] for b in bodies if b.get("data")]
    refused = Counter(b["errors"][0]["extensions"]["code"] for b in bodies if not b.get("data"))
    assert len(winners) == 1
    assert refused == {"INVALID_STATE": 39}
    target = await stored(clients, target_id)
    assert target["status"] == winners[0]
    assert target["tryCount0"] == 1
