"""A CSV import on the embedded store while a service serves the same DATA_DIR: its subscribers
see the targets arrive batch by batch, its claims keep working, and the import run again writes
nothing, not even over the target the service's dialer claimed meanwhile."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import operations as ops
from tests.support.api import GraphQLClient
from tests.support.csv_files import COLUMNS, OUTDIAL, row, write_csv
from tests.support.live_server import REPO_ROOT, live_service
from tests.support.ws_client import TRANSPORT_WS, GraphQLWebSocket

ROWS = 2000
WAIT_S = 10.0
COUNTS = """subscription($outdialId: ID!) { outdialtargetCountsChanged(outdialId: $outdialId) {
  idle total } }"""


def import_csv(data_dir: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it beside the service."""
    env = dict(os.environ) | {"DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    argv = ["import", str(path), "--outdial", OUTDIAL, "--columns", COLUMNS, "--batch-size", "250"]
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv, "--key-column", "CustomerId"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_csv_import_beside_a_service_on_the_same_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = write_csv(tmp_path / "campaign.csv", *(row(n, Notes='"a\nb"') for n in range(ROWS)))
    with live_service({"DATA_DIR": str(data_dir)}) as service:
        async with (
            GraphQLWebSocket.connect(service.ws_url, TRANSPORT_WS) as ws,
            httpx.AsyncClient(base_url=service.url, timeout=30) as http,
        ):
            counts = await ws.subscribe(COUNTS, outdialId=OUTDIAL)
            assert (await counts.next(WAIT_S))["outdialtargetCountsChanged"]["total"] == 0
            imported = await asyncio.to_thread(import_csv, data_dir, path)
            assert imported.returncode == 0, imported.stderr
            totals = [0]
            while totals[-1] < ROWS:
                totals.append((await counts.next(WAIT_S))["outdialtargetCountsChanged"]["total"])
            gql = GraphQLClient(http)
            claimed = await gql.data(ops.CLAIM, outdialId=OUTDIAL, max=[1])
            target = claimed["claimOutdialtarget"]["target"]

            again = await asyncio.to_thread(import_csv, data_dir, path)

            after = await gql.data(ops.GET, id=target["id"])
            final = await gql.data(ops.COUNTS, outdialId=OUTDIAL)
    assert totals == sorted(totals) and len(totals) > 2, "the targets arrived, batch by batch"
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"{ROWS:,} target(s) stored already, as given: left alone",
        f"imported 0 target(s) from {path}",
    ]
    assert (after["outdialtarget"]["status"], after["outdialtarget"]["tryCount0"]) == (
        "PROGRESSING",
        1,
    )
    assert final["outdialtargetCounts"] == {
        "idle": ROWS - 1,
        "progressing": 1,
        "done": 0,
        "total": ROWS,
    }
