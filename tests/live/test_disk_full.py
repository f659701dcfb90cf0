"""The embedded store's disk fills while the service runs, and is freed: real services, one
real tmpfs DATA_DIR.

Writes answer SERVICE_UNAVAILABLE with reason DISK_FULL (never an internal error), /metrics
counts them, /readyz answers 503 with the reason until the disk takes writes again, reads go on
answering, and every acknowledged target is there afterwards: with one process, and in each of
two processes sharing the DATA_DIR.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from storage.sqlite.refusals import PROBE_INTERVAL_S
from tests.support import operations as ops
from tests.support.filesystems import fill, small_disk
from tests.support.live_server import LiveService, live_service

OUTDIAL = "7d1f0c3e-2b4a-4e6f-8a9b-0c1d2e3f4a5b"
DISK = 4 * 1024 * 1024
ROOM = 256 * 1024  # left beside the filler: the services' own creates fill it
RECOVERY_BOUND_S = 10.0
LIST_ALL = """query($outdialId: ID!) { outdialtargets(outdialId: $outdialId, first: 100) {
  edges { node { id } } } }"""


def inputs(count: int) -> list[dict[str, Any]]:
    return [ops.new_input(OUTDIAL, id=str(uuid.uuid4()), data="x" * 1000) for _ in range(count)]


@dataclass(frozen=True)
class Process:
    service: LiveService
    http: httpx.Client

    def post(self, query: str, **variables: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.http.post(
            "/graphql", json={"query": query, "variables": variables}
        ).json()
        return body

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.post(query, **variables)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    def create(self, count: int) -> list[str]:
        created = self.data(ops.CREATE_MANY, inputs=inputs(count))["createOutdialtargets"]
        return [target["id"] for target in created]

    def database_errors(self, reason: str) -> float:
        for family in text_string_to_metric_families(self.http.get("/metrics").text):
            for sample in family.samples:
                if sample.name == "outdial_database_errors_total" and sample.labels == {
                    "reason": reason
                }:
                    return sample.value
        raise AssertionError(f"no outdial_database_errors_total with reason {reason}")

    def stored_ids(self) -> set[str]:
        edges = self.data(LIST_ALL, outdialId=OUTDIAL)["outdialtargets"]["edges"]
        return {edge["node"]["id"] for edge in edges}


@contextmanager
def processes(data_dir: Path, count: int) -> Iterator[list[Process]]:
    with ExitStack() as stack:
        started = [
            stack.enter_context(live_service({"DATA_DIR": str(data_dir)})) for _ in range(count)
        ]
        yield [
            Process(service, stack.enter_context(httpx.Client(base_url=service.url, timeout=30)))
            for service in started
        ]


def create_until_full(running: list[Process]) -> list[str]:
    """Creates of 20 targets, from each process in turn, until the disk refuses one."""
    acknowledged: list[str] = []
    for turn in range(ROOM // (20 * 1000)):
        body = running[turn % len(running)].post(ops.CREATE_MANY, inputs=inputs(20))
        if body["data"] is None:
            assert body["errors"][0]["extensions"]["reason"] == "DISK_FULL", body
            return acknowledged
        acknowledged += [target["id"] for target in body["data"]["createOutdialtargets"]]
    raise AssertionError(f"{len(acknowledged)} targets stored on a disk of {ROOM} bytes")


def refused_create(process: Process) -> None:
    """A create of 100 targets, more than the disk has room for."""
    body = process.post(ops.CREATE_MANY, inputs=inputs(100))
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "reason": "DISK_FULL"}
    assert "no space left on the disk holding" in error["message"]


def assert_reads_answer(process: Process, acknowledged: list[str]) -> None:
    target = process.data(ops.GET, id=acknowledged[0])["outdialtarget"]
    assert target["id"] == acknowledged[0]
    assert process.stored_ids() == set(acknowledged)
    counts = process.data(ops.COUNTS, outdialId=OUTDIAL)["outdialtargetCounts"]
    assert counts["total"] == len(acknowledged)


def ready_within(process: Process, bound_s: float) -> float:
    started = time.monotonic()
    while (took := time.monotonic() - started) < bound_s:
        if process.http.get("/readyz").status_code == 200:
            return took
        time.sleep(0.05)
    raise AssertionError(f"/readyz not 200 within {bound_s}s: {process.http.get('/readyz').text}")


def test_a_full_disk_refuses_writes_clearly_and_the_service_recovers_when_freed(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path, size=DISK) as data_dir, processes(data_dir, 2) as running:
        filler = data_dir / "filler"
        fill(filler, leave=ROOM)
        acknowledged = create_until_full(running)

        for process in running:
            before = process.database_errors("DISK_FULL")
            refused_create(process)
            assert process.database_errors("DISK_FULL") == before + 1
            assert_reads_answer(process, acknowledged)
        time.sleep(2 * PROBE_INTERVAL_S)  # the probes have run, and found no room
        for process in running:
            not_ready = process.http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["reason"] == "DISK_FULL"
            assert str(data_dir) in not_ready.json()["message"]
            assert "writes refused (DISK_FULL)" in process.service.log()

        filler.unlink()
        for process in running:
            took = ready_within(process, RECOVERY_BOUND_S)
            print(f"ready {took:.2f}s after the space was freed")  # noqa: T201 - shown with -s
        acknowledged += [n for process in running for n in process.create(20)]
        for process in running:
            assert process.stored_ids() == set(acknowledged)
            assert "Traceback" not in process.service.log()
