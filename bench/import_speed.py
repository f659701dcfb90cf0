"""How fast does `outdial-graphql import` load the embedded store, and what does a service on the
same DATA_DIR feel meanwhile?

    python -m bench.import_speed [--sizes 100000,1000000] [--csv] [--live] [--seconds 10]
        [--derive-zones]

For each size: a file of stored documents in one outdial (bench.scale's targets: 90% exhausted,
the rest idle, progressing and done; each line's time_zone null, or with --derive-zones no
time_zone key, as a version 2 program stored them, so that each line derives its zone from its
number) is imported into an empty DATA_DIR by the real command, in
a process of its own; printed: wall time, rate, CPU seconds of the import and its workers, and
how long checking and writing took (from its progress lines).

With --csv, the same size of new targets of a campaign list (a name, a company, notes, a mobile,
an office number and an email each) is imported twice side by side, as a CSV list with its
columns mapped and as JSON lines of stored documents; printed: both times and their ratio.

With --live, a service (`outdial-graphql serve`) runs on the same DATA_DIR, holding another
outdial of targets: 4 readers (single-target reads) and 4 dialers (claim, then report IDLE) keep
it busy for --seconds alone, then during the import; printed: p50 and p99 of reads and of
claims, without and with the import, and any request that failed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from bench.scale import MAX_TRIES, OUTDIAL, make_target
from domain.models import Address, AddressType, Status
from storage.documents import target_to_document
from tests.support.live_server import REPO_ROOT, live_service

LIVE_OUTDIAL = "0c7d1f62-3b9a-4e55-8f20-6a1b2c3d4e5f"
LIVE_TARGETS = 20_000
GET = "query($id: ID!) { outdialtarget(id: $id) { id status tryCount0 } }"
CLAIM = f"""mutation {{ claimOutdialtarget(outdialId: "{LIVE_OUTDIAL}", maxTryCounts: [{MAX_TRIES}])
  {{ target {{ id }} }} }}"""
CSV_COLUMNS = (
    "name=Name,detail=Company,data=Notes,destination0=tel:Mobile,destination1=tel:Office,"
    "destination2=email:Email"
)
REPORT = "mutation($id: ID!) { updateOutdialtargetStatus(id: $id, status: IDLE) { status } }"


def write_file(
    path: Path, size: int, outdial: str | None = None, *, derive_zones: bool = False
) -> list[str]:
    """`size` stored documents as JSON lines; their ids."""
    ids = []
    with path.open("wb") as out:
        for n in range(size):
            doc = target_to_document(make_target(n))
            if derive_zones:
                del doc["time_zone"]
            if outdial is not None:
                doc |= {"outdial_id": outdial, "try_count_0": 0, "status": "idle"}
                doc["_id"] = doc["id"] = f"{n:08x}-0000-4000-8000-{outdial[-12:]}"
            ids.append(doc["id"])
            out.write(orjson.dumps(doc) + b"\n")
    return ids


@dataclass
class Imported:
    seconds: float
    cpu: float
    checked_at: float
    last_lines: list[str]


def write_campaign(rows: Path, lines: Path, size: int) -> None:
    """`size` new targets, as a CSV list (CSV_COLUMNS) and as JSON lines of stored documents."""
    with rows.open("w", newline="") as csv_out, lines.open("wb") as jsonl_out:
        writer = csv.writer(csv_out)
        writer.writerow(["CustomerId", "Name", "Company", "Notes", "Mobile", "Office", "Email"])
        for n in range(size):
            cells = [f"C{n}", f"customer {n}", f"company {n % 997}", '{"crm": 1}']
            cells += [f"+8210{n:08d}", f"+8223{n % 10_000_000:07d}", f"c{n}@example.com"]
            writer.writerow(cells)
            phones = [Address(AddressType.TEL, number) for number in cells[4:6]]
            # The ids the CSV import derives from the key: the same targets, in the same order
            # of the primary key (sequential ids would be written faster).
            target_id = str(uuid.uuid5(uuid.UUID(OUTDIAL), f"key:{cells[0]}"))
            doc = target_to_document(
                dataclasses.replace(
                    make_target(n),
                    id=target_id,
                    name=cells[1],
                    detail=cells[2],
                    data=cells[3],
                    status=Status.IDLE,
                    try_counts=(0, 0, 0, 0, 0),
                    destinations=(*phones, Address(AddressType.EMAIL, cells[6]), None, None),
                )
            )
            # Derived from the mobile, and created at the import's time, as the CSV rows are.
            for key in ("time_zone", "tm_create", "tm_update"):
                del doc[key]
            jsonl_out.write(orjson.dumps(doc) + b"\n")


def run_import(path: Path, data_dir: Path, *options: str) -> Imported:
    """The real command in a process of its own; its progress lines timed as they come."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    checked_at = 0.0
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "import", str(path), *options],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith("imported") and not checked_at:
            checked_at = time.perf_counter() - start
    status = process.wait()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        raise RuntimeError(f"import failed ({status}): {lines[-5:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Imported(seconds, cpu, checked_at, lines[-2:])


@dataclass
class Latencies:
    reads: list[float] = field(default_factory=list)
    claims: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"reads {_quantiles(self.reads)}; claims {_quantiles(self.claims)}" + (
            f"; {len(self.failures)} failed, first: {self.failures[0]}" if self.failures else ""
        )


def _quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "no samples"
    cuts = statistics.quantiles(values, n=100)
    return f"n={len(values):,} p50 {cuts[49]:.1f} ms p99 {cuts[98]:.1f} ms max {max(values):.0f} ms"


async def traffic(url: str, ids: list[str], stop: asyncio.Event) -> Latencies:
    """4 readers and 4 dialers against the service until `stop`."""
    measured = Latencies()
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def ask(query: str, **variables: str) -> tuple[float, dict[str, object] | None]:
            start = time.perf_counter()
            response = await http.post("/graphql", json={"query": query, "variables": variables})
            elapsed = (time.perf_counter() - start) * 1000
            body = response.json()
            if body.get("errors"):
                measured.failures.append(str(body["errors"])[:200])
                return elapsed, None
            return elapsed, body["data"]

        async def reader(offset: int) -> None:
            n = offset
            while not stop.is_set():
                elapsed, _ = await ask(GET, id=ids[n % len(ids)])
                measured.reads.append(elapsed)
                n += 7919

        async def dialer() -> None:
            while not stop.is_set():
                elapsed, data = await ask(CLAIM)
                measured.claims.append(elapsed)
                found = data and data["claimOutdialtarget"]
                if isinstance(found, dict):
                    await ask(REPORT, id=found["target"]["id"])

        await asyncio.gather(*(reader(n) for n in range(4)), *(dialer() for _ in range(4)))
    return measured


async def while_running(
    url: str, ids: list[str], work: asyncio.Future[Imported] | float
) -> Latencies:
    stop = asyncio.Event()
    measuring = asyncio.create_task(traffic(url, ids, stop))
    if isinstance(work, float):
        await asyncio.sleep(work)
    else:
        await work
    stop.set()
    return await measuring


@contextmanager
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as work:
        yield Path(work)


def alone(lines: Path, size: int) -> str:
    with data_dir() as work:
        done = run_import(lines, work / "data")
    return _report(size, done)


def _report(size: int, done: Imported) -> str:
    writing = done.seconds - done.checked_at
    return (
        f"import of {size:>9,}: {done.seconds:6.1f} s, {size / done.seconds:7,.0f} targets/s "
        f"(checking {done.checked_at:.1f} s, writing {writing:.1f} s; "
        f"CPU {done.cpu:.1f} s in all processes)"
    )


def csv_beside_json_lines(size: int) -> list[str]:
    with data_dir() as work:
        rows, lines = work / "campaign.csv", work / "campaign.jsonl"
        write_campaign(rows, lines, size)
        csv_options = ("--outdial", OUTDIAL, "--columns", CSV_COLUMNS, "--key-column", "CustomerId")
        as_csv = run_import(rows, work / "csv", *csv_options)
        as_lines = run_import(lines, work / "jsonl")
    return [
        _report(size, as_csv) + ", a CSV list",
        _report(size, as_lines) + ", the same targets as JSON lines",
        f"  ratio CSV / JSON lines: {as_csv.seconds / as_lines.seconds:.2f} (wall time), "
        f"{as_csv.cpu / as_lines.cpu:.2f} (CPU)",
    ]


async def beside_service(lines: Path, size: int, seconds: float) -> list[str]:
    with data_dir() as work:
        live = work / "live.jsonl"
        ids = write_file(live, LIVE_TARGETS, LIVE_OUTDIAL)
        run_import(live, work / "data")
        with live_service({"DATA_DIR": str(work / "data"), "LOG_LEVEL": "warning"}) as service:
            quiet = await while_running(service.url, ids, seconds)
            importing = asyncio.ensure_future(asyncio.to_thread(run_import, lines, work / "data"))
            busy = await while_running(service.url, ids, importing)
            done = importing.result()
    return [
        _report(size, done) + ", beside a service",
        f"  service alone:        {quiet.summary()}",
        f"  service during import: {busy.summary()}",
    ]


async def run(args: argparse.Namespace) -> None:
    for size in args.sizes:
        with data_dir() as files:
            lines = files / "targets.jsonl"
            write_file(lines, size, derive_zones=args.derive_zones)
            _say(alone(lines, size))
            if args.csv:
                _say("\n".join(csv_beside_json_lines(size)))
            if args.live:
                _say("\n".join(await beside_service(lines, size, args.seconds)))


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_speed", description=__doc__)
    parser.add_argument("--sizes", type=_sizes, default=[100_000, 1_000_000])
    parser.add_argument(
        "--csv", action="store_true", help="also a CSV list beside the same JSON lines"
    )
    parser.add_argument("--live", action="store_true", help="also beside a running service")
    parser.add_argument("--seconds", type=float, default=10.0, help="service alone, measured")
    parser.add_argument(
        "--derive-zones", action="store_true", help="lines without time_zone: each derives one"
    )
    asyncio.run(run(parser.parse_args()))


def _sizes(raw: str) -> list[int]:
    return [int(part) for part in raw.split(",") if part]


if __name__ == "__main__":
    main()
