"""outdialtargetCountsChanged over real websockets, on every storage tier."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from storage.mongo.changes import created_or_deleted_in
from tests.support.api import OUTDIAL, GraphQLClient
from tests.support.backends import Backend
from tests.support.in_process import in_process_server
from tests.support.operations import DELETE, MARK, create
from tests.support.ws_client import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    GraphQLWebSocket,
    Operation,
    errors_of,
)

COUNTS = """subscription($outdialId: ID!) {
  outdialtargetCountsChanged(outdialId: $outdialId) { idle progressing done total } }"""
INTERVAL = 0.25
# Timers on a shared machine fire a little early or late; coalescing is still visible.
SLACK = 0.05


class Live:
    def __init__(self, ws_url: str, http: httpx.AsyncClient) -> None:
        self.ws_url = ws_url
        self.gql = GraphQLClient(http)


@pytest.fixture
async def live(backend: Backend) -> AsyncIterator[Live]:
    async with in_process_server(backend.opener()) as running:
        base_url = f"http://127.0.0.1:{running.port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            yield Live(running.ws_url, http)


def counts(idle: int, progressing: int = 0) -> dict[str, Any]:
    total = idle + progressing
    event = {"idle": idle, "progressing": progressing, "done": 0, "total": total}
    return {"outdialtargetCountsChanged": event}


async def until_counts(
    operation: Operation, wanted: dict[str, Any]
) -> list[tuple[float, dict[str, Any]]]:
    """Every event up to and including the first with the wanted counts, with arrival times."""
    seen = []
    while True:
        data = await operation.next()
        seen.append((time.monotonic(), data))
        if data == wanted:
            return seen


async def test_counts_at_once_then_coalesced_with_the_final_counts_last(live: Live) -> None:
    created = await create(live.gql, 2)
    async with GraphQLWebSocket.connect(live.ws_url, TRANSPORT_WS) as client:
        operation = await client.subscribe(COUNTS, outdialId=OUTDIAL)
        assert await operation.next() == counts(2)
        for _ in range(6):
            await create(live.gql, 1)
        await live.gql.data(MARK, id=created[0]["id"], slot=0)
        await live.gql.data(DELETE, id=created[1]["id"])
        events = await until_counts(operation, counts(6, 1))
        times = [at for at, _ in events]
        assert all(
            later - earlier >= INTERVAL - SLACK for earlier, later in itertools.pairwise(times)
        )
        with pytest.raises(TimeoutError):
            await operation.next(timeout=3 * INTERVAL)


async def test_one_recount_per_event_shared_by_all_subscribers(
    live: Live, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = backend.storage.repository
    recounts = 0
    count_by_status = repository.count_by_status

    async def counted(**arguments: Any) -> Any:
        nonlocal recounts
        recounts += 1
        return await count_by_status(**arguments)

    monkeypatch.setattr(repository, "count_by_status", counted)
    subscribers = 4
    async with (
        GraphQLWebSocket.connect(live.ws_url, TRANSPORT_WS) as one,
        GraphQLWebSocket.connect(live.ws_url, LEGACY_WS) as other,
    ):
        operations = [
            await client.subscribe(COUNTS, outdialId=OUTDIAL) for client in (one, other, one, other)
        ]
        for operation in operations:
            assert await operation.next() == counts(0)
        assert recounts == subscribers
        await create(live.gql, 30)
        for _ in range(20):
            await create(live.gql, 1)
        heard = [await until_counts(operation, counts(50)) for operation in operations]
    assert recounts - subscribers <= max(len(events) for events in heard) + 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_bad_outdial_id_is_bad_user_input(live: Live, protocol: str) -> None:
    async with GraphQLWebSocket.connect(live.ws_url, protocol) as client:
        operation = await client.subscribe(COUNTS, outdialId="nope")
        frame = await operation.frame()
        [error] = errors_of(frame)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "outdialId"}


def test_the_change_stream_signals_inserts_and_deletes_of_an_outdial() -> None:
    insert = {"operationType": "insert", "fullDocument": {"outdial_id": OUTDIAL}}
    delete = {
        "operationType": "update",
        "updateDescription": {"updatedFields": {"tm_delete": "2024-01-01 00:00:00.000000"}},
        "fullDocument": {"outdial_id": OUTDIAL},
    }
    rename = {
        "operationType": "update",
        "updateDescription": {"updatedFields": {"name": "x"}},
        "fullDocument": {"outdial_id": OUTDIAL},
    }
    assert created_or_deleted_in(insert) == OUTDIAL
    assert created_or_deleted_in(delete) == OUTDIAL
    assert created_or_deleted_in(rename) is None
