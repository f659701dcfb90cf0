"""The README's command-line block and its example operations, run as printed there on the data
`outdial-graphql demo` makes, against the service as `make run` starts it (no tokens)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse, print_ast

from domain import windows
from tests.support.live_server import REPO_ROOT, LiveService, live_service

DEMO_OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"


def readme_block(heading: str, language: str) -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index(f"\n{heading}\n") :]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no {language} block under {heading}"
    return match.group(1)


def readme_operations(heading: str) -> list[OperationDefinitionNode]:
    document = parse(readme_block(heading, "graphql"))
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def post(service: LiveService, operation: OperationDefinitionNode | str) -> dict[str, Any]:
    query = operation if isinstance(operation, str) else print_ast(operation)
    answer = httpx.post(f"{service.url}/graphql", json={"query": query})
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("newcomer")


@pytest.fixture(scope="module")
def commands_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    """The README's command-line block in one shell, the venv's commands on the PATH."""
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ) | {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "DATA_DIR": str(workdir / "data"),
    }
    script = "set -euo pipefail\n" + readme_block("## Command line", "sh")
    return subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def demo_service(
    workdir: Path, commands_run: subprocess.CompletedProcess[str]
) -> Iterator[LiveService]:
    assert commands_run.returncode == 0, commands_run.stderr
    with live_service({"DATA_DIR": str(workdir / "data")}) as service:
        yield service


def test_the_command_line_block_runs_as_printed(
    workdir: Path, commands_run: subprocess.CompletedProcess[str]
) -> None:
    assert commands_run.returncode == 0, commands_run.stderr
    assert "Traceback" not in commands_run.stderr
    exported = (workdir / "one-outdial.jsonl").read_text().splitlines()
    assert exported and all(DEMO_OUTDIAL in line for line in exported)


def test_the_frontend_queries_find_the_demo_data(demo_service: LiveService) -> None:
    operations = readme_operations("## Queries for frontends and operators")
    queries = [op for op in operations if op.operation is OperationType.QUERY]
    assert len(queries) == 3 and len(operations) == 4
    outdials, targets, by_destination = (post(demo_service, query) for query in queries)
    listed = [edge["node"]["outdialId"] for edge in outdials["outdials"]["edges"]]
    assert DEMO_OUTDIAL in listed
    assert targets["outdialtargets"]["totalCount"] > 0
    found = by_destination["outdialtargetsByDestination"]
    assert found["totalCount"] > 0
    assert DEMO_OUTDIAL in {edge["node"]["outdialId"] for edge in found["edges"]}


def test_the_workers_loop_claims_renews_and_reports_a_demo_target(
    demo_service: LiveService,
) -> None:
    claim, renew, report = readme_operations("## A worker's loop")
    claimed = post(demo_service, claim)["claimOutdialtarget"]
    assert claimed is not None
    target_id, token = claimed["target"]["id"], claimed["claimToken"]

    def filled(operation: OperationDefinitionNode) -> str:
        text = print_ast(operation)
        return text.replace('id: "..."', f'id: "{target_id}"').replace(
            'claimToken: "..."', f'claimToken: "{token}"'
        )

    assert post(demo_service, filled(renew))["renewOutdialtargetClaim"]["leaseExpiresAt"]
    assert post(demo_service, filled(report))["updateOutdialtargetStatus"] == {"status": "DONE"}


def test_the_windowed_claim_hands_out_only_targets_inside_their_hours(
    demo_service: LiveService,
) -> None:
    (claim,) = readme_operations("### Calling lawfully: a claim with a calling window")
    hours = windows.window(windows.WindowDraft("08:00", "21:00", "America/New_York"))
    before = datetime.now(UTC)
    claimed = post(demo_service, claim)["claimOutdialtarget"]
    after = datetime.now(UTC)
    if claimed is None:  # nothing callable now: every demo target is outside its hours
        assert not windows.within(None, hours, before) or not windows.within(None, hours, after)
    else:
        zone = claimed["target"]["timeZone"]
        assert windows.within(zone, hours, before) or windows.within(zone, hours, after)


def test_the_national_number_example_stores_what_the_readme_says(
    demo_service: LiveService,
) -> None:
    create, lookup = readme_operations("## Time zones and numbers as people write them")
    created = post(demo_service, create)["createOutdialtarget"]
    assert created == {"destination0": {"target": "+821012345678"}, "timeZone": "Asia/Seoul"}
    assert post(demo_service, lookup)["outdialtargetsByDestination"]["totalCount"] >= 1


def test_the_csv_import_block_runs_as_printed_and_a_rerun_writes_nothing(
    tmp_path: Path,
) -> None:
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ) | {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "DATA_DIR": str(tmp_path / "data"),
    }
    script = "set -euo pipefail\n" + readme_block("### Importing a CSV list", "sh")
    run = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "imported 3 target(s) from campaign.csv" in run.stderr
    assert "3 target(s) stored already" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
