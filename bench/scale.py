"""Does a request's cost grow with the campaign? Latency at N targets against N = 100.

    python -m bench.scale [--sizes 1000,10000,100000] [--wire-sizes 1000] [--reps 30]

For each size, one store holds one outdial of N targets (90% exhausted under the claim's
maxTryCounts, the rest idle, progressing and done) and the same requests run against it as
against a store holding an outdial of 100: every ratio is latency(N) / latency(100), measured
in the same run. The requests go through the real GraphQL endpoint (httpx over ASGI). Then a
dialer loop (8 workers, claim then report) against single-target reads on the same service.

With --window-size N (embedded store): the same targets spread over 20 time zones, of which a
calling window opens 2 (90% of the targets outside it, idle never-tried ones among them); the
claim with that window and without it, at N against 100.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from cli.importer import import_file
from domain import clock
from domain.models import NOT_DELETED, Address, AddressType, Status, Target
from domain.windows import WindowDraft, open_zones, window
from server.app import create_app
from server.settings import Settings
from storage.documents import target_to_document
from tests.support.api import GraphQLClient
from tests.support.backends import Backend, open_backend
from tests.support.operations import TARGET_FIELDS

OUTDIAL = "5a1f0c2e-8b7d-4e3a-9c61-0d2e4f6a8b10"
MAX_TRIES = 1000
CLAIM = f"""mutation {{ claimOutdialtarget(outdialId: "{OUTDIAL}", maxTryCounts: [{MAX_TRIES}]) {{
  target {{ id }} }} }}"""
REPORT = "mutation($id: ID!) { updateOutdialtargetStatus(id: $id, status: IDLE) { status } }"
AVAILABLE = f"""{{ availableOutdialtargets(outdialId: "{OUTDIAL}", maxTryCounts: [{MAX_TRIES}],
  limit: 10) {{ id }} }}"""
COUNTS = f'{{ outdialtargetCounts(outdialId: "{OUTDIAL}") {{ idle progressing done total }} }}'
PAGE = f"""query($after: String) {{ outdialtargets(outdialId: "{OUTDIAL}", first: 50,
  after: $after) {{ edges {{ cursor node {{ {TARGET_FIELDS} }} }} pageInfo {{ endCursor }} }} }}"""
GET = f"query($id: ID!) {{ outdialtarget(id: $id) {{ {TARGET_FIELDS} }} }}"
CREATE = """mutation($input: CreateOutdialtargetInput!) { createOutdialtarget(input: $input) {
  id } }"""

Timed = Callable[[], Awaitable[object]]


def make_target(n: int) -> Target:
    """Nine in ten exhausted; the rest idle and never tried, progressing, or done."""
    exhausted = n % 10 < 9
    tries = MAX_TRIES if exhausted else 0
    status = (
        Status.IDLE if exhausted else (Status.IDLE, Status.PROGRESSING, Status.DONE)[n // 10 % 3]
    )
    stamp = f"2024-01-01 00:{(n // 60_000) % 60:02d}:{(n // 1000) % 60:02d}.{n % 1_000_000:06d}"
    phone = Address(AddressType.TEL, f"+8210{n:08d}")
    return Target(
        id=str(uuid.UUID(int=n + 1, version=4)),
        outdial_id=OUTDIAL,
        name=f"target {n}",
        detail="",
        data="{}",
        status=status,
        destinations=(phone, None, None, None, None),
        try_counts=(tries, 0, 0, 0, 0),
        tm_create=stamp,
        tm_update=stamp,
        tm_delete=NOT_DELETED,
    )


@asynccontextmanager
async def service(
    tier: str,
    size: int,
    make: Callable[[int], Target] = make_target,
    now: clock.Clock = clock.utc_now,
) -> AsyncIterator[tuple[GraphQL, list[str]]]:
    with tempfile.TemporaryDirectory() as data_dir:
        async with open_backend(tier, Path(data_dir)) as backend:
            ids = await fill(backend, size, make)
            app = create_app(Settings(), storage=backend.opener(), now=now)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as http:
                    yield GraphQL(http), ids


async def fill(
    backend: Backend, size: int, make: Callable[[int], Target] = make_target
) -> list[str]:
    batch = 1000 if backend.tier == "sqlite" else 200
    ids = []
    for start in range(0, size, batch):
        targets = [make(n) for n in range(start, min(size, start + batch))]
        await backend.storage.repository.create(targets=targets)
        ids += [t.id for t in targets]
    return ids


class GraphQL(GraphQLClient):
    """The tests' client, but `data` raises (also under python -O) instead of asserting."""

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return body["data"]  # type: ignore[no-any-return]


async def median_ms(call: Timed, reps: int) -> float:
    await call()
    gc.collect()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def latencies(api: GraphQL, ids: list[str], reps: int) -> dict[str, float]:
    page = await api.data(PAGE)
    second = page["outdialtargets"]["pageInfo"]["endCursor"]
    probes = iter(ids[n * len(ids) // (reps + 2)] for n in range(reps + 2))
    claimed: list[str] = []

    async def claim() -> None:
        found = (await api.data(CLAIM))["claimOutdialtarget"]
        claimed.append(found["target"]["id"])

    async def report() -> None:
        await api.data(REPORT, id=claimed.pop())

    async def claim_and_report() -> None:
        await claim()
        await report()

    measured = {
        "claim+report": await median_ms(claim_and_report, reps),
        "available": await median_ms(lambda: api.data(AVAILABLE), reps),
        "counts": await median_ms(lambda: api.data(COUNTS), reps),
        "first page": await median_ms(lambda: api.data(PAGE), reps),
        "next page": await median_ms(lambda: api.data(PAGE, after=second), reps),
        "get by id": await median_ms(lambda: api.data(GET, id=next(probes)), reps),
    }
    new = {"outdialId": OUTDIAL, "destination0": {"type": "TEL", "target": "+821012345678"}}
    measured["create"] = await median_ms(lambda: api.data(CREATE, input=new), reps)
    return measured


async def dialer_against_reads(api: GraphQL, ids: list[str], seconds: float) -> tuple[float, float]:
    """Requests/s of 8 workers claiming and reporting, then of 8 workers reading one target."""

    async def dialer() -> int:
        done = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            found = (await api.data(CLAIM))["claimOutdialtarget"]
            if found is None:
                break
            await api.data(REPORT, id=found["target"]["id"])
            done += 2
        return done

    async def reader(offset: int) -> int:
        done = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await api.data(GET, id=ids[(offset + done * 7919) % len(ids)])
            done += 1
        return done

    start = time.perf_counter()
    dialed = sum(await asyncio.gather(*(dialer() for _ in range(8))))
    dial_rate = dialed / (time.perf_counter() - start)
    start = time.perf_counter()
    read = sum(await asyncio.gather(*(reader(n) for n in range(8))))
    return dial_rate, read / (time.perf_counter() - start)


RELEASE = f'mutation {{ releaseOutdialtargets(outdialId: "{OUTDIAL}", progressingForMs: 0) }}'
BATCH = f"""mutation {{ claimOutdialtargets(outdialId: "{OUTDIAL}", maxTryCounts: [{MAX_TRIES}],
  limit: 10) {{ claimToken target {{ id }} }} }}"""


async def batch_against_single(api: GraphQL, seconds: float) -> tuple[float, float]:
    """Claims/s of claimOutdialtargets(limit: 10) and of ten single claims, one after another."""

    async def rate(claim_ten: Callable[[], Awaitable[int]]) -> float:
        await api.data(RELEASE)  # a full pool of available targets for each side
        claims = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            claims += await claim_ten()
        return claims / (time.perf_counter() - start)

    async def batch() -> int:
        return len((await api.data(BATCH))["claimOutdialtargets"])

    async def singles() -> int:
        return sum([(await api.data(CLAIM))["claimOutdialtarget"] is not None for _ in range(10)])

    return await rate(batch), await rate(singles)


async def run(args: argparse.Namespace) -> None:
    rows = []
    for tier, sizes in (("sqlite", args.sizes), ("wire", args.wire_sizes)):
        if not sizes:
            continue
        async with service(tier, 100) as (api, ids):
            base = await latencies(api, ids, args.reps)
        for size in sizes:
            sys.stderr.write(f"{tier}: filling {size:,} targets\n")
            async with service(tier, size) as (api, ids):
                big = await latencies(api, ids, args.reps)
                if tier == "sqlite" and size == max(sizes):
                    dial, read = await dialer_against_reads(api, ids, args.seconds)
                    rows.append(
                        f"dialer loop at {size:,}: claim+report {dial:,.0f} requests/s, "
                        f"reads {read:,.0f} requests/s, ratio {dial / read:.2f}"
                    )
                    batched, single = await batch_against_single(api, min(args.seconds, 1.0))
                    rows.append(
                        f"claims at {size:,}: claimOutdialtargets(limit: 10) {batched:,.0f}/s, "
                        f"ten single claims {single:,.0f}/s, ratio {batched / single:.2f}"
                    )
            for name, ms in big.items():
                rows.append(
                    f"{tier:6} {size:>7,} {name:12} {base[name]:8.2f} ms {ms:8.2f} ms"
                    f"  ratio {ms / base[name]:5.2f}"
                )
    if args.window_size:
        rows += await windowed_claims(args.window_size, args.reps)
    if args.import_size:
        rows.append(await import_time(args.import_size))
    sys.stdout.write("tier      size operation     N=100         N      ratio\n")
    sys.stdout.write("\n".join(rows) + "\n")


# Twenty zones, each a different local hour at WINDOW_MOMENT; the window opens two of them
# (09:30 in Seoul, 10:30 in Brisbane). Target n is in zone (n + n // 10) % 20: already among 100
# targets every zone is present, and idle never-tried targets are in open and in closed zones.
ZONES = [
    "Pacific/Honolulu",
    "America/Anchorage",
    "Asia/Seoul",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Noronha",
    "Australia/Brisbane",
    "Atlantic/Cape_Verde",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
]
WINDOW_MOMENT = datetime(2026, 6, 1, 0, 30, tzinfo=UTC)
CALLING_WINDOW = WindowDraft("09:00", "11:00")
_WINDOW_ARGUMENT = (
    f'callingWindow: {{start: "{CALLING_WINDOW.start}", end: "{CALLING_WINDOW.end}"}}'
)
WINDOWED_CLAIM = CLAIM.replace("maxTryCounts:", f"{_WINDOW_ARGUMENT}, maxTryCounts:")
FIRST_AVAILABLE = AVAILABLE.replace("limit: 10", "limit: 1")
WINDOWED_AVAILABLE = AVAILABLE.replace("limit: 10", f"limit: 1, {_WINDOW_ARGUMENT}")


def zoned_target(n: int) -> Target:
    return replace(make_target(n), time_zone=ZONES[(n + n // 10) % len(ZONES)])


def window_clock() -> clock.Clock:
    """Time running from WINDOW_MOMENT: claims and reports move on, the window stays open."""
    started = clock.utc_now()
    return lambda: WINDOW_MOMENT + (clock.utc_now() - started)


WINDOW_CASES = [
    ("claim+report", CLAIM),
    ("windowed claim+report", WINDOWED_CLAIM),
    ("first available", FIRST_AVAILABLE),
    ("windowed first available", WINDOWED_AVAILABLE),
]


async def windowed_claims(size: int, reps: int) -> list[str]:
    """Requests with the window and without it, at `size` zoned targets against 100; each
    rep runs every case once, in turn, so that the machine's moods fall on all alike."""
    opened = open_zones(ZONES, window(CALLING_WINDOW), WINDOW_MOMENT)
    if opened != sorted([ZONES[2], ZONES[9]]):
        raise RuntimeError(f"the window opens {opened}")
    measured: dict[int, dict[str, float]] = {}
    for n in (100, size):
        sys.stderr.write(f"sqlite: filling {n:,} targets in {len(ZONES)} zones\n")
        async with service("sqlite", n, zoned_target, window_clock()) as (api, _):
            calls = {name: request(api, query) for name, query in WINDOW_CASES}
            times: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(reps + 1):
                for name, call in calls.items():
                    start = time.perf_counter()
                    await call()
                    times[name].append((time.perf_counter() - start) * 1000)
            measured[n] = {name: statistics.median(taken[1:]) for name, taken in times.items()}
    note = "  (2 of 20 zones open, 10% of the targets; goal <= 2)"
    return [
        f"sqlite {size:>7,} {name:24} {measured[100][name]:8.2f} ms {measured[size][name]:8.2f} ms"
        f"  ratio {measured[size][name] / measured[100][name]:5.2f}"
        + (note if name.startswith("windowed") else "")
        for name, _ in WINDOW_CASES
    ]


def request(api: GraphQL, query: str) -> Timed:
    """The request, and for a claim the report that makes its target available again."""

    async def once() -> None:
        data = await api.data(query)
        if "claimOutdialtarget" not in data:
            return
        found = data["claimOutdialtarget"]
        if found is None:
            raise RuntimeError("nothing to claim")
        await api.data(REPORT, id=found["target"]["id"])

    return once


async def import_time(size: int) -> str:
    """`outdial-graphql import` of `size` stored documents into an empty embedded store."""
    with tempfile.TemporaryDirectory() as work:
        lines = Path(work) / "targets.jsonl"
        with lines.open("wb") as out:
            for n in range(size):
                out.write(orjson.dumps(target_to_document(make_target(n))) + b"\n")
        async with open_backend("sqlite", Path(work) / "data") as backend:
            start = time.perf_counter()
            result = await import_file(lines, backend.storage.repository, progress=io.StringIO())
            seconds = time.perf_counter() - start
    return f"import of {result.written:,} targets into the embedded store: {seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--sizes", type=_sizes, default=[1000, 10_000, 100_000])
    parser.add_argument("--wire-sizes", type=_sizes, default=[1000])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--import-size", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--window-size", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--seconds", type=float, default=3.0, help="dialer loop and reads, each")
    asyncio.run(run(parser.parse_args()))


def _sizes(raw: str) -> list[int]:
    return [int(part) for part in raw.split(",") if part]


if __name__ == "__main__":
    main()
