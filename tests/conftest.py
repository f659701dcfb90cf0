"""Fixtures: every API test runs on two backends, mongomock (fast) and a real wire server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mongomock_motor import AsyncMongoMockClient
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from storage.driver import Database, connect
from storage.embedded import EmbeddedMongo

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
OTHER_OUTDIAL = "5c1f3f4e-9a2b-4c3d-8e7f-0a1b2c3d4e5f"

BACKENDS = [
    pytest.param("mock", id="mock"),
    pytest.param("wire", id="wire", marks=pytest.mark.wire),
]


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    if request.param == "mock":
        yield AsyncMongoMockClient()[f"test_{uuid.uuid4().hex}"]
        return
    async with EmbeddedMongo(None) as uri:
        client = connect(uri, timeout_ms=5000)
        try:
            yield client["outdial_test"]
        finally:
            client.close()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class GraphQLClient:
    """Posts operations the way a frontend does, and unpacks the answers."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    async def error(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)
