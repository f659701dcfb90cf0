"""Feeds this process's broker from the change log, in commit order, whichever process wrote.

This process's own writes are published right after their commit, before they are answered
(SqliteDatabase.listen_to_commits); other processes' writes when a poll of
`PRAGMA data_version` (every 10 ms, every 25 ms once the store has been quiet for a second)
says that another connection committed. A process whose
place in the log was pruned away cannot know what it missed: its subscribers end with
SUBSCRIBER_TOO_SLOW and it goes on from the newest change.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from domain.events import Broker
from domain.models import Status, StatusChange
from storage.documents import UnreadableDocument
from storage.sqlite import changelog
from storage.sqlite.changelog import Change
from storage.sqlite.rows import target_of

logger = logging.getLogger("outdial.changes")

POLL_S = 0.01
# After a second without commits the feed polls less often: each wake-up of the event loop
# costs CPU (about 0.15 ms on the development machine), and an idle store needs no haste.
IDLE_POLL_S = 0.025
IDLE_AFTER_S = 1.0
BATCH = 500


class ChangeFeed:
    """Publishes each change once: `seq` is the last one published."""

    def __init__(self, connection: sqlite3.Connection, broker: Broker, *, batch: int = BATCH):
        self._connection = connection
        self._broker = broker
        self._batch = batch
        self._version = self._data_version()
        self.seq = changelog.head(connection)

    def catch_up(self) -> None:
        """Publish every change committed since the last one published, in commit order."""
        while True:
            read = changelog.read_since(self._connection, self.seq, self._batch)
            if read.pruned_through > self.seq:
                self._fell_behind(read.pruned_through)
                return
            for change in read.changes:
                self._publish(change)
                self.seq = change.seq
            if len(read.changes) < self._batch:
                return

    async def follow(self) -> None:
        """Catch up whenever another connection has committed, until cancelled."""
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        while True:
            busy = loop.time() - last_commit < IDLE_AFTER_S
            await asyncio.sleep(POLL_S if busy else IDLE_POLL_S)
            try:
                version = self._data_version()
                if version != self._version:
                    last_commit = loop.time()
                    self.catch_up()
                    self._version = version  # only now: a failed catch-up is tried again
            except sqlite3.Error as error:
                logger.warning("reading the change log failed (%r); trying again", error)

    def _data_version(self) -> int:
        (version,) = self._connection.execute("PRAGMA data_version").fetchone()
        return int(version)

    def _publish(self, change: Change) -> None:
        if change.doc is None or change.previous_status is None or not len(self._broker):
            self._broker.outdial_changed(change.outdial_id)
            return
        try:
            target = target_of(change.doc)
        except UnreadableDocument as error:
            logger.warning("skipping an unreadable change (seq %d): %s", change.seq, error)
            self._broker.outdial_changed(change.outdial_id)
            return
        self._broker.publish(StatusChange(target, previous_status=Status(change.previous_status)))

    def _fell_behind(self, pruned_through: int) -> None:
        newest = changelog.head(self._connection)
        logger.warning(
            "changes %d to %d were pruned from the log before this process read them; "
            "its subscribers end as too slow, and it goes on from change %d",
            self.seq + 1,
            pruned_through,
            newest,
        )
        self.seq = newest
        self._broker.lost_changes()
