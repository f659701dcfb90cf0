"""WORKERS=2: one `serve`, two worker processes on one port, on one embedded DATA_DIR.

Which worker answered a request is read from the request log (LOG_FORMAT=json: every line of a
worker carries its number)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import operations as ops
from tests.support.live_server import (
    REPO_ROOT,
    STOP_TIMEOUT_S,
    LiveService,
    free_port,
    live_service,
    wire_server,
)
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket

WORKERS = 2
WAIT_S = 30.0
WATCH = """subscription Watch($outdialId: ID!) {
  outdialtargetStatusChanged(outdialId: $outdialId) { status } }"""


def env(data_dir: Path) -> dict[str, str]:
    return {"WORKERS": str(WORKERS), "DATA_DIR": str(data_dir), "LOG_FORMAT": "json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with live_service(env(tmp_path_factory.mktemp("workers"))) as running:
        yield running


def entries(service: LiveService) -> list[dict[str, Any]]:
    return [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]


def answered_by(service: LiveService, since: int = 0) -> set[int]:
    """The workers that logged a request, among the log's entries from `since` on."""
    return {e["worker"] for e in entries(service)[since:] if e["logger"] == "outdial.requests"}


def worker_pid(service: LiveService, number: int) -> int:
    started = [
        int(e["message"].split("[")[1].rstrip("]"))
        for e in entries(service)
        if e.get("worker") == number and e["message"].startswith("Started server process")
    ]
    return started[-1]


async def until_both_answer(service: LiveService, since: int = 0) -> None:
    """Rounds of 20 requests at once, each on a new connection, until both workers answered."""
    deadline = time.monotonic() + WAIT_S
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=WAIT_S) as http:
        while answered_by(service, since) != {1, 2}:
            assert time.monotonic() < deadline, f"not both answered: {answered_by(service)}"
            responses = await asyncio.gather(*(http.get("/readyz") for _ in range(20)))
            assert [r.status_code for r in responses] == [200] * 20


async def test_two_workers_answer_on_one_port(service: LiveService) -> None:
    await until_both_answer(service)
    (serving,) = [e for e in entries(service) if e["message"].startswith("serving on")]
    assert serving["message"].startswith(f"serving on {service.url}, workers' pids ")
    assert "worker" not in serving  # the parent's line


async def test_a_claim_storm_through_one_port_never_hands_a_target_out_twice(
    service: LiveService,
) -> None:
    await claim_storm(service)


@pytest.mark.wire
async def test_on_mongodb_two_workers_share_the_claims_too(tmp_path: Path) -> None:
    with wire_server() as uri, live_service(env(tmp_path) | {"MONGODB_URL": uri}) as service:
        await claim_storm(service, targets=10)


async def claim_storm(service: LiveService, *, targets: int = 50) -> None:
    """Four claims a target at once through the one port: each target is claimed once."""
    outdial = str(uuid.uuid4())
    since = len(entries(service))
    async with httpx.AsyncClient(base_url=service.url, timeout=WAIT_S) as http:
        inputs = [ops.new_input(outdial, name=f"t{n}") for n in range(targets)]
        created = await http.post(
            "/graphql", json={"query": ops.CREATE_MANY, "variables": {"inputs": inputs}}
        )
        ids = [t["id"] for t in created.json()["data"]["createOutdialtargets"]]
    # Ten clients of ten connections each, opened at once, as a pool of dialers opens them.
    clients = [httpx.AsyncClient(base_url=service.url, timeout=WAIT_S) for _ in range(10)]
    try:
        claim = {"query": ops.CLAIM, "variables": {"outdialId": outdial, "max": [1]}}
        responses = await asyncio.gather(
            *(clients[n % 10].post("/graphql", json=claim) for n in range(4 * targets))
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    claimed = [response.json()["data"]["claimOutdialtarget"] for response in responses]
    won = [c["target"]["id"] for c in claimed if c is not None]
    assert sorted(won) == sorted(ids)
    assert claimed.count(None) == 3 * targets
    assert answered_by(service, since) == {1, 2}


async def test_a_worker_killed_with_9_is_started_again_and_the_port_keeps_answering(
    service: LiveService,
) -> None:
    await until_both_answer(service)
    killed = worker_pid(service, 1)
    before_kill = len(entries(service))
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + WAIT_S
    while worker_pid(service, 1) == killed:
        assert time.monotonic() < deadline, service.log()
        # Worker 2 answers meanwhile; connections meant for worker 1 wait for its successor.
        async with httpx.AsyncClient(base_url=service.url, timeout=WAIT_S) as fresh:
            assert (await fresh.get("/readyz")).status_code == 200
        await asyncio.sleep(0.05)
    messages = [e["message"] for e in entries(service)]
    assert f"worker 1 (pid {killed}) was killed by SIGKILL; starting another" in messages
    since = len(messages)
    await until_both_answer(service, since)
    assert service.process.poll() is None
    # Worker 2 checked the file when it started: its successor does not read it all again.
    later = entries(service)[before_kill:]
    opened = [e["message"] for e in later if "SQLite store" in e["message"]]
    assert [m.endswith("(checked by the processes already using it)") for m in opened] == [True]


def holding_websockets(service: LiveService) -> set[int]:
    return {e["worker"] for e in entries(service) if "[accepted]" in e["message"]}


async def test_sigterm_stops_every_worker_gracefully_and_exits_0(tmp_path: Path) -> None:
    with live_service(env(tmp_path)) as service:
        await until_both_answer(service)
        pids = {worker_pid(service, 1), worker_pid(service, 2)}
        async with contextlib.AsyncExitStack() as stack:
            sockets: list[GraphQLWebSocket] = []
            while holding_websockets(service) != {1, 2}:  # the kernel picks a worker for each
                assert len(sockets) < 40
                ws = await stack.enter_async_context(
                    GraphQLWebSocket.connect(service.ws_url, TRANSPORT_WS)
                )
                await ws.subscribe(WATCH, outdialId=str(uuid.uuid4()))
                sockets.append(ws)
            service.process.send_signal(signal.SIGTERM)
            closes = await asyncio.wait_for(asyncio.gather(*(ws.closed for ws in sockets)), WAIT_S)
        assert closes == ["1001 server shutting down"] * len(sockets)
        assert service.process.wait(STOP_TIMEOUT_S) == 0
        finished = {e["message"] for e in entries(service) if e.get("worker") is not None}
        assert {f"Finished server process [{pid}]" for pid in pids} <= finished
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_store_that_will_not_open_ends_serve_in_one_line_whatever_the_workers(
    tmp_path: Path,
) -> None:
    database = tmp_path / "targets.sqlite3"
    database.write_bytes(b"id,name\n1,not a database\n" * 400)
    environ = dict(os.environ) | env(tmp_path) | {"WORKERS": "3", "PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve"],
        cwd=REPO_ROOT,
        env=environ | {"PYTHONPATH": str(REPO_ROOT), "HOST": "127.0.0.1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"outdial-graphql: error: {database} is not an SQLite database")


KEEPS_DYING = """
import logging, pathlib, sys, time
from server.settings import Settings
from server.serving.workers import supervise

logging.basicConfig(level=logging.INFO, format="%(message)s")
die_now = pathlib.Path(sys.argv[1])

def worker(listener, ready):
    ready()
    while not die_now.exists():
        time.sleep(0.01)
    return 3

sys.exit(supervise(Settings(host="127.0.0.1", port=0, workers=2), worker))
"""


def test_workers_that_keep_dying_are_restarted_ten_times_a_minute_then_serve_exits_1(
    tmp_path: Path,
) -> None:
    die_now = tmp_path / "die now"
    process = subprocess.Popen(
        [sys.executable, "-c", KEEPS_DYING, str(die_now)],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    with process:
        assert process.stderr.readline().startswith("serving on http://127.0.0.1:")
        die_now.touch()
        _, rest = process.communicate(timeout=WAIT_S)
    assert process.returncode == 1
    lines = rest.splitlines()
    restarted = [line for line in lines if line.endswith("exited (3); starting another")]
    assert len(restarted) == 10
    [gave_up] = [line for line in lines if "already, stopping" in line]
    assert gave_up.endswith("exited (3); 10 restarts within 60 s already, stopping")
    assert lines[-1] == "all workers stopped"
