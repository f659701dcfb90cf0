"""The real service in a child process: uvicorn on a loopback port, as users run it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass
class LiveService:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/graphql"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_service(env: Mapping[str, str], *, port: int | None = None) -> Iterator[LiveService]:
    """Start `outdial-graphql serve` with `env` added; stop it with SIGTERM on exit."""
    chosen = port or free_port()
    child_env = dict(os.environ) | {"HOST": "127.0.0.1", "PORT": str(chosen)} | dict(env)
    child_env["PYTHONPATH"] = str(REPO_ROOT)
    with tempfile.TemporaryDirectory() as logs:
        log_path = Path(logs) / "service.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", "serve"],
                cwd=REPO_ROOT,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            service = LiveService(f"http://127.0.0.1:{chosen}", process, log_path)
            try:
                wait_until_healthy(service)
                yield service
            finally:
                stop(service)


def stop(service: LiveService) -> int:
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
    return service.process.returncode


def wait_until_healthy(service: LiveService) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"service exited at start-up:\n{service.log()}")
        try:
            if httpx.get(f"{service.url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"service not ready within {START_TIMEOUT_S}s:\n{service.log()}")


@contextmanager
def wire_server(data_dir: Path | None = None, *, port: int = 0) -> Iterator[str]:
    """A MongoDB-speaking server (`python -m tests.support.mongoeco_server`) in a child
    process; its URI."""
    with wire_server_process(data_dir, port=port) as (uri, _):
        yield uri


@contextmanager
def wire_server_process(
    data_dir: Path | None = None, *, port: int = 0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The same, with its process (for tests that kill it)."""
    where = ["--memory"] if data_dir is None else ["--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.mongoeco_server", *where, "--port", str(port)],
        cwd=REPO_ROOT,
        env=dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.startswith("URI "):
            raise RuntimeError(f"wire server did not start: {line!r}")
        yield line.removeprefix("URI "), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
