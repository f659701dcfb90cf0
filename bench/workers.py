"""WORKERS=2 against WORKERS=1 on one machine: single-target reads and the dialer loop.

    python -m bench.workers [--seconds 5] [--rounds 3] [--connections 16]

Two `outdial-graphql serve` processes (as users run them, LOG_LEVEL=WARNING), one with
WORKERS=1 and one with WORKERS=2, each on an embedded store of its own holding one outdial of
1,000 idle targets; both run for the whole benchmark and take turns being measured, in rounds
of alternating order (1 2, then 2 1, ...), so every ratio compares runs made minutes apart.

The load comes from one client process of its own: `--connections` keep-alive HTTP/1.1
connections over asyncio (uvloop), each sending one request after another with the request's
bytes prepared once and the answer read by its content-length. It shares the machine's cores
with the service: its CPU time is measured and shown as a share of one core.

- `read`: `outdialtarget(id)` of one target, every field.
- `dialer`: claim (`claimOutdialtarget`, every connection on the same outdial), then report the
  claimed target IDLE; a request is either (claims and reports per second).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import orjson

from tests.support.live_server import LiveService, live_service
from tests.support.operations import TARGET_FIELDS

TARGETS = 1000
MAX_TRIES = 100_000
CASES = ("read", "dialer")
_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Run:
    requests: int
    seconds: float
    client_cpu_s: float
    errors: int
    server_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def request(host: str, query: str, **variables: object) -> bytes:
    body = orjson.dumps({"query": query, "variables": variables})
    head = (
        f"POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"accept: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[bool, bytes]:
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    found = _LENGTH.search(head)
    body = await reader.readexactly(int(found[1])) if found else b""
    return head.startswith(b"HTTP/1.1 200"), body


async def connection(case: str, url: str, outdial: str, target: str, deadline: float) -> list[int]:
    """[requests, errors] of one keep-alive connection until `deadline`."""
    hostport = url.removeprefix("http://")
    host, port = hostport.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    get = request(
        hostport, f"query($id: ID!) {{ outdialtarget(id: $id) {{ {TARGET_FIELDS} }} }}", id=target
    )
    claim = request(
        hostport,
        "mutation($o: ID!, $m: [Int!]!) { claimOutdialtarget(outdialId: $o, maxTryCounts: $m) "
        "{ claimToken target { id } } }",
        o=outdial,
        m=[MAX_TRIES],
    )
    report = (
        "mutation($id: ID!, $t: ID!) { updateOutdialtargetStatus(id: $id, status: IDLE, "
        "claimToken: $t) { status } }"
    )
    done = [0, 0]
    try:
        while time.perf_counter() < deadline:
            if case == "read":
                ok, _ = await exchange(reader, writer, get)
            else:
                ok, body = await exchange(reader, writer, claim)
                claimed = orjson.loads(body)["data"]["claimOutdialtarget"] if ok else None
                if claimed is not None:
                    done[0] += 1
                    ok, _ = await exchange(
                        reader,
                        writer,
                        request(
                            hostport, report, id=claimed["target"]["id"], t=claimed["claimToken"]
                        ),
                    )
            done[0 if ok else 1] += 1
    finally:
        writer.close()
    return done


def client(
    pipe: Connection,
    case: str,
    url: str,
    outdial: str,
    target: str,
    connections: int,
    seconds: float,
) -> None:
    import uvloop

    async def main() -> list[list[int]]:
        deadline = time.perf_counter() + seconds
        return await asyncio.gather(
            *(connection(case, url, outdial, target, deadline) for _ in range(connections))
        )

    cpu = time.process_time()
    start = time.perf_counter()
    counts = asyncio.run(main(), loop_factory=uvloop.new_event_loop)
    elapsed = time.perf_counter() - start
    pipe.send(
        Run(
            sum(c[0] for c in counts), elapsed, time.process_time() - cpu, sum(c[1] for c in counts)
        )
    )


def measure(
    case: str, service: LiveService, outdial: str, target: str, connections: int, seconds: float
) -> Run:
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=client, args=(sending, case, service.url, outdial, target, connections, seconds)
    )
    before = service_cpu_s(service.process.pid)
    process.start()
    run: Run = receiving.recv()
    process.join()
    return dataclasses.replace(run, server_cpu_s=service_cpu_s(service.process.pid) - before)


def service_cpu_s(pid: int) -> float:
    """CPU time of the service: its process and its workers (Linux's /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sum(_cpu_s(int(each)) for each in [pid, *children])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill(service: LiveService) -> tuple[str, str]:
    outdial = str(uuid.uuid4())
    inputs = [
        {
            "outdialId": outdial,
            "name": f"t{n}",
            "destination0": {"type": "TEL", "target": f"+8210{n:08d}"},
        }
        for n in range(TARGETS)
    ]
    response = httpx.post(
        f"{service.url}/graphql",
        json={
            "query": "mutation($i: [CreateOutdialtargetInput!]!) { "
            "createOutdialtargets(inputs: $i) { id } }",
            "variables": {"i": inputs},
        },
        timeout=60,
    )
    ids = [t["id"] for t in response.json()["data"]["createOutdialtargets"]]
    return outdial, ids[0]


@contextmanager
def services() -> Iterator[dict[int, tuple[LiveService, str, str]]]:
    with ExitStack() as stack:
        started = {}
        for workers in (1, 2):
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            env = {"WORKERS": str(workers), "DATA_DIR": data_dir, "LOG_LEVEL": "WARNING"}
            service = stack.enter_context(live_service(env))
            started[workers] = (service, *fill(service))
        yield started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    runs: dict[tuple[str, int], list[Run]] = {}
    with services() as running:
        for case in CASES:
            for workers in (1, 2):  # warm-up
                service, outdial, target = running[workers]
                measure(case, service, outdial, target, args.connections, 1.0)
            for round_ in range(args.rounds):
                order = (1, 2) if round_ % 2 == 0 else (2, 1)
                for workers in order:
                    service, outdial, target = running[workers]
                    run = measure(case, service, outdial, target, args.connections, args.seconds)
                    runs.setdefault((case, workers), []).append(run)
                    sys.stderr.write(
                        f"{case} WORKERS={workers} round {round_ + 1}: {run.rate:,.0f}/s, client "
                        f"{run.client_cpu_s / run.seconds:.0%} of a core, service "
                        f"{run.server_cpu_s / run.seconds:.2f} cores, "
                        f"{run.server_cpu_s / run.requests * 1000:.2f} ms CPU a request, "
                        f"{run.errors} errors\n"
                    )
    out = sys.stdout.write
    out(f"\n{args.connections} connections, {args.rounds} rounds of {args.seconds:g} s\n\n")
    out("| case | WORKERS=1 /s | WORKERS=2 /s | ratio | ratio per round | client CPU ")
    out("| service cores used (1, 2) | service CPU ms a request (1, 2) |\n")
    out("| --- | ---: | ---: | ---: | --- | ---: | --- | --- |\n")
    for case in CASES:
        one, two = runs[(case, 1)], runs[(case, 2)]
        per_round = [b.rate / a.rate for a, b in zip(one, two, strict=True)]
        client_cpu = statistics.median(r.client_cpu_s / r.seconds for r in one + two)
        out(
            f"| {case} | {statistics.median(r.rate for r in one):,.0f} "
            f"| {statistics.median(r.rate for r in two):,.0f} "
            f"| {statistics.median(per_round):.2f}x "
            f"| {', '.join(f'{r:.2f}' for r in per_round)} | {client_cpu:.0%} of a core "
            f"| {_median(one, cores):.2f}, {_median(two, cores):.2f} "
            f"| {_median(one, cpu_ms):.2f}, {_median(two, cpu_ms):.2f} |\n"
        )


def cores(run: Run) -> float:
    return run.server_cpu_s / run.seconds


def cpu_ms(run: Run) -> float:
    return run.server_cpu_s / max(run.requests, 1) * 1000


def _median(runs: list[Run], of: Callable[[Run], float]) -> float:
    return statistics.median(of(run) for run in runs)


if __name__ == "__main__":
    main()
