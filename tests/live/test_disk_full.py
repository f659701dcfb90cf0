"""The embedded store's disk fills while the service runs, and is freed: real service, real tmpfs.

Writes answer SERVICE_UNAVAILABLE with reason DISK_FULL (never an internal error), /metrics
counts them, /readyz answers 503 with the reason until the disk takes writes again, reads go on
answering, and every acknowledged target is there afterwards.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from storage.sqlite.refusals import PROBE_INTERVAL_S
from tests.support import operations as ops
from tests.support.filesystems import fill, small_disk
from tests.support.live_server import live_service

OUTDIAL = "7d1f0c3e-2b4a-4e6f-8a9b-0c1d2e3f4a5b"
DISK = 4 * 1024 * 1024
RECOVERY_BOUND_S = 10.0


def post(url: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


def data(url: str, query: str, **variables: Any) -> dict[str, Any]:
    body = post(url, query, **variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def create(url: str, count: int) -> list[str]:
    inputs = [ops.new_input(OUTDIAL, id=str(uuid.uuid4()), data="x" * 1000) for _ in range(count)]
    created = data(url, ops.CREATE_MANY, inputs=inputs)["createOutdialtargets"]
    return [target["id"] for target in created]


def refused_creates(url: str) -> int:
    """Creates, one of one target and one of 100, and each refused as DISK_FULL."""
    for inputs in ([ops.new_input(OUTDIAL)], [ops.new_input(OUTDIAL, data="x" * 1000)] * 100):
        body = post(url, ops.CREATE_MANY, inputs=inputs)
        assert body["data"] is None, body
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "reason": "DISK_FULL"}
        assert "no space left on the disk holding" in error["message"]
    return 2


def database_errors(url: str, reason: str) -> float:
    families = text_string_to_metric_families(httpx.get(f"{url}/metrics").text)
    for family in families:
        for sample in family.samples:
            if sample.name == "outdial_database_errors_total" and sample.labels == {
                "reason": reason
            }:
                return sample.value
    return 0.0


def readiness(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=5)


def ready_within(url: str, bound_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < bound_s:
        if readiness(url).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"/readyz not 200 within {bound_s}s: {readiness(url).text}")


def assert_reads_answer(url: str, acknowledged: list[str]) -> None:
    first = data(url, ops.GET, id=acknowledged[0])["outdialtarget"]
    assert first["id"] == acknowledged[0]
    page = data(url, ops.LIST, outdialId=OUTDIAL, first=10)["outdialtargets"]
    assert len(page["edges"]) == 10
    counts = data(url, ops.COUNTS, outdialId=OUTDIAL)["outdialtargetCounts"]
    assert counts["total"] == len(acknowledged)


def assert_all_there(url: str, acknowledged: list[str]) -> None:
    for target_id in acknowledged:
        assert data(url, ops.GET, id=target_id)["outdialtarget"]["id"] == target_id
    counts = data(url, ops.COUNTS, outdialId=OUTDIAL)["outdialtargetCounts"]
    assert counts["total"] == len(acknowledged)


def test_a_full_disk_refuses_writes_clearly_and_the_service_recovers_when_freed(
    tmp_path: Path,
) -> None:
    with (
        small_disk(tmp_path, size=DISK) as data_dir,
        live_service({"DATA_DIR": str(data_dir)}) as service,
    ):
        url = service.url
        acknowledged = create(service.url, 30)
        filler = data_dir / "filler"
        fill(filler)

        refused = refused_creates(url)
        assert database_errors(url, "DISK_FULL") == refused
        assert_reads_answer(url, acknowledged)
        time.sleep(2 * PROBE_INTERVAL_S)  # the probe has run, and found no room
        not_ready = readiness(url)
        assert not_ready.status_code == 503
        assert not_ready.json()["reason"] == "DISK_FULL"
        assert str(data_dir) in not_ready.json()["message"]
        assert "writes refused (DISK_FULL)" in service.log()

        filler.unlink()
        took = ready_within(url, RECOVERY_BOUND_S)
        print(f"ready {took:.2f}s after the space was freed")  # noqa: T201 - measured, shown with -s
        acknowledged += create(url, 30)
        assert_all_there(url, acknowledged)
        assert "Traceback" not in service.log()
