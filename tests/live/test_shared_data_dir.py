"""Two service processes and the command line on one DATA_DIR: the embedded store's guarantees
hold across processes, and every process publishes every change."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support import operations as ops
from tests.support.api import GraphQLClient
from tests.support.dialers import CLAIM, Outcome, assert_never_held_twice, clients_of, dial
from tests.support.documents import stored_document
from tests.support.live_server import REPO_ROOT, LiveService, live_service
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket, Operation

ENV = {"LEASE_SWEEP_INTERVAL_MS": "200"}
WAIT_S = 10.0
CHANGES = """subscription($outdialId: ID!) { outdialtargetStatusChanged(outdialId: $outdialId) {
  previousStatus status target { id tmUpdate } } }"""
COUNTS = """subscription($outdialId: ID!) { outdialtargetCountsChanged(outdialId: $outdialId) {
  idle total } }"""
LIST = """query($outdialId: ID!) { outdialtargets(outdialId: $outdialId, first: 100) {
  edges { node { id status tryCount0 } } } }"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="module")
def services(data_dir: Path) -> Iterator[list[LiveService]]:
    with ExitStack() as stack:
        env = ENV | {"DATA_DIR": str(data_dir)}
        yield [stack.enter_context(live_service(env)) for _ in range(2)]


def command(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`outdial-graphql ARGV` on DATA_DIR, as an operator runs it beside the services."""
    env = dict(os.environ) | {"DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def create(gql: GraphQLClient, outdial_id: str, count: int) -> list[str]:
    inputs = [ops.new_input(outdial_id) for _ in range(count)]
    created = await gql.data(ops.CREATE_MANY, inputs=inputs)
    return [target["id"] for target in created["createOutdialtargets"]]


async def changes(events: Operation, count: int) -> list[dict[str, Any]]:
    return [e["outdialtargetStatusChanged"] for e in await events.events(count, WAIT_S)]


async def test_writes_through_one_process_reach_the_others_subscribers_in_order_once(
    services: list[LiveService],
) -> None:
    writing, watching = services
    outdial = str(uuid.uuid4())
    async with (
        httpx.AsyncClient(base_url=writing.url, timeout=30) as http,
        GraphQLWebSocket.connect(watching.ws_url, TRANSPORT_WS) as ws,
    ):
        gql = GraphQLClient(http)
        events = await ws.subscribe(CHANGES, outdialId=outdial)
        ids = await create(gql, outdial, 10)

        async def cycle(target_id: str) -> list[tuple[str, str]]:
            done = []
            for _ in range(3):
                for query, variables in ((ops.MARK, {"slot": 0}), (ops.REPORT, {"status": "IDLE"})):
                    body = await gql.data(query, id=target_id, **variables)
                    (target,) = body.values()
                    done.append((target["status"], target["tmUpdate"]))
            return done

        written = dict(zip(ids, await asyncio.gather(*map(cycle, ids)), strict=True))
        received = await changes(events, 60)
        last = await gql.data(ops.MARK, id=ids[0], slot=0)
        (after,) = await changes(events, 1)
    for target_id, acknowledged in written.items():
        seen = [
            (e["status"], e["target"]["tmUpdate"])
            for e in received
            if e["target"]["id"] == target_id
        ]
        assert seen == acknowledged, "every write, in its order, once"
    assert after["target"]["tmUpdate"] == last["markOutdialtargetProgressing"]["tmUpdate"]


async def test_an_import_export_and_demo_run_beside_the_services_and_counts_see_it_arrive(
    services: list[LiveService], data_dir: Path, tmp_path: Path
) -> None:
    outdial = str(uuid.uuid4())
    lines = tmp_path / "targets.jsonl"
    with lines.open("wb") as out:
        for _ in range(3000):
            target_id = str(uuid.uuid4())
            out.write(orjson.dumps(stored_document(target_id, outdial_id=outdial)) + b"\n")
    async with GraphQLWebSocket.connect(services[1].ws_url, TRANSPORT_WS) as ws:
        counts = await ws.subscribe(COUNTS, outdialId=outdial)
        assert (await counts.next(WAIT_S))["outdialtargetCountsChanged"]["total"] == 0
        imported = await asyncio.to_thread(
            command, data_dir, "import", str(lines), "--batch-size", "500"
        )
        assert imported.returncode == 0, imported.stderr
        totals = [0]
        while totals[-1] < 3000:
            totals.append((await counts.next(WAIT_S))["outdialtargetCountsChanged"]["total"])
    assert totals[-1] == 3000 and totals == sorted(totals), "the targets arrived, batch by batch"
    exported = await asyncio.to_thread(command, data_dir, "export", "--outdial", outdial)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 3000
    demo = await asyncio.to_thread(command, data_dir, "demo", "--count", "5")
    assert demo.returncode == 0, demo.stderr
    async with httpx.AsyncClient(base_url=services[0].url, timeout=30) as http:
        filled = await GraphQLClient(http).data(ops.COUNTS, outdialId=demo.stdout.strip())
    assert filled["outdialtargetCounts"]["total"] == 5


async def test_claimers_on_both_processes_with_short_leases_some_dying(
    services: list[LiveService],
) -> None:
    """100 claimers in two waves over 40 targets: a third die without a word, a third report
    too late."""
    outdial = str(uuid.uuid4())
    outcomes: list[Outcome] = []
    clients = clients_of(services)
    async with (
        GraphQLWebSocket.connect(services[0].ws_url, TRANSPORT_WS) as ws_first,
        GraphQLWebSocket.connect(services[1].ws_url, TRANSPORT_WS) as ws_second,
    ):
        watched = [await ws.subscribe(CHANGES, outdialId=outdial) for ws in (ws_first, ws_second)]
        try:
            await create(GraphQLClient(clients[0]), outdial, 40)

            async def claimer(n: int) -> None:
                await dial(GraphQLClient(clients[n % len(clients)]), outdial, n, outcomes)

            for wave in range(2):
                await asyncio.gather(*(claimer(wave * 50 + n) for n in range(50)))
            final = await settled(GraphQLClient(clients[0]), outdial)
            seen = [await changes(events, 2 * len(outcomes)) for events in watched]
        finally:
            await asyncio.gather(*(client.aclose() for client in clients))

    assert sum(t["tryCount0"] for t in final) == len(outcomes), "one try count per claim"
    assert_never_held_twice(outcomes)
    for events in seen:  # each claim ends once, by a report or a lapse, seen by every process
        ends = Counter(e["target"]["id"] for e in events if e["status"] == "IDLE")
        assert ends == Counter(target_id for target_id, *_ in outcomes)


async def settled(gql: GraphQLClient, outdial_id: str) -> list[dict[str, Any]]:
    """The targets, once every lease has lapsed."""
    for _ in range(100):
        body = await gql.data(LIST, outdialId=outdial_id)
        found = [edge["node"] for edge in body["outdialtargets"]["edges"]]
        if all(t["status"] == "IDLE" for t in found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("a lease did not lapse within 10 s")


async def test_kill_9_of_one_process_loses_nothing_acknowledged_and_the_others_keep_serving(
    services: list[LiveService], data_dir: Path
) -> None:
    outdial = str(uuid.uuid4())
    acknowledged: set[str] = set()
    survivor = services[1]
    with live_service(ENV | {"DATA_DIR": str(data_dir)}) as doomed:
        async with (
            httpx.AsyncClient(base_url=doomed.url, timeout=30) as on_doomed,
            httpx.AsyncClient(base_url=survivor.url, timeout=30) as on_survivor,
            GraphQLWebSocket.connect(survivor.ws_url, TRANSPORT_WS) as ws,
        ):
            events = await ws.subscribe(CHANGES, outdialId=outdial)

            async def write(http: httpx.AsyncClient) -> None:
                while True:
                    try:
                        acknowledged.update(await create(GraphQLClient(http), outdial, 20))
                    except httpx.TransportError:
                        return

            doomed_writers = [asyncio.create_task(write(on_doomed)) for _ in range(3)]
            ids = await create(GraphQLClient(on_survivor), outdial, 5)
            acknowledged.update(ids)
            held = await GraphQLClient(on_doomed).data(CLAIM, outdialId=outdial, lease=1000)
            await asyncio.sleep(random.uniform(0.2, 0.8))
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait()
            await asyncio.gather(*doomed_writers)
            survivor_gql = GraphQLClient(on_survivor)
            acknowledged.update(await create(survivor_gql, outdial, 5))
            stored = await every_id(survivor_gql, outdial)
            seen = [(e["target"]["id"], e["status"]) for e in await changes(events, 2)]
    assert acknowledged <= stored, "every acknowledged create is there"
    held_id = held["claimOutdialtarget"]["target"]["id"]
    assert seen == [(held_id, "PROGRESSING"), (held_id, "IDLE")], "the dead one's claim lapsed"


async def every_id(gql: GraphQLClient, outdial_id: str) -> set[str]:
    query = """query($outdialId: ID!, $after: String) {
      outdialtargets(outdialId: $outdialId, first: 100, after: $after) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    found: set[str] = set()
    after = None
    while True:
        page = (await gql.data(query, outdialId=outdial_id, after=after))["outdialtargets"]
        found |= {edge["node"]["id"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]
