"""The storage tiers every API test runs on, and raw access to what each one stores."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from mongomock_motor import AsyncMongoMockClient

from storage.backend import MongoDriver, Storage
from storage.mongo.connection import MongoStorage, open_mongo
from storage.mongo.driver import Collection
from storage.sqlite import writes
from storage.sqlite.database import SqliteDatabase
from storage.sqlite.rows import document_of
from storage.sqlite.storage import open_sqlite
from tests.support.mongoeco_server import EmbeddedMongo

Doc = dict[str, Any]

# The wire tier runs on each driver MONGODB_DRIVER may name; mongomock-motor is Motor's alone.
WIRE_DRIVERS: dict[str, MongoDriver] = {"wire": "motor", "wire-pymongo": "pymongo"}
TIERS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mock", id="mock"),
    *(pytest.param(tier, id=tier, marks=pytest.mark.wire) for tier in WIRE_DRIVERS),
]


class RawDocuments(Protocol):
    """The stored documents as another program sees them, bypassing the service."""

    async def insert(self, *docs: Doc) -> None: ...

    async def get(self, target_id: str) -> Doc | None: ...

    async def all(self) -> list[Doc]:
        """Every stored document, by _id."""
        ...


class MongoDocuments:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def insert(self, *docs: Doc) -> None:
        await self._collection.insert_many([dict(doc) for doc in docs])

    async def get(self, target_id: str) -> Doc | None:
        found: Doc | None = await self._collection.find_one({"_id": target_id})
        return found

    async def all(self) -> list[Doc]:
        return [doc async for doc in self._collection.find({}, sort=[("_id", 1)])]


class SqliteDocuments:
    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    async def insert(self, *docs: Doc) -> None:
        def write(connection: sqlite3.Connection) -> None:
            writes.insert(connection, docs)

        await self._database.write(write)

    async def get(self, target_id: str) -> Doc | None:
        query = "SELECT doc FROM targets WHERE id = ?"
        row = self._database.reader.execute(query, (target_id,)).fetchone()
        return None if row is None else document_of(row[0])

    async def all(self) -> list[Doc]:
        rows = self._database.reader.execute("SELECT doc FROM targets ORDER BY id")
        return [document_of(text) for (text,) in rows]


@dataclass
class Backend:
    tier: str
    storage: Storage
    docs: RawDocuments

    def opener(self) -> Callable[[], AbstractAsyncContextManager[Storage]]:
        """For create_app: the storage this fixture opened, left open for the test to read."""

        @asynccontextmanager
        async def already_open() -> AsyncIterator[Storage]:
            yield self.storage

        return already_open


@asynccontextmanager
async def open_backend(tier: str, data_dir: Path) -> AsyncIterator[Backend]:
    if tier == "sqlite":
        async with open_sqlite(data_dir) as embedded:
            yield Backend(tier, embedded, SqliteDocuments(embedded.database))
        return
    if tier == "mock":
        mongo = await MongoStorage.prepare(AsyncMongoMockClient()[f"test_{uuid.uuid4().hex}"])
        yield Backend(tier, mongo, MongoDocuments(mongo.collection))
        return
    async with (
        EmbeddedMongo(None) as uri,
        open_mongo(
            url=uri, database="outdial_test", timeout_ms=5000, driver=WIRE_DRIVERS[tier]
        ) as mongo,
    ):
        yield Backend(tier, mongo, MongoDocuments(mongo.collection))
