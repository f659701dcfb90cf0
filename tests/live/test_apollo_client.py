"""Apollo Client (npm @apollo/client, run by node) against the real service: its persisted
query link, and the README's Apollo Client 4 recipe run as it is printed there."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import operations as ops
from tests.support.api import OUTDIAL
from tests.support.hardening import WRITE_TOKEN, bearer
from tests.support.live_server import REPO_ROOT, live_service
from tests.support.node import installed

CACHE_CONTROL = "public, max-age=30"
MISS = "PERSISTED_QUERY_NOT_FOUND"

pytestmark = pytest.mark.node


def test_apollo_clients_persisted_queries_miss_once_then_hit_over_post_and_get(
    tmp_path: Path,
) -> None:
    js_dir = installed()
    env = {"DATA_DIR": str(tmp_path), "PERSISTED_QUERY_CACHE_CONTROL": CACHE_CONTROL}
    with live_service(env) as service:
        ran = subprocess.run(
            ["node", str(js_dir / "apq.mjs"), service.url, OUTDIAL],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert [r["data"] for r in report["results"]] == [
        [{"__typename": "OutdialtargetCounts", "total": 0}] * 3,
        [{"__typename": "OutdialtargetCounts", "idle": 0, "progressing": 0, "done": 0}] * 3,
    ]
    seen = [
        (e["method"], e["sentQuery"], e["status"], e["code"], e["cacheControl"])
        for e in report["exchanges"]
    ]
    assert seen == [
        ("POST", False, 200, MISS, None),  # the hash alone: unknown
        ("POST", True, 200, None, None),  # the link retries with the text, which registers it
        ("POST", False, 200, None, None),  # then the hash alone hits
        ("POST", False, 200, None, None),
        ("GET", False, 200, MISS, "no-store"),
        ("POST", True, 200, None, None),
        ("GET", False, 200, None, CACHE_CONTROL),  # hits over GET, cacheable
        ("GET", False, 200, None, CACHE_CONTROL),
    ]


# the README recipe


def readme_recipe() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### JavaScript: Apollo Client 4") :]
    match = re.search(r"```js\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def run_recipe(js_dir: Path, tmp_path: Path, url: str) -> dict[str, Any]:
    """The recipe as a module of its own (beside a link to the installed packages), driven by
    tests/js/recipe.mjs."""
    module = tmp_path / "recipe" / "outdial-apollo.mjs"
    module.parent.mkdir()
    module.write_text(readme_recipe())
    (module.parent / "node_modules").symlink_to(js_dir / "node_modules")
    ran = subprocess.run(
        ["node", str(js_dir / "recipe.mjs"), str(module), f"{url}/graphql", WRITE_TOKEN, OUTDIAL],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    return report


def newest_first(url: str) -> list[str]:
    answer = httpx.post(
        f"{url}/graphql",
        json={"query": ops.LIST, "variables": {"outdialId": OUTDIAL, "first": 100}},
        headers=bearer(WRITE_TOKEN),
    )
    return [edge["node"]["id"] for edge in answer.json()["data"]["outdialtargets"]["edges"]]


def test_the_readme_apollo_recipe_pages_subscribes_and_keeps_destinations_whole(
    tmp_path: Path,
) -> None:
    js_dir = installed()
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_TOKENS": f"write:{hashlib.sha256(WRITE_TOKEN.encode()).hexdigest()}",
    }
    with live_service(env) as service:
        report = run_recipe(js_dir, tmp_path, service.url)
        listed = newest_first(service.url)
    page = report["page"]
    # Three pages of 2, 2 and 1, merged by relayStylePagination into one cached list.
    assert sorted(listed) == sorted(report["created"]) and len(listed) == 5
    assert page["ids"] == listed and page["pages"] == 3
    assert (page["totalCount"], page["hasNextPage"]) == (5, False)
    paged = [op["after"] for op in report["httpOperations"] if op["operationName"] == "Targets"]
    cursors = page["cursors"]
    assert paged[:3] == [None, cursors[1], cursors[3]]  # each after the shown list's end
    # The subscription ran over the websocket, its event caused by a mutation over HTTP.
    names = {op["operationName"] for op in report["httpOperations"]}
    assert "StatusChanged" not in names and {"Create", "Mark"} <= names
    event = report["event"]
    first = listed[0]
    assert event["target"]["id"] == first and event["status"] == event["caused"]
    assert {event["previousStatus"], event["status"]} == {"IDLE", "PROGRESSING"}
    # The list selected `type target`, the detail query the rest: merged, whole, also after
    # the event brought `destination0 { type }` again.
    n = report["created"].index(first)
    whole = {
        "__typename": "Address",
        "type": "TEL",
        "target": f"+8211000000{n}",
        "targetName": f"Customer {n}",
        "name": "mobile",
        "detail": "after 18:00",
    }
    assert report["before"]["destination0"] == whole
    assert report["after"] == {"__typename": "Outdialtarget", "status": event["status"]} | {
        "destination0": whole
    }
    assert report["withoutAddressPolicy"] is None  # without merge: true the fields are lost
