"""The npm graphql-sse client (run by node) against the real service, in both of its modes:
every operation over Server-Sent Events, status events caused by its own mutations."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.hardening import WRITE_TOKEN
from tests.support.live_server import live_service
from tests.support.node import installed

pytestmark = pytest.mark.node


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_the_graphql_sse_client_subscribes_mutates_and_queries(tmp_path: Path, mode: str) -> None:
    js_dir = installed()
    env = {
        "DATA_DIR": str(tmp_path),
        "AUTH_TOKENS": f"write:{hashlib.sha256(WRITE_TOKEN.encode()).hexdigest()}",
    }
    outdial = str(uuid.uuid4())
    with live_service(env) as service:
        ran = subprocess.run(
            ["node", str(js_dir / "sse.mjs"), service.url, mode, WRITE_TOKEN, outdial],
            capture_output=True,
            text=True,
            timeout=60,
        )
        log = service.log()
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    target = report["id"]
    assert report["created"] == {"data": {"createOutdialtarget": {"id": target, "status": "IDLE"}}}
    assert report["marked"] == {"data": {"markOutdialtargetProgressing": {"status": "PROGRESSING"}}}
    assert report["reported"] == {"data": {"updateOutdialtargetStatus": {"status": "DONE"}}}
    assert report["events"] == [
        {"previousStatus": "IDLE", "status": "PROGRESSING", "target": {"id": target}},
        {"previousStatus": "PROGRESSING", "status": "DONE", "target": {"id": target}},
    ]
    assert report["counted"] == {"data": {"outdialtargetCounts": {"total": 1, "done": 1}}}
    assert "Traceback" not in log
