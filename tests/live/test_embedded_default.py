"""The service with no MONGODB_URL: the embedded SQLite store keeps data under DATA_DIR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import operations as ops
from tests.support.live_server import live_service, wire_server

OUTDIAL = "2f9a6a5e-8d44-4c1b-9e0f-6a3c1e5b7d21"


def execute(url: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def every_field_input() -> dict[str, Any]:
    return {
        "outdialId": OUTDIAL,
        "name": "Ünïcødé 名前 📞",
        "detail": "",
        "data": "d" * 65_535,
        "destination0": {"type": "TEL", "target": "+821100000001", "targetName": "mobile"},
        "destination1": {"type": "EMAIL", "target": "someone@example.com", "name": "é"},
        "destination2": {"type": "SIP", "target": "sip:alice@pbx.example.org"},
        "destination3": {"type": "AGENT", "target": "1b3d7a92-7146-466d-90f5-4bc701ada4c0"},
        "destination4": {"type": "WHATSAPP", "target": "+4915112345678", "detail": "x" * 255},
    }


def test_data_survives_a_restart_and_reads_back_unchanged(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    with live_service(env) as first:
        created = execute(first.url, ops.CREATE, input=every_field_input())["createOutdialtarget"]
        marked = execute(first.url, ops.MARK, id=created["id"], slot=2)
    assert (tmp_path / "data" / "targets.sqlite3").exists()
    with live_service(env) as second:
        again = execute(second.url, ops.GET, id=created["id"])["outdialtarget"]
    assert again == marked["markOutdialtargetProgressing"]
    assert again["data"] == "d" * 65_535
    assert again["name"] == "Ünïcødé 名前 📞"
    assert len(again["tmCreate"]) == len("2022-04-30 17:52:16.484341")


@pytest.mark.wire
def test_mongodb_url_set_means_nothing_embedded_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "unused"
    with wire_server() as uri, live_service({"MONGODB_URL": uri, "DATA_DIR": str(data_dir)}) as s:
        created = execute(s.url, ops.CREATE, input=ops.new_input(OUTDIAL))["createOutdialtarget"]
        assert execute(s.url, ops.GET, id=created["id"])["outdialtarget"]["id"] == created["id"]
    assert not data_dir.exists()


@pytest.mark.wire
def test_a_data_dir_of_the_previous_embedded_store_is_brought_over_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old_env = {"DATA_DIR": str(tmp_path / "other")}
    # What version 1 ran: mongoeco on SQLite in DATA_DIR.
    with wire_server(data_dir) as uri, live_service(old_env | {"MONGODB_URL": uri}) as old:
        created = execute(old.url, ops.CREATE, input=every_field_input())
        before = execute(old.url, ops.GET, id=created["createOutdialtarget"]["id"])
    assert (data_dir / "outdial.sqlite3").exists()
    with live_service({"DATA_DIR": str(data_dir)}) as first:
        assert execute(first.url, ops.GET, id=created["createOutdialtarget"]["id"]) == before
        assert "brought 1 target(s) over from the previous embedded store" in first.log()
    assert (data_dir / "outdial.sqlite3.migrated").exists()
    with live_service({"DATA_DIR": str(data_dir)}) as second:
        assert execute(second.url, ops.GET, id=created["createOutdialtarget"]["id"]) == before
        assert "previous embedded store" not in second.log()
