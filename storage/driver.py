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
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError
from pymongo.write_concern import WriteConcern

from domain.errors import DatabaseUnavailable

Client = AsyncIOMotorClient[dict[str, Any]]
Database = AsyncIOMotorDatabase[dict[str, Any]]
Collection = AsyncIOMotorCollection[dict[str, Any]]

COLLECTION = "outdialtargets"
MAJORITY = WriteConcern("majority")

__all__ = [
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


def connect(url: str, *, timeout_ms: int) -> Client:
    return AsyncIOMotorClient(
        url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms * 3,
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
            raise DatabaseUnavailable("the database did not answer in time; try again") from error

    return guarded
