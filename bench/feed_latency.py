"""Event latency across processes on one DATA_DIR: writes through process A, subscribers on A and B.

    python -m bench.feed_latency [--events 1000] [--targets 10] [--data-dir DIR]

Two `outdial-graphql serve` processes (as users run them) share one embedded store. One client
subscribes to the outdial's status changes on each process, then changes targets' statuses
through A, one write at a time, with a random pause of up to 10 ms between writes (so writes
do not fall in step with B's polling). For each write it takes the time just before the
request, when A answered, and when the event reached each subscriber. Reported, in ms, p50,
p99 and max: A's own event (published after its commit, before answering), B's event from the
request, and B's event after A's event (the feed's own delay across processes).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.support.live_server import LiveService, live_service
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket, Operation

CREATE = """mutation($inputs: [CreateOutdialtargetInput!]!) {
  createOutdialtargets(inputs: $inputs) { id } }"""
MARK = """mutation($id: ID!) { markOutdialtargetProgressing(id: $id, destinationIndex: 0) {
  status } }"""
REPORT = """mutation($id: ID!) { updateOutdialtargetStatus(id: $id, status: IDLE) { status } }"""
WATCH = """subscription($outdialId: ID!) { outdialtargetStatusChanged(outdialId: $outdialId) {
  status target { id } } }"""
TIMEOUT_S = 10.0


@contextmanager
def two_services(data_dir: Path) -> Iterator[list[LiveService]]:
    with ExitStack() as stack:
        env = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
        yield [stack.enter_context(live_service(env)) for _ in range(2)]


async def arrival(events: Operation) -> float:
    await events.next(TIMEOUT_S)
    return time.perf_counter()


async def measure(services: list[LiveService], count: int, targets: int) -> dict[str, list[float]]:
    writer, other = services
    outdial = str(uuid.uuid4())
    inputs = [
        {"outdialId": outdial, "destination0": {"type": "TEL", "target": f"+8211{n:08d}"}}
        for n in range(targets)
    ]
    took: dict[str, list[float]] = {"answer": [], "own event": [], "B event": [], "B after A": []}
    async with (
        httpx.AsyncClient(base_url=writer.url, timeout=TIMEOUT_S) as http,
        GraphQLWebSocket.connect(writer.ws_url, TRANSPORT_WS) as ws_a,
        GraphQLWebSocket.connect(other.ws_url, TRANSPORT_WS) as ws_b,
    ):
        response = await http.post(
            "/graphql", json={"query": CREATE, "variables": {"inputs": inputs}}
        )
        ids = [t["id"] for t in response.json()["data"]["createOutdialtargets"]]
        on_a = await ws_a.subscribe(WATCH, outdialId=outdial)
        on_b = await ws_b.subscribe(WATCH, outdialId=outdial)
        await asyncio.sleep(0.2)  # both subscriptions registered
        for n in range(count):
            target_id = ids[n % targets]
            query = MARK if (n // targets) % 2 == 0 else REPORT
            seen_a = asyncio.ensure_future(arrival(on_a))
            seen_b = asyncio.ensure_future(arrival(on_b))
            start = time.perf_counter()
            answer = await http.post(
                "/graphql", json={"query": query, "variables": {"id": target_id}}
            )
            answered = time.perf_counter()
            assert "errors" not in answer.json(), answer.text
            at_a, at_b = await seen_a, await seen_b
            took["answer"].append(answered - start)
            took["own event"].append(at_a - start)
            took["B event"].append(at_b - start)
            took["B after A"].append(at_b - at_a)
            await asyncio.sleep(random.uniform(0, 0.01))
    return took


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(took: dict[str, list[float]]) -> None:
    sys.stdout.write(f"{'ms':<12}{'p50':>8}{'p99':>8}{'max':>8}{'mean':>8}\n")
    for name, values in took.items():
        ms = [v * 1000 for v in values]
        sys.stdout.write(
            f"{name:<12}{percentile(ms, 0.5):>8.1f}{percentile(ms, 0.99):>8.1f}"
            f"{max(ms):>8.1f}{statistics.fmean(ms):>8.1f}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, help="default: a fresh temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        with two_services(data_dir) as services:
            took = asyncio.run(measure(services, args.events, args.targets))
    sys.stdout.write(f"{args.events} writes through A, each event seen on A and on B\n")
    report(took)


if __name__ == "__main__":
    main()
