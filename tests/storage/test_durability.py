"""The embedded store under `kill -9`: acknowledged writes survive, and every bulk create is
stored whole or not at all, however the process dies."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import operations as ops
from tests.support.live_server import live_service, wire_server, wire_server_process

OUTDIAL = "7d0c1d7e-3c55-4d8e-9a51-2f4b8e6c9a10"
CREATE_MANY = """mutation($inputs: [CreateOutdialtargetInput!]!) {
  createOutdialtargets(inputs: $inputs) { id } }"""
LIST_IDS = """query($outdialId: ID!, $after: String) {
  outdialtargets(outdialId: $outdialId, first: 100, after: $after) {
    edges { node { id name } } pageInfo { hasNextPage endCursor } } }"""
BATCH = 250
SMALL_BATCH = 40  # the mongoeco test server inserts a few hundred documents a second
WRITERS = 4


async def write_batches(url: str, writer: str, acknowledged: list[set[str]]) -> None:
    """Bulk creates until the server dies; records the ids of each acknowledged batch."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for round_ in range(1000):
            inputs = [ops.new_input(OUTDIAL, name=f"w{writer}-r{round_}") for _ in range(BATCH)]
            try:
                response = await http.post(
                    "/graphql", json={"query": CREATE_MANY, "variables": {"inputs": inputs}}
                )
            except httpx.TransportError:
                return
            if response.json().get("errors"):  # the database went away: the server says so
                return
            created = response.json()["data"]["createOutdialtargets"]
            acknowledged.append({target["id"] for target in created})


def stored_names(url: str) -> dict[str, str]:
    names: dict[str, str] = {}
    after = None
    while True:
        response = httpx.post(
            f"{url}/graphql",
            json={"query": LIST_IDS, "variables": {"outdialId": OUTDIAL, "after": after}},
        )
        page: dict[str, Any] = response.json()["data"]["outdialtargets"]
        names |= {edge["node"]["id"]: edge["node"]["name"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return names
        after = page["pageInfo"]["endCursor"]


async def acknowledgement_after(count: int, acknowledged: list[set[str]]) -> None:
    """Until one more batch is acknowledged: a kill before any would prove nothing, and how
    soon the first one comes depends on the machine."""
    async with asyncio.timeout(60):
        while len(acknowledged) <= count:
            await asyncio.sleep(0.01)


async def kill_while_writing(data_dir: Path, kill: int, acknowledged: list[set[str]]) -> None:
    with live_service({"DATA_DIR": str(data_dir)}) as service:
        writers = [
            asyncio.create_task(write_batches(service.url, f"k{kill}-w{n}", acknowledged))
            for n in range(WRITERS)
        ]
        await acknowledgement_after(len(acknowledged), acknowledged)
        await asyncio.sleep(random.uniform(0.0, 0.5))  # then mid-write, wherever that falls
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()
        await asyncio.gather(*writers)


async def test_kill_9_loses_no_acknowledged_write_and_splits_no_batch(tmp_path: Path) -> None:
    acknowledged: list[set[str]] = []
    for kill in range(3):
        await kill_while_writing(tmp_path / "data", kill, acknowledged)
    with live_service({"DATA_DIR": str(tmp_path / "data")}) as service:
        names = stored_names(service.url)
    assert acknowledged, "some batches were acknowledged before each kill"
    assert set().union(*acknowledged) <= names.keys(), "an acknowledged target was lost"
    by_batch: dict[str, int] = {}
    for name in names.values():
        by_batch[name] = by_batch.get(name, 0) + 1
    assert set(by_batch.values()) == {BATCH}, "a batch was stored in part"
    assert len(names) >= len(acknowledged) * BATCH


async def create_batches_with_ids(url: str, batches: list[list[dict[str, Any]]]) -> None:
    """Each batch with client-chosen ids, one after another, until the database is gone."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for inputs in batches:
            body = {"query": CREATE_MANY, "variables": {"inputs": inputs}}
            try:
                answer = (await http.post("/graphql", json=body)).json()
            except httpx.TransportError:
                return
            if answer.get("errors"):
                return


@pytest.mark.wire
async def test_a_standalone_database_killed_mid_write_is_made_whole_by_retrying_with_ids(
    tmp_path: Path,
) -> None:
    """A standalone MongoDB has no transactions: a batch may be cut by a crash. The service
    says so at start-up, and the client's retry with the same ids completes it exactly."""
    batches = [
        [ops.new_input(OUTDIAL, id=str(uuid.uuid4()), name=f"b{b}") for _ in range(SMALL_BATCH)]
        for b in range(16)
    ]
    env = {"DATA_DIR": str(tmp_path / "unused")}
    with (
        wire_server_process(tmp_path / "mongo") as (uri, database),
        live_service(env | {"MONGODB_URL": uri}) as service,
    ):
        assert "bulk create that dies midway may leave part of its targets" in service.log()
        writers = [
            asyncio.create_task(create_batches_with_ids(service.url, batches[n::WRITERS]))
            for n in range(WRITERS)
        ]
        await asyncio.sleep(random.uniform(0.3, 1.0))
        database.send_signal(signal.SIGKILL)
        database.wait()
        await asyncio.wait_for(asyncio.gather(*writers), 60)
    with (
        wire_server(tmp_path / "mongo") as uri,
        live_service(env | {"MONGODB_URL": uri}) as service,
    ):
        await create_batches_with_ids(service.url, batches)  # every client retries everything
        names = stored_names(service.url)
    assert len(names) == len(batches) * SMALL_BATCH, "each target once, none twice"
    assert sorted(names.values()) == sorted(i["name"] for batch in batches for i in batch)
