"""Helpers for tests that talk to a real MongoDB wire server (the embedded one)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from storage.backend import MongoDriver
from storage.mongo.driver import Client, close, new_client

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 10.0
SERVER_SELECTION_TIMEOUT_MS = 5000


class WireServerFailed(RuntimeError):
    pass


def _server_command(data_dir: Path | None) -> list[str]:
    where = ["--memory"] if data_dir is None else ["--data-dir", str(data_dir)]
    return [sys.executable, "-m", "tests.support.mongoeco_server", *where]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


async def _read_uri(process: asyncio.subprocess.Process) -> str | None:
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)
    except TimeoutError:
        return None
    text = line.decode().strip()
    return text.removeprefix("URI ") if text.startswith("URI ") else None


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


@asynccontextmanager
async def wire_server_process(data_dir: Path | None) -> AsyncIterator[str]:
    """Run `python -m tests.support.mongoeco_server` in a child process; yield its URI.

    On a normal exit the child must shut down cleanly (exit 0) after SIGTERM.
    """
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            *_server_command(data_dir),
            cwd=REPO_ROOT,
            env=_child_env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            uri = await _read_uri(process)
        except BaseException:
            await _stop(process)
            raise
        if uri is None:
            returncode = await _stop(process)
            stderr.seek(0)
            raise WireServerFailed(
                f"embedded server gave no URI within {STARTUP_TIMEOUT_S}s (exit {returncode}):\n"
                f"{stderr.read().decode(errors='replace')}"
            )
        try:
            yield uri
        finally:
            returncode = await _stop(process)
        if returncode != 0:
            stderr.seek(0)
            raise WireServerFailed(
                f"embedded server exited {returncode} after SIGTERM:\n"
                f"{stderr.read().decode(errors='replace')}"
            )


@asynccontextmanager
async def mongo_client(
    uri: str, *, driver: MongoDriver = "motor", **options: Any
) -> AsyncIterator[Client]:
    """A client of `driver` that is always closed, failing fast if the server is gone."""
    options.setdefault("serverSelectionTimeoutMS", SERVER_SELECTION_TIMEOUT_MS)
    client = new_client(driver, uri, **options)
    try:
        yield client
    finally:
        await close(client)
