"""GraphQL over SSE against the real service: across processes, and when it stops."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import httpx

from tests.support import operations as ops
from tests.support.live_server import live_service
from tests.support.metrics import scrape, value
from tests.support.sse_client import EVENT_STREAM, EventReader

WAIT_S = 20.0
WATCH = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { previousStatus status target { id } } }"""


async def until_subscribed(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(WAIT_S):
        while value(await scrape(client), "outdial_subscriptions_active") != 1:
            await asyncio.sleep(0.02)


async def test_an_sse_subscriber_on_one_process_sees_writes_made_on_the_other(
    tmp_path: Path,
) -> None:
    """Two `serve` processes on one DATA_DIR: the embedded store's change feed brings every
    process every event."""
    env = {"DATA_DIR": str(tmp_path)}
    outdial = str(uuid.uuid4())
    with live_service(env) as reader, live_service(env) as writer:
        async with (
            httpx.AsyncClient(base_url=reader.url, timeout=WAIT_S) as watching,
            httpx.AsyncClient(base_url=writer.url, timeout=WAIT_S) as writing,
        ):
            body = {"query": WATCH, "variables": {"outdialId": outdial}}
            async with watching.stream("POST", "/graphql", json=body, headers=EVENT_STREAM) as got:
                await until_subscribed(watching)
                created = await writing.post(
                    "/graphql",
                    json={"query": ops.CREATE, "variables": {"input": ops.new_input(outdial)}},
                )
                target = created.json()["data"]["createOutdialtarget"]["id"]
                await writing.post(
                    "/graphql", json={"query": ops.MARK, "variables": {"id": target, "slot": 0}}
                )
                event = await EventReader(got).next_event(WAIT_S)
    assert event.event == "next"
    assert event.json() == {
        "data": {
            "outdialtargetStatusChanged": {
                "previousStatus": "IDLE",
                "status": "PROGRESSING",
                "target": {"id": target},
            }
        }
    }


async def test_a_stopping_server_ends_its_event_streams_and_exits_0(tmp_path: Path) -> None:
    body = {"query": WATCH, "variables": {"outdialId": str(uuid.uuid4())}}
    with live_service({"DATA_DIR": str(tmp_path)}) as service:
        async with (
            httpx.AsyncClient(base_url=service.url, timeout=WAIT_S) as client,
            client.stream("POST", "/graphql", json=body, headers=EVENT_STREAM) as got,
        ):
            await until_subscribed(client)
            service.process.send_signal(signal.SIGTERM)
            events = await EventReader(got).rest(WAIT_S)  # the server ended the stream
        assert service.process.wait(WAIT_S) == 0
        log = service.log()
    assert events == []
    assert "ended 1 event stream(s)" in log
