"""Apollo Client's persisted query link (npm @apollo/client, run by node) against the service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import OUTDIAL
from tests.live_server import REPO_ROOT, live_service

JS_DIR = REPO_ROOT / "tests" / "js"
CACHE_CONTROL = "public, max-age=30"
MISS = "PERSISTED_QUERY_NOT_FOUND"


def installed() -> Path:
    """tests/js/node_modules as package-lock.json pins it; `npm ci` only when it is not."""
    assert shutil.which("node") and shutil.which("npm"), "the Apollo Client test needs node and npm"
    lock = JS_DIR / "package-lock.json"
    stamp = JS_DIR / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return JS_DIR


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
