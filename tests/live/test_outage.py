"""The database goes away and comes back: clear errors in bounded time, then recovery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.backend import MONGO_DRIVERS
from tests.support import operations as ops
from tests.support.live_server import free_port, live_service, wire_server

pytestmark = pytest.mark.wire

OUTDIAL = "0c9e2b1a-6d3f-4e8a-9b7c-5a4d3e2f1a0b"
TIMEOUT_MS = 1000
BOUND_S = 10.0


def post(url: str, query: str, **variables: Any) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60
    )
    return response.json(), time.monotonic() - started


def data(url: str, query: str, **variables: Any) -> dict[str, Any]:
    body, _ = post(url, query, **variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def wait_for_ready(url: str, expected: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz", timeout=BOUND_S).status_code == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"/readyz never answered {expected}")


@pytest.mark.parametrize("driver", MONGO_DRIVERS)
def test_outage_fails_fast_reports_not_ready_and_recovers(tmp_path: Path, driver: str) -> None:
    port = free_port()
    database = wire_server(tmp_path, port=port)
    uri = database.__enter__()
    try:
        env = {"DB_TIMEOUT_MS": str(TIMEOUT_MS), "MONGODB_URL": uri, "MONGODB_DRIVER": driver}
        with live_service(env) as service:
            url = service.url
            ids = [
                data(url, ops.CREATE, input=ops.new_input(OUTDIAL))["createOutdialtarget"]["id"]
                for _ in range(3)
            ]
            data(url, ops.MARK, id=ids[0], slot=0)

            database.__exit__(None, None, None)
            for query, variables in [
                (ops.CREATE, {"input": ops.new_input(OUTDIAL)}),
                (ops.MARK, {"id": ids[1], "slot": 0}),
                (ops.COUNTS, {"outdialId": OUTDIAL}),
            ]:
                body, took = post(url, query, **variables)
                assert took < BOUND_S
                assert body["errors"][0]["extensions"] == {
                    "code": "SERVICE_UNAVAILABLE",
                    "reason": "TIMEOUT",
                }
                assert "database" in body["errors"][0]["message"]
            wait_for_ready(url, 503)

            database = wire_server(tmp_path, port=port)
            database.__enter__()
            wait_for_ready(url, 200)
            counts = data(url, ops.COUNTS, outdialId=OUTDIAL)["outdialtargetCounts"]
            assert counts == {"idle": 2, "progressing": 1, "done": 0, "total": 3}
            first = data(url, ops.GET, id=ids[0])["outdialtarget"]
            assert (first["status"], first["tryCount0"]) == ("PROGRESSING", 1)
            marked = data(url, ops.MARK, id=ids[1], slot=0)["markOutdialtargetProgressing"]
            assert marked["tryCount0"] == 1
    finally:
        database.__exit__(None, None, None)
