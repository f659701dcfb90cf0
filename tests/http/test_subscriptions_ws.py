"""Live status subscriptions over real websockets, against the real service in a child process.

The service talks to an in-memory MongoDB-speaking server in its own process (embedded mongoeco,
standalone: no change streams), so the service publishes its own changes. Tests share one
service and keep apart by using fresh outdial ids.

No protocol acknowledges a subscription, so each connection gets a Barrier: a subscription to
a private target, subscribed last. Once it has seen a change of that target, the connection's
earlier subscriptions are registered (the server starts them in order) and every message the
server sent on the connection before that change has arrived.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.documents import status_change
from tests.support.in_process import in_process_server, until
from tests.support.live_server import LiveService, live_service, wire_server
from tests.support.operations import (
    CLAIM,
    CREATE,
    CREATE_MANY,
    MARK,
    REPORT,
    TARGET_FIELDS,
    new_input,
)
from tests.support.ws_client import (
    LEGACY_WS,
    PROTOCOLS,
    TRANSPORT_WS,
    GraphQLWebSocket,
    Operation,
    errors_of,
)

TIMEOUT = 5.0
# Small, so a stalled subscriber falls that far behind in a few hundred events.
QUEUE_SIZE = 300
# Generous for a shared 2-core machine; measured well under 0.1 s.
HEALTHY_BOUND_S = 2.0
BARRIER_RETRY_S = 2.0
ACTIVE_METRIC = "outdial_subscriptions_active"

EVENTS = f"""subscription($outdialId: ID, $id: ID) {{
  outdialtargetStatusChanged(outdialId: $outdialId, id: $id) {{
    previousStatus status target {{ {TARGET_FIELDS} }} }} }}"""
STATUSES = """subscription($outdialId: ID, $id: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId, id: $id) { status target { id } } }"""


def new_outdial() -> str:
    return str(uuid.uuid4())


def event(previous: str, target: dict[str, Any]) -> dict[str, Any]:
    change = {"previousStatus": previous, "status": target["status"], "target": target}
    return {"outdialtargetStatusChanged": change}


def target_of(data: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = data["outdialtargetStatusChanged"]["target"]
    return target


# the service


@pytest.fixture(scope="module")
def service() -> Iterator[LiveService]:
    env = {"SUBSCRIPTION_QUEUE_SIZE": str(QUEUE_SIZE)}
    with wire_server() as url, live_service(env | {"MONGODB_URL": url}) as running:
        yield running


class Api:
    """The HTTP side: causes status changes and returns the target as each left it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def create(self, outdial_id: str, **fields: Any) -> dict[str, Any]:
        data = await self.data(CREATE, input=new_input(outdial_id, **fields))
        target: dict[str, Any] = data["createOutdialtarget"]
        return target

    async def create_many(self, outdial_id: str, count: int, **fields: Any) -> list[str]:
        inputs = [new_input(outdial_id, **fields) for _ in range(count)]
        data = await self.data(CREATE_MANY, inputs=inputs)
        return [target["id"] for target in data["createOutdialtargets"]]

    async def mark(self, target_id: str) -> dict[str, Any]:
        target: dict[str, Any] = (await self.data(MARK, id=target_id, slot=0))[
            "markOutdialtargetProgressing"
        ]
        return target

    async def report(self, target_id: str, status: str) -> dict[str, Any]:
        data = await self.data(REPORT, id=target_id, status=status)
        target: dict[str, Any] = data["updateOutdialtargetStatus"]
        return target

    async def claim(self, outdial_id: str) -> dict[str, Any]:
        claimed = (await self.data(CLAIM, outdialId=outdial_id, max=[5]))["claimOutdialtarget"]
        assert claimed is not None
        target: dict[str, Any] = claimed["target"]
        return target

    async def active_subscriptions(self) -> int:
        """What the service reports in its metrics."""
        response = await self.http.get("/metrics")
        [line] = [x for x in response.text.splitlines() if x.startswith(ACTIVE_METRIC + " ")]
        return int(float(line.split()[1]))

    async def active_subscriptions_become(self, count: int) -> None:
        """Waits, within a bound, for the service to hold exactly `count` subscriptions."""
        async with asyncio.timeout(TIMEOUT):
            while await self.active_subscriptions() != count:
                await asyncio.sleep(0.02)

    async def attempts(self, target_ids: list[str], count: int) -> None:
        """`count` failed attempts, round robin over the targets: 2 * count status changes."""
        fields = []
        for n in range(count):
            target_id = target_ids[n % len(target_ids)]
            mark = f'markOutdialtargetProgressing(id: "{target_id}", destinationIndex: 0)'
            fields.append(f"m{n}: {mark} {{ id }}")
            fields.append(
                f'r{n}: updateOutdialtargetStatus(id: "{target_id}", status: IDLE) {{ id }}'
            )
        await self.data("mutation {\n" + "\n".join(fields) + "\n}")


@pytest.fixture
async def api(service: LiveService) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
        yield Api(http)


@pytest.fixture
def connect(service: LiveService) -> Any:
    def open_connection(
        protocol: str, **options: Any
    ) -> AbstractAsyncContextManager[GraphQLWebSocket]:
        return GraphQLWebSocket.connect(service.ws_url, protocol, **options)

    return open_connection


@dataclass
class Barrier:
    api: Api
    target: dict[str, Any]
    operation: Operation

    @classmethod
    async def open(cls, api: Api, client: GraphQLWebSocket) -> Barrier:
        target = await api.create(new_outdial())
        barrier = cls(api, target, await client.subscribe(STATUSES, id=target["id"]))
        await barrier.sync()
        return barrier

    async def sync(self) -> None:
        """Change the private target until its event arrives (the first may beat the subscribe)."""
        for _ in range(5):
            idle = self.target["status"] == "IDLE"
            changed = self.target["id"]
            self.target = await (
                self.api.mark(changed) if idle else self.api.report(changed, "IDLE")
            )
            try:
                while True:
                    data = await self.operation.next(BARRIER_RETRY_S)
                    if data["outdialtargetStatusChanged"]["status"] == self.target["status"]:
                        return
            except TimeoutError:
                continue
        pytest.fail("the barrier subscription never saw its target change")


# events and filters


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_status_change_reaches_matching_filters_exactly_and_in_order(
    api: Api, connect: Any, protocol: str
) -> None:
    outdial, other_outdial = new_outdial(), new_outdial()
    target = (await api.create(outdial))["id"]
    other = (await api.create(other_outdial))["id"]
    async with connect(protocol) as client:
        everything = await client.subscribe(EVENTS)
        by_outdial = await client.subscribe(EVENTS, outdialId=outdial)
        by_id = await client.subscribe(EVENTS, id=target)
        by_both = await client.subscribe(EVENTS, outdialId=outdial.upper(), id=target)
        contradicting = await client.subscribe(EVENTS, outdialId=other_outdial, id=target)
        by_other_outdial = await client.subscribe(EVENTS, outdialId=other_outdial)
        barrier = await Barrier.open(api, client)

        # The target's own last change comes last, so a stray event could not hide after it.
        other_events = [event("IDLE", await api.mark(other))]
        events = [event("IDLE", await api.mark(target))]
        events.append(event("PROGRESSING", await api.report(target, "IDLE")))
        other_events.append(event("PROGRESSING", await api.report(other, "DONE")))
        events.append(event("IDLE", await api.claim(outdial)))
        events.append(event("PROGRESSING", await api.report(target, "DONE")))

        assert [e["outdialtargetStatusChanged"]["status"] for e in events] == [
            "PROGRESSING",
            "IDLE",
            "PROGRESSING",
            "DONE",
        ]
        assert await by_outdial.events(4) == events
        assert await by_id.events(4) == events
        assert await by_both.events(4) == events
        assert await by_other_outdial.events(2) == other_events
        seen: list[dict[str, Any]] = []
        while len(seen) < 6:  # skipping the barrier's own events
            data = await everything.next()
            if target_of(data)["id"] != barrier.target["id"]:
                seen.append(data)
        assert seen == [other_events[0], *events[:2], other_events[1], *events[2:]]
        await barrier.sync()
        for operation in (by_outdial, by_id, by_both, contradicting, by_other_outdial):
            assert operation.received() == []
        assert {target_of(f.payload["data"])["id"] for f in everything.received()} <= {
            barrier.target["id"]
        }


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_two_subscribers_with_different_filters_each_get_only_theirs(
    api: Api, connect: Any, protocol: str
) -> None:
    first_outdial, second_outdial = new_outdial(), new_outdial()
    first = (await api.create(first_outdial))["id"]
    second = (await api.create(second_outdial))["id"]
    other_protocol = LEGACY_WS if protocol == TRANSPORT_WS else TRANSPORT_WS
    async with connect(protocol) as one, connect(other_protocol) as two:
        first_events = await one.subscribe(EVENTS, outdialId=first_outdial)
        second_events = await two.subscribe(EVENTS, id=second)
        barriers = [await Barrier.open(api, one), await Barrier.open(api, two)]

        expected_first = [event("IDLE", await api.mark(first))]
        expected_second = [event("IDLE", await api.mark(second))]
        expected_first.append(event("PROGRESSING", await api.report(first, "DONE")))
        expected_second.append(event("PROGRESSING", await api.report(second, "IDLE")))

        assert await first_events.events(2) == expected_first
        assert await second_events.events(2) == expected_second
        for barrier in barriers:
            await barrier.sync()
        assert first_events.received() == []
        assert second_events.received() == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"outdialId": "not-a-uuid"}, "outdialId"),
        ({"id": "1234"}, "id"),
        ({"outdialId": str(uuid.uuid4()), "id": "{" + str(uuid.uuid4()) + "}"}, "id"),
    ],
)
async def test_a_filter_that_is_no_uuid_is_refused_with_bad_user_input(
    api: Api, connect: Any, protocol: str, arguments: dict[str, str], field: str
) -> None:
    async with connect(protocol) as client:
        refused = await client.subscribe(EVENTS, **arguments)
        frame = await refused.frame()
        assert frame.kind == "error"
        [error] = errors_of(frame)
        assert error["message"].startswith(f"{field}: must be a UUID")
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
        # The connection stays usable, and the refused operation sends nothing more.
        barrier = await Barrier.open(api, client)
        await barrier.sync()
        assert refused.received() == []


# lifecycle seen from a client


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_complete_stops_the_events_and_the_server_releases_the_subscription(
    api: Api, connect: Any, protocol: str
) -> None:
    outdial = new_outdial()
    target = (await api.create(outdial))["id"]
    await api.active_subscriptions_become(0)  # earlier tests' connections are gone
    async with connect(protocol) as client:
        stopped = await client.subscribe(EVENTS, id=target)
        kept = await client.subscribe(EVENTS, outdialId=outdial)
        barrier = await Barrier.open(api, client)
        assert await api.active_subscriptions() == 3
        first = event("IDLE", await api.mark(target))
        assert await stopped.next() == first
        assert await kept.next() == first

        await stopped.complete()
        if protocol == LEGACY_WS:  # the legacy protocol confirms a stop
            assert (await stopped.frame()).kind == "complete"
        await api.active_subscriptions_become(2)
        second = event("PROGRESSING", await api.report(target, "IDLE"))

        assert await kept.next() == second
        await barrier.sync()
        assert stopped.received() == []
    await api.active_subscriptions_become(0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("how", ["close", "abort"])
async def test_a_client_reconnects_and_subscribes_again(
    api: Api, connect: Any, protocol: str, how: str
) -> None:
    target = (await api.create(new_outdial()))["id"]
    await api.active_subscriptions_become(0)
    async with connect(protocol) as client:
        before = await client.subscribe(EVENTS, id=target)
        await Barrier.open(api, client)
        expected = event("IDLE", await api.mark(target))
        assert await before.next() == expected
        if how == "abort":
            client.abort()
        else:
            await client.close()
        await api.active_subscriptions_become(0)  # the server let go of both

    async with connect(protocol) as client:
        after = await client.subscribe(EVENTS, id=target)
        barrier = await Barrier.open(api, client)
        expected = event("PROGRESSING", await api.report(target, "IDLE"))
        assert await after.next() == expected
        await barrier.sync()
        assert after.received() == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_every_message_is_a_text_frame(api: Api, connect: Any, protocol: str) -> None:
    """Browser clients (graphql-ws, subscriptions-transport-ws) parse text frames only."""
    target = (await api.create(new_outdial()))["id"]
    async with connect(protocol) as client:
        events = await client.subscribe(EVENTS, id=target)
        refused = await client.subscribe(EVENTS, id="nope")
        barrier = await Barrier.open(api, client)
        expected = event("IDLE", await api.mark(target))
        assert await events.next() == expected
        assert (await refused.frame()).kind == "error"
        await barrier.sync()
        assert client.binary_frames == 0


async def test_graphql_transport_ws_ping_is_answered_with_pong(connect: Any) -> None:
    async with connect(TRANSPORT_WS) as client:
        assert await client.ping() == {"type": "pong"}
        assert await client.ping() == {"type": "pong"}


async def test_legacy_graphql_ws_gets_keep_alive_messages(connect: Any) -> None:
    async with connect(LEGACY_WS) as client:
        # strawberry sends the first `ka` right after the ack, then one every 15 s.
        assert await client.control_message() == {"type": "ka"}


def test_keep_alive_interval_is_configurable() -> None:
    """Idle connections behind proxies see traffic every KEEP_ALIVE_INTERVAL_S seconds."""

    async def keep_alives(url: str) -> list[dict[str, Any]]:
        async with GraphQLWebSocket.connect(url, LEGACY_WS) as legacy:
            return [await legacy.control_message() for _ in range(3)]

    with (
        tempfile.TemporaryDirectory() as data_dir,
        live_service({"DATA_DIR": data_dir, "KEEP_ALIVE_INTERVAL_S": "1"}) as svc,
    ):
        assert asyncio.run(keep_alives(svc.ws_url)) == [{"type": "ka"}] * 3


def test_without_change_streams_the_service_says_so_once_at_start_up(
    service: LiveService,
) -> None:
    log = service.log()
    lines = [line for line in log.splitlines() if "offers no change streams" in line]
    assert len(lines) == 1, log
    assert "subscriptions see only the changes made through this instance" in lines[0]
    assert log.index(lines[0]) < log.index("Application startup complete")


def test_the_embedded_store_does_not_claim_to_miss_changes(tmp_path: Path) -> None:
    with live_service({"DATA_DIR": str(tmp_path)}) as embedded:
        assert "change streams" not in embedded.log()


# slow clients


async def test_a_stalled_subscriber_delays_no_one_and_ends_with_an_error_when_far_behind(
    api: Api, connect: Any, service: LiveService
) -> None:
    """Stalled clients stop reading: first their socket buffers fill, then (after QUEUE_SIZE
    more events) their subscriptions end; healthy ones keep up throughout."""
    outdial = new_outdial()
    # Big targets fill the stalled sockets in a few events.
    targets = await api.create_many(outdial, 10, data="x" * 16_000)
    server_port = int(service.url.rsplit(":", 1)[1])
    async with (
        connect(TRANSPORT_WS, receive_buffer=4096, max_queue=1) as stalled_new,
        connect(LEGACY_WS, receive_buffer=4096, max_queue=1) as stalled_legacy,
        connect(TRANSPORT_WS) as healthy_new,
        connect(LEGACY_WS) as healthy_legacy,
    ):
        stalled = {
            client: [await client.subscribe(EVENTS, outdialId=outdial) for _ in range(4)]
            for client in (stalled_new, stalled_legacy)
        }
        healthy = [
            await client.subscribe(STATUSES, outdialId=outdial)
            for client in (healthy_new, healthy_legacy)
        ]
        for client in (stalled_new, stalled_legacy, healthy_new, healthy_legacy):
            await Barrier.open(api, client)
        for client in stalled:
            client.stall()

        published = 0
        full_at: int | None = None
        ended_at: int | None = None
        queued_before = {client: -1 for client in stalled}
        while published < 3000 and (ended_at is None or published < ended_at + 100):
            await api.attempts(targets, 50)
            published += 100
            answered = time.monotonic()
            for operation in healthy:
                await asyncio.wait_for(operation.events(100), HEALTHY_BOUND_S)
            assert time.monotonic() - answered < HEALTHY_BOUND_S
            queued = {client: server_send_queue(server_port, client) for client in stalled}
            if full_at is None and all(0 < queued[c] == queued_before[c] for c in stalled):
                full_at = published  # the server's sends to them no longer move
            queued_before = queued
            if ended_at is None and f"more than {QUEUE_SIZE} events behind" in service.log():
                ended_at = published

        assert full_at is not None and full_at <= 300, "the stalled sockets never filled"
        assert ended_at is not None, "the stalled subscriptions were never ended"
        assert ended_at > full_at
        assert ended_at > QUEUE_SIZE
        ended = [line for line in service.log().splitlines() if "events behind" in line]
        assert len(ended) == 8
        assert all("WARNING" in line and outdial in line for line in ended)

        for client, operations in stalled.items():
            client.resume()
            for operation in operations:
                frames = [await operation.frame()]
                while frames[-1].kind == "next" and "errors" not in frames[-1].payload:
                    frames.append(await operation.frame())
                *delivered, error = frames
                # What it did get is the start of the sequence, with no gap, then the end.
                assert 0 < len(delivered) < ended_at
                assert [
                    (target_of(f.payload["data"])["id"], target_of(f.payload["data"])["status"])
                    for f in delivered
                ] == [
                    (targets[n // 2 % len(targets)], ("PROGRESSING", "IDLE")[n % 2])
                    for n in range(len(delivered))
                ]
                assert errors_of(error) == [
                    {
                        "message": f"subscription ended: the client fell more than {QUEUE_SIZE} "
                        "events behind",
                        "extensions": {"code": "SUBSCRIBER_TOO_SLOW"},
                    }
                ]
                assert (await operation.frame()).kind == "complete"


def server_send_queue(server_port: int, client: GraphQLWebSocket) -> int:
    """Bytes the server's socket to this client holds unsent or unacknowledged (Linux)."""
    client_port = client.connection.local_address[1]
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return int(fields[4].split(":")[0], 16)
    raise AssertionError(f"no server socket for client port {client_port}")


# lifecycle inside one process, where the broker and the tasks can be counted


def new_tasks(baseline: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task not in baseline and not task.done()]


async def test_a_thousand_dropped_subscriptions_leave_no_subscription_or_task_behind() -> None:
    outdial, target = new_outdial(), str(uuid.uuid4())
    filters = [{}, {"outdialId": outdial}, {"id": target}, {"outdialId": outdial, "id": target}]
    async with in_process_server() as running:
        baseline = asyncio.all_tasks()
        for _ in range(4):  # 4 batches of 25 connections with 10 subscriptions each
            async with AsyncExitStack() as stack:
                clients = [
                    await stack.enter_async_context(
                        GraphQLWebSocket.connect(running.ws_url, PROTOCOLS[n % 2])
                    )
                    for n in range(25)
                ]
                operations = {
                    client: [
                        await client.subscribe(STATUSES, **filters[n % len(filters)])
                        for n in range(10)
                    ]
                    for client in clients
                }
                await until(lambda: len(running.broker) == 250)
                running.broker.publish(
                    status_change(target, outdial, tm_update="2024-01-01 00:00:01.000000")
                )
                for client_operations in operations.values():
                    for operation in client_operations:
                        assert target_of(await operation.next())["id"] == target

                for n, client in enumerate(clients):
                    if n % 3 == 0:  # complete each subscription, keep the connection
                        for operation in operations[client]:
                            await operation.complete()
                    elif n % 3 == 1:
                        client.abort()
                    else:
                        await client.close()
                await until(lambda: len(running.broker) == 0)
        await until(lambda: not new_tasks(baseline))


async def test_server_shutdown_ends_every_subscription_and_connection() -> None:
    async with in_process_server() as running:
        baseline = asyncio.all_tasks()
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    GraphQLWebSocket.connect(running.ws_url, PROTOCOLS[n % 2])
                )
                for n in range(10)
            ]
            for client in clients:
                for _ in range(5):
                    await client.subscribe(STATUSES)
            await until(lambda: len(running.broker) == 50)

            await running.stop()

            assert len(running.broker) == 0
            for client in clients:
                closed = await asyncio.wait_for(asyncio.shield(client.closed), TIMEOUT)
                assert closed == "1001 server shutting down"
        await until(lambda: not new_tasks(baseline))
