"""SIGTERM on the real service: in-flight requests finish, websockets hear 1001, exit 0."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import operations as ops
from tests.support.live_server import STOP_TIMEOUT_S, LiveService, live_service, wire_server
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket

# A mutation slow enough to be caught in flight: 1,000 inserts into the mongoeco test server.
pytestmark = pytest.mark.wire

OUTDIAL = "7d2b4c1e-3f5a-4b6c-8d7e-9f0a1b2c3d4e"
# Big enough to take a moment on the embedded database, small enough to finish well inside
# SHUTDOWN_TIMEOUT_S on a busy machine.
SLOW_BATCH = 1000
WAIT_S = 30.0
CREATE_MANY = """mutation CreateMany($inputs: [CreateOutdialtargetInput!]!) {
  createOutdialtargets(inputs: $inputs) { id } }"""
WATCH = """subscription Watch($outdialId: ID!) {
  outdialtargetStatusChanged(outdialId: $outdialId) { status } }"""


async def gauge(http: httpx.AsyncClient, name: str) -> float:
    text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} not in /metrics")


async def wait_for(check: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def log_entries(service: LiveService) -> list[dict[str, Any]]:
    return [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]


async def test_sigterm_drains_requests_closes_websockets_with_1001_and_exits_0(
    tmp_path: Path,
) -> None:
    env = {"DATA_DIR": str(tmp_path), "LOG_FORMAT": "json", "SHUTDOWN_TIMEOUT_S": "60"}
    with wire_server() as uri, live_service(env | {"MONGODB_URL": uri}) as service:
        async with (
            httpx.AsyncClient(base_url=service.url, timeout=WAIT_S * 2) as http,
            GraphQLWebSocket.connect(service.ws_url, TRANSPORT_WS) as ws,
        ):
            await ws.subscribe(WATCH, outdialId=OUTDIAL)

            async def subscribed() -> bool:
                return await gauge(http, "outdial_subscriptions_active") == 1

            await wait_for(subscribed, "the subscription to register")

            inputs = [ops.new_input(OUTDIAL) for _ in range(SLOW_BATCH)]
            slow = asyncio.create_task(
                http.post("/graphql", json={"query": CREATE_MANY, "variables": {"inputs": inputs}})
            )

            async def executing() -> bool:
                return await gauge(http, "outdial_graphql_operations_executing") == 1

            await wait_for(executing, "the slow mutation to start")
            service.process.send_signal(signal.SIGTERM)

            assert await asyncio.wait_for(ws.closed, WAIT_S) == "1001 server shutting down"
            async with httpx.AsyncClient(base_url=service.url) as newcomer:
                with pytest.raises(httpx.ConnectError):
                    await newcomer.get("/healthz")  # no longer accepting connections
            response = await asyncio.wait_for(slow, WAIT_S)

        assert response.status_code == 200
        assert len(response.json()["data"]["createOutdialtargets"]) == SLOW_BATCH
        assert service.process.wait(STOP_TIMEOUT_S) == 0

        entries = log_entries(service)
    messages = [entry["message"] for entry in entries]
    requests = [entry for entry in entries if entry["logger"] == "outdial.requests"]
    (slow_line,) = [entry for entry in requests if entry["operation"] == "CreateMany"]
    (ws_line,) = [entry for entry in requests if entry["method"] == "WS"]
    # The mutation was still running when the server began to shut down.
    assert messages.index("Shutting down") < messages.index(slow_line["message"])
    assert (slow_line["status"], slow_line["path"]) == (200, "/graphql")
    assert (ws_line["status"], ws_line["close_code"], ws_line["operation"]) == (101, 1001, "Watch")
