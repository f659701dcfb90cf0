"""A churn soak: dialers, readers and websocket subscribers that come and go, for a bounded time.

    python -m bench.soak [--minutes 10] [--dialers 4] [--readers 2] [--subscribers 50]
                         [--targets 200] [--log-level WARNING]

One service (`outdial-graphql serve`, embedded store in a temp dir) runs in a child process.
Dialers claim a target of one outdial and report it IDLE again, as fast as the service answers;
readers page through the outdial's targets; each subscriber connects (both protocols, taking
turns), subscribes to the outdial's status changes and its live counts, reads for 0.5 to 3 s and
leaves: with a close handshake, or by dropping the connection. Every minute the service's RSS
is printed with what happened in that minute; at the end the series, the growth after the
first minutes, and how many ERROR lines and tracebacks the service logged.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench.fanout import raise_file_limit, rss_kib
from tests.support.live_server import LiveService, live_service
from tests.support.operations import new_input

CREATE_MANY = """mutation($inputs: [CreateOutdialtargetInput!]!) {
  createOutdialtargets(inputs: $inputs) { id } }"""
CLAIM = """mutation($outdialId: ID!) {
  claimOutdialtarget(outdialId: $outdialId, maxTryCounts: [1000000000], leaseMs: 30000) {
    claimToken target { id } } }"""
REPORT = """mutation($id: ID!, $token: ID!) {
  updateOutdialtargetStatus(id: $id, status: IDLE, claimToken: $token) { status } }"""
READ = """query($outdialId: ID!, $after: String) {
  outdialtargets(outdialId: $outdialId, first: 50, after: $after) {
    edges { node { id status tryCount0 tmUpdate } } pageInfo { hasNextPage endCursor } } }"""
EVENTS = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { status target { id tryCount0 } } }"""
COUNTS = """subscription($outdialId: ID!) {
  outdialtargetCountsChanged(outdialId: $outdialId) { total } }"""
PROTOCOLS = ("graphql-transport-ws", "graphql-ws")


@dataclass
class Tally:
    requests: int = 0
    error_answers: int = 0
    connections: int = 0
    events: int = 0
    failed_connections: int = 0
    minutes: list[str] = field(default_factory=list)

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.requests, self.error_answers, self.connections, self.events


async def graphql(http: httpx.AsyncClient, tally: Tally, query: str, **variables: Any) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    tally.requests += 1
    if "errors" in body:
        tally.error_answers += 1
        return None
    return body["data"]


async def dialer(http: httpx.AsyncClient, tally: Tally, outdial: str, until: float) -> None:
    while time.monotonic() < until:
        claimed = await graphql(http, tally, CLAIM, outdialId=outdial)
        found = claimed and claimed["claimOutdialtarget"]
        if found:
            await graphql(http, tally, REPORT, id=found["target"]["id"], token=found["claimToken"])


async def reader(http: httpx.AsyncClient, tally: Tally, outdial: str, until: float) -> None:
    after = None
    while time.monotonic() < until:
        page = await graphql(http, tally, READ, outdialId=outdial, after=after)
        info = page["outdialtargets"]["pageInfo"] if page else {"hasNextPage": False}
        after = info["endCursor"] if info["hasNextPage"] else None


async def subscriber(n: int, url: str, tally: Tally, outdial: str, until: float) -> None:
    visits = 0
    while time.monotonic() < until:
        protocol = PROTOCOLS[(n + visits) % 2]
        visits += 1
        try:
            await visit(url, protocol, tally, outdial, abort=visits % 3 == 0)
        except (OSError, WebSocketException, TimeoutError):
            tally.failed_connections += 1


async def visit(url: str, protocol: str, tally: Tally, outdial: str, *, abort: bool) -> None:
    """One connection: subscribe, read for 0.5 to 3 s, leave (closing, or dropping it)."""
    connection = await connect(url, subprotocols=[protocol], compression=None, proxy=None)  # type: ignore[list-item]
    tally.connections += 1
    start = "subscribe" if protocol == PROTOCOLS[0] else "start"
    try:
        await send(connection, {"type": "connection_init", "payload": {}})
        for n, query in enumerate((EVENTS, COUNTS), 1):
            payload = {"query": query, "variables": {"outdialId": outdial}}
            await send(connection, {"id": str(n), "type": start, "payload": payload})
        with suppress(TimeoutError):
            async with asyncio.timeout(random.uniform(0.5, 3.0)):
                async for message in connection:
                    if '"next"' in message or '"data"' in message:
                        tally.events += 1
    finally:
        if abort:
            connection.transport.abort()
        else:
            with suppress(WebSocketException, OSError, TimeoutError):
                await asyncio.wait_for(connection.close(), 5)


async def send(connection: ClientConnection, message: dict[str, Any]) -> None:
    await connection.send(orjson.dumps(message).decode())


async def sample_every_minute(pid: int, tally: Tally, until: float) -> list[int]:
    series = [rss_kib(pid)]
    report(f"start: RSS {series[0] / 1024:.1f} MiB")
    last = tally.snapshot()
    minute = 0
    while time.monotonic() + 60 <= until + 1:
        await asyncio.sleep(60)
        minute += 1
        series.append(rss_kib(pid))
        now = tally.snapshot()
        requests, errors, connections, events = (b - a for a, b in zip(last, now, strict=True))
        last = now
        report(
            f"minute {minute:>2}: RSS {series[-1] / 1024:6.1f} MiB  ({requests} requests, "
            f"{errors} error answers, {connections} websocket connections, {events} events)"
        )
    return series


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def soak(service: LiveService, args: argparse.Namespace) -> list[int]:
    tally = Tally()
    outdial = str(uuid.uuid4())
    limits = httpx.Limits(keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=service.url, timeout=30, limits=limits) as http:
        inputs = [new_input(outdial) for _ in range(args.targets)]
        await graphql(http, tally, CREATE_MANY, inputs=inputs)
        until = time.monotonic() + args.minutes * 60
        ws_url = service.url.replace("http://", "ws://") + "/graphql"
        workers = [
            *(dialer(http, tally, outdial, until) for _ in range(args.dialers)),
            *(reader(http, tally, outdial, until) for _ in range(args.readers)),
            *(subscriber(n, ws_url, tally, outdial, until) for n in range(args.subscribers)),
        ]
        sampling = asyncio.create_task(sample_every_minute(service.process.pid, tally, until))
        await asyncio.gather(*workers)
        series = await sampling
    report(
        f"total: {tally.connections} websocket connections ({tally.failed_connections} failed), "
        f"{tally.events} events, {tally.requests} requests, {tally.error_answers} error answers"
    )
    return series


def summarise(series: list[int], log: str) -> None:
    report("RSS per minute (MiB): " + " ".join(f"{kib / 1024:.1f}" for kib in series))
    settled = series[min(2, len(series) - 1)]
    report(
        f"after minute {min(2, len(series) - 1)}: {settled / 1024:.1f} -> "
        f"{series[-1] / 1024:.1f} MiB ({(series[-1] / settled - 1) * 100:+.1f}%)"
    )
    errors = sum(" ERROR " in line for line in log.splitlines())
    report(f"service log: {errors} ERROR lines, {log.count('Traceback')} tracebacks")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (bounded)")
    parser.add_argument("--dialers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--log-level", default="WARNING", help="the service's LOG_LEVEL")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be more than 0 and at most a day")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_file_limit()
    with tempfile.TemporaryDirectory() as scratch:
        env = {"DATA_DIR": str(Path(scratch) / "data"), "LOG_LEVEL": args.log_level}
        with live_service(env) as service:
            series = asyncio.run(soak(service, args))
            summarise(series, service.log())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
