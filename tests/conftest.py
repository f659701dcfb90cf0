"""Fixtures: every API test runs on three storage tiers (tests.backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from tests.backends import TIERS, Backend, RawDocuments, open_backend

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
OTHER_OUTDIAL = "5c1f3f4e-9a2b-4c3d-8e7f-0a1b2c3d4e5f"


@pytest.fixture(params=TIERS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def docs(backend: Backend) -> RawDocuments:
    return backend.docs


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
async def app(settings: Settings, backend: Backend) -> AsyncIterator[Starlette]:
    application = create_app(settings, storage=backend.opener())
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
