"""Live counts per outdial: one shared recount per coalesced burst of changes.

Each outdial with subscribers has one watch. A change marks it; the watch recounts once and
hands the counts to every subscriber of the outdial, then rests for the interval, so bursts
coalesce and a recount never runs once per subscriber. Each subscriber keeps only the newest
counts and sends at most one event per interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from domain.models import Status

logger = logging.getLogger("outdial.events")

Counts = dict[Status, int]
Recount = Callable[[str], Awaitable[Counts]]
INTERVAL_S = 0.25


class CountsFeed:
    def __init__(self, *, interval: float = INTERVAL_S) -> None:
        self._interval = interval
        self._watches: dict[str, _Watch] = {}

    def outdial_changed(self, outdial_id: str) -> None:
        watch = self._watches.get(outdial_id)
        if watch is not None:
            watch.changed.set()

    def recount_all(self) -> None:
        """Changes may have been missed: every watched outdial is counted again."""
        for watch in self._watches.values():
            watch.changed.set()

    async def stream(self, outdial_id: str, recount: Recount) -> AsyncIterator[Counts]:
        """The counts at once, then after changes, until closed; the last ones are final."""
        watch = self._watches.get(outdial_id)
        if watch is None:
            watch = self._watches[outdial_id] = _Watch(outdial_id, recount, self._interval)
        listener = _Listener(self._interval)
        watch.listeners.add(listener)
        try:
            first = await recount(outdial_id)
            yield first
            listener.sent(first)
            while (counts := await listener.next()) is not None:
                yield counts
        finally:
            watch.listeners.discard(listener)
            if not watch.listeners and self._watches.get(outdial_id) is watch:
                del self._watches[outdial_id]
                watch.stop()

    def close(self) -> None:
        for watch in self._watches.values():
            watch.stop()
            for listener in watch.listeners:
                listener.end()
        self._watches.clear()


class _Listener:
    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._latest: Counts | None = None
        self._ready = asyncio.Event()
        self._ended = False
        self._last_sent = 0.0
        self._last_counts: Counts | None = None

    def offer(self, counts: Counts) -> None:
        self._latest = counts
        self._ready.set()

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    def sent(self, counts: Counts) -> None:
        self._last_sent = asyncio.get_running_loop().time()
        self._last_counts = counts

    async def next(self) -> Counts | None:
        """The newest counts when they differ from the last ones sent, no sooner than an
        interval after those; None once ended."""
        while True:
            await self._ready.wait()
            rest = self._last_sent + self._interval - asyncio.get_running_loop().time()
            if rest > 0 and not self._ended:
                await asyncio.sleep(rest)
            self._ready.clear()
            counts, self._latest = self._latest, None
            if self._ended:
                return None
            # A recount may already have seen a change whose notice comes later: the same
            # counts again tell the subscriber nothing.
            if counts is not None and counts != self._last_counts:
                self.sent(counts)
                return counts


class _Watch:
    def __init__(self, outdial_id: str, recount: Recount, interval: float) -> None:
        self.listeners: set[_Listener] = set()
        self.changed = asyncio.Event()
        self._outdial_id = outdial_id
        self._recount = recount
        self._interval = interval
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            await self.changed.wait()
            self.changed.clear()
            try:
                counts = await self._recount(self._outdial_id)
            except Exception as error:  # the database is down: the next change tries again
                logger.warning("recounting outdial %s failed: %r", self._outdial_id, error)
            else:
                for listener in list(self.listeners):
                    listener.offer(counts)
            await asyncio.sleep(self._interval)
