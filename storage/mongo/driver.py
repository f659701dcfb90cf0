"""The MongoDB driver, behind one module: switching drivers changes storage/ only."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from motor.motor_asyncio import (
    AsyncIOMotorClient,
    AsyncIOMotorCollection,
    AsyncIOMotorDatabase,
)
from pymongo import ReturnDocument
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    PyMongoError,
    WTimeoutError,
)
from pymongo.write_concern import WriteConcern

from domain.errors import DatabaseUnavailable

Client = AsyncIOMotorClient[dict[str, Any]]
Database = AsyncIOMotorDatabase[dict[str, Any]]
Collection = AsyncIOMotorCollection[dict[str, Any]]

COLLECTION = "outdialtargets"
MAJORITY = WriteConcern("majority")

__all__ = [
    "BulkWriteError",
    "COLLECTION",
    "MAJORITY",
    "Client",
    "Collection",
    "ConnectionFailure",
    "Database",
    "PyMongoError",
    "ReturnDocument",
    "connect",
    "reports_outages",
    "targets_collection",
]

_OUTAGES = (ConnectionFailure, ExecutionTimeout, WTimeoutError)
_HEARTBEAT_TIMEOUT_MS = 20_000
_WRITE_TIMEOUT_MS = 60_000


def connect(url: str, *, timeout_ms: int) -> Client:
    """A client that gives up on an unreachable database after `timeout_ms`.

    Sockets and heartbeats get more room than that: a reachable but busy database (the
    embedded one needs seconds for 1,000 inserts) must finish a write rather than have
    the client walk away from it and report a failure for a change that still happens.
    """
    return AsyncIOMotorClient(
        url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=max(timeout_ms, _HEARTBEAT_TIMEOUT_MS),
        socketTimeoutMS=max(timeout_ms, _WRITE_TIMEOUT_MS),
        tz_aware=False,
        uuidRepresentation="standard",
        appname="outdial-graphql",
    )


def targets_collection(database: Database) -> Collection:
    return database.get_collection(COLLECTION, write_concern=MAJORITY)


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
