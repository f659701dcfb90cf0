"""Opening the configured MongoDB: indexes, the repository, the change stream feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from domain.errors import DatabaseUnavailable
from domain.events import Broker
from storage.backend import MongoDriver
from storage.documents import UnreadableLog
from storage.errors import CannotOpenStorage
from storage.mongo.changes import ChangeStreamConsumer, change_source, supports_change_streams
from storage.mongo.driver import (
    Client,
    Collection,
    ConnectionFailure,
    Database,
    PyMongoError,
    close,
    connect,
    targets_collection,
)
from storage.mongo.indexes import ensure_indexes
from storage.mongo.repository import TargetRepository

logger = logging.getLogger("outdial.storage")

_NOT_ALLOWED = (13, 18)  # MongoDB's Unauthorized, AuthenticationFailed


@dataclass(frozen=True, slots=True)
class MongoStorage:
    database: Database
    collection: Collection
    repository: TargetRepository
    unreadable: UnreadableLog
    change_streams: bool  # a replica set or a mongos, as `hello` said when prepared

    @classmethod
    async def prepare(cls, database: Database) -> MongoStorage:
        collection = targets_collection(database)
        await ensure_indexes(collection)
        transactions = await supports_change_streams(database)  # a replica set or a mongos
        if not transactions:
            logger.warning(
                "MongoDB is a standalone server, which has no transactions: a bulk create that "
                "dies midway may leave part of its targets; client-chosen ids make its retry safe"
            )
        unreadable = UnreadableLog()
        repository = TargetRepository(collection, unreadable, transactions=transactions)
        return cls(database, collection, repository, unreadable, change_streams=transactions)

    async def report_unreadable(self) -> None:
        """Nothing to look up: documents are found unreadable as they are read."""

    @asynccontextmanager
    async def feed_changes(self, broker: Broker) -> AsyncIterator[bool]:
        """Feed `broker` from a change stream while inside; yields False where none exists."""
        if not self.change_streams:
            logger.warning(
                "MongoDB offers no change streams (not a replica set): "
                "subscriptions see only the changes made through this instance"
            )
            yield False
            return
        await self._record_pre_images()
        consumer = ChangeStreamConsumer(
            change_source(self.collection), broker, unreadable=self.unreadable
        )
        task = asyncio.create_task(consumer.run(), name="change-stream")
        try:
            yield True
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _record_pre_images(self) -> None:
        """Exact previous statuses need pre-images (MongoDB 6+); without them they are derived."""
        command = {
            "collMod": self.collection.name,
            "changeStreamPreAndPostImages": {"enabled": True},
        }
        try:
            await self.database.command(command)
        except PyMongoError as error:
            logger.info(
                "change stream pre-images unavailable (%s); deriving previous status", error
            )

    @property
    def write_refusal(self) -> DatabaseUnavailable | None:
        return None

    async def ping(self) -> bool:
        try:
            await self.database.command("ping")
        except PyMongoError:
            return False
        return True


@asynccontextmanager
async def using_database(database: Database) -> AsyncIterator[MongoStorage]:
    """A database the caller opened and closes (tests inject mongomock or a wire server)."""
    yield await MongoStorage.prepare(database)


@asynccontextmanager
async def open_mongo(
    *, url: str, database: str, timeout_ms: int, driver: MongoDriver = "motor"
) -> AsyncIterator[MongoStorage]:
    """Raises CannotOpenStorage when `url` cannot be read or MongoDB does not answer."""
    client = _client(url, timeout_ms, driver)
    try:
        yield await _prepared(client, url, database, timeout_ms)
    finally:
        await close(client)


def _client(url: str, timeout_ms: int, driver: MongoDriver) -> Client:
    try:
        return connect(url, timeout_ms=timeout_ms, driver=driver)
    except (PyMongoError, ValueError) as error:  # pymongo says ValueError of a bad port
        raise CannotOpenStorage(
            f"MONGODB_URL cannot be read ({error}); write it as mongodb://HOST:PORT/, "
            "with the user and password percent-encoded"
        ) from None


async def _prepared(client: Client, url: str, database: str, timeout_ms: int) -> MongoStorage:
    where = f"MongoDB at {_hosts(url)}"
    try:
        return await MongoStorage.prepare(client[database])
    except ConnectionFailure as error:
        raise CannotOpenStorage(
            f"{where} did not answer within {timeout_ms} ms ({_reason(error)}); start it, "
            "or correct MONGODB_URL (DB_TIMEOUT_MS sets how long to wait)"
        ) from None
    except PyMongoError as error:
        if getattr(error, "code", None) in _NOT_ALLOWED:
            raise CannotOpenStorage(
                f"{where} refused ({_reason(error)}); check the user and password in "
                "MONGODB_URL and that this user may write the database MONGODB_DB"
            ) from None
        raise CannotOpenStorage(f"{where} cannot be used ({_reason(error)})") from None


def _hosts(url: str) -> str:
    """The hosts of `url`, without the user and password that may precede them."""
    authority = re.split(r"[/?]", url.partition("://")[2], maxsplit=1)[0]
    return authority.rpartition("@")[2] or url.partition("://")[0]


def _reason(error: PyMongoError) -> str:
    """The driver's first words, without the topology and timeouts it appends."""
    text = re.sub(r" \(configured timeouts:[^)]*\)", "", str(error))
    text = _CONNECT_CALL_FAILED.sub(lambda e: f"[Errno {e[1]}] {os.strerror(int(e[1]))}", text)
    return text.partition(", Timeout:")[0][:200]


# PyMongo's async client says what asyncio says of a refused connection; Motor, what the OS says.
_CONNECT_CALL_FAILED = re.compile(r"\[Errno (\d+)\] Connect call failed \([^)]*\)")
