"""GraphQL against a plain JSON route reading the same documents, over real HTTP.

    python -m bench.graphql_vs_plain [--seconds S] [--rounds N] [--targets N] [--store S]

The service runs as `create_app` builds it, on whatever backend its settings choose (the
environment's, with DATA_DIR in a temporary directory), under uvicorn on a loopback port.
Two plain Starlette routes are added to the same app; they read through the running
service (`app.state.runtime.service`, the calls the GraphQL resolvers make) and answer
orjson of the stored document shape. A client in another process sends one request after
another on a keep-alive connection and times each; the server process's CPU time per
request is measured around each run. Variants run in rounds of alternating order.

`--store memory` swaps the running service for one over a dict of the same targets, for
both sides alike: a store that costs nothing, so the ratio shows GraphQL's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import http.client
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import clock, validation
from domain.models import NOT_DELETED, Address, AddressType, Status, Target
from domain.paging import Cursor, CursorCodec
from domain.ports import TargetStore
from domain.service import TargetService
from server.app import create_app
from server.runtime import Runtime
from server.settings import Settings
from storage.documents import target_to_document
from tests.support.operations import TARGET_FIELDS

OUTDIAL = "7d0f6b1e-3c55-4e61-9a0e-2b8c4f1d9a37"
PAGE_SIZE = 100
JSON = "application/json"

FIELDS = f"{TARGET_FIELDS} timeZone"  # every field of the stored document the plain side sends
GET_TARGET = f"query Target($id: ID!) {{ outdialtarget(id: $id) {{ {FIELDS} }} }}"
GET_PAGE = f"""query Page($outdialId: ID!) {{
  outdialtargets(outdialId: $outdialId, first: {PAGE_SIZE}) {{
    edges {{ cursor node {{ {FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""


# the plain side: the service's own reads, the stored document shape (storage.documents), orjson


async def plain_target(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    target_id = validation.uuid_arg(request.path_params["id"], "id")
    (target,) = await runtime.service.get_many([target_id])
    if target is None:
        return Response(b'{"error":"not found"}', 404, media_type=JSON)
    return Response(orjson.dumps(target_to_document(target)), media_type=JSON)


async def plain_page(request: Request) -> Response:
    service = request.app.state.runtime.service
    scope = service.outdial_scope(request.path_params["outdial_id"], None)
    page = await service.page(scope, PAGE_SIZE, None)
    edges = [{"cursor": service.cursor(t), "node": target_to_document(t)} for t in page.targets]
    end_cursor = edges[-1]["cursor"] if edges else None
    info = {"hasNextPage": page.has_next_page, "endCursor": end_cursor}
    return Response(orjson.dumps({"edges": edges, "pageInfo": info}), media_type=JSON)


def bench_app(settings: Settings) -> Starlette:
    app = create_app(settings)
    app.router.routes += [
        Route("/plain/outdialtargets/{id}", plain_target),
        Route("/plain/outdials/{outdial_id}/outdialtargets", plain_page),
    ]
    return app


class MemoryStore:
    """The reads both sides make, from a dict: a store that costs (almost) nothing."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self._by_id = {target.id: target for target in targets}
        self._listed = sorted(targets, key=lambda t: (t.tm_create, t.id), reverse=True)

    async def get_many(self, *, target_ids: Sequence[str]) -> dict[str, Target]:
        return {i: self._by_id[i] for i in target_ids if i in self._by_id}

    async def page(
        self, *, scope: object, after: Cursor | None, newest_first: bool, limit: int
    ) -> list[Target]:
        assert after is None and newest_first  # the first page is all the bench reads
        return self._listed[:limit]


def in_memory(runtime: Runtime, targets: Sequence[Target], settings: Settings) -> Runtime:
    store = cast(TargetStore, MemoryStore(targets))
    cursors = CursorCodec(settings.cursor_secret.encode())
    return dataclasses.replace(runtime, service=TargetService(store, cursors=cursors))


# the data: one outdial, every destination filled

_KINDS = (AddressType.TEL, AddressType.SIP, AddressType.EMAIL, AddressType.AGENT, AddressType.TEL)


def address(n: int, slot: int) -> Address:
    kind = _KINDS[slot]
    target = {
        AddressType.TEL: f"+8210{n:04d}{slot:04d}",
        AddressType.SIP: f"sip:customer{n}@pbx.example.com",
        AddressType.EMAIL: f"customer{n}@mail.example.com",
        AddressType.AGENT: str(uuid.UUID(int=n * 10 + slot)),
    }[kind]
    return Address(
        type=kind,
        target=target,
        target_name=f"Customer {n} ({kind.value})",
        name=f"slot {slot}",
        detail=f"preferred between 09:00 and 18:00, try {slot + 1} of 5",
    )


def fake_targets(outdial_id: str, count: int) -> list[Target]:
    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    targets = []
    for n in range(count):
        created = clock.format_time(start + timedelta(seconds=n, microseconds=n))
        targets.append(
            Target(
                id=str(uuid.uuid4()),
                outdial_id=outdial_id,
                name=f"Customer {n}",
                detail=f"imported from campaign list 2025-03, row {n}",
                data=orjson.dumps({"crm_id": f"C-{n:06d}", "segment": "gold", "n": n}).decode(),
                status=(Status.IDLE, Status.PROGRESSING, Status.DONE)[n % 3],
                destinations=(
                    address(n, 0),
                    address(n, 1),
                    address(n, 2),
                    address(n, 3),
                    address(n, 4),
                ),
                try_counts=(n % 3, n % 2, 0, 1, 0),
                tm_create=created,
                tm_update=created,
                tm_delete=NOT_DELETED,
            )
        )
    return targets


# the two shapes must carry the same content, or the comparison means nothing


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def as_graphql(doc: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "_id":
            continue
        if key.startswith("destination_") and value is not None:
            value = {_camel(k): v for k, v in value.items()} | {
                "type": AddressType(value["type"]).name
            }
        if key == "status":
            value = Status(value).name
        node[_camel(key)] = value
    return node


def check_same_content(graphql: dict[str, Any], plain: dict[str, Any], root_field: str) -> None:
    if "errors" in graphql:
        raise SystemExit(f"GraphQL answered errors: {graphql['errors']}")
    answer = graphql["data"][root_field]
    if root_field == "outdialtarget":
        expected: Any = as_graphql(plain)
    else:
        edges = [{"cursor": e["cursor"], "node": as_graphql(e["node"])} for e in plain["edges"]]
        expected = {"edges": edges, "pageInfo": plain["pageInfo"]}
        if len(edges) != PAGE_SIZE:
            raise SystemExit(f"expected a page of {PAGE_SIZE}, got {len(edges)}")
    if answer != expected:
        raise SystemExit(f"GraphQL and the plain route disagree about {root_field}")


# the requests


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def variants(query: str, variables: dict[str, Any], plain_path: str) -> dict[str, Call]:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
    by_hash = {"variables": variables, "extensions": extensions}
    params = httpx.QueryParams(
        {key: orjson.dumps(value).decode() for key, value in by_hash.items()}
    )
    return {
        "plain GET": Call("GET", plain_path),
        "graphql POST": Call(
            "POST", "/graphql", orjson.dumps({"query": query, "variables": variables})
        ),
        "APQ POST (hash)": Call("POST", "/graphql", orjson.dumps(by_hash)),
        "APQ GET (hash)": Call("GET", f"/graphql?{params}"),
    }


# the client, in a process of its own


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # server CPU per request, one per run
    round_ratios: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.wall_ms)

    def p90(self) -> float:
        return statistics.quantiles(self.wall_ms, n=10)[-1]

    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


def client_loop(connection: Connection, port: int) -> None:
    """Runs (call, seconds) orders one after another; answers each with its timings in ms."""
    http_connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"content-type": JSON, "accept": JSON}
    while (order := connection.recv()) is not None:
        call, seconds = order
        timings: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or not timings:
            started = time.perf_counter()
            http_connection.request(call.method, call.path, call.body, headers)
            response = http_connection.getresponse()
            response.read()
            timings.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise SystemExit(f"{call.method} {call.path[:60]}: HTTP {response.status}")
        connection.send(timings)
    http_connection.close()


class Client:
    def __init__(self, port: int) -> None:
        self._here, there = multiprocessing.get_context("spawn").Pipe()
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(target=client_loop, args=(there, port), daemon=True)
        self._process.start()

    async def run(self, call: Call, seconds: float) -> tuple[list[float], float]:
        """The client's timings and the server's CPU milliseconds per request meanwhile."""
        cpu = time.process_time()
        self._here.send((call, seconds))
        timings: list[float] = await asyncio.to_thread(self._here.recv)
        return timings, (time.process_time() - cpu) * 1000 / len(timings)

    def close(self) -> None:
        self._here.send(None)
        self._process.join(10)


# wiring


@asynccontextmanager
async def serve_over_loopback(app: Starlette) -> AsyncIterator[int]:
    """uvicorn on this event loop, the app's lifespan already running; yields the port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise SystemExit("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Case:
    name: str
    root_field: str
    query: str
    variables: dict[str, Any]
    plain_path: str


def cases_for(target_id: str) -> list[Case]:
    return [
        Case(
            "target",
            "outdialtarget",
            GET_TARGET,
            {"id": target_id},
            f"/plain/outdialtargets/{target_id}",
        ),
        Case(
            "page100",
            "outdialtargets",
            GET_PAGE,
            {"outdialId": OUTDIAL},
            f"/plain/outdials/{OUTDIAL}/outdialtargets",
        ),
    ]


async def verify(http_client: httpx.AsyncClient, case: Case) -> None:
    """Same content on both sides; the persisted query registered, then served by its hash."""
    plain = (await http_client.get(case.plain_path)).json()
    calls = variants(case.query, case.variables, case.plain_path)
    hashed = orjson.loads(calls["APQ POST (hash)"].body or b"{}")
    await http_client.post("/graphql", json={"query": case.query, **hashed})  # registers it
    for name in ("graphql POST", "APQ POST (hash)", "APQ GET (hash)"):
        call = calls[name]
        content = orjson.loads(call.body) if call.body else None
        answer = await http_client.request(call.method, call.path, json=content)
        check_same_content(answer.json(), plain, case.root_field)


async def measure(
    client: Client, cases: list[Case], seconds: float, rounds: int
) -> dict[tuple[str, str], Timings]:
    calls = {case.name: variants(case.query, case.variables, case.plain_path) for case in cases}
    results = {(case, name): Timings() for case, named in calls.items() for name in named}
    for (case, name), _ in results.items():  # warm-up: caches, pools, the client's connection
        await client.run(calls[case][name], 0.2)
    for n in range(rounds):
        sys.stderr.write(f"round {n + 1}/{rounds}\n")
        for case, named in calls.items():
            order = list(named) if n % 2 == 0 else list(reversed(named))
            medians = {}
            for name in order:
                timings, cpu = await client.run(named[name], seconds)
                results[case, name].wall_ms += timings
                results[case, name].cpu_ms.append(cpu)
                medians[name] = statistics.median(timings)
            for name in named:
                results[case, name].round_ratios.append(medians[name] / medians["plain GET"])
    return results


def report(results: dict[tuple[str, str], Timings]) -> str:
    header = (
        f"{'case':<8} {'variant':<16} {'wall ms':>8} {'p90':>7} {'extra':>7} {'ratio':>6}  "
        f"{'server cpu ms':>13} {'ratio':>6}  ratio per round"
    )
    lines = [header, "-" * len(header)]
    for (case, name), timings in results.items():
        plain = results[case, "plain GET"]
        per_round = " ".join(f"{ratio:.2f}" for ratio in timings.round_ratios)
        lines.append(
            f"{case:<8} {name:<16} {timings.median():8.3f} {timings.p90():7.3f} "
            f"{timings.median() - plain.median():7.3f} "
            f"{timings.median() / plain.median():5.2f}x  {timings.cpu():13.3f} "
            f"{timings.cpu() / plain.cpu():5.2f}x  {per_round}"
        )
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def seeded_app(
    data_dir: Path, targets: int, store: str
) -> AsyncIterator[tuple[Starlette, list[Case]]]:
    """The bench app, running, its outdial filled; and the cases to measure against it."""
    settings = Settings.from_env({**os.environ, "DATA_DIR": str(data_dir)})
    app = bench_app(settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        filled = fake_targets(OUTDIAL, targets)
        await runtime.storage.repository.create(targets=filled)
        if store == "memory":
            app.state.runtime = in_memory(runtime, filled, settings)
        yield app, cases_for(filled[len(filled) // 2].id)


async def main_async(args: argparse.Namespace, data_dir: Path) -> str:
    async with AsyncExitStack() as stack:
        app, cases = await stack.enter_async_context(seeded_app(data_dir, args.targets, args.store))
        port = await stack.enter_async_context(serve_over_loopback(app))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http_client:
            for case in cases:
                await verify(http_client, case)
        client = Client(port)
        stack.callback(client.close)
        results = await measure(client, cases, args.seconds, args.rounds)
    return report(results)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.graphql_vs_plain", description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--targets", type=int, default=120, help="targets in the outdial")
    parser.add_argument(
        "--store",
        choices=("service", "memory"),
        default="service",
        help="service: the backend the settings choose; memory: a dict (GraphQL's own cost)",
    )
    args = parser.parse_args(argv)
    if args.targets <= PAGE_SIZE:
        parser.error(f"--targets must be more than {PAGE_SIZE}, so the page has a next page")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir:
        table = asyncio.run(main_async(args, Path(data_dir)))
    sys.stdout.write(
        f"store={args.store} seconds={args.seconds} rounds={args.rounds} "
        f"python={sys.version.split()[0]} "
        f"(ratio: against plain GET; wall: the client's time per request)\n{table}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
