"""mongoeco, a MongoDB-speaking test server: the wire tier, real drivers over a real socket."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from pathlib import Path
from types import TracebackType

from mongoeco.engines.base import AsyncStorageEngine
from mongoeco.engines.memory import MemoryEngine
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire import AsyncMongoEcoProxyServer

from storage.datadir import DataDirInUse, DataDirLock

DATABASE_FILE_NAME = "outdial.sqlite3"  # what the embedded store of version 1 wrote

logger = logging.getLogger(__name__)


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"embedded MongoDB only listens on loopback, not {host!r}")


def _uri(host: str, port: int) -> str:
    netloc_host = f"[{host}]" if ":" in host else host
    return f"mongodb://{netloc_host}:{port}/?directConnection=true"


class EmbeddedMongo:
    """Serves MongoDB on loopback: SQLite in `data_dir`, or in memory when it is None.

    The server runs on its own event loop in a thread: pymongo's MongoClient.close()
    (which Motor calls synchronously) sends endSessions and waits for the reply, so a
    server sharing the caller's loop could not answer and the close would stall.
    """

    def __init__(self, data_dir: Path | None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        _require_loopback(host)
        self.data_dir = data_dir
        self._host = host
        self._port = port
        self._lock = DataDirLock(data_dir) if data_dir is not None else None
        self._thread: _ServerThread | None = None
        self.uri: str | None = None

    def _engine(self) -> AsyncStorageEngine:
        if self.data_dir is None:
            return MemoryEngine()
        return SQLiteEngine(str(self.data_dir / DATABASE_FILE_NAME))

    async def __aenter__(self) -> str:
        if self._thread is not None:
            raise RuntimeError("embedded MongoDB is already running")
        if self._lock is not None:
            self._lock.acquire()
        thread = _ServerThread(
            lambda: AsyncMongoEcoProxyServer(
                engine=self._engine(), host=self._host, port=self._port
            )
        )
        self._thread = thread
        try:
            host, port = await asyncio.shield(asyncio.wrap_future(thread.ready))
        except BaseException:
            await self._shut_down()
            raise
        self.uri = _uri(host, port)
        logger.info("embedded MongoDB serving %s at %s", self.data_dir or "memory", self.uri)
        return self.uri

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shut_down()

    async def _shut_down(self) -> None:
        thread, self._thread = self._thread, None
        self.uri = None
        try:
            if thread is not None:
                await thread.stop()
        finally:
            if self._lock is not None:
                self._lock.release()


class _ServerThread:
    """Runs one proxy server on a private event loop until asked to stop."""

    def __init__(self, make_server: Callable[[], AsyncMongoEcoProxyServer]) -> None:
        self.ready: Future[tuple[str, int]] = Future()
        self._stop_requested: Future[None] = Future()
        self._finished: Future[None] = Future()
        self._make_server = make_server
        self._thread = threading.Thread(target=self._run, name="embedded-mongo", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        with suppress(InvalidStateError):
            self._stop_requested.set_result(None)
        await _wait_even_if_cancelled(self._finished)
        self._thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:
            _settle(self.ready, error)
            _settle(self._finished, error)
        else:
            _settle(self._finished, None)

    async def _serve(self) -> None:
        server = self._make_server()
        address = await server.start()  # rolls itself back if it fails
        try:
            _settle(self.ready, (address.host, address.port))
            await asyncio.wrap_future(self._stop_requested)
        finally:
            # Closes the listener, aborts client connections, cancels their
            # handlers and disconnects the engine.
            await server.close()


def _settle[T](future: Future[T], outcome: T | BaseException) -> None:
    with suppress(InvalidStateError):
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


async def _wait_even_if_cancelled(future: Future[None]) -> None:
    """Wait for the server thread to finish, so the lock is never released under it."""
    waiter = asyncio.wrap_future(future)
    cancelled = False
    while not waiter.done():
        try:
            await asyncio.shield(waiter)
        except asyncio.CancelledError:
            cancelled = True
    waiter.result()
    if cancelled:
        raise asyncio.CancelledError


async def serve_until_signalled(data_dir: Path | None, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with EmbeddedMongo(data_dir, port=port) as uri:
            sys.stdout.write(f"URI {uri}\n")
            sys.stdout.flush()
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.mongoeco_server",
        description="Run the embedded MongoDB-compatible server on loopback.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", type=Path, help="directory holding the SQLite database")
    where.add_argument("--memory", action="store_true", help="keep data in memory only")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    try:
        asyncio.run(serve_until_signalled(args.data_dir, args.port))
    except DataDirInUse as error:
        logger.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
