"""The MongoDB driver, behind one module: switching drivers changes storage/ only.

Two drivers speak the same API here: Motor (deprecated since 2025-05-14, critical fixes
only until 2027-05-14) and its successor, PyMongo's own AsyncMongoClient (MONGODB_DRIVER).
Where their calls differ (closing a client, opening a change stream, a transaction), the
functions below take either; everything else is the API both share.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any

from motor.motor_asyncio import (
    AsyncIOMotorClient,
    AsyncIOMotorCollection,
    AsyncIOMotorDatabase,
)
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    PyMongoError,
    WTimeoutError,
)
from pymongo.write_concern import WriteConcern

from domain.errors import DatabaseUnavailable
from storage.backend import MongoDriver

type Document = dict[str, Any]
type Client = AsyncIOMotorClient[Document] | AsyncMongoClient[Document]
type Database = AsyncIOMotorDatabase[Document] | AsyncDatabase[Document]
type Collection = AsyncIOMotorCollection[Document] | AsyncCollection[Document]

COLLECTION = "outdialtargets"
MAJORITY = WriteConcern("majority")

__all__ = [
    "COLLECTION",
    "MAJORITY",
    "BulkWriteError",
    "Client",
    "Collection",
    "ConnectionFailure",
    "Database",
    "PyMongoError",
    "ReturnDocument",
    "close",
    "connect",
    "insert_in_transaction",
    "new_client",
    "reports_outages",
    "targets_collection",
    "watch",
]

_OUTAGES = (ConnectionFailure, ExecutionTimeout, WTimeoutError)
_WRITE_TIMEOUT_MS = 60_000
_CLIENTS: dict[MongoDriver, Callable[..., Client]] = {
    "motor": AsyncIOMotorClient,
    "pymongo": AsyncMongoClient,
}


def new_client(driver: MongoDriver, url: str, **options: Any) -> Client:
    """A client of `driver`, made on the event loop that will use it (PyMongo's may use one)."""
    return _CLIENTS[driver](url, tz_aware=False, uuidRepresentation="standard", **options)


def connect(url: str, *, timeout_ms: int, driver: MongoDriver = "motor") -> Client:
    """A client that gives up on an unreachable database after `timeout_ms`.

    Sockets and heartbeats get more room than that: a reachable but busy database (the
    embedded one needs seconds for 1,000 inserts) must finish a write rather than have
    the client walk away from it and report a failure for a change that still happens.
    Heartbeats as much as writes: a heartbeat that times out interrupts the writes in
    flight (both drivers follow MongoDB's monitoring spec), while the server goes on.
    """
    return new_client(
        driver,
        url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=max(timeout_ms, _WRITE_TIMEOUT_MS),
        socketTimeoutMS=max(timeout_ms, _WRITE_TIMEOUT_MS),
        appname="outdial-graphql",
    )


async def close(client: Client) -> None:
    """PyMongo's close is a coroutine; Motor's is not (it sends endSessions from a thread)."""
    if isinstance(client, AsyncMongoClient):
        await client.close()
    else:
        client.close()


def targets_collection(database: Database) -> Collection:
    return database.get_collection(COLLECTION, write_concern=MAJORITY)


@asynccontextmanager
async def watch(
    collection: Collection, pipeline: list[dict[str, Any]], **options: Any
) -> AsyncIterator[AsyncIterable[Mapping[str, Any]]]:
    """A change stream, closed on leaving: PyMongo opens it when awaited, Motor on first use."""
    if isinstance(collection, AsyncCollection):
        async with await collection.watch(pipeline, **options) as stream:
            yield stream
        return
    async with collection.watch(pipeline, **options) as motor_stream:
        yield motor_stream


async def insert_in_transaction(collection: Collection, docs: list[Document]) -> None:
    """Insert `docs` in one transaction of a session of `collection`'s client: all or none.
    PyMongo starts the session at once and the transaction when awaited; Motor the other
    way round."""
    if isinstance(collection, AsyncCollection):
        async with (
            collection.database.client.start_session() as session,
            await session.start_transaction(),
        ):
            await collection.insert_many(docs, ordered=True, session=session)
        return
    async with (
        await collection.database.client.start_session() as motor_session,
        motor_session.start_transaction(),
    ):
        await collection.insert_many(docs, ordered=True, session=motor_session)


def reports_outages[**P, R](
    operation: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn the driver's "database unreachable" errors into the domain's DatabaseUnavailable."""

    @functools.wraps(operation)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await operation(*args, **kwargs)
        except _OUTAGES as error:
            raise DatabaseUnavailable(_OUTAGE_MESSAGE) from error

    return guarded


_OUTAGE_MESSAGE = (
    "the database did not answer in time; if this was a write, it may or may not have "
    "been applied: read before retrying it"
)
