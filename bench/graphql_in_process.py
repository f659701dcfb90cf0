"""The requests of bench.graphql_vs_plain, called in-process: the server's CPU per request.

    python -m bench.graphql_in_process [--requests N] [--runs N] [--store service|memory]

The same app (`bench_app`), the same targets, cases and variants as bench.graphql_vs_plain,
but each request is an ASGI call straight into the app, through all its middleware, with no
socket and no client process. Each variant runs `--runs` times `--requests` requests; the best
run's process CPU time per request is reported, and its difference to `plain GET` of the same
case. On a shared machine this moves far less between runs than wall time over HTTP does, so it
is the number to compare two versions of the code by; the issue's ratio is the HTTP one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

from bench.graphql_vs_plain import JSON, Call, seeded_app, variants, verify


async def call(app: ASGIApp, request: Call) -> tuple[int, bytes]:
    """One request through the app: its status and body."""
    path, _, query_string = request.path.partition("?")
    body = request.body or b""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"accept", JSON.encode()),
            (b"content-type", JSON.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def cpu_per_request(app: ASGIApp, request: Call, requests: int, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for _ in range(requests):
            await call(app, request)
        best = min(best, (time.process_time() - started) / requests)
    return best * 1e6


async def main_async(args: argparse.Namespace, data_dir: Path) -> str:
    lines = [f"{'case':<8} {'variant':<16} {'cpu µs':>8} {'extra':>8} {'ratio':>6}"]
    async with seeded_app(data_dir, args.targets, args.store) as (app, cases):
        for case in cases:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://127.0.0.1"
            ) as client:
                await verify(client, case)  # same content as the plain route; APQ registered
            calls = variants(case.query, case.variables, case.plain_path)
            results = {}
            for name, request in calls.items():
                status, body = await call(app, request)
                if status != 200 or b'"errors"' in body:
                    raise SystemExit(f"{case.name} {name}: HTTP {status} {body[:200]!r}")
                requests = args.requests if case.name == "target" else args.requests // 10
                results[name] = await cpu_per_request(app, request, requests, args.runs)
            plain = results["plain GET"]
            for name, cpu in results.items():
                lines.append(
                    f"{case.name:<8} {name:<16} {cpu:8.1f} {cpu - plain:+8.1f} {cpu / plain:5.2f}x"
                )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.graphql_in_process", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per run (a tenth for pages)")
    parser.add_argument("--runs", type=int, default=5, help="the best one counts")
    parser.add_argument("--targets", type=int, default=120, help="targets in the outdial")
    parser.add_argument("--store", choices=("service", "memory"), default="service")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir:
        table = asyncio.run(main_async(args, Path(data_dir)))
    sys.stdout.write(
        f"store={args.store} requests={args.requests} runs={args.runs} "
        f"python={sys.version.split()[0]} (server CPU per request, in-process)\n{table}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
