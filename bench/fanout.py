"""Fan-out of one status change to N websocket subscribers, beside the bare websocket limit.

    python -m bench.fanout --subscribers 100,1000,5000,10000 [--rounds R] [--clients K]
                           [--fields small|full] [--per-connection S] [--workers W]
                           [--no-reference] [--data-dir DIR | --mongodb-url URL]

For each N a fresh service (`outdial-graphql serve`, as users run it, with WORKERS=W) starts in
a child process, and after it the reference (bench.bare_broadcast: a bare ASGI app under the same
uvicorn and websocket settings that sends the same bytes to the same sockets). K client
processes open N / S graphql-transport-ws connections between them, with S subscriptions each
(default 1; filter: one outdial). The clients are minimal asyncio
protocols that take the arrival time as the bytes come in, before any parsing, so they
measure the server and not themselves. Each round changes one target's status once over
HTTP and measures, for every subscriber, the time from just before the request until its
event arrived. Memory is the server's RSS (/proc/<pid>/status, summed over its worker
processes) after connecting and registering the N subscribers, minus before, divided by N.
The last line for each N: the service's p99 and memory per subscriber over the reference's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx
import orjson

from tests.support.live_server import (
    REPO_ROOT,
    LiveService,
    free_port,
    live_service,
    stop,
    wait_until_healthy,
)
from tests.support.operations import TARGET_FIELDS, new_input

CREATE = "mutation($input: CreateOutdialtargetInput!) { createOutdialtarget(input: $input) { id } }"
MARK = """mutation($id: ID!) {
  markOutdialtargetProgressing(id: $id, destinationIndex: 0) { status tryCount0 } }"""
REPORT = """mutation($id: ID!) {
  updateOutdialtargetStatus(id: $id, status: IDLE) { status tryCount0 } }"""
# The event's status and try count name each change of the one target uniquely.
SELECTIONS = {
    "small": "status target { tryCount0 }",
    "full": f"status target {{ tryCount0 {TARGET_FIELDS.replace('tryCount0', '')} }}",
}
ROUND_TIMEOUT_S = 60.0
CONNECT_CONCURRENCY = 100


# client side: one process holds many subscribers


class ClientSocket(asyncio.Protocol):
    """Just enough websocket: handshake, masked text frames out, server frames in, pongs."""

    def __init__(self, worker: Worker, host: str, port: int, subscribes: list[bytes]) -> None:
        self.worker = worker
        self.host, self.port = host, port
        self.subscribes = subscribes
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.state = "handshake"
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.arrived: dict[str, float] = {}  # operation id: when this round's event came

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET /graphql HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if self.state == "handshake":
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self._fail(f"handshake refused: {bytes(self.buffer[:80])!r}")
                return
            del self.buffer[: end + 4]
            self.state = "init"
            self.send(1, b'{"type":"connection_init","payload":{}}')
        for opcode, payload in self._frames():
            if opcode in (1, 2):  # text; binary is what the service sends today (see notes)
                self._on_text(payload, now)
            elif opcode == 9:
                self.send(10, payload)
            elif opcode == 8:
                self._fail("closed by the server")

    def _on_text(self, payload: bytes, now: float) -> None:
        if self.state == "init":
            if b"connection_ack" in payload:
                self.state = "subscribed"
                for subscribe in self.subscribes:
                    self.send(1, subscribe)
                self.ready.set_result(None)
            return
        marker = self.worker.marker
        if marker is not None and marker in payload:
            operation = orjson.loads(payload)["id"]
            if operation not in self.arrived:
                self.arrived[operation] = now
                self.worker.arrived()

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        while len(self.buffer) >= 2:
            opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                (length,), start = struct.unpack_from("!H", self.buffer, 2), 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                (length,), start = struct.unpack_from("!Q", self.buffer, 2), 10
            if len(self.buffer) < start + length:
                return
            payload = bytes(self.buffer[start : start + length])
            del self.buffer[: start + length]
            yield opcode, payload

    def send(self, opcode: int, payload: bytes) -> None:
        # A zero masking key is valid and leaves the payload as it is.
        if len(payload) < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload))
        else:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, len(payload))
        assert self.transport is not None
        self.transport.write(header + b"\0\0\0\0" + payload)

    def close(self) -> None:
        self.state = "closing"
        if self.transport is not None:
            self.transport.close()

    def _fail(self, reason: str) -> None:
        if self.state == "closing":
            return
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        elif self.state != "failed":
            self.worker.failures += 1
        self.state = "failed"

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")


class Worker:
    def __init__(self, commands: Connection) -> None:
        self.commands = commands
        self.connections: list[ClientSocket] = []
        self.subscriptions = 0
        self.marker: bytes | None = None
        self.waiting = 0
        self.all_arrived = asyncio.Event()
        self.failures = 0

    def arrived(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.all_arrived.set()

    async def connect(self, url: str, count: int, subscribes: list[bytes]) -> None:
        host, port = url.removeprefix("http://").split(":")
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> None:
            async with gate:
                _, connection = await loop.create_connection(
                    lambda: ClientSocket(self, host, int(port), subscribes), host, int(port)
                )
                await asyncio.wait_for(connection.ready, 30)
                self.connections.append(connection)
                self.subscriptions += len(subscribes)

        await asyncio.gather(*(one() for _ in range(count)))

    def arm(self, marker: bytes) -> None:
        self.marker = marker
        self.all_arrived.clear()
        for connection in self.connections:
            connection.arrived.clear()
        self.waiting = self.subscriptions

    async def collect(self, timeout: float) -> tuple[list[float], int]:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.all_arrived.wait(), timeout)
        times = [t for connection in self.connections for t in connection.arrived.values()]
        return times, self.subscriptions - len(times)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, *args = await loop.run_in_executor(None, self.commands.recv)
            if command == "connect":
                await self.connect(*args)
                self.commands.send(("connected", self.subscriptions))
            elif command == "arm":
                self.arm(args[0])
                self.commands.send(("armed",))
            elif command == "collect":
                self.commands.send(("collected", *await self.collect(args[0])))
            elif command == "stop":
                for connection in self.connections:
                    connection.close()
                self.commands.send(("stopped", self.failures))
                return


def worker_main(commands: Connection) -> None:
    try:
        import uvloop

        uvloop.run(Worker(commands).serve())
    except ImportError:
        asyncio.run(Worker(commands).serve())


# coordinator


@dataclass
class Round:
    latencies_ms: list[float]
    missing: int
    request_ms: float


@dataclass
class Result:
    subscribers: int
    rounds: list[Round]
    rss_before_kib: int
    rss_after_kib: int
    connect_s: float

    @property
    def samples(self) -> list[float]:
        return sorted(ms for r in self.rounds for ms in r.latencies_ms)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def kib_per_subscriber(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.subscribers

    def line(self, name: str) -> str:
        samples = self.samples
        missing = sum(r.missing for r in self.rounds)
        per_round_p99 = " ".join(
            f"{percentile(sorted(r.latencies_ms), 99):.0f}" for r in self.rounds
        )
        return (
            f"{self.subscribers:>6} {name:<9} p50 {percentile(samples, 50):7.1f} ms  "
            f"p99 {self.p99:7.1f} ms  max {samples[-1]:7.1f} ms  "
            f"(request {statistics.median(r.request_ms for r in self.rounds):.1f} ms, "
            f"p99 per round: {per_round_p99}; missing {missing})  "
            f"RSS {self.rss_before_kib / 1024:.0f} -> {self.rss_after_kib / 1024:.0f} MiB = "
            f"{self.kib_per_subscriber:.1f} KiB/subscriber  (connect {self.connect_s:.1f} s)"
        )


def ratios(service: Result, reference: Result) -> str:
    return (
        f"{service.subscribers:>6} service/bare: p99 x{service.p99 / reference.p99:.2f}  "
        f"memory x{service.kib_per_subscriber / reference.kib_per_subscriber:.2f}"
    )


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def rss_kib(pid: int) -> int:
    """The RSS of the process and its children (WORKERS): what the server holds."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError):
            for child in (task / "children").read_text().split():
                with suppress(OSError):
                    total += rss_kib(int(child))
    return total


@contextmanager
def reference_server(env: dict[str, str]) -> Iterator[LiveService]:
    """bench.bare_broadcast in a child process, started and stopped as the service is."""
    port = free_port()
    child_env = dict(os.environ) | env | {"HOST": "127.0.0.1", "PORT": str(port)}
    child_env["PYTHONPATH"] = str(REPO_ROOT)
    with tempfile.TemporaryDirectory() as logs:
        log_path = Path(logs) / "reference.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.bare_broadcast"],
                cwd=REPO_ROOT,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            server = LiveService(f"http://127.0.0.1:{port}", process, log_path)
            try:
                wait_until_healthy(server)
                yield server
            finally:
                stop(server)


class Workers:
    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(theirs,), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def ask(self, *commands: tuple[Any, ...], timeout: float = 300) -> list[tuple[Any, ...]]:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError("a client process did not answer")
            answers.append(pipe.recv())
        return answers

    def everyone(self, *command: Any, timeout: float = 300) -> list[tuple[Any, ...]]:
        return self.ask(*(command for _ in self.pipes), timeout=timeout)

    def close(self) -> None:
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


@contextmanager
def workers(count: int) -> Iterator[Workers]:
    running = Workers(count)
    try:
        yield running
    finally:
        running.close()


class Target:
    """The one target whose status the rounds change: mark, report IDLE, mark, ..."""

    def __init__(self, http: httpx.Client, outdial_id: str) -> None:
        self.http = http
        body = self._post(CREATE, input=new_input(outdial_id))
        self.id = body["createOutdialtarget"]["id"]
        self.status, self.tries = "IDLE", 0

    def next_marker(self) -> bytes:
        status = "PROGRESSING" if self.status == "IDLE" else "IDLE"
        tries = self.tries + 1 if status == "PROGRESSING" else self.tries
        return b'"status":"%s","target":{"tryCount0":%d' % (status.encode(), tries)

    def change(self) -> float:
        """Change the status once; the request's duration in ms."""
        started = time.monotonic()
        if self.status == "IDLE":
            changed = self._post(MARK, id=self.id)["markOutdialtargetProgressing"]
        else:
            changed = self._post(REPORT, id=self.id)["updateOutdialtargetStatus"]
        elapsed = (time.monotonic() - started) * 1000
        self.status, self.tries = changed["status"], changed["tryCount0"]
        return elapsed

    def _post(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.http.post("/graphql", json={"query": query, "variables": variables}).json()
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result


def one_round(pool: Workers, target: Target, timeout: float) -> Round:
    marker = target.next_marker()
    pool.everyone("arm", marker)
    started = time.monotonic()
    request_ms = target.change()
    answers = pool.everyone("collect", timeout, timeout=timeout + 30)
    latencies = [(t - started) * 1000 for _, times, _ in answers for t in times]
    return Round(latencies, sum(missing for *_, missing in answers), request_ms)


def measure(
    serving: AbstractContextManager[LiveService], subscribers: int, args: argparse.Namespace
) -> Result:
    outdial = str(uuid.uuid4())
    query = (
        "subscription($o: ID) { outdialtargetStatusChanged(outdialId: $o) "
        f"{{ {SELECTIONS[args.fields]} }} }}"
    )
    payload = {"query": query, "variables": {"o": outdial}}
    subscribes = [
        orjson.dumps({"id": str(n), "type": "subscribe", "payload": payload})
        for n in range(1, args.per_connection + 1)
    ]
    if subscribers % args.per_connection:
        raise SystemExit("--subscribers must be multiples of --per-connection")
    connections = subscribers // args.per_connection
    with (
        serving as service,
        httpx.Client(base_url=service.url, timeout=60) as http,
        workers(args.clients) as pool,
    ):
        try:
            target = Target(http, outdial)
        except AssertionError:
            raise RuntimeError(f"the service failed:\n{log_tail(service)}") from None
        for _ in range(20):  # warm the request path before measuring the baseline
            target.change()
        pid = service.process.pid
        rss_before = rss_kib(pid)
        started = time.monotonic()
        shares = [
            connections // args.clients + (n < connections % args.clients)
            for n in range(args.clients)
        ]
        connected = pool.ask(*(("connect", service.url, share, subscribes) for share in shares))
        assert sum(n for _, n in connected) == subscribers, connected
        # No protocol acknowledges a subscription: change the status until every subscriber
        # has seen the same change, so every subscription is registered.
        for _ in range(10):
            if one_round(pool, target, 10).missing == 0:
                break
        else:
            raise RuntimeError("subscribers never all registered")
        connect_s = time.monotonic() - started
        rss_after = rss_kib(pid)
        rounds = [one_round(pool, target, ROUND_TIMEOUT_S) for _ in range(args.rounds)]
        failures = sum(n for _, n in pool.everyone("stop"))
        if failures:
            raise RuntimeError(
                f"{failures} subscribers lost their connection:\n{log_tail(service)}"
            )
        return Result(subscribers, rounds, rss_before, rss_after, connect_s)


def log_tail(service: LiveService) -> str:
    return "\n".join(service.log().splitlines()[-20:])


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument(
        "--subscribers", default="100,1000,5000,10000", help="comma-separated counts"
    )
    parser.add_argument("--rounds", type=int, default=5, help="status changes measured per count")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--fields", choices=sorted(SELECTIONS), default="small")
    parser.add_argument(
        "--per-connection", type=int, default=1, help="subscriptions per websocket connection"
    )
    parser.add_argument("--workers", type=int, default=1, help="the service's WORKERS")
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="measure the service only, not bench.bare_broadcast beside it",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", type=Path, help="embedded MongoDB data (default: a temp dir)")
    where.add_argument("--mongodb-url", help="use this MongoDB instead of the embedded one")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_file_limit()
    sys.stdout.write(
        f"fan-out: {args.rounds} rounds, {args.clients} client processes, "
        f"{args.fields} selection, {args.per_connection} subscription(s) per connection, "
        f"WORKERS={args.workers}, {os.cpu_count()} CPUs\n"
    )
    for count in (int(n) for n in args.subscribers.split(",")):
        with tempfile.TemporaryDirectory() as scratch:
            if args.mongodb_url:
                env = {"MONGODB_URL": args.mongodb_url}
            else:
                env = {"DATA_DIR": str(args.data_dir or Path(scratch) / "data")}
            env |= {"LOG_LEVEL": "WARNING", "WORKERS": str(args.workers)}
            service = measure(live_service(env), count, args)
            report(service.line("service"))
            if args.reference:
                reference = measure(reference_server({"LOG_LEVEL": "WARNING"}), count, args)
                report(reference.line("bare"))
                report(ratios(service, reference))
    return 0


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
