"""GraphQL against a plain JSON route reading the same documents from the same store.

    python -m bench.graphql_vs_plain [--backend sqlite|mock|wire] [--seconds S] [--rounds N]
                                     [--targets N] [--http] [--clock wall|cpu]

One app holds both: the real /graphql endpoint and a plain Starlette route calling the same
TargetRepository and answering orjson of the stored document shape. Every pair is measured
in rounds of alternating order (A B, then B A), so a noisy neighbour hurts both sides alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import clock, validation
from domain.models import NOT_DELETED, Address, AddressType, Status, Target
from server.app import create_app
from server.graphql import GraphQLEndpoint
from server.runtime import Runtime
from server.settings import Settings
from storage.documents import target_to_document
from tests.backends import Backend, open_backend
from tests.operations import TARGET_FIELDS

OUTDIAL = "7d0f6b1e-3c55-4e61-9a0e-2b8c4f1d9a37"
PAGE_SIZE = 100

GET_TARGET = f"query($id: ID!) {{ outdialtarget(id: $id) {{ {TARGET_FIELDS} }} }}"
GET_PAGE = f"""query($outdialId: ID!) {{
  outdialtargets(outdialId: $outdialId, first: {PAGE_SIZE}) {{
    edges {{ cursor node {{ {TARGET_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""

Call = Callable[[], Awaitable[object]]


# the plain side: same repository, stored document shape, orjson


async def plain_target_body(runtime: Runtime, target_id: str) -> bytes | None:
    target = await runtime.storage.repository.get(target_id=validation.uuid_arg(target_id, "id"))
    return None if target is None else orjson.dumps(target_to_document(target))


async def plain_page_body(runtime: Runtime, outdial_id: str) -> bytes:
    rows = await runtime.storage.repository.list_page(
        outdial_id=validation.uuid_arg(outdial_id, "outdialId"),
        status=None,
        after=None,
        limit=PAGE_SIZE + 1,
    )
    page = rows[:PAGE_SIZE]
    edges = [{"cursor": runtime.service.cursor(t), "node": target_to_document(t)} for t in page]
    return orjson.dumps(
        {
            "edges": edges,
            "pageInfo": {
                "hasNextPage": len(rows) > PAGE_SIZE,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }
    )


async def plain_target(request: Request) -> Response:
    body = await plain_target_body(request.app.state.runtime, request.path_params["id"])
    if body is None:
        return Response(b'{"error":"not found"}', 404, media_type="application/json")
    return Response(body, media_type="application/json")


async def plain_page(request: Request) -> Response:
    body = await plain_page_body(request.app.state.runtime, request.path_params["outdial_id"])
    return Response(body, media_type="application/json")


def bench_app(backend: Backend) -> Starlette:
    app = create_app(Settings(), storage=backend.opener())
    app.router.routes += [
        Route("/plain/outdialtargets/{id}", plain_target),
        Route("/plain/outdials/{outdial_id}/outdialtargets", plain_page),
    ]
    return app


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


# measuring


@dataclass(frozen=True)
class Case:
    name: str
    root_field: str
    query: str
    variables: dict[str, Any]
    plain_url: str
    plain_body: Call
    store_only: Call


@dataclass
class Variant:
    call: Call
    samples: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.samples)

    def p90(self) -> float:
        return statistics.quantiles(self.samples, n=10)[-1]


@dataclass
class Pair:
    case: str
    path: str
    plain: Variant
    graphql: Variant


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


async def measure(variant: Variant, seconds: float, clock: Callable[[], float]) -> None:
    """Requests one after another for `seconds` of wall time, each timed on `clock`."""
    gc.collect()
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not timings:
        started = clock()
        await variant.call()
        timings.append((clock() - started) * 1000)
    variant.samples += timings
    variant.round_medians.append(statistics.median(timings))


async def run_rounds(
    variants: list[Variant], seconds: float, rounds: int, clock: Callable[[], float]
) -> None:
    for variant in variants:  # warm-up: parser cache, lazy imports, connection pools
        for _ in range(20):
            await variant.call()
    for n in range(rounds):
        sys.stderr.write(f"round {n + 1}/{rounds}\n")
        for variant in variants if n % 2 == 0 else reversed(variants):
            await measure(variant, seconds, clock)


def report(pairs: list[Pair], stores: dict[str, Variant]) -> str:
    header = (
        f"{'case':<8} {'path':<26} {'plain ms':>8} {'p90':>7} {'graphql ms':>10} {'p90':>7} "
        f"{'extra ms':>8} {'ratio':>6}  {'ratio per round'}"
    )
    lines = [header, "-" * len(header)]
    for pair in pairs:
        plain, graphql = pair.plain.median(), pair.graphql.median()
        per_round = " ".join(
            f"{g / p:.1f}"
            for p, g in zip(pair.plain.round_medians, pair.graphql.round_medians, strict=True)
        )
        lines.append(
            f"{pair.case:<8} {pair.path:<26} {plain:8.3f} {pair.plain.p90():7.3f} "
            f"{graphql:10.3f} {pair.graphql.p90():7.3f} {graphql - plain:8.3f} "
            f"{graphql / plain:5.1f}x  {per_round}"
        )
    lines.append(
        "store alone (the repository call both sides make, no JSON): "
        + ", ".join(
            f"{case} {store.median():.3f} ms (p90 {store.p90():.3f})"
            for case, store in stores.items()
        )
    )
    return "\n".join(lines) + "\n"


# wiring


@asynccontextmanager
async def open_database(backend: str) -> AsyncIterator[Backend]:
    with tempfile.TemporaryDirectory() as data_dir:
        async with open_backend(backend, Path(data_dir)) as opened:
            yield opened


@asynccontextmanager
async def serve_over_loopback(app: Starlette) -> AsyncIterator[str]:
    """uvicorn on this event loop; the app's lifespan is already running.

    uvicorn binds the port itself: a listening socket made with proto 0 hands out
    connections asyncio leaves without TCP_NODELAY, and small answers then wait 40 ms.
    """
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
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def http_pair(case: Case, path: str, http: httpx.AsyncClient) -> Pair:
    payload = orjson.dumps({"query": case.query, "variables": case.variables})
    headers = {"content-type": "application/json"}

    async def plain() -> object:
        response = await http.get(case.plain_url)
        response.raise_for_status()
        return response.content

    async def graphql() -> object:
        response = await http.post("/graphql", content=payload, headers=headers)
        response.raise_for_status()
        return response.content

    return Pair(case.name, path, Variant(plain), Variant(graphql))


def in_process_pair(case: Case, app: Starlette) -> Pair:
    """The GraphQL side: the endpoint's schema.execute with the endpoint's context, plus orjson."""
    endpoint = graphql_endpoint(app)
    request = Request({"type": "http", "app": app, "method": "POST", "headers": []})

    async def graphql() -> object:
        context = await endpoint.get_context(request, None)
        result = await endpoint.schema.execute(case.query, case.variables, context_value=context)
        if result.errors:
            raise SystemExit(f"GraphQL answered errors: {result.errors}")
        return orjson.dumps({"data": result.data})

    return Pair(case.name, "in-process (no HTTP)", Variant(case.plain_body), Variant(graphql))


def cases_for(runtime: Runtime, target_id: str) -> list[Case]:
    repository = runtime.storage.repository
    return [
        Case(
            name="target",
            root_field="outdialtarget",
            query=GET_TARGET,
            variables={"id": target_id},
            plain_url=f"/plain/outdialtargets/{target_id}",
            plain_body=lambda: plain_target_body(runtime, target_id),
            store_only=lambda: repository.get(target_id=target_id),
        ),
        Case(
            name="page100",
            root_field="outdialtargets",
            query=GET_PAGE,
            variables={"outdialId": OUTDIAL},
            plain_url=f"/plain/outdials/{OUTDIAL}/outdialtargets",
            plain_body=lambda: plain_page_body(runtime, OUTDIAL),
            store_only=lambda: repository.list_page(
                outdial_id=OUTDIAL, status=None, after=None, limit=PAGE_SIZE + 1
            ),
        ),
    ]


def graphql_endpoint(app: Starlette) -> GraphQLEndpoint:
    for route in app.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, GraphQLEndpoint):
            return route.endpoint
    raise SystemExit("the app has no GraphQL route")


async def verify(http: httpx.AsyncClient, cases: list[Case]) -> None:
    for case in cases:
        body = {"query": case.query, "variables": case.variables}
        graphql = await http.post("/graphql", json=body)
        plain = await http.get(case.plain_url)
        check_same_content(graphql.json(), plain.json(), case.root_field)


async def main_async(args: argparse.Namespace) -> str:
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(open_database(args.backend))
        app = bench_app(database)
        await stack.enter_async_context(app.router.lifespan_context(app))
        runtime: Runtime = app.state.runtime
        targets = fake_targets(OUTDIAL, args.targets)
        await runtime.storage.repository.create(targets=targets)
        cases = cases_for(runtime, targets[len(targets) // 2].id)

        asgi = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        )
        await verify(asgi, cases)
        clients = {"ASGI (httpx, no socket)": asgi}
        if args.http:
            url = await stack.enter_async_context(serve_over_loopback(app))
            clients["HTTP (uvicorn, loopback)"] = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url)
            )
            await verify(clients["HTTP (uvicorn, loopback)"], cases)

        pairs = []
        for case in cases:
            pairs.append(in_process_pair(case, app))
            pairs += [http_pair(case, path, http) for path, http in clients.items()]
        stores = {case.name: Variant(case.store_only) for case in cases}
        variants = [v for pair in pairs for v in (pair.plain, pair.graphql)]
        await run_rounds(
            [*stores.values(), *variants], args.seconds, args.rounds, CLOCKS[args.clock]
        )
    return report(pairs, stores)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.graphql_vs_plain", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "mock", "wire"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per pair")
    parser.add_argument("--targets", type=int, default=120, help="targets in the outdial")
    parser.add_argument("--http", action="store_true", help="also over uvicorn on loopback")
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: CPU time of this process (all its threads), "
        "steadier when other processes compete for the cores",
    )
    args = parser.parse_args(argv)
    if args.targets <= PAGE_SIZE:
        parser.error(f"--targets must be more than {PAGE_SIZE}, so the page has a next page")
    return args


def spare_the_client_a_failed_import() -> None:
    """httpx's ASGITransport tries `import sniffio` on every request; without sniffio installed
    each failed import rescans sys.path (about 0.2 ms), a client cost that would blur the ratio."""
    if importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spare_the_client_a_failed_import()
    table = asyncio.run(main_async(args))
    sys.stdout.write(
        f"backend={args.backend} clock={args.clock} seconds={args.seconds} rounds={args.rounds} "
        f"python={sys.version.split()[0]}\n{table}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
