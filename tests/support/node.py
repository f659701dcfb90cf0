"""The npm packages tests/js/package-lock.json pins, for the tests that run node clients."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

from tests.support.live_server import REPO_ROOT

JS_DIR = REPO_ROOT / "tests" / "js"


def installed() -> Path:
    """tests/js/node_modules as package-lock.json pins it; `npm ci` only when it is not."""
    assert shutil.which("node") and shutil.which("npm"), "the node client tests need node and npm"
    lock = JS_DIR / "package-lock.json"
    stamp = JS_DIR / "node_modules" / ".package-lock.json"
    # One install at a time: test workers (pytest -n) would otherwise empty each other's.
    with (JS_DIR / ".npm-ci.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )
    return JS_DIR
