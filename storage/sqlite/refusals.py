"""Writes the embedded store's disk refuses, remembered until the disk takes writes again.

A refusal (no space left, a read-only file, a failing or damaged disk) is what readiness
reports. While one stands, a probe every PROBE_INTERVAL_S asks whether the disk takes writes
again: it has PROBE_ROOM free, and a write commits. Room first: where a write failed half way,
the space it took is free for a smaller one, so a small write can succeed on a disk with no
room for the next create. The write counts the probes in a meta row of their own, a change, so
its commit must reach the disk (a write of an unchanged value would not); nothing reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from domain.errors import DatabaseUnavailable

PROBE_INTERVAL_S = 1.0
PROBE_ROOM = 1024 * 1024

logger = logging.getLogger("outdial.storage")


class WriteRefusals:
    def __init__(self, directory: Path, probe: Callable[[], Awaitable[object]]) -> None:
        self.current: DatabaseUnavailable | None = None
        self._directory = directory
        self._probe = probe
        self._probing: asyncio.Task[None] | None = None

    def refused(self, refusal: DatabaseUnavailable) -> None:
        if self.current is None:
            logger.warning("writes refused (%s): %s", refusal.reason, refusal.message)
        self.current = refusal
        if self._probing is None:
            self._probing = asyncio.create_task(self._probe_until_accepted(), name="write-probe")

    async def stop(self) -> None:
        probing, self._probing = self._probing, None
        if probing is not None:
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing

    async def _probe_until_accepted(self) -> None:
        try:
            while (refusal := self.current) is not None:
                await asyncio.sleep(PROBE_INTERVAL_S)
                if await self._accepted() and self.current is refusal:
                    logger.warning("writes accepted again after %s", refusal.reason)
                    self.current = None
        finally:
            self._probing = None

    async def _accepted(self) -> bool:
        if _room(self._directory) < PROBE_ROOM:
            return False
        try:
            await self._probe()
        except (DatabaseUnavailable, sqlite3.Error):
            return False
        return True


def _room(directory: Path) -> int:
    try:
        disk = os.statvfs(directory)
    except OSError:
        return 0
    return disk.f_bavail * disk.f_frsize


def probe(connection: sqlite3.Connection) -> None:
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('write_probes', 1) "
        "ON CONFLICT (key) DO UPDATE SET value = value + 1"
    )
