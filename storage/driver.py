"""The MongoDB driver, behind one module: switching drivers changes storage/ only."""

from __future__ import annotations

from typing import Any

from motor.motor_asyncio import (
    AsyncIOMotorClient,
    AsyncIOMotorCollection,
    AsyncIOMotorDatabase,
)
from pymongo import ReturnDocument
from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.write_concern import WriteConcern

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
    "targets_collection",
]


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
